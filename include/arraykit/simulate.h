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

/* Options of ak_simulate. Versions 1..AK_SIMULATE_OPTIONS_VERSION are accepted (a struct from
 * an older header keeps working); a version above the library's is refused with
 * AK_INVALID_ARGUMENT, reason "version_mismatch".
 *   indent     < 0: compact one-line result (default); 0..16: pretty, that many spaces.
 *   max_steps  the step bound: the most member ticks plus message deliveries the run may take;
 *              0 = the library's bound (20,000,000, also the largest value accepted). A run that
 *              needs more fails with AK_RESOURCE_EXHAUSTED, reason "step_limit". */
#define AK_SIMULATE_OPTIONS_VERSION 1

typedef struct ak_simulate_options {
  unsigned int version; /* AK_SIMULATE_OPTIONS_VERSION */
  int indent;
  unsigned long long max_steps;
} ak_simulate_options;

#define AK_SIMULATE_OPTIONS_INIT {AK_SIMULATE_OPTIONS_VERSION, -1, 0}

/* Fills `opts` with the defaults of `version` (1..AK_SIMULATE_OPTIONS_VERSION). */
AK_API ak_status ak_simulate_options_init(ak_simulate_options *opts, unsigned int version);

/* Runs a failover scenario (an array description plus "events", "until_s", ...; see
 * docs/failover.md §8) in virtual time and returns what happened.
 * *out_result: {"arrays": [...], "standalone": [...], "original_formation": {...} | null,
 *               "manual_recovery_required": bool, "timeline": [...], "members": [...], ...}.
 * The run is deterministic: the same scenario always gives the same result. A scenario whose
 * outcome needs manual recovery is still a successful run (AK_OK; see the result's
 * "manual_recovery_required"). AK_INVALID_ARGUMENT when the scenario is malformed: the message
 * names the field or the event ("events[3]: at_s must not be negative, got -5").
 * Unknown fields anywhere in the scenario are refused (reason "unknown_field", with the nearest
 * known name). AK_RESOURCE_EXHAUSTED when the run exceeds opts->max_steps (reason "step_limit")
 * or another of the simulator's limits; AK_INTERNAL when it stops making progress. opts may be
 * NULL for the defaults. */
AK_API ak_status ak_simulate(char **out_result, const char *scenario_json,
                             const ak_simulate_options *opts);

/* Renders a result document of ak_simulate (its output, unchanged, is accepted) for people: the timeline (time, member, event,
 * reason) and the final formation as plain-text tables (UTF-8, ends with a newline).
 * The layout is for reading, not parsing; it may change between releases.
 * AK_INVALID_ARGUMENT when result_json is not JSON or not a simulation result (reason
 * "not_a_result"). */
AK_API ak_status ak_simulate_render(char **out_text, const char *result_json);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ARRAYKIT_SIMULATE_H_ */
