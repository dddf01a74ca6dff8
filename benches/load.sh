#!/usr/bin/env bash
# Sustained mixed load on a local shipstar server. See docs/BENCHMARKS.md, "Sustained load".
#
#   bash benches/load.sh [--smoke] [--duration SECS] [--connections N] [--server PATH]
#
# Builds the release binary, starts it on 127.0.0.1 with a fresh database, seeds an
# administrator, an API key and a published changelog, then runs wrk with 256 keep-alive
# connections for 60 s on a mix of JWT, API-key and public requests (benches/mix.lua). Reports
# throughput, latency, socket errors, non-2xx answers, and the server's peak RSS (VmHWM) and
# peak thread count. Exits non-zero on any error or non-2xx answer, or if the server dies.
set -euo pipefail
export LC_ALL=C

usage() {
    cat <<'EOF'
usage: bash benches/load.sh [--smoke] [--duration SECS] [--connections N]

  --smoke           5 s instead of 60 (a quick check, e.g. in CI)
  --duration SECS   seconds of load (default 60; 5 with --smoke)
  --connections N   concurrent keep-alive connections (default 256)
  --server PATH     measure this shipstar binary instead of the one just built (e.g. an
                    older build, for a before/after comparison)
EOF
}

duration=""
connections=256
smoke=0
server_override=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --smoke) smoke=1 ;;
        --duration) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; duration="$2"; shift ;;
        --duration=*) duration="${1#--duration=}" ;;
        --connections) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; connections="$2"; shift ;;
        --connections=*) connections="${1#--connections=}" ;;
        --server) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; server_override="$2"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if [[ $smoke -eq 1 ]]; then duration="${duration:-5}"; else duration="${duration:-60}"; fi
for value in "$duration" "$connections"; do
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "error: $value is not a positive whole number" >&2; exit 2; }
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source benches/common.sh

# --- build and tools -------------------------------------------------------------------------
echo "== building (cargo build --release)" >&2
cargo build --release >&2 || die "cargo build --release failed"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin=""
for candidate in "$target_dir/x86_64-unknown-linux-gnu/release/shipstar" "$target_dir/release/shipstar"; do
    if [[ -x "$candidate" ]]; then bin="$candidate"; break; fi
done
if [[ -n "$server_override" ]]; then bin="$(realpath "$server_override")"; fi
[[ -n "$bin" ]] || die "cannot find the release binary"
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"
ensure_wrk
cores="$(nproc)"
echo "== $cores cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $connections connections for ${duration} s" >&2

