#!/usr/bin/env bash
# run.sh BUILD_DIR WORK_DIR REPO_ROOT WITH_TOOLS WITH_PYTHON
# Installs the build into a scratch prefix, moves the prefix elsewhere (an installed tree must
# not depend on where it was installed), then uses it as a host would: a consumer built with
# find_package(arraykit 1) and with pkg-config, the installed arrayctl and Python module with an
# empty LD_LIBRARY_PATH, and the installed JSON Schemas. Fails on the first broken promise.
set -euo pipefail
build=$(cd "$1" && pwd) work="$2" root=$(cd "$3" && pwd) with_tools="$4" with_python="$5"
src="$root/tests/package/consumer"
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

installed="$work/installed"
cmake --install "$build" --prefix "$installed" > "$work/install.log"
libdir_name=$(cd "$installed" && dirname "$(find . -name 'libarraykit.so' | head -n 1)")
libdir_name=${libdir_name#./}

echo "== pkg-config from the install prefix, without --define-variable"
export PKG_CONFIG_PATH="$installed/$libdir_name/pkgconfig"
[ "$(pkg-config --variable=prefix arraykit | xargs realpath)" = "$installed" ] ||
  fail "arraykit.pc prefix is $(pkg-config --variable=prefix arraykit), not $installed"

# Everything below runs from a different place than the one the tree was installed to.
prefix="$work/moved"
mv "$installed" "$prefix"
libdir="$prefix/$libdir_name"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
unset LD_LIBRARY_PATH

echo "== no build-tree path in the dynamic section of any installed binary"
elf_files=0
while IFS= read -r -d '' file; do
  [ "$(head -c 4 "$file" | tail -c 3)" = ELF ] || continue
  elf_files=$((elf_files + 1))
  dynamic=$(readelf -d "$file")
  if printf '%s\n' "$dynamic" | grep -E 'RPATH|RUNPATH' | grep -E "$build|$root" > /dev/null; then
    fail "$file carries a build-tree path: $(printf '%s\n' "$dynamic" | grep -E 'RPATH|RUNPATH')"
  fi
done < <(find "$prefix" -type f -print0)
[ "$elf_files" -ge $((1 + with_tools + with_python)) ] || fail "only $elf_files ELF files installed"
echo "$elf_files ELF files, none with a build-tree RUNPATH"

echo "== versions: package, SONAME and AK_ABI_VERSION"
package_version=$(pkg-config --modversion arraykit)
header="$prefix/include/arraykit/arraykit.h"
abi=$(sed -n 's/^#define AK_ABI_VERSION \([0-9][0-9]*\)$/\1/p' "$header")
[ "${package_version%%.*}" = "$abi" ] || fail "package $package_version, AK_ABI_VERSION $abi"
soname=$(readelf -d "$libdir/libarraykit.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libarraykit.so.$abi" ] || fail "SONAME $soname, AK_ABI_VERSION $abi"
echo "arraykit $package_version, SONAME $soname, AK_ABI_VERSION $abi"

echo "== find_package(arraykit $abi REQUIRED)"
cmake -S "$src" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DARRAYKIT_WANT="$abi" \
  > "$work/configure.log"
cmake --build "$work/cmake-build" > "$work/build.log"
readelf -d "$work/cmake-build/consumer" | grep "NEEDED.*\[libarraykit.so.$abi\]" > /dev/null ||
  fail "the consumer does not link libarraykit.so.$abi"
"$work/cmake-build/consumer"
grep "schemas: $prefix/share/arraykit/schemas" "$work/configure.log" > /dev/null ||
  fail "arraykit_SCHEMA_DIR does not point at the installed schemas"

echo "== find_package(arraykit $((abi + 1))) refuses ABI $abi"
if cmake -S "$src" -B "$work/cmake-build-next" -DCMAKE_PREFIX_PATH="$prefix" \
     -DARRAYKIT_WANT="$((abi + 1))" > "$work/configure-next.log" 2>&1; then
  fail "find_package(arraykit $((abi + 1))) accepted package $package_version"
fi

echo "== pkg-config arraykit (moved prefix, no --define-variable)"
flags=$(pkg-config --cflags --libs arraykit)
case "$flags" in
  *"$prefix"*) ;;
  *) fail "pkg-config flags do not point into $prefix: $flags" ;;
