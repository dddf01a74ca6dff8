#!/usr/bin/env bash
# A test script that starts shipstar on a throwaway database with fixed data, uses it, and
# stops it. Needs bash, curl and `shipstar` on PATH (or SHIPSTAR=/path/to/shipstar).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shipstar="${SHIPSTAR:-shipstar}"
key="sk_live_cel5QZx0BEZZN6iZPbyXEK75YjPdINSK25FDmg"   # from seed.toml
ready="$(mktemp)"

"$shipstar" serve --ephemeral --seed "$here/seed.toml" > "$ready" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$ready"' EXIT

# The server prints one JSON line on stdout once it is ready: wait for it (at most 10 s).
for _ in $(seq 100); do
  [ -s "$ready" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "shipstar exited before it was ready" >&2; exit 1; }
  sleep 0.1
done
url="$(sed -E 's/.*"url": "([^"]+)".*/\1/' "$ready")"

# The seeded key works, the published changelog is public, the draft is not.
curl -fsS "$url/api/v1/me" -H "Authorization: Bearer $key" | grep -q '"email":"dev@example.com"'
curl -fsS "$url/api/v1/changelog/release-1-0" | grep -q '"title":"Release 1.0"'
test "$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v1/blog/coming-soon")" = 404
echo "ok: shipstar at $url answered as seeded"
