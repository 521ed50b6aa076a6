#!/bin/sh
# run.sh -- builds a release build and prints the JSON renderer's rates on
# synthetic updates (no servers, no data files).
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
. "$(dirname "$0")/../release-build.sh"
ninja -C "$build" bench/json/bench_json >/dev/null
exec "$build/bench/json/bench_json" "$@"
