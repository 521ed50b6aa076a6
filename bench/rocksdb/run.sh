#!/bin/sh
# run.sh -- builds wormhole in release mode and runs the rocksdb mapper benchmark.
# usage: bench/rocksdb/run.sh [--ops N] [--batch K] [--value-size V] [--json] [--no-compare]
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
. "$(dirname "$0")/../release-build.sh"
ninja -C "$build" bench/rocksdb/bench_rocksdb_wal >/dev/null
exec "$build/bench/rocksdb/bench_rocksdb_wal" "$@"
