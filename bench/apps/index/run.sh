#!/bin/sh
# run.sh -- builds a release build and prints wormhole-index's apply rates into
# SQLite FTS5 and PostgreSQL (bench/apps/index/run.py; extra arguments go to it).
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
bench_root=$(cd "$(dirname "$0")/../../.." && pwd)
. "$bench_root/bench/release-build.sh"
ninja -C "$build" apps/index/wormhole-index publisher/wormhole-publisher >/dev/null
exec python3 "$root/bench/apps/index/run.py" --build "$build" "$@"
