#!/usr/bin/env bash
# run.sh -- builds a release build and prints filter evaluation rates.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${WH_BENCH_BUILD:-build-bench}
[ -d "$build" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" bench/filters/bench_filter >/dev/null
"$build/bench/filters/bench_filter"
