#!/bin/sh
# run.sh -- builds a release build and runs the wormhole-cache benchmark
# (bench/apps/cache/run.py): invalidations per second applied and confirmed to a
# local memcached and to a local Redis from a binlog of 750,000 row changes,
# the app pinned to one core. Extra arguments go to run.py (--rows N, --cpu N).
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
bench_root=$(cd "$(dirname "$0")/../../.." && pwd)
. "$bench_root/bench/release-build.sh"
ninja -C "$build" apps/cache/wormhole-cache publisher/wormhole-publisher >/dev/null
exec python3 "$root/bench/apps/cache/run.py" --build "$build" "$@"
