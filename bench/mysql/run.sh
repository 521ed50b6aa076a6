#!/bin/sh
# run.sh -- the mysql mapper's decode benchmark, in one command:
#   bench/mysql/run.sh [--tables N] [--table-size N] [--time SECONDS]
# Builds a release build ($WH_BENCH_BUILD, default build-release at the
# source root), starts a throwaway MariaDB through the test harness, writes a
# binlog of at least a million row changes with sysbench (oltp_insert
# prepare: 4 x 250000 inserted rows; then oltp_write_only for 20 s: updates,
# deletes, inserts over 2 connections), and reports, on the same files in the
# same run: our decode throughput to the in-memory update form and with JSON
# rendering (row changes/s and MB/s on one core, peak RSS), and the time of
# `mariadb-binlog -v` over them.
set -eu
. "$(dirname "$0")/../release-build.sh"
ninja -C "$build" bench/mysql/bench_binlog_decode >/dev/null
exec python3 "$root/tests/harness/run.py" --mariadb \
    --mariadb-opt max_binlog_size=268435456 --mariadb-opt innodb_buffer_pool_size=256M \
    --mariadb-opt innodb_log_file_size=256M --mariadb-opt max_connections=50 \
    -- sh "$root/bench/mysql/workload.sh" "$build" "$@"
