#!/bin/sh
# soak.sh -- runs the fault menu (tests/publisher/test_faults.py) over N fresh seeds.
#
# Usage: scripts/soak.sh [N] [--faults LIST|all] [--rounds R] [--build DIR] [--seed S] [--show]
#
# Each seed starts a fresh stack (MariaDB, ZooKeeper, publisher, subscribers) and
# injects R faults (default 4) drawn from LIST (default: the faults whose fixes are on
# main; "all" takes every fault of the menu). Prints one line per seed (passed/FAILED,
# its seed and time), the replay command of each failure, and a last line
# "soak: N seeds, P passed, F failed[: failed seeds ...]". The output of a failed seed
# is kept in $WH_SOAK_LOGS (default /tmp/wh-soak-logs). --seed S makes the seeds S,
# S+1, ... (default: random). Exits 1 if any seed failed. Not part of CI; the integration
# suite runs a short version (faults_soak_short).
# --show (or WH_SOAK_SHOW=1) prints a failed seed's whole output.
# The build is $WH_BUILD_ROOT, else --build DIR, else build-test (scripts/test.sh's).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
n=10
faults=
rounds=4
seed=
show=${WH_SOAK_SHOW:-}
build=${WH_BUILD_ROOT:-$here/build-test}
while [ $# -gt 0 ]; do
    case "$1" in
        --faults) faults=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --show) show=1; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        [0-9]*) n=$1; shift ;;
        *) echo "soak.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ -z "$seed" ] && seed=$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')
logs=${WH_SOAK_LOGS:-/tmp/wh-soak-logs}
mkdir -p "$logs"
pass=0
fail=0
failed=
i=0
while [ $i -lt "$n" ]; do
    s=$((seed + i))
    i=$((i + 1))
    t0=$(date +%s)
    out="$logs/seed-$s.log"
    WH_SEED=$s WH_FAULTS=${faults:-${WH_FAULTS:-}} WH_BUILD_ROOT=$build \
        python3 "$here/tests/publisher/test_faults.py" --rounds "$rounds" >"$out" 2>&1
    rc=$?
    dt=$(( $(date +%s) - t0 ))
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1))
        echo "seed $s: passed ($dt s)"
        rm -f "$out"
    elif [ $rc -eq 77 ]; then
        echo "seed $s: skipped: $(tail -1 "$out")"
        rm -f "$out"
    else
        fail=$((fail + 1))
        failed="$failed $s"
        echo "seed $s: FAILED ($dt s): $(grep -m1 '^FAILED' "$out" | cut -c1-200)"
        echo "    replay: $(grep -m1 '^FAILED seed' "$out" | sed 's/^FAILED seed [0-9]* (\(.*\))$/\1/')" \
             "python3 tests/publisher/test_faults.py; log: $out"
        [ -n "$show" ] && cat "$out"
    fi
done
if [ $fail -gt 0 ]; then
    echo "soak: $n seeds, $pass passed, $fail failed: failed seeds$failed"
    exit 1
fi
echo "soak: $n seeds, $pass passed, 0 failed"
