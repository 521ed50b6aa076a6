#!/bin/sh
# run.sh -- bootstrap read throughput from MariaDB, in one command:
#   bench/bootstrap/run.sh [--rows N] [--chunk N]... [--compare BUILD_DIR] [--repeat N]
# Builds a release build ($WH_BENCH_BUILD, default build-release at the source
# root), starts a throwaway MariaDB through the test harness, loads a table of
# N rows (default 1000000; id, grp, name, qty, price, at: the shape of
# tests/publisher/test_bootstrap.py) with a SEQUENCE INSERT ... SELECT, and
# runs bench_bootstrap over it: rows/s read in primary-key chunks, each in its
# own consistent snapshot with its binlog position, converted to typed
# updates and encoded into UPDATES frames (docs/BOOTSTRAP.md "Throughput").
set -eu
. "$(dirname "$0")/../release-build.sh"
ninja -C "$build" bench/bootstrap/bench_bootstrap >/dev/null
exec python3 "$root/tests/harness/run.py" --mariadb \
    --mariadb-opt innodb_buffer_pool_size=512M \
    -- sh "$root/bench/bootstrap/workload.sh" "$build" "$@"
