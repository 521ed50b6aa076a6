#!/usr/bin/env bash
# demo.sh -- the whole pipeline on a throwaway local stack: MariaDB -> publisher -> wormhole-tail.
#
# Installs the dependencies (scripts/install-deps.sh), builds a release build
# in build-demo (unless --no-build), starts a private
# MariaDB and ZooKeeper on loopback (tests/harness/run.py: temp dirs, no
# system service touched), starts two subscriber apps with wormhole-tail (one
# taking everything, one with a filter) and a wormhole-publisher for the
# database, writes rows, and shows the updates arriving at each app. Then it
# kills the publisher with SIGKILL, writes more rows, restarts it, and shows
# that delivery resumes from the position recorded in ZooKeeper. Everything
# started is torn down at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${WH_DEMO_BUILD:-build-demo}

if [ "${1:-}" != "--inside-harness" ]; then
  bash scripts/install-deps.sh
  if [ "${1:-}" != "--no-build" ]; then
    if [ -f "$BUILD/meson-private/coredata.dat" ]; then
      meson setup --reconfigure "$BUILD" --buildtype=release >/dev/null
    else
      rm -rf "$BUILD"
      meson setup "$BUILD" --buildtype=release >/dev/null
    fi
    echo "== building ($BUILD)"
    ninja -C "$BUILD" >/dev/null
  fi
  echo "== starting a throwaway MariaDB and ZooKeeper"
  exec python3 tests/harness/run.py --mariadb --zk -- bash "$0" --inside-harness
fi

# --- from here on we run under the harness, with WH_MARIADB_* and WH_ZK_CONNECT set ---
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

sql() {
  printf '   %s\n' "$1"
  mariadb --no-defaults --user="$WH_MARIADB_USER" --socket="$WH_MARIADB_SOCKET" -e "$1"
}

show() {   # show FILE LABEL: the JSON lines received so far, one per line, shortened
  echo "-- $2 received $(wc -l < "$1") updates:"
  cut -c1-220 "$1" | sed 's/^/   /'
}

wait_lines() {   # wait_lines FILE N: until FILE has N lines (30 s at most)
  for _ in $(seq 1 150); do
    [ "$(wc -l < "$1")" -ge "$2" ] && return 0
    sleep 0.2
  done
  echo "demo: $1 has $(wc -l < "$1") lines, expected $2" >&2
  return 1
}

T=$WH_TMPDIR
ZK="$WH_ZK_CONNECT/wormhole-demo"
sql "CREATE DATABASE shop"
sql "CREATE TABLE shop.orders (id BIGINT UNSIGNED PRIMARY KEY, customer VARCHAR(40) NOT NULL,
     amount DECIMAL(10,2), status ENUM('new','paid','shipped'), placed DATETIME(6))"

echo "== two subscriber apps: 'audit' takes everything, 'shipping' only paid orders"
"$BUILD/subscriber/wormhole-tail" --zk "$ZK" --app audit > "$T/audit.jsonl" 2> "$T/audit.log" &
PIDS+=($!)
"$BUILD/subscriber/wormhole-tail" --zk "$ZK" --app shipping \
  --filter 'table = "orders" and status = "paid"' > "$T/shipping.jsonl" 2> "$T/shipping.log" &
PIDS+=($!)

cat > "$T/publisher.json" <<EOF
{"shard": "shop-1",
 "mapper": {"name": "mysql", "options": {"binlog_dir": "$WH_MARIADB_BINLOG_DIR"}},
 "zookeeper": {"connect": "$WH_ZK_CONNECT", "root": "/wormhole-demo"},
 "positions": {"flush_interval_ms": 200}}
EOF
echo "== starting wormhole-publisher --config $T/publisher.json"
"$BUILD/publisher/wormhole-publisher" --config "$T/publisher.json" 2> "$T/publisher.log" &
PUB=$!
PIDS+=($PUB)

echo "== writing rows"
sql "INSERT INTO shop.orders VALUES (1, 'ada', 19.99, 'new', '2024-05-01 10:00:00.123456'),
                                     (2, 'grace', 5.00, 'new', NOW(6))"
sql "UPDATE shop.orders SET status = 'paid' WHERE id = 1"
sql "DELETE FROM shop.orders WHERE id = 2"
# audit: the DDL of orders, 2 inserts, 1 update, 1 delete; shipping: the update.
wait_lines "$T/audit.jsonl" 5
wait_lines "$T/shipping.jsonl" 1
show "$T/audit.jsonl" "audit"
show "$T/shipping.jsonl" "shipping"

sleep 1   # positions are written to ZooKeeper every 200 ms (positions.flush_interval_ms)
echo "== kill -9 the publisher, write more rows, restart it: delivery resumes from ZooKeeper"
kill -9 "$PUB"
wait "$PUB" 2>/dev/null || true
sql "INSERT INTO shop.orders VALUES (3, 'linus', 42.00, 'paid', NOW(6))"
sql "UPDATE shop.orders SET status = 'shipped' WHERE id = 1"
"$BUILD/publisher/wormhole-publisher" --config "$T/publisher.json" 2>> "$T/publisher.log" &
PIDS+=($!)
wait_lines "$T/audit.jsonl" 7   # at least once: a few may come twice
wait_lines "$T/shipping.jsonl" 2
show "$T/audit.jsonl" "audit"
show "$T/shipping.jsonl" "shipping"
echo "== the publisher's log:"
cut -c1-200 "$T/publisher.log" | sed 's/^/   /'
echo "== done; tearing everything down"
