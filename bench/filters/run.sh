#!/bin/sh
# run.sh -- builds a release build and prints filter evaluation rates.
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${WH_BENCH_BUILD:-$root/build-release}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release >/dev/null
fi
ninja -C "$build" bench/filters/bench_filter >/dev/null
exec "$build/bench/filters/bench_filter" "$@"
