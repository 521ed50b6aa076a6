#!/bin/sh
# workload.sh -- runs inside tests/harness/run.py for bench/bootstrap/run.sh:
# loads the table on the harness MariaDB, then times bench_bootstrap over it.
# usage: workload.sh BUILD_DIR [--rows N] [--chunk N]
set -eu
build=$1
shift
rows=1000000 chunk=10000
while [ $# -gt 0 ]; do
    case $1 in
    --rows) rows=$2; shift 2 ;;
    --chunk) chunk=$2; shift 2 ;;
    *) echo "usage: run.sh [--rows N] [--chunk N]" >&2; exit 2 ;;
    esac
done
client() { mariadb --no-defaults --user=root --socket="$WH_MARIADB_SOCKET" "$@"; }
client -e "CREATE DATABASE app; CREATE TABLE app.big (id INT PRIMARY KEY, grp INT NOT NULL,
    name VARCHAR(64), qty BIGINT, price DECIMAL(12,2), at DATETIME(3))"
start=$(date +%s)
client app -e "SET SESSION sql_log_bin = 0; INSERT INTO app.big SELECT seq, seq % 7,
    CONCAT('n', seq), seq * 3, seq / 100, '2026-01-01 00:00:00.123' + INTERVAL seq SECOND
    FROM seq_1_to_$rows"
echo "loaded $rows rows in $(( $(date +%s) - start )) s on $(nproc) cores"
client -e "SELECT COUNT(*) FROM app.big" >/dev/null   # warm the buffer pool
echo "uptime: $(uptime)"
# The reference: the server sending the whole table as text to a client that
# discards it (one query, no chunks, no conversion): what a reader can at best get.
start=$(date +%s%N)
client --quick -e "SELECT * FROM app.big" >/dev/null
echo "reference: mariadb --quick SELECT * of $rows rows took $(( ($(date +%s%N) - start) / 1000000 )) ms"
for mode in "" --no-encode; do
    echo "bench_bootstrap --chunk $chunk $mode:"
    "$build/bench/bootstrap/bench_bootstrap" --socket "$WH_MARIADB_SOCKET" --table app.big \
        --chunk "$chunk" $mode
done