# --- server ------------------------------------------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/shipstar-load.XXXXXX")"
server_pid=""
sampler_pid=""
cleanup() {
    if [[ -n "$sampler_pid" ]]; then kill "$sampler_pid" 2>/dev/null || true; fi
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
email="load@example.com"
password="load-$RANDOM$RANDOM-password"
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^SHIPSTAR_' || true)
export SHIPSTAR_ADMIN_EMAIL="$email" SHIPSTAR_ADMIN_PASSWORD="$password"
# Rate limits off: they would turn the load into 429s.
export SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE=0 SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE=0 \
    SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE=0 SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE=0 \
    SHIPSTAR_RATE_LIMIT_REFRESH_PER_MINUTE=0
# Every connection comes from one address, the load generator's: no per-address cap.
export SHIPSTAR_MAX_CONNECTIONS_PER_IP=0
# Zero errors is the goal at capacity: no shedding of public reads into 503s either.
export SHIPSTAR_MAX_CONCURRENT_PUBLIC_READS=0

(cd "$tmp" && exec "$bin" serve --listen "127.0.0.1:$port" --database "$tmp/load.db" \
    </dev/null >"$tmp/server.out" 2>"$tmp/server.log") &
server_pid=$!
for _ in $(seq 300); do
    curl -sf -o /dev/null --max-time 1 "$base/api/v1/health" && break
    kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$tmp/server.log" >&2; die "the server exited"; }
    sleep 0.1
done
curl -sf -o /dev/null "$base/api/v1/health" || die "no 200 from /api/v1/health within 30 s"

# --- seed: a session token, an API key, a published changelog ----------------------------------
jwt="$(curl -sS --max-time 10 --data-urlencode "username=$email" --data-urlencode "password=$password" \
    "$base/api/internal/auth/jwt/login" | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')"
[[ -n "$jwt" ]] || die "login failed"
api_key="$("$bin" --database "$tmp/load.db" key create --project default --user "$email" \
    --name load 2>>"$tmp/server.log")" || die "shipstar key create failed"
PYTHONPATH="$root/benches" python3 - "$base" "$jwt" <<'PY' || die "seeding a changelog failed"
import json, sys
from api import Api
api = Api(sys.argv[1], sys.argv[2])
entries = [{"category": "Added", "title": "Load", "description": "A changelog for the load test."}]
api.publish(api.first_project(), "changelog", "Load",
            json.dumps({"title": "Load", "entries": entries}), "load")
PY
for check in "/api/internal/users/me Bearer $jwt" "/api/v1/me Bearer $api_key" "/api/v1/health" "/api/v1/changelogs"; do
    read -r path scheme credential <<<"$check"
    auth=()
    [[ -z "${credential:-}" ]] || auth=(-H "Authorization: $scheme $credential")
    code="$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "${auth[@]}" "$base$path")"
    [[ "$code" == 2?? ]] || die "GET $path answered $code before the load"
done

# --- load --------------------------------------------------------------------------------------
# Peak thread count: shipstar spends one thread per connection, so it tracks the load.
(
    peak=0
    while kill -0 "$server_pid" 2>/dev/null; do
        n="$(awk '$1 == "Threads:" { print $2 }' "/proc/$server_pid/status" 2>/dev/null || echo 0)"
        if [[ "${n:-0}" -gt "$peak" ]]; then peak="$n"; echo "$peak" >"$tmp/peak-threads"; fi
        sleep 0.5
    done
) &
sampler_pid=$!

threads=$((connections < cores ? connections : cores))
export BENCH_JWT="$jwt" BENCH_API_KEY="$api_key"
wrk -t "$threads" -c "$connections" -d "${duration}s" --timeout 10s --latency \
    -s benches/mix.lua "$base/" >"$tmp/wrk.txt" 2>&1 || { cat "$tmp/wrk.txt" >&2; die "wrk failed"; }
kill -0 "$server_pid" 2>/dev/null || die "the server died under load"
line="$(grep '^LOAD ' "$tmp/wrk.txt" | tail -n 1)"
[[ -n "$line" ]] || { cat "$tmp/wrk.txt" >&2; die "no summary from wrk"; }
hwm_kib="$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$server_pid/status")"
peak_threads="$(cat "$tmp/peak-threads" 2>/dev/null || echo "?")"

summary="$(awk -v line="$line" -v hwm="$hwm_kib" -v threads="$peak_threads" -v conns="$connections" 'BEGIN {
    n = split(line, kv, " ")
    for (i = 2; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
    socket = v["connect"] + v["read"] + v["write"] + v["timeout"]
    printf "connections %d: %d requests, %.1f req/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
        conns, v["requests"], v["requests"] / (v["duration_us"] / 1e6),
        v["p50_us"] / 1000, v["p99_us"] / 1000, v["max_us"] / 1000
    printf "errors: %d non-2xx, %d socket (connect %d, read %d, write %d, timeout %d)\n",
        v["non2xx"], socket, v["connect"], v["read"], v["write"], v["timeout"]
    printf "server: peak RSS (VmHWM) %.1f MiB, peak threads %s\n", hwm / 1024, threads
    printf "BAD=%d\n", v["non2xx"] + socket + (v["requests"] == 0)
}')"
printf '%s\n' "$summary" | grep -v '^BAD='
if [[ "$(printf '%s\n' "$summary" | sed -n 's/^BAD=//p')" -ne 0 ]]; then
    echo "FAILED: errors or non-2xx answers under load (server log: last lines below)" >&2
    grep -v ' status=2' "$tmp/server.log" | tail -n 10 >&2 || true
    exit 1
fi
