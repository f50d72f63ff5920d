/*
 * arraykit C ABI — simulation: deterministic what-if runs of the failover state machine.
 * Included by arraykit/arraykit.h; do not include directly. Documents: docs/failover.md.
 */
#ifndef ARRAYKIT_SIMULATE_H_
#define ARRAYKIT_SIMULATE_H_

#ifndef ARRAYKIT_ARRAYKIT_H_
#error "include <arraykit/arraykit.h> instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Runs a failover scenario (an array description plus "events", "until_s", ...; see
 * docs/failover.md §8) in virtual time and returns what happened.
 * *out_result: {"arrays": [...], "standalone": [...], "original_formation": {...} | null,
 *               "manual_recovery_required": bool, "timeline": [...], "members": [...], ...}.
 * The run is deterministic: the same scenario always gives the same result. A scenario whose
 * outcome needs manual recovery is still a successful run (AK_OK; see the result's
 * "manual_recovery_required"). AK_INVALID_ARGUMENT when the scenario is malformed: the message
 * names the field or the event ("events[3]: at_s must not be negative, got -5").
 * AK_RESOURCE_EXHAUSTED / AK_INTERNAL when the run hits one of the simulator's limits. */
AK_API ak_status ak_simulate(char **out_result, const char *scenario_json,
                             const ak_json_options *opts);

/* Renders a result document of ak_simulate for people: the timeline (time, member, event,
 * reason) and the final formation as plain-text tables (UTF-8, ends with a newline).
 * The layout is for reading, not parsing; it may change between releases.
 * AK_INVALID_ARGUMENT when result_json is not JSON or not a simulation result. */
AK_API ak_status ak_simulate_render(char **out_text, const char *result_json);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ARRAYKIT_SIMULATE_H_ */
