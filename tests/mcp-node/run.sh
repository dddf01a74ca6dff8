#!/usr/bin/env bash
# Starts a shipstar binary on a fresh database and a free loopback port, creates an API key of
# its `default` project, and runs check.mjs (the official TypeScript SDK) against /mcp.
#
#   bash tests/mcp-node/run.sh [PATH-TO-SHIPSTAR]     (default: the release build)
#
# Needs Node 20+ and npm; installs the pinned SDK with `npm ci`. Exits non-zero if the server
# does not start or the check fails; the server is stopped either way.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../../target/x86_64-unknown-linux-gnu/release/shipstar}"
[[ -x "$bin" ]] || { echo "no shipstar binary at $bin" >&2; exit 2; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
cd "$here"
npm ci --no-audit --no-fund --silent

dir="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

password="node-check-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
SHIPSTAR_ADMIN_EMAIL=admin@example.com SHIPSTAR_ADMIN_PASSWORD="$password" \
    "$bin" serve --listen 127.0.0.1:0 --database "$dir/node.db" 2>"$dir/log" &
server_pid=$!
base=""
for _ in $(seq 1 200); do
    base="$(grep -o 'listening on http://[^ ]*' "$dir/log" | head -1 | sed 's/listening on //' || true)"
    [[ -n "$base" ]] && break
    sleep 0.05
done
[[ -n "$base" ]] || { echo "shipstar did not start:" >&2; cat "$dir/log" >&2; exit 1; }

json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
token="$(curl -sf -X POST "$base/api/internal/auth/jwt/login" \
    --data-urlencode username=admin@example.com --data-urlencode "password=$password" | json '["access_token"]')"
project="$(curl -sf "$base/api/internal/projects" -H "Authorization: Bearer $token" | json '[0]["id"]')"
key="$(curl -sf -X POST "$base/api/internal/projects/$project/api-keys" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"name": "node-check"}' | json '["key"]')"

SHIPSTAR_MCP_URL="$base/mcp" SHIPSTAR_MCP_KEY="$key" node check.mjs
