#!/usr/bin/env bash
# demo.sh -- the whole pipeline on a throwaway local stack: MariaDB -> publisher -> subscriber apps.
#
# Installs the dependencies (scripts/install-deps.sh), builds a release build
# in build-demo (unless --no-build; WH_DEMO_BUILD names another build dir),
# starts a private MariaDB primary and a replica of it, ZooKeeper, memcached
# and Redis on loopback (tests/harness/run.py: temp dirs, no system service
# touched), starts two subscriber apps with wormhole-tail (one taking
# everything, one with a filter) and a wormhole-publisher next to each copy
# of the database (the primary's is preferred and active, the replica's
# stands by: docs/FAILOVER.md), writes rows, and shows the updates arriving
# at each app. Then it kills the active publisher with SIGKILL, writes more
# rows, restarts it, and shows that delivery resumes from the position
# recorded in ZooKeeper. Then wormhole-cache: a key filled from the
# database as a read-through cache does is deleted from memcached when its
# row changes (and a Redis key set from the row follows it); and
# wormhole-index: a full-text query on a SQLite FTS5 index follows an
# insert, an update and a delete. Last, a failover: the active publisher is
# killed for good and the replica's publisher takes the shard over; the
# apps keep receiving, from the replica's binlog. Everything started is
# torn down at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${WH_DEMO_BUILD:-build-demo}

if [ "${1:-}" != "--inside-harness" ]; then
  bash scripts/install-deps.sh
  if [ "${1:-}" != "--no-build" ]; then
    if [ -f "$BUILD/meson-private/coredata.dat" ]; then
      meson setup --reconfigure "$BUILD" --buildtype=release -Db_lto=true >/dev/null
    else
      rm -rf "$BUILD"
      meson setup "$BUILD" --buildtype=release -Db_lto=true >/dev/null
    fi
    echo "== building ($BUILD)"
    ninja -C "$BUILD" >/dev/null
  fi
  echo "== starting a throwaway MariaDB primary and replica, ZooKeeper, memcached and Redis"
  exec python3 tests/harness/run.py --mariadb --replica --zk --memcached --redis -- \
    bash "$0" --inside-harness
fi

# --- from here on we run under the harness, with WH_MARIADB_*, WH_REPLICA_*, WH_ZK_CONNECT,
# WH_MEMCACHED_* and WH_REDIS_* set ---
declare -A PIDS=()   # pid -> name of each program started here (SIGTERM stops each cleanly)
cleanup() {
  local p rc
  for p in "${!PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${!PIDS[@]}"; do
    rc=0
    wait "$p" 2>/dev/null || rc=$?
    [ "$rc" -eq 0 ] || echo "demo: ${PIDS[$p]} exited with status $rc" >&2
  done
}
trap cleanup EXIT

sql() {
  printf '   %s\n' "$1"
  mariadb --no-defaults --user="$WH_MARIADB_USER" --socket="$WH_MARIADB_SOCKET" -e "$1"
}

value() {   # value QUERY: one value from the database, quietly
  mariadb --no-defaults --user="$WH_MARIADB_USER" --socket="$WH_MARIADB_SOCKET" -N -B -e "$1"
}

peek() { WH_DEMO_SHELL=$$ python3 scripts/demo_peek.py "$@"; }   # the caches, the index, a status

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

wait_count() {   # wait_count FILE TEXT N: until FILE says TEXT N times (30 s at most)
  for _ in $(seq 1 150); do
    [ "$(grep -cF "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
    sleep 0.2
  done
  echo "demo: $1 does not say '$2' $3 times" >&2
  return 1
}

wait_log() {   # wait_log FILE TEXT: until the app's log FILE says TEXT (30 s at most)
  for _ in $(seq 1 150); do
    grep -qF "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "demo: $1 does not say '$2':" >&2
  tail -5 "$1" >&2
  return 1
}

T=$WH_TMPDIR
ZK="$WH_ZK_CONNECT/wormhole-demo"
sql "CREATE DATABASE shop"
sql "CREATE TABLE shop.orders (id BIGINT UNSIGNED PRIMARY KEY, customer VARCHAR(40) NOT NULL,
     amount DECIMAL(10,2), status ENUM('new','paid','shipped'), placed DATETIME(6))"