esac
cc -std=c99 -Wall -Werror -DARRAYKIT_PACKAGE_VERSION="\"$package_version\"" "$src/main.c" \
  -o "$work/consumer-pc" $flags
LD_LIBRARY_PATH="$libdir" "$work/consumer-pc"
[ -f "$(pkg-config --variable=schemadir arraykit)/array.schema.json" ] ||
  fail "pkg-config schemadir has no array.schema.json"

echo "== AK_API: consumers import, only the library's own build exports"
defines=$(cc -E -dM -D_WIN32 $(pkg-config --cflags arraykit) -include arraykit/arraykit.h \
  -x c /dev/null)
printf '%s\n' "$defines" | grep -x '#define AK_API __declspec(dllimport)' > /dev/null ||
  fail "a Windows consumer's AK_API: $(printf '%s\n' "$defines" | grep 'define AK_API')"
defines=$(cc -E -dM -D_WIN32 -DARRAYKIT_BUILDING $(pkg-config --cflags arraykit) \
  -include arraykit/arraykit.h -x c /dev/null)
printf '%s\n' "$defines" | grep -x '#define AK_API __declspec(dllexport)' > /dev/null ||
  fail "the library's own Windows build does not export"

if [ "$with_tools" = 1 ]; then
  echo "== installed arrayctl, empty LD_LIBRARY_PATH"
  runpath=$(readelf -d "$prefix/bin/arrayctl" | sed -n 's/.*Library runpath: \[\(.*\)\]/\1/p')
  [ "$runpath" = "\$ORIGIN/../$libdir_name" ] || fail "arrayctl RUNPATH is '$runpath'"
  [ "$("$prefix/bin/arrayctl" --version)" = "arrayctl $package_version" ] ||
    fail "arrayctl --version: $("$prefix/bin/arrayctl" --version)"
  wanted="libarraykit.so.$abi => $prefix/bin/../$libdir_name/"
  ldd "$prefix/bin/arrayctl" | grep "$wanted" > /dev/null ||
    fail "arrayctl loads libarraykit from elsewhere: $(ldd "$prefix/bin/arrayctl" | grep arraykit)"
  "$prefix/bin/arrayctl" placement check "$root/examples/inventories/datacenter-array.json" \
    > "$work/arrayctl.out"
fi

if [ "$with_python" = 1 ]; then
  echo "== installed Python module, Debian's python3, empty LD_LIBRARY_PATH"
  site="$prefix/lib/python3/dist-packages"
  module=$(find "$site" -name 'arraykit*.so')
  runpath=$(readelf -d "$module" | sed -n 's/.*Library runpath: \[\(.*\)\]/\1/p')
  case "$runpath" in "\$ORIGIN/"*) ;; *) fail "the module's RUNPATH is '$runpath'" ;; esac
  PYTHONPATH="$site" PREFIX="$prefix" VERSION="$package_version" /usr/bin/python3 - <<'EOF'
import os
import arraykit

prefix = os.environ["PREFIX"]
assert arraykit.__file__.startswith(prefix + "/"), arraykit.__file__
assert arraykit.__version__ == os.environ["VERSION"], arraykit.__version__
report = arraykit.placement.check(
    {"members": [{"name": "solo.example.com", "roles": ["frontend"]}]})
assert report["errors"] == 0, report
with open("/proc/self/maps") as maps:
    loaded = {line.split()[-1] for line in maps if "libarraykit.so" in line}
assert loaded and all(os.path.realpath(p).startswith(prefix + "/") for p in loaded), loaded
print("arraykit", arraykit.__version__, "from", arraykit.__file__, "with", *sorted(loaded))
EOF
fi

echo "== installed JSON Schemas validate the repository's documents"
/usr/bin/python3 "$root/tests/schemas/validate.py" "$root" "$prefix/share/arraykit/schemas"

echo "OK: the installed package works from a moved prefix"
