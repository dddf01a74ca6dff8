#!/usr/bin/env bash
# A flood of the blog feed, and health latency meanwhile, against a reference build measured
# in the same run. See docs/BENCHMARKS.md, "Feed flood".
#
#   bash benches/flood.sh [--reference REV | --reference-bin PATH] [--rounds N]
#                         [--duration SECS] [--clients N] [--stalled N] [--path PATH]
#
# Builds the release binary of the working tree and, from a temporary git worktree, the one
# of REV (default: the merge-base with main), sharing the target directory so dependencies
# build once. Then, for each round, runs the reference and the candidate alternately (so the
# noise of a shared machine hits both): a fresh server on 127.0.0.1 with 8 workers and rate
# limits off (a flood from many addresses is what they cannot stop), 50 published posts of
# 200 KB, and benches/flood.py's flood with its health and authenticated probes. Prints one
# line per run. Every run is bounded (--duration, at most 120 s) and stops its server.
set -euo pipefail
export LC_ALL=C

usage() {
    sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# *//'
}

reference=""
reference_bin=""
rounds=2
duration=10
clients=24
stalled=6
path=/api/v1/blogs/feed
while [[ $# -gt 0 ]]; do
    case "$1" in
        --reference) reference="$2"; shift ;;
        --reference-bin) reference_bin="$2"; shift ;;
        --rounds) rounds="$2"; shift ;;
        --duration) duration="$2"; shift ;;
        --clients) clients="$2"; shift ;;
        --stalled) stalled="$2"; shift ;;
        --path) path="$2"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
for value in "$rounds" "$duration" "$clients" "$stalled"; do
    [[ "$value" =~ ^[0-9]+$ ]] || { echo "error: $value is not a whole number" >&2; exit 2; }
done
[[ "$rounds" -ge 1 && "$rounds" -le 5 && "$duration" -ge 1 && "$duration" -le 120 ]] ||
    { echo "error: rounds 1..5, duration 1..120" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
die() { echo "error: $*" >&2; exit 1; }
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/shipstar-flood.XXXXXX")"
server_pid=""
worktree=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ -n "$worktree" ]]; then git worktree remove --force "$worktree" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

release_bin() {
    local candidate
    for candidate in "$target_dir/x86_64-unknown-linux-gnu/release/shipstar" "$target_dir/release/shipstar"; do
        if [[ -x "$candidate" ]]; then echo "$candidate"; return; fi
    done
    die "cannot find the release binary"
}

# --- builds ------------------------------------------------------------------------------------
if [[ -z "$reference_bin" ]]; then
    reference="${reference:-$(git merge-base HEAD main)}"
    worktree="$tmp/reference-src"
    echo "== building the reference ($reference) in a temporary worktree" >&2
    git worktree add --detach "$worktree" "$reference" >&2
    (cd "$worktree" && CARGO_TARGET_DIR="$target_dir" cargo build --release >&2) ||
        die "building the reference failed"
    cp "$(release_bin)" "$tmp/reference"
    git worktree remove --force "$worktree"
    worktree=""
    reference_bin="$tmp/reference"
fi
echo "== building the candidate (working tree)" >&2
cargo build --release >&2 || die "cargo build --release failed"
cp "$(release_bin)" "$tmp/candidate"
echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# --- one run -----------------------------------------------------------------------------------
run() {
    local name="$1" bin="$2" dir="$tmp/run-$1-$3"
    mkdir -p "$dir"
    local port base email="flood@example.com" password="flood-$RANDOM$RANDOM-password"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    base="http://127.0.0.1:$port"
    (
        while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^SHIPSTAR_' || true)
        export SHIPSTAR_ADMIN_EMAIL="$email" SHIPSTAR_ADMIN_PASSWORD="$password" SHIPSTAR_WORKERS=8 \
            SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE=0 SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE=0 \
            SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE=0 SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE=0 \
            SHIPSTAR_RATE_LIMIT_REFRESH_PER_MINUTE=0 SHIPSTAR_LOG_LEVEL=warn
        cd "$dir" && exec "$bin" serve --listen "127.0.0.1:$port" --database "$dir/flood.db" \
            </dev/null >"$dir/server.out" 2>"$dir/server.log"
    ) &
    server_pid=$!
    for _ in $(seq 300); do
        curl -sf -o /dev/null --max-time 1 "$base/api/v1/health" && break
        kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$dir/server.log" >&2; die "the server exited"; }
        sleep 0.1
    done
    local jwt
    jwt="$(curl -sS --max-time 10 --data-urlencode "username=$email" --data-urlencode "password=$password" \
        "$base/api/internal/auth/jwt/login" | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')"
    [[ -n "$jwt" ]] || die "login failed"
    local line
    line="$(PYTHONPATH="$root/benches" python3 "$root/benches/flood.py" "$base" "$server_pid" "$jwt" \
        --clients "$clients" --stalled "$stalled" --duration "$duration" --path "$path" | grep '^FLOOD ' || true)"
    kill -0 "$server_pid" 2>/dev/null || line="$line server_died=1"
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    echo "$name round=$3 ${line#FLOOD }"
}

echo "== $rounds rounds of ${duration} s: $clients clients flooding $path, $stalled stalled" >&2
for round in $(seq "$rounds"); do
    run reference "$reference_bin" "$round"
    run candidate "$tmp/candidate" "$round"
done
