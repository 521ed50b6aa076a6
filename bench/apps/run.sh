#!/bin/sh
# run.sh -- runs the benchmark of every subscriber app (bench/apps/*/run.sh), so
# that scripts/bench.sh, which runs bench/*/run.sh, runs them too.
set -eu
status=0
for r in "$(dirname "$0")"/*/run.sh; do
    [ -f "$r" ] || continue
    echo "=== bench/apps/$(basename "$(dirname "$r")")"
    sh "$r" "$@" || { echo "bench/apps/$(basename "$(dirname "$r")") failed" >&2; status=1; }
done
exit $status
