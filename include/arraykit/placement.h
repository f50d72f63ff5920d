/*
 * arraykit C ABI — placement: rule checks, change validation and the role planner.
 * Included by arraykit/arraykit.h; do not include directly. Documents: docs/placement.md.
 *
 * Input documents are strict: a field the document does not define is AK_INVALID_ARGUMENT with
 * ak_last_error_reason() "unknown_field" and a message naming the nearest known field
 * ("ad: unknown field (did you mean add?)"); a key given twice is "duplicate_key". The array of
 * a plan or plan_change result is itself an array description these calls accept.
 */
#ifndef ARRAYKIT_PLACEMENT_H_
#define ARRAYKIT_PLACEMENT_H_

#ifndef ARRAYKIT_ARRAYKIT_H_
#error "include <arraykit/arraykit.h> instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Checks an array description against every placement rule.
 * *out_report: {"findings": [...], "errors": N, "warnings": N, "worst_case_failover_s": S|null}.
 * Rule violations are findings, not errors: the call returns AK_OK for an array that breaks
 * rules. AK_INVALID_ARGUMENT only when the document itself is malformed. */
AK_API ak_status ak_placement_check(char **out_report, const char *array_json,
                                    const ak_json_options *opts);

/* Plans roles and a backup primaries order for an inventory of appliances.
 * *out_plan: {"array": {...}, "findings": [...], "rationale": [...], ...}. */
AK_API ak_status ak_placement_plan(char **out_plan, const char *inventory_json,
                                   const ak_json_options *opts);

/* Validates a proposed change to an array without applying it.
 * *out_result: {"array": {...}, "findings": [...], "disruption": bool,
 *               "disruption_reasons": [...], "errors": N, "warnings": N}.
 * A change naming a member that does not exist is AK_NOT_FOUND (reason "not_found"). */
AK_API ak_status ak_placement_plan_change(char **out_result, const char *array_json,
                                          const char *change_json, const ak_json_options *opts);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ARRAYKIT_PLACEMENT_H_ */
