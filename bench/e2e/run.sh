#!/bin/sh
# run.sh -- builds a release build and runs the end-to-end benchmark
# (bench/e2e/run.py: throughput, latency, 50 flows, and MariaDB
# commit-to-callback latency). Extra arguments go to run.py.
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${WH_BENCH_BUILD:-$root/build-release}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release >/dev/null
fi
ninja -C "$build" >/dev/null
exec python3 "$root/bench/e2e/run.py" --build "$build" --mariadb "$@"
