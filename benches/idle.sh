#!/usr/bin/env bash
# Many idle keep-alive clients on a local shipstar server. See docs/BENCHMARKS.md, "Ten
# thousand idle connections".
#
#   bash benches/idle.sh [--connections N] [--server PATH]
#
# Builds the release binary (or takes PATH), starts it on 127.0.0.1 with a fresh database,
# `max_connections` raised to fit (with its reserve) and the per-address cap off (every client here is
# 127.0.0.1), then opens N connections (default 10,000), each sending one health request
# and reading its answer, and keeps them all open and silent. With them held it reports the
# server's RSS and threads, then times health requests from new clients (each on a new
# connection, one at a time): the median and the slowest of 50. Loopback only; bounded in
# count (N connections) and time (the server's client timeout is 300 s, the script ends well
# before). Exits non-zero if a request fails or the server dies.
set -euo pipefail
export LC_ALL=C

connections=10000
server_override=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --connections) [[ $# -ge 2 ]] || exit 2; connections="$2"; shift ;;
        --server) [[ $# -ge 2 ]] || exit 2; server_override="$2"; shift ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "error: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[[ "$connections" =~ ^[1-9][0-9]*$ && "$connections" -le 50000 ]] ||
    { echo "error: --connections must be 1 to 50000" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
die() { echo "error: $*" >&2; exit 1; }

if [[ -n "$server_override" ]]; then
    bin="$(realpath "$server_override")"
else
    echo "== building (cargo build --release)" >&2
    cargo build --release >&2 || die "cargo build --release failed"
    target_dir="${CARGO_TARGET_DIR:-$root/target}"
    bin=""
    for candidate in "$target_dir/x86_64-unknown-linux-gnu/release/shipstar" "$target_dir/release/shipstar"; do
        if [[ -x "$candidate" ]]; then bin="$candidate"; break; fi
    done
fi
[[ -x "$bin" ]] || die "cannot find the release binary"
command -v python3 >/dev/null || die "python3 is needed"
# This script holds as many sockets as the server: raise its open-file limit as the server
# raises its own (to the hard limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[[ "$(ulimit -n)" == unlimited || "$(ulimit -n)" -gt $((connections + 100)) ]] ||
    die "the open-file limit ($(ulimit -n)) is below $connections connections"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/shipstar-idle.XXXXXX")"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^SHIPSTAR_' || true)
# Every client is 127.0.0.1, so the last eighth of max_connections (the reserve for addresses
# holding few connections) is out of their reach: room for N is N x 8/7, plus the new clients.
export SHIPSTAR_MAX_CONNECTIONS=$((connections * 8 / 7 + 1000)) SHIPSTAR_MAX_CONNECTIONS_PER_IP=0
export SHIPSTAR_CLIENT_TIMEOUT_SECONDS=300
(cd "$tmp" && exec "$bin" serve --listen "127.0.0.1:$port" --database "$tmp/idle.db" \
    </dev/null >"$tmp/server.out" 2>"$tmp/server.log") &
server_pid=$!
for _ in $(seq 500); do
    grep -q . "$tmp/server.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$tmp/server.log" >&2; die "the server exited"; }
    sleep 0.02
done
echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $connections idle connections" >&2

python3 - "$port" "$connections" "$server_pid" <<'PY' || { tail -n 5 "$tmp/server.log" >&2; die "a request failed"; }
import socket, statistics, sys, time

port, count, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
REQUEST = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"

def status(field):
    for line in open("/proc/%s/status" % pid):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit("no %s for the server" % field)

def exchange(sock, request):
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit("the server closed a connection before answering")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit("not a 200: %r" % head[:80])
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(body) < length:
        body += sock.recv(4096)

rss_before = status("VmRSS")
held = []
started = time.time()
for i in range(count):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    exchange(sock, REQUEST)
    held.append(sock)
opened = time.time() - started
time.sleep(1)
rss = status("VmRSS")
threads = status("Threads")
latencies = []
for _ in range(50):
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        exchange(sock, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    latencies.append((time.perf_counter() - t0) * 1000)
    time.sleep(0.01)
# Every held connection must still be open and serving.
for sock in held[:: max(1, count // 100)]:
    exchange(sock, REQUEST)
print("idle connections held: %d (opened in %.1f s, each after one request)" % (count, opened))
print("server RSS: %.1f MiB before, %.1f MiB with them held (VmRSS); %d threads" % (rss_before / 1024, rss / 1024, threads))
print("new client's health request with them held (connect + request + answer, 50 in a row): median %.2f ms, slowest %.2f ms"
      % (statistics.median(latencies), max(latencies)))
print("targets: RSS <= 100 MiB %s; answer < 5 ms %s" % (
    "met" if rss <= 100 * 1024 else "MISSED", "met" if max(latencies) < 5 else "MISSED"))
for sock in held:
    sock.close()
PY
