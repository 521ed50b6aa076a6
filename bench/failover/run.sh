#!/bin/sh
# run.sh -- builds a release build and runs the takeover benchmark
# (bench/failover/run.py: time from a fault of the active publisher to the
# first update delivered by the new one, and the redelivered count, for
# SIGKILL and for a partition from ZooKeeper). Extra arguments go to run.py.
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
. "$(dirname "$0")/../release-build.sh"
ninja -C "$build" >/dev/null
exec python3 "$root/bench/failover/run.py" --build "$build" "$@"
