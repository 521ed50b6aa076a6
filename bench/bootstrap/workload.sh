#!/bin/sh
# workload.sh -- runs inside tests/harness/run.py for bench/bootstrap/run.sh:
# loads the table on the harness MariaDB, then times bench_bootstrap over it
# beside the stock clients reading the same table.
# usage: workload.sh BUILD_DIR [--rows N] [--chunk N]... [--compare BUILD_DIR2] [--repeat N]
# (--chunk again: one run per chunk size; --compare: also the bench_bootstrap
# of another build, e.g. of an earlier commit, in the same run; --repeat: every
# run N times, interleaved, for a machine whose load moves.)
#
# Each run prints its wall time, its rows/s, and the CPU seconds it cost
# the client process and the server (mariadbd's user + system time from
# /proc, the server being otherwise idle): on a shared machine the wall
# time depends on the load, the CPU seconds much less.
set -eu
build=$1
shift
rows=1000000 chunks= compare= repeat=1
while [ $# -gt 0 ]; do
    case $1 in
    --rows) rows=$2; shift 2 ;;
    --chunk) chunks="$chunks $2"; shift 2 ;;
    --compare) compare=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "usage: run.sh [--rows N] [--chunk N]... [--compare BUILD_DIR] [--repeat N]" >&2
       exit 2 ;;
    esac
done
chunks=${chunks:-10000}
client() { mariadb --no-defaults --user=root --socket="$WH_MARIADB_SOCKET" "$@"; }
client -e "CREATE DATABASE app; CREATE TABLE app.big (id INT PRIMARY KEY, grp INT NOT NULL,
    name VARCHAR(64), qty BIGINT, price DECIMAL(12,2), at DATETIME(3))"
start=$(date +%s)
client app -e "SET SESSION sql_log_bin = 0; INSERT INTO app.big SELECT seq, seq % 7,
    CONCAT('n', seq), seq * 3, seq / 100, '2026-01-01 00:00:00.123' + INTERVAL seq SECOND
    FROM seq_1_to_$rows"
echo "loaded $rows rows in $(( $(date +%s) - start )) s on $(nproc) cores"
client -e "SELECT COUNT(*) FROM app.big" >/dev/null   # warm the buffer pool
server=$(client -N -e "SELECT @@pid_file" 2>/dev/null)
server=$(cat "$server" 2>/dev/null || true)
# run NAME CMD...: times CMD (its output discarded unless it is JSON from
# bench_bootstrap), with the CPU seconds of CMD and of the server.
run() {
    name=$1
    shift
    python3 - "$name" "$rows" "$server" "$@" <<'PY'
import json, os, resource, subprocess, sys, time
name, rows, server, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
def server_cpu():
    try:
        f = open("/proc/%s/stat" % server).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")
s0, t0 = server_cpu(), time.monotonic()
r = subprocess.run(argv, stdout=subprocess.PIPE, check=True)
wall, s1 = time.monotonic() - t0, server_cpu()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
out = r.stdout.decode().strip()
extra = ""
if name.startswith("bench_bootstrap"):
    j = json.loads(out.splitlines()[-1])
    rows, wall = j["rows"], j["seconds"]
    extra = " (%d chunks, %.1f MB encoded)" % (j["chunks"], j["encoded_mb"])
print("%-36s %8d rows %7.2f s %9.0f rows/s  CPU: client %.2f s, server %.2f s%s" %
      (name, rows, wall, rows / wall, ru.ru_utime + ru.ru_stime, s1 - s0, extra), flush=True)
PY
}
echo "uptime: $(uptime)"
# The references: the server sending the whole table to a stock client that
# discards it (one query, no chunks, no snapshots, no conversion).
i=0
while [ $i -lt "$repeat" ]; do
    i=$((i + 1))
    run "mariadb --quick (text, one query)" mariadb --no-defaults --user=root \
        --socket="$WH_MARIADB_SOCKET" --quick -e "SELECT * FROM app.big"
    run "mariadb-dump --quick" mariadb-dump --no-defaults --user=root \
        --socket="$WH_MARIADB_SOCKET" --quick --single-transaction app big
    for chunk in $chunks; do
        for mode in "" --no-encode; do
            if [ -n "$compare" ]; then
                run "bench_bootstrap (compared) --chunk $chunk $mode" \
                    "$compare/bench/bootstrap/bench_bootstrap" --socket "$WH_MARIADB_SOCKET" \
                    --table app.big --chunk "$chunk" $mode
            fi
            run "bench_bootstrap --chunk $chunk $mode" "$build/bench/bootstrap/bench_bootstrap" \
                --socket "$WH_MARIADB_SOCKET" --table app.big --chunk "$chunk" $mode
        done
    done
done
echo "uptime: $(uptime)"
