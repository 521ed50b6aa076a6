#!/bin/sh
# run.sh -- builds a release build and runs the end-to-end benchmark
# (bench/e2e/run.py: throughput, latency, 50 flows, and MariaDB
# commit-to-callback latency). Extra arguments go to run.py.
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
. "$(dirname "$0")/../release-build.sh"
ninja -C "$build" >/dev/null
exec python3 "$root/bench/e2e/run.py" --build "$build" --mariadb "$@"