echo "== two subscriber apps: 'audit' takes everything, 'shipping' only paid orders"
"$BUILD/subscriber/wormhole-tail" --zk "$ZK" --app audit > "$T/audit.jsonl" 2> "$T/audit.log" &
PIDS[$!]="wormhole-tail --app audit"
"$BUILD/subscriber/wormhole-tail" --zk "$ZK" --app shipping \
  --filter 'table = "orders" and status = "paid"' > "$T/shipping.jsonl" 2> "$T/shipping.log" &
PIDS[$!]="wormhole-tail --app shipping"

publisher_config() {   # publisher_config ID PRIORITY PREFIX: a candidate next to one copy
  local dir=${3}_BINLOG_DIR sock=${3}_SOCKET user=${3}_USER
  cat <<EOF
{"shard": "shop-1", "id": "$1",
 "mapper": {"name": "mysql",
            "options": {"binlog_dir": "${!dir}",
                        "socket": "${!sock}", "user": "${!user}"}},
 "zookeeper": {"connect": "$WH_ZK_CONNECT", "root": "/wormhole-demo",
               "session_timeout_ms": 4000},
 "lease": {"priority": $2},
 "positions": {"flush_interval_ms": 200}}
EOF
}
publisher_config pub-primary 10 WH_MARIADB > "$T/publisher.json"
publisher_config pub-replica 0 WH_REPLICA > "$T/publisher-replica.json"
echo "== starting wormhole-publisher --config $T/publisher.json (next to the primary, preferred)"
sed 's/^/   /' "$T/publisher.json"
"$BUILD/publisher/wormhole-publisher" --config "$T/publisher.json" 2> "$T/publisher.log" &
PUB=$!
PIDS[$PUB]="wormhole-publisher pub-primary"
wait_log "$T/publisher.log" "active: took the lease"
echo "== starting wormhole-publisher --config $T/publisher-replica.json (next to the replica)"
"$BUILD/publisher/wormhole-publisher" --config "$T/publisher-replica.json" \
  2> "$T/publisher-replica.log" &
PIDS[$!]="wormhole-publisher pub-replica"
wait_log "$T/publisher-replica.log" "registered "
echo "   pub-replica stands by: $(grep -o 'registered .* as a candidate.*' \
  "$T/publisher-replica.log" | head -1 | cut -c1-120)"

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
echo "== kill -9 the active publisher, write more rows, restart it: delivery resumes from"
echo "   ZooKeeper (the restarted one is preferred: it takes the lease when the old session ends)"
kill -9 "$PUB"
wait "$PUB" 2>/dev/null || true
unset "PIDS[$PUB]"
sql "INSERT INTO shop.orders VALUES (3, 'linus', 42.00, 'paid', NOW(6))"
sql "UPDATE shop.orders SET status = 'shipped' WHERE id = 1"
"$BUILD/publisher/wormhole-publisher" --config "$T/publisher.json" 2>> "$T/publisher.log" &
PUB=$!
PIDS[$PUB]="wormhole-publisher pub-primary"
wait_lines "$T/audit.jsonl" 7   # at least once: a few may come twice
wait_lines "$T/shipping.jsonl" 2
show "$T/audit.jsonl" "audit"
show "$T/shipping.jsonl" "shipping"
echo "== the publisher's log:"
cut -c1-200 "$T/publisher.log" | sed 's/^/   /'
echo
echo "== wormhole-cache: memcached keys invalidated, a Redis key refreshed, as rows change"
cat > "$T/cache.json" <<EOF
{"subscriber": {"zookeeper": "$WH_ZK_CONNECT", "zk_root": "/wormhole-demo", "app": "cache"},
 "caches": [{"name": "mc", "type": "memcached", "servers": ["$WH_MEMCACHED_SERVER"]},
            {"name": "r", "type": "redis", "servers": ["$WH_REDIS_SERVER"]}],
 "rules": [{"table": "shop.orders", "keys": ["order:{id}"], "caches": ["mc"]},
           {"table": "shop.orders", "keys": ["order-json:{id}"], "action": "set",
            "caches": ["r"]}],
 "stats": {"interval_ms": 60000, "status_file": "$T/cache-status.json",
           "status_interval_ms": 100}}
