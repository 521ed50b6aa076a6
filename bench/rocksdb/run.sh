#!/bin/sh
# run.sh -- builds wormhole in release mode and runs the rocksdb mapper benchmark.
# usage: bench/rocksdb/run.sh [--ops N] [--batch K] [--value-size V] [--json] [--no-compare]
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${WH_BENCH_BUILD:-$root/build-release}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release >/dev/null
fi
ninja -C "$build" bench/rocksdb/bench_rocksdb_wal >/dev/null
exec "$build/bench/rocksdb/bench_rocksdb_wal" "$@"
