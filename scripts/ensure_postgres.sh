#!/usr/bin/env bash
# Make sure Debian's PostgreSQL server is installed (the PostgreSQL tests and
# benchmarks/store_throughput.py run a real one), and run throwaway clusters for them.
#
#   ensure_postgres.sh                      install if missing; print the binaries' folder
#   ensure_postgres.sh start DIR PORT [fast] init DIR if empty, start on 127.0.0.1:PORT
#                                           (socket in DIR); print the DSN. "fast": fsync off
#   ensure_postgres.sh stop DIR             stop the cluster in DIR (fast shutdown)
#
# The cluster belongs to whoever asked for it: no system service, no default cluster, no
# password (trust, loopback only). PostgreSQL refuses to run as root, so as root it runs as
# the `postgres` user the package creates.
set -euo pipefail

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/initdb" ]; then
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  export DEBIAN_FRONTEND=noninteractive
  # The package would create and start a "main" cluster as a service: this project wants none.
  $sudo mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
  $sudo apt-get update -qq
  # confold: keep the createcluster.conf written above rather than prompt for it.
  $sudo apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql >/dev/null
  echo "ensure_postgres: installed $("$(bindir)/postgres" --version)" >&2
fi
BIN=$(bindir)

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  "")
    echo "$BIN"
    ;;
  start)
    dir=$2 port=$3 mode=${4:-}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    cd /  # the postgres user may not be able to enter the caller's directory
    chmod 700 "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_owner "$BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --no-sync >/dev/null
    fi
    opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200"
    if [ "$mode" = fast ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_owner "$BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=$(cd "$2" && pwd)
    cd /
    as_owner "$BIN/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null
    ;;
  *)
    echo "usage: $0 [start DIR PORT [fast] | stop DIR]" >&2
    exit 2
    ;;
esac
