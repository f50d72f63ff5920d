#!/usr/bin/env bash
# deb.sh BUILD_DIR WORK_DIR REPO_ROOT WITH_TOOLS WITH_PYTHON
# Builds the Debian packages with `cpack -G DEB`, checks their names, contents and dependencies,
# unpacks them (dpkg-deb -x) into a scratch root and uses them there: a consumer built with
# find_package(arraykit 1) and with pkg-config, arrayctl and the Python module.
set -euo pipefail
build=$(cd "$1" && pwd) work="$2" root=$(cd "$3" && pwd) with_tools="$4" with_python="$5"
src="$root/tests/package/consumer"
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/debs" > "$work/cpack.log" ||
  { cat "$work/cpack.log"; fail "cpack -G DEB"; }

abi=$(sed -n 's/^#define AK_ABI_VERSION \([0-9][0-9]*\)$/\1/p' "$root/include/arraykit/arraykit.h")
runtime="libarraykit$abi"
expected=("$runtime" libarraykit-dev)
[ "$with_python" = 1 ] && expected+=(python3-arraykit)
[ "$with_tools" = 1 ] && expected+=(arraykit-tools)

deb() { find "$work/debs" -maxdepth 1 -name "$1_*.deb" | head -n 1; }
field() { dpkg-deb -f "$(deb "$1")" "$2"; }
contents() { dpkg-deb -c "$(deb "$1")" | awk '{print $6}'; }

echo "== packages: ${expected[*]}"
[ "$(find "$work/debs" -maxdepth 1 -name '*.deb' | wc -l)" = "${#expected[@]}" ] ||
  fail "expected ${#expected[@]} packages, got: $(ls "$work/debs")"
version=$(field "$runtime" Version)
for package in "${expected[@]}"; do
  [ -n "$(deb "$package")" ] || fail "no package $package"
  [ "$(field "$package" Version)" = "$version" ] || fail "$package is not version $version"
  echo "$package $version: Depends: $(field "$package" Depends)"
  if [ "$package" != "$runtime" ]; then
    field "$package" Depends | grep "$runtime (= $version)" > /dev/null ||
      fail "$package does not depend on $runtime (= $version)"
  fi
done
[ "${version%%.*}" = "$abi" ] || fail "package version $version, AK_ABI_VERSION $abi"
field "$runtime" Depends | grep libssl3 > /dev/null ||
  fail "$runtime does not depend on libssl3"
dpkg-deb -e "$(deb "$runtime")" "$work/control"
grep -x "libarraykit $abi $runtime (>= $version)" "$work/control/shlibs" > /dev/null ||
  fail "$runtime shlibs: $(cat "$work/control/shlibs" 2>/dev/null)"

# Each file in exactly the package it belongs to.
contents "$runtime" | grep -x "./usr/lib/libarraykit.so.$abi" > /dev/null ||
  fail "$runtime lacks the SONAME link"
contents "$runtime" | grep -E '/(include|cmake|pkgconfig)/|libarraykit\.so$' > /dev/null &&
  fail "$runtime carries development files"
for f in ./usr/lib/libarraykit.so ./usr/include/arraykit/arraykit.h \
         ./usr/lib/pkgconfig/arraykit.pc ./usr/lib/cmake/arraykit/arraykitConfig.cmake \
         ./usr/share/arraykit/schemas/array.schema.json; do
  contents libarraykit-dev | grep -x "$f" > /dev/null || fail "libarraykit-dev lacks $f"
done
contents libarraykit-dev | grep 'libarraykit\.so\.' > /dev/null &&
  fail "libarraykit-dev carries the runtime"
if [ "$with_python" = 1 ]; then
  contents python3-arraykit |
    grep '^./usr/lib/python3/dist-packages/arraykit\..*\.so$' > /dev/null ||
    fail "python3-arraykit lacks the module"
  field python3-arraykit Depends | grep 'python3 (>= 3\.' > /dev/null ||
    fail "python3-arraykit does not depend on python3"
fi
if [ "$with_tools" = 1 ]; then
  contents arraykit-tools | grep -x './usr/bin/arrayctl' > /dev/null ||
    fail "arraykit-tools lacks arrayctl"
fi

echo "== unpacked into a scratch root"
scratch="$work/root"
for package in "${expected[@]}"; do dpkg-deb -x "$(deb "$package")" "$scratch"; done
unset LD_LIBRARY_PATH

echo "== find_package(arraykit $abi REQUIRED) with CMAKE_PREFIX_PATH=$scratch/usr"
cmake -S "$src" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$scratch/usr" -DARRAYKIT_WANT="$abi" \
  > "$work/configure.log"
cmake --build "$work/cmake-build" > "$work/build.log"
LD_LIBRARY_PATH="$scratch/usr/lib" "$work/cmake-build/consumer"

echo "== pkg-config arraykit from the scratch root"
export PKG_CONFIG_PATH="$scratch/usr/lib/pkgconfig"
flags=$(pkg-config --cflags --libs arraykit)
case "$flags" in
  *"$scratch/usr/"*) ;;
  *) fail "pkg-config flags miss the scratch root: $flags" ;;
esac
cc -std=c99 -Wall -Werror -DARRAYKIT_PACKAGE_VERSION="\"$(pkg-config --modversion arraykit)\"" \
  "$src/main.c" -o "$work/consumer-pc" $flags
LD_LIBRARY_PATH="$scratch/usr/lib" "$work/consumer-pc"

if [ "$with_tools" = 1 ]; then
  echo "== arrayctl from the scratch root (RUNPATH, empty LD_LIBRARY_PATH)"
  "$scratch/usr/bin/arrayctl" placement check "$root/examples/inventories/datacenter-array.json" \
    > "$work/arrayctl.out"
fi
if [ "$with_python" = 1 ]; then
  echo "== the Python module from the scratch root"
  PYTHONPATH="$scratch/usr/lib/python3/dist-packages" /usr/bin/python3 -c '
import sys, arraykit
assert arraykit.__file__.startswith(sys.argv[1]), arraykit.__file__
result = arraykit.simulate({"members": [{"name": "solo.example.com"}]})
print(arraykit.__version__, result["arrays"])
' "$scratch/"
fi
echo "OK: the Debian packages install, depend on each other and build the consumer"