EOF
sed 's/^/   /' "$T/cache.json"
"$BUILD/apps/cache/wormhole-cache" --config "$T/cache.json" 2> "$T/cache.log" &
PIDS[$!]="wormhole-cache"
wait_log "$T/cache.log" "registered "
# A new app starts at the oldest update in the log: let it apply the history first.
peek wait-cache-idle "$T/cache-status.json" "$(value 'SELECT @@gtid_binlog_pos')" 30
fill() {   # fill ID: a read-through cache's miss on order:ID: read the row, store it in memcached
  local v
  v=$(value "SELECT CONCAT_WS('|', id, customer, amount, status) FROM shop.orders WHERE id = $1")
  echo "   reader: order:$1 missed; SELECT from MariaDB; set order:$1 = $v"
  peek mc-set "$WH_MEMCACHED_PORT" "order:$1" "$v"
}
echo "-- a reader fills two keys from the database, as a read-through cache does:"
fill 1
fill 3
echo "-- the caches' view before the write (wormhole-cache set order-json:1 from the binlog):"
peek mc-get "$WH_MEMCACHED_PORT" order:1 order:3
peek redis-get "$WH_REDIS_PORT" order-json:1
sent=$(date +%s%N)
sql "UPDATE shop.orders SET amount = 24.99 WHERE id = 1"
peek wait-mc-gone "$WH_MEMCACHED_PORT" order:1 30 "$sent"
peek wait-cache-idle "$T/cache-status.json" "$(value 'SELECT @@gtid_binlog_pos')" 30
echo "-- the caches' view after: order:1 invalidated (the next reader refills it), order:3 kept:"
peek mc-get "$WH_MEMCACHED_PORT" order:1 order:3
peek redis-get "$WH_REDIS_PORT" order-json:1

echo
echo "== wormhole-index: a full-text index of shop.products in a SQLite FTS5 file, kept live"
sql "CREATE TABLE shop.products (id INT PRIMARY KEY, title VARCHAR(80) NOT NULL, body TEXT,
     price DECIMAL(8,2))"
sql "INSERT INTO shop.products VALUES (1, 'Walnut desk', 'A solid walnut desk, oiled', 349.00)"
cat > "$T/index.json" <<EOF
{"zookeeper": {"connect": "$WH_ZK_CONNECT", "root": "/wormhole-demo"},
 "subscriber": {"app": "search"},
 "sqlite": {"path": "$T/search.db"},
 "tables": [{"source": "shop.products", "key": ["id"], "text": ["title", "body"],
             "stored": ["price"]}],
 "status": {"file": "$T/index-status.json", "interval_ms": 1000}}
EOF
sed 's/^/   /' "$T/index.json"
"$BUILD/apps/index/wormhole-index" --config "$T/index.json" > "$T/index.log" 2>&1 &
PIDS[$!]="wormhole-index"
wait_log "$T/index.log" "registered "
echo "-- the row written before the app started is indexed from the log:"
peek wait-fts "$T/search.db" products desk 1 30
echo "-- nothing about lamps yet:"
peek fts "$T/search.db" products lamp
sent=$(date +%s%N)
sql "INSERT INTO shop.products VALUES (2, 'Brass lamp', 'A reading lamp with a brass shade', 59.00)"
peek wait-fts "$T/search.db" products lamp 1 30 "$sent"
sent=$(date +%s%N)
sql "UPDATE shop.products SET title = 'Copper lamp', body = 'A reading lamp with a copper shade'
     WHERE id = 2"
peek wait-fts "$T/search.db" products brass 0 30 "$sent"
peek fts "$T/search.db" products copper
sent=$(date +%s%N)
sql "DELETE FROM shop.products WHERE id = 2"
peek wait-fts "$T/search.db" products lamp 0 30 "$sent"

echo
echo "== failover: kill -9 the active publisher for good; the replica's publisher takes over"
wait_count "$T/publisher.log" "active: took the lease" 2   # the restarted one serves
killed=$(date +%s%N)
kill -9 "$PUB"
wait "$PUB" 2>/dev/null || true
unset "PIDS[$PUB]"
sql "INSERT INTO shop.orders VALUES (7, 'margaret', 7.00, 'paid', NOW(6))"
peek wait-takeover orders 7 30 "$killed" "$T/audit.jsonl" "$T/audit.log" \
  "$T/shipping.jsonl" "$T/shipping.log"
echo "-- the replica's publisher's log:"
grep -E "copy of shard|active: took the lease" "$T/publisher-replica.log" | cut -c1-200 \
  | sed 's/^/   /'

echo
echo "== done; tearing everything down"
