#!/bin/sh
# run.sh -- the caravan benchmark (bench/caravan/run.py): log bytes read / log size with
# 1, 10 and 50 apps starting together, and with an app recovering behind the lead.
# Extra arguments go to run.py. The build directory is $WH_BENCH_BUILD or
# build-release at the source root.
set -eu
. "$(dirname "$0")/../release-build.sh"
ninja -C "$build" publisher/wormhole-publisher tests/publisher/multi_sub \
    tools/wormhole-logcat subscriber/wormhole-tail bench/e2e/e2e-sub >/dev/null
exec python3 "$root/bench/caravan/run.py" --build "$build" "$@"
