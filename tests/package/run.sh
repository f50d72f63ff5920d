#!/usr/bin/env bash
# run.sh BUILD_DIR WORK_DIR CONSUMER_SRC
set -euo pipefail
build="$1" work="$2" src="$3"
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
libdir=$(dirname "$(find "$prefix" -name 'libarraykit.so' | head -n 1)")

echo "== find_package(arraykit)"
cmake -S "$src" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log"
cmake --build "$work/cmake-build" > "$work/build.log"
LD_LIBRARY_PATH="$libdir" "$work/cmake-build/consumer"

echo "== pkg-config arraykit"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pkg-config --exists arraykit
# The package was configured for its real prefix; point pkg-config at the scratch one.
flags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs arraykit)
cc -std=c99 -Wall -Werror "$src/main.c" -o "$work/consumer-pc" $flags
LD_LIBRARY_PATH="$libdir" "$work/consumer-pc"
echo "OK: consumer built against the installed package both ways"
