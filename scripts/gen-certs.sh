#!/bin/sh
# gen-certs.sh -- makes a test CA and the publisher and subscriber certificates wormhole's mutual TLS expects.
#
# Usage: scripts/gen-certs.sh DIR [--shard SHARD]... [--app APP]... [--name FILE=DNSNAME]...
#                                 [--expired FILE=DNSNAME]... [--days N]
#
# Into DIR (created 0700): ca.pem and ca.key (a new CA, unless DIR already
# has one: running the script again on DIR adds certificates from the same
# CA; another DIR makes another CA), then one certificate per option:
#   --shard SHARD     publisher-SHARD.pem/.key, named publisher.SHARD.wormhole
#                     (what a subscriber requires of a publisher of SHARD)
#   --app APP         subscriber-APP.pem/.key, named subscriber.APP.wormhole
#                     (what a publisher requires of an instance of APP)
#   --name F=DNS      F.pem/.key named DNS (any other name, e.g. for an
#                     allow-list or a test of a wrong name)
#   --expired F=DNS   F.pem/.key named DNS whose validity ended in 2021
#   --days N          validity of the certificates that follow (default 825)
# Without --shard and --app it makes publisher-s1 and subscriber-tail.
# Keys are EC P-256, mode 0600 (the processes refuse looser key files).
# Each certificate carries its name as SAN DNS and as CN, and both TLS
# usages (a subscriber is the TLS server, a publisher the client).
# Needs the openssl command-line tool. docs/SECURITY.md has the quick start.
set -eu

die() { echo "gen-certs: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: gen-certs.sh DIR [--shard S]... [--app A]... [--name F=DNS]... [--expired F=DNS]... [--days N]"
command -v openssl >/dev/null || die "the openssl command is needed (apt-get install openssl)"
dir=$1
shift
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 \
    -subj "/O=wormhole test/CN=wormhole test CA $(basename "$dir")" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "gen-certs: CA $dir/ca.pem"
fi

days=825
# issue FILE DNSNAME [expired]
issue() {
  f=$1 name=$2 expired=${3:-}
  ext="$dir/.ext.$$"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:%s\n' \
    "$name" > "$ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/$f.key" -out "$dir/$f.csr" -subj "/O=wormhole test/CN=$name" 2>/dev/null
  if [ -n "$expired" ]; then
    # openssl x509 cannot back-date; a throwaway "openssl ca" database can.
    db="$dir/.ca.$$"
    mkdir -p "$db"
    : > "$db/index.txt"
    printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n' \
      "$db" "$db" "$db" > "$db/ca.cnf"
    openssl rand -hex 8 > "$db/serial"
    openssl ca -batch -config "$db/ca.cnf" -cert "$dir/ca.pem" -keyfile "$dir/ca.key" \
      -in "$dir/$f.csr" -out "$dir/$f.pem" -extfile "$ext" -notext \
      -startdate 20200101000000Z -enddate 20210101000000Z 2>/dev/null
    rm -rf "$db"
  else
    openssl x509 -req -in "$dir/$f.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -CAcreateserial -out "$dir/$f.pem" -days "$days" -sha256 -extfile "$ext" 2>/dev/null
  fi
  rm -f "$ext" "$dir/$f.csr"
  chmod 600 "$dir/$f.key"
  chmod 644 "$dir/$f.pem" "$dir/ca.pem"
  echo "gen-certs: $dir/$f.pem ($name${expired:+, expired})"
}

made=0
while [ $# -gt 0 ]; do
  case $1 in
    --shard) [ $# -ge 2 ] || die "--shard wants a shard"; issue "publisher-$2" "publisher.$2.wormhole"; shift 2 ;;
    --app) [ $# -ge 2 ] || die "--app wants an app"; issue "subscriber-$2" "subscriber.$2.wormhole"; shift 2 ;;
    --name|--expired)
      [ $# -ge 2 ] || die "$1 wants FILE=DNSNAME"
      case $2 in *=*) ;; *) die "$1 wants FILE=DNSNAME, got '$2'" ;; esac
      issue "${2%%=*}" "${2#*=}" "$([ "$1" = --expired ] && echo yes || true)"
      shift 2 ;;
    --days) [ $# -ge 2 ] || die "--days wants a number"; days=$2; shift 2; continue ;;
    *) die "unknown option '$1'" ;;
  esac
  made=1
done
if [ $made = 0 ]; then
  issue publisher-s1 publisher.s1.wormhole
  issue subscriber-tail subscriber.tail.wormhole
fi
