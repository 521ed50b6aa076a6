#!/usr/bin/env bash
# bench.sh -- runs every benchmark (bench/*/run.sh) and prints their figures.
#   scripts/bench.sh            all benchmarks
#   scripts/bench.sh mysql      only bench/mysql
# Each bench/NAME/run.sh builds a release build, prepares its own data on a
# throwaway local stack and prints its figures; see docs/TESTING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export WH_BENCH_BUILD="${WH_BENCH_BUILD:-$PWD/build-release}"
status=0
for dir in bench/*/; do
    name=$(basename "$dir")
    if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
        continue
    fi
    [ -x "$dir/run.sh" ] || [ -f "$dir/run.sh" ] || continue
    echo "=== bench/$name"
    bash "$dir/run.sh" || { echo "bench/$name failed" >&2; status=1; }
done
exit $status
