#!/bin/sh
# run.sh -- builds a release build and prints filter evaluation rates.
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
. "$(dirname "$0")/../release-build.sh"
ninja -C "$build" bench/filters/bench_filter >/dev/null
exec "$build/bench/filters/bench_filter" "$@"
