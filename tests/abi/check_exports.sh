#!/usr/bin/env bash
# Fails when the shared library exports a defined symbol that is not ak_*.
set -euo pipefail
lib="$1"
symbols=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^$' | sort -u)
count=$(printf '%s\n' "$symbols" | grep -c '^ak_' || true)
others=$(printf '%s\n' "$symbols" | grep -v '^ak_' | grep -v '^ARRAYKIT_1\.0$' || true)
if [ -n "$others" ]; then
  echo "exported symbols that are not ak_*:"
  printf '%s\n' "$others"
  exit 1
fi
if [ "$count" -lt 1 ]; then
  echo "no ak_* symbols exported by $lib"
  exit 1
fi
echo "OK: $count exported symbols, all ak_*"
