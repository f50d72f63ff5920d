#!/usr/bin/env bash
# Compares the built library's ABI with the stored baseline. Additions are compatible; abidiff
# sets bit 8 of its exit status only for an incompatible change, which fails the test.
set -uo pipefail
lib="$1" baseline="$2" headers="$3"
report=$(abidiff --headers-dir2 "$headers" "$baseline" "$lib" 2>&1)
rc=$?
printf '%s\n' "$report"
if [ $((rc & 1)) -ne 0 ] || [ $((rc & 2)) -ne 0 ]; then
  echo "abidiff could not run (exit $rc)"
  exit 1
fi
if [ $((rc & 8)) -ne 0 ]; then
  echo "INCOMPATIBLE ABI CHANGE against $baseline"
  exit 1
fi
echo "OK: ABI compatible with the baseline (abidiff exit $rc)"
