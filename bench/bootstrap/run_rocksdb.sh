#!/bin/sh
# run_rocksdb.sh -- bootstrap read throughput from RocksDB, in one command:
#   bench/bootstrap/run_rocksdb.sh [--keys N] [--chunk N]
# Builds a release build ($WH_BENCH_BUILD, default build-release at the source
# root), loads a column family "big" of N keys (default 1000000; k00000000...,
# 40-byte values: the shape of tests/publisher/test_bootstrap_rocksdb.py) with
# the harness's RocksDB writer into a scratch directory, and times, over the
# same column family in the same run: bench_bootstrap_rocksdb (key chunks from
# a secondary instance, converted to updates and encoded into UPDATES frames,
# then --no-encode) and `ldb scan` (rocksdb-tools) printing every key and value
# to /dev/null, the reference, with the ratio (docs/BOOTSTRAP.md "Throughput").
set -eu
. "$(dirname "$0")/../release-build.sh"
keys=1000000 chunk=10000
while [ $# -gt 0 ]; do
    case $1 in
    --keys) keys=$2; shift 2 ;;
    --chunk) chunk=$2; shift 2 ;;
    *) echo "usage: run_rocksdb.sh [--keys N] [--chunk N]" >&2; exit 2 ;;
    esac
done
ninja -C "$build" bench/bootstrap/bench_bootstrap_rocksdb tests/rocksdb/wormhole-test-rocksdb-writer >/dev/null
dir=$(mktemp -d "${TMPDIR:-/tmp}/wh-bench-rdb-XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
printf 'create_cf big\nload big %s 40\nflush\n' "$keys" |
    "$build/tests/rocksdb/wormhole-test-rocksdb-writer" --db "$dir/db" >/dev/null
echo "loaded $keys keys on $(nproc) cores; uptime: $(uptime)"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
ref_ms=
if command -v ldb >/dev/null; then
    start=$(date +%s%N)
    ldb --db="$dir/db" --column_family=big scan >/dev/null
    ref_ms=$(ms "$start")
    echo "reference: ldb scan of $keys keys took $ref_ms ms ($(( keys * 1000 / (ref_ms > 0 ? ref_ms : 1) )) keys/s)"
else
    echo "reference: ldb not installed (apt-get install rocksdb-tools)"
fi
for mode in "" --no-encode; do
    start=$(date +%s%N)
    out=$("$build/bench/bootstrap/bench_bootstrap_rocksdb" --db "$dir/db" --cf big --chunk "$chunk" $mode)
    took=$(ms "$start")
    echo "bench_bootstrap_rocksdb --chunk $chunk $mode: $out"
    if [ -n "$ref_ms" ]; then
        echo "  ratio to ldb scan (time): $(awk "BEGIN { printf \"%.2f\", $ref_ms / ($took > 0 ? $took : 1) }")x as fast (its $took ms, with start-up)"
    fi
done
