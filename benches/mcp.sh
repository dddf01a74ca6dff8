#!/usr/bin/env bash
# What an MCP tool call costs next to the HTTP route it shares its code with: wrk against
# `POST /mcp` calling `list_changelogs` and against `GET /api/v1/changelogs`, both with the
# same API key, the same 20 published changelogs and `limit=20`, on one release server in the
# same run. See docs/BENCHMARKS.md ("MCP").
#
#   bash benches/mcp.sh [--smoke] [--duration SECS] [--server PATH]
#
# Loopback only, bounded: 16 connections, 2 threads, 3 alternating rounds of each scenario
# (so drift in the machine's load hits both alike). Rate limits are off for the run. Exits
# non-zero if the server does not start, an answer is not 2xx, or the MCP answer is an error.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

duration=5
server=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --smoke) duration=1 ;;
        --duration) duration="$2"; shift ;;
        --server) server="$2"; shift ;;
        *) echo "usage: bash benches/mcp.sh [--smoke] [--duration SECS] [--server PATH]" >&2; exit 2 ;;
    esac
    shift
done
[[ "$duration" =~ ^[1-9][0-9]*$ ]] || { echo "--duration must be whole seconds" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
if [[ -z "$server" ]]; then
    cargo build --release --quiet
    server=target/x86_64-unknown-linux-gnu/release/shipstar
fi

dir="$(mktemp -d)"
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

password="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
SHIPSTAR_ADMIN_EMAIL=admin@example.com SHIPSTAR_ADMIN_PASSWORD="$password" \
SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE=0 SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE=0 \
SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE=0 \
    "$server" serve --listen 127.0.0.1:0 --database "$dir/bench.db" 2>"$dir/log" &
pid=$!
base=""
for _ in $(seq 1 200); do
    base="$(grep -o 'listening on http://[^ ]*' "$dir/log" | head -1 | sed 's/listening on //' || true)"
    [[ -n "$base" ]] && break
    sleep 0.05
done
[[ -n "$base" ]] || { echo "the server did not start:" >&2; cat "$dir/log" >&2; exit 1; }

# Seed: 20 published changelogs in the default project, and a key of that project.
key="$(BASE="$base" PASSWORD="$password" python3 - <<'PY'
import json, os, sys, urllib.parse, urllib.request
sys.path.insert(0, "benches")
from api import Api, CHANGELOG_ENTRIES
base = os.environ["BASE"]
form = urllib.parse.urlencode({"username": "admin@example.com", "password": os.environ["PASSWORD"]})
with urllib.request.urlopen(base + "/api/internal/auth/jwt/login", form.encode()) as answer:
    token = json.load(answer)["access_token"]
api = Api(base, token)
project = api.first_project()
for n in range(20):
    text = json.dumps({"title": "Release %d" % n, "entries": CHANGELOG_ENTRIES})
    api.publish(project, "changelog", "Release %d" % n, text, "release-%d" % n)
print(api.call("POST", "/api/internal/projects/%s/api-keys" % project, {"name": "bench"})["key"])
PY
)"
export SHIPSTAR_BENCH_KEY="$key"

# Each scenario answers 2xx once before it is loaded, and the MCP call is a real result.
curl -sf "$base/api/v1/changelogs?limit=20" -H "Authorization: Bearer $key" >/dev/null
mcp_answer="$(curl -sf "$base/mcp" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -H 'Accept: application/json' -H 'MCP-Protocol-Version: 2025-11-25' \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_changelogs","arguments":{"limit":20}}}')"
python3 -c 'import json, sys; r = json.loads(sys.argv[1])["result"]; assert not r["isError"] and r["structuredContent"]["total"] == 20, r' "$mcp_answer"

run() { # name script url
    local out
    out="$(wrk -t2 -c16 -d"${duration}s" --latency -s "$2" "$3" | grep '^BENCH')"
    local fields; fields="$(sed 's/^BENCH //' <<<"$out")"
    local requests duration_us p50 p99 errors
    requests="$(grep -o 'requests=[0-9]*' <<<"$fields" | cut -d= -f2)"
    duration_us="$(grep -o 'duration_us=[0-9]*' <<<"$fields" | cut -d= -f2)"
    p50="$(grep -o 'p50_us=[0-9]*' <<<"$fields" | cut -d= -f2)"
    p99="$(grep -o 'p99_us=[0-9]*' <<<"$fields" | cut -d= -f2)"
    errors="$(grep -o 'status_errors=[0-9]*' <<<"$fields" | cut -d= -f2)"
    [[ "$errors" == 0 ]] || { echo "$1: $errors non-2xx answers" >&2; exit 1; }
    awk -v n="$1" -v r="$requests" -v d="$duration_us" -v a="$p50" -v b="$p99" \
        'BEGIN { printf "%-22s %10.0f req/s   p50 %6.2f ms   p99 %6.2f ms\n", n, r / (d / 1e6), a / 1000, b / 1000 }'
}

echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${duration}s per round, 16 connections"
results="$dir/results"
for round in 1 2 3; do
    run "GET /api/v1/changelogs" benches/mcp_get.lua "$base/api/v1/changelogs?limit=20" | tee -a "$results"
    run "MCP list_changelogs" benches/mcp_call.lua "$base/mcp" | tee -a "$results"
done
# The median round of each, and their ratio.
median() { grep "^$1" "$results" | awk '{ print $(NF - 7) }' | sort -n | sed -n 2p; }
get="$(median "GET /api/v1/changelogs")"
mcp="$(median "MCP list_changelogs")"
awk -v g="$get" -v m="$mcp" 'BEGIN { printf "median: GET %.0f req/s, MCP %.0f req/s, MCP/GET = %.2f\n", g, m, m / g }'
