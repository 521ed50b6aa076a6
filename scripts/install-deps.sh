#!/usr/bin/env bash
# install-deps.sh -- installs every package wormhole needs to build and test, from Debian 12 with apt.
#
# Idempotent and quiet: it asks dpkg which packages are missing and runs
# apt-get only for those (printing one line saying which).  Never starts a
# system service: while it installs, /usr/sbin/policy-rc.d answers 101
# ("action forbidden") to every service start, so installing the MariaDB
# packages does not launch the system mariadb.  Runs as root, or through
# sudo when not root.
set -euo pipefail

# Build: compiler toolchain, meson, and the -dev packages found via pkg-config.
# clang + libclang-rt-14-dev: libFuzzer targets (-Dfuzzers=true, CC=clang).
# Test servers: mariadbd + mariadb-install-db (mariadb-server-core), the
# mariadb client and mariadb-binlog (mariadb-client), ZooKeeper's server jars
# (libzookeeper-java, plus slf4j-simple from libslf4j-java for its log) run by
# a headless JRE.  The 'zookeeper' package itself is not needed: it only adds
# wrapper scripts and pulls the desktop JRE (GTK, X11).
# wormhole-index: libsqlite3-dev (its default index, an FTS5 file) and libpq-dev;
# the tests run Debian's PostgreSQL binaries (/usr/lib/postgresql/15/bin, from
# 'postgresql') directly in temp dirs (tests/harness/wh_postgres.py).  The
# package may create a 'main' cluster; policy-rc.d below keeps it from starting.
# wormhole-cache (apps/cache): libmemcached-dev and libhiredis-dev to build,
# memcached and redis-server as its tests' and benchmark's throwaway caches
# (the harness runs them in temp dirs; their system services are never started).
# libssl-dev: mutual TLS between publishers and subscribers (protocol/wire_tls.c) and
# libcrypto's SHA-1 for ZooKeeper digest ids (protocol/zk_acl.c);
# openssl (the CLI): scripts/gen-certs.sh, which the TLS tests use.
# libmicrohttpd-dev: the monitor's Prometheus /metrics endpoint (monitor/mon_http.c).
# groff-base: the unit test docs_flags renders the manual page wormhole-monitor(8).
# rocksdb-tools: ldb, the reference scan beside bench/bootstrap/run_rocksdb.sh.
PACKAGES=(
  meson ninja-build pkg-config gcc libc6-dev clang libclang-rt-14-dev
  libmariadb-dev librocksdb-dev libzookeeper-mt-dev libssl-dev libjansson-dev libmsgpack-dev libzstd-dev zlib1g-dev
  mariadb-server-core mariadb-client
  libzookeeper-java libslf4j-java default-jre-headless
  postgresql libpq-dev libsqlite3-dev
  sysbench python3 procps groff-base
  rocksdb-tools
  libmemcached-dev libhiredis-dev memcached redis-server
  libssl-dev openssl
  libmicrohttpd-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2

# Forbid service starts for the duration of the install.
POLICY=/usr/sbin/policy-rc.d
BACKUP=$POLICY.wormhole-backup
policy_state=none
restore_policy() {
  case $policy_state in
    created) "${SUDO[@]}" rm -f "$POLICY" ;;
    replaced) "${SUDO[@]}" mv -f "$BACKUP" "$POLICY" ;;
  esac
}
trap restore_policy EXIT
if [ -e "$POLICY" ] && grep -qx 'exit 101' "$POLICY" 2>/dev/null; then
  policy_state=kept        # already forbids starts: leave it as it is
else
  if [ -e "$POLICY" ]; then
    "${SUDO[@]}" mv -f "$POLICY" "$BACKUP"
    policy_state=replaced
  else
    policy_state=created
  fi
  printf '#!/bin/sh\n# wormhole install-deps.sh: no service starts while installing.\nexit 101\n' |
    "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
fi

APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y
     -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
log=$(mktemp)
if ! { "${APT[@]}" update && "${APT[@]}" install "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "install-deps: apt-get failed (output above)" >&2
  exit 1
fi
rm -f "$log"
echo "install-deps: done" >&2
