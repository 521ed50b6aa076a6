#!/bin/sh
# workload.sh -- runs inside tests/harness/run.py for bench/mysql/run.sh: writes
# the sysbench binlog on the harness MariaDB, then times both decoders.
# usage: workload.sh BUILD_DIR [--tables N] [--table-size N] [--time SECONDS]
set -eu
build=$1
shift
tables=4 size=250000 secs=20
while [ $# -gt 0 ]; do
    case $1 in
    --tables) tables=$2; shift 2 ;;
    --table-size) size=$2; shift 2 ;;
    --time) secs=$2; shift 2 ;;
    *) echo "usage: run.sh [--tables N] [--table-size N] [--time SECONDS]" >&2; exit 2 ;;
    esac
done
sock=$WH_MARIADB_SOCKET
dir=$WH_MARIADB_BINLOG_DIR
client() { mariadb --no-defaults --user=root --socket="$sock" "$@"; }
sb() {
    test=$1
    shift
    sysbench "$test" --db-driver=mysql --mysql-socket="$sock" --mysql-user=root \
        --mysql-db=sbtest --tables="$tables" --table-size="$size" "$@"
}

client -e "CREATE DATABASE sbtest"
echo "writing the binlog: sysbench oltp_insert prepare ($tables tables x $size rows), then" \
     "oltp_write_only for $secs s"
sb oltp_insert prepare >/dev/null
sb oltp_write_only run --threads=2 --time="$secs" --report-interval=0 >/dev/null
client -e "FLUSH BINARY LOGS"
nfiles=$(grep -c . "$WH_MARIADB_BINLOG_INDEX")
bytes=$(cat "$dir"/mysql-bin.[0-9]* | wc -c)
echo "binlog: $nfiles files, $((bytes / 1000000)) MB, on $(nproc) cores; decoding on one core"
cat "$dir"/mysql-bin.[0-9]* >/dev/null   # both decoders read from the page cache
if [ -n "${WH_BENCH_KEEP:-}" ]; then   # keep a copy of the binlogs for profiling
    mkdir -p "$WH_BENCH_KEEP"
    cp "$dir"/mysql-bin.* "$WH_BENCH_KEEP"/
fi

"$build/bench/mysql/bench_binlog_decode" "$dir" --repeat 3
"$build/bench/mysql/bench_binlog_decode" "$dir" --json --repeat 2

rows=$("$build/bench/mysql/bench_binlog_decode" "$dir" | sed -n 's/^decode: \([0-9]*\) row changes.*/\1/p')
tmp=$(mktemp)
for run in 1 2; do
    /usr/bin/time -f "%e %U %M" -o "$tmp" taskset -c 0 mariadb-binlog --no-defaults -v \
        "$dir"/mysql-bin.[0-9]* >/dev/null
    read -r wall user rss < "$tmp"
    awk -v r="$rows" -v w="$wall" -v u="$user" -v m="$rss" -v b="$bytes" 'BEGIN {
        printf "mariadb-binlog -v: %d row changes, %.1f MB of binlog in %.2f s (user %.2f s): " \
               "%.2f M row changes/s, %.0f MB/s, peak RSS %.1f MB\n", r, b / 1e6, w, u,
               r / w / 1e6, b / w / 1e6, m / 1024 }'
done
rm -f "$tmp"
