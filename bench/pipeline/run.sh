#!/bin/sh
# run.sh -- the real pipeline's benchmark (bench/pipeline/run.py): MariaDB binlog ->
# wormhole-publisher -> one C subscriber, beside mariadb-binlog's dump protocol over
# the same sysbench log, in one command. Extra arguments go to run.py.
# The build directory is $WH_BENCH_BUILD or build-release at the source root; the
# log is written once and cached under it (BUILD/bench-pipeline).
set -eu
. "$(dirname "$0")/../release-build.sh"
ninja -C "$build" publisher/wormhole-publisher bench/e2e/e2e-sub \
    bench/mysql/bench_binlog_decode >/dev/null
exec python3 "$root/bench/pipeline/run.py" --build "$build" "$@"
