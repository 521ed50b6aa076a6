#!/bin/sh
# run.sh -- builds a release build and measures delivery throughput over mutual TLS
# against plaintext, one subscriber, in the same run (bench/e2e/run.py --only-tls;
# docs/SECURITY.md). Extra arguments go to run.py (--quick for smaller runs).
# The build directory is $WH_BENCH_BUILD or build-release at the source root.
set -eu
. "$(dirname "$0")/../release-build.sh"
ninja -C "$build" >/dev/null
exec python3 "$root/bench/e2e/run.py" --build "$build" --only-tls "$@"
