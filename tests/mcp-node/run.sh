#!/usr/bin/env bash
# Starts a shipstar binary on a throwaway database (`serve --ephemeral`) seeded with the
# README's example seed, and runs check.mjs (the official TypeScript SDK) against /mcp with
# the seed's API key.
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

# The README's test-suite example seed: a project with a fixed, well-formed key and content.
seed="$here/../examples/seed.toml"
key="$(sed -n 's/^key = "\(sk_live_[0-9A-Za-z]*\)"$/\1/p' "$seed" | head -1)"
[[ -n "$key" ]] || { echo "no key in $seed" >&2; exit 2; }

log="$(mktemp)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -f "$log"
}
trap cleanup EXIT

# A throwaway server on a free port: its one stdout line says where it listens.
coproc SERVER { exec "$bin" serve --ephemeral --seed "$seed" 2>"$log"; }
server_pid=$SERVER_PID
ready=""
read -r -t 20 ready <&"${SERVER[0]}" || true
base="$(sed -n 's/.*"url": "\([^"]*\)".*/\1/p' <<<"$ready")"
[[ -n "$base" ]] || { echo "shipstar did not start:" >&2; cat "$log" >&2; exit 1; }

SHIPSTAR_MCP_URL="$base/mcp" SHIPSTAR_MCP_KEY="$key" node check.mjs
