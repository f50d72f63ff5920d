#!/usr/bin/env bash
# Compares the built library's ABI with the stored baseline. Added functions are compatible;
# a removed or changed function or variable (including a changed public struct) fails.
set -uo pipefail
lib="$1" baseline="$2" headers="$3"
report=$(abidiff --exported-interfaces-only --headers-dir2 "$headers" --drop-private-types \
  "$baseline" "$lib" 2>&1)
rc=$?
printf '%s\n' "$report"
if [ $((rc & 1)) -ne 0 ] || [ $((rc & 2)) -ne 0 ]; then
  echo "abidiff could not run (exit $rc)"
  exit 1
fi
# abidiff sets bit 8 only for removals; a changed type shows as "N Changed" in the summaries.
if [ $((rc & 8)) -ne 0 ] || printf '%s\n' "$report" | grep -qE '(^|[^0-9])[1-9][0-9]* (Removed|Changed)'; then
  echo "INCOMPATIBLE ABI CHANGE against $baseline (refresh the baseline only for additions)"
  exit 1
fi
echo "OK: ABI compatible with the baseline (abidiff exit $rc)"
