#!/usr/bin/env bash
# Builds lib/core/pki and its unit tests against Debian's BoringSSL and runs them.
#   tests/boringssl/run.sh [BUILD_DIR]     (default: <repo>/build-boringssl)
# Exit status: 0 when every test passed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
build="${1:-${repo}/build-boringssl}"

if ! dpkg -s android-libboringssl-dev >/dev/null 2>&1; then
  echo "run.sh: android-libboringssl-dev is not installed (scripts/bootstrap installs it)" >&2
  exit 2
fi

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
cmake -S "${here}" -B "${build}" "${generator[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Debug}"
cmake --build "${build}" -j"${JOBS:-2}"

# The binary must load BoringSSL's libcrypto and no other.
if ldd "${build}/pki_tests_boringssl" | grep -E 'libcrypto|libssl' | grep -v '/android/'; then
  echo "run.sh: pki_tests_boringssl loads a crypto library other than BoringSSL" >&2
  exit 1
fi

cd "${build}"
ctest --output-on-failure -j"${JOBS:-2}"
