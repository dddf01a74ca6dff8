#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, as cheap as a temporary SQLite file.
#
#   tests/postgres-cluster.sh start DIR [name=value ...]
#       Creates a cluster in DIR/data (initdb: locale C, UTF-8, trust authentication),
#       starts it on a free loopback TCP port with its Unix socket in DIR, durability off
#       (fsync, full_page_writes, synchronous_commit: a test database is never worth a
#       disk flush), and prints its base URL on stdout:
#           postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#       Extra `name=value` settings go to the server (the TLS tests turn on ssl with them);
#       they come after the ones above and win, so a caller can put durability back
#       (benches/postgres.sh does).
#       DIR is created if missing; files already in it (certificates, say) are kept.
#   tests/postgres-cluster.sh stop DIR
#       Stops the cluster (fast shutdown) and removes DIR.
#
# The server binaries are found on PATH, else in Debian's /usr/lib/postgresql/*/bin (newest
# version first). Run as root, the cluster belongs to the `postgres` OS user (PostgreSQL refuses
# to run as root): DIR is handed to it first. Progress goes to stderr, the URL alone to stdout.
set -euo pipefail

die() {
  echo "postgres-cluster: $*" >&2
  exit 1
}

[ $# -ge 2 ] || die "usage: $0 start|stop DIR [name=value ...]"
action=$1
dir=$2
shift 2

# Puts the directory holding initdb and pg_ctl on PATH.
find_binaries() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    return
  fi
  local candidate
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
    if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
      PATH="$candidate:$PATH"
      return
    fi
  done
  die "initdb and pg_ctl not found (on PATH or in /usr/lib/postgresql/*/bin): install PostgreSQL (Debian: apt-get install postgresql), or run ./test, which does"
}

# Runs a command as the cluster's owner: the postgres OS user when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- env PATH="$PATH" "$@"
  else
    "$@"
  fi
}

# Whether something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

case "$action" in
  start)
    find_binaries
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ ! -e "$dir/data" ] || die "$dir/data exists already: stop that cluster first"
    if [ "$(id -u)" -eq 0 ]; then
      id postgres >/dev/null 2>&1 || die "running as root needs the postgres OS user (created by Debian's postgresql package)"
      chown -R postgres: "$dir"
      runuser -u postgres -- test -w "$dir" \
        || die "the postgres user cannot reach $dir (a parent directory is private to root): use a directory such as one made by mktemp -d"
    fi
    as_owner initdb --pgdata="$dir/data" --locale=C --encoding=UTF8 --auth=trust \
      --username=postgres --no-instructions >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # pg_ctl hands -o to a shell: each extra setting goes single-quoted.
    settings=""
    for setting in "$@"; do
      case "$setting" in
        *=*) settings+=" -c '${setting//\'/\'\\\'\'}'" ;;
        *) die "extra settings are name=value, not '$setting'" ;;
      esac
    done
    # A free port: try random ones until one is unused and the server binds it (another
    # process may take a port between the check and the start, hence the retries).
    for _ in $(seq 1 20); do
      port=$((20000 + RANDOM % 40000))
      port_in_use "$port" && continue
      rm -f "$dir/server.log"
      if as_owner pg_ctl start --pgdata="$dir/data" --wait --timeout=30 --silent \
        --log="$dir/server.log" \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200$settings" >&2; then
        echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
        exit 0
      fi
      if ! grep -q "could not bind" "$dir/server.log" 2>/dev/null; then
        cat "$dir/server.log" >&2 || true
        die "the server did not start (log above)"
      fi
    done
    die "no free port found after 20 tries"
    ;;
  stop)
    find_binaries
    if [ -d "$dir/data" ]; then
      as_owner pg_ctl stop --pgdata="$dir/data" --mode=fast --wait --silent >&2 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    die "unknown action '$action' (start or stop)"
    ;;
esac
