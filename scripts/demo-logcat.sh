#!/usr/bin/env bash
# demo-logcat.sh -- shows wormhole turning a MariaDB binlog into JSON updates, on a throwaway local server.
#
# Installs the dependencies, builds a release build in build-demo, starts a
# private MariaDB (tests/harness/run.py: temp dir, loopback port, binlog on,
# no system service touched), writes rows to it (insert, update, delete, a
# multi-statement transaction), and prints the binlog as JSON update lines
# with wormhole-logcat.  Everything started is torn down at the end, also on
# Ctrl-C.  WH_KEEP_TMP=1 keeps the server's temp dir for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inside-harness" ]; then
  bash scripts/install-deps.sh
  if [ -f build-demo/meson-private/coredata.dat ]; then
    meson setup --reconfigure build-demo --buildtype=release >/dev/null
  else
    rm -rf build-demo
    meson setup build-demo --buildtype=release >/dev/null
  fi
  echo "== building (build-demo)"
  ninja -C build-demo >/dev/null
  echo "== starting a throwaway MariaDB"
  exec python3 tests/harness/run.py --mariadb -- bash "$0" --inside-harness
fi

# --- from here on we run under the harness, with WH_MARIADB_* set ----------
sql() {
  printf '   %s\n' "$1"
  mariadb --no-defaults --user="$WH_MARIADB_USER" --socket="$WH_MARIADB_SOCKET" -e "$1"
}

echo "== MariaDB $(mariadb --no-defaults -u root -S "$WH_MARIADB_SOCKET" -N -B -e 'SELECT VERSION()') on 127.0.0.1:$WH_MARIADB_PORT, binlog in $WH_MARIADB_BINLOG_DIR"
echo "== writing some rows"
sql "CREATE DATABASE shop"
sql "CREATE TABLE shop.orders (id BIGINT UNSIGNED PRIMARY KEY, customer VARCHAR(40) NOT NULL,
     amount DECIMAL(10,2), status ENUM('new','paid','shipped'), note JSON, placed DATETIME(6))"
sql "INSERT INTO shop.orders VALUES
     (1, 'ada',   19.99, 'new', '{\"gift\": true}', '2024-05-01 10:00:00.123456'),
     (2, 'grace', 5.00,  'new', NULL,               '2024-05-01 10:05:00'),
     (18446744073709551615, 'max', NULL, 'new', NULL, NULL)"
sql "UPDATE shop.orders SET status = 'paid', amount = amount + 1 WHERE id = 1"
sql "DELETE FROM shop.orders WHERE id = 2"
sql "START TRANSACTION;
     INSERT INTO shop.orders VALUES (3, 'linus', 42.00, 'new', '[1, 2, 3]', NOW(6));
     UPDATE shop.orders SET status = 'shipped' WHERE id = 1;
     COMMIT"

LOGCAT=build-demo/tools/wormhole-logcat
echo
echo "== the binlog as wormhole updates: $LOGCAT --mapper mysql --binlog-dir \"\$WH_MARIADB_BINLOG_DIR\""
set +e
"$LOGCAT" --mapper mysql --binlog-dir "$WH_MARIADB_BINLOG_DIR" --shard demo
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo "demo: wormhole-logcat failed with status $rc (see its message above)" >&2
  exit $rc
fi
echo "== done; tearing the server down"
