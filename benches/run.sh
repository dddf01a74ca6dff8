#!/usr/bin/env bash
# Load benchmark of a local shipstar server with wrk. See docs/BENCHMARKS.md.
#
#   bash benches/run.sh [--smoke] [--duration SECS] [--verbose]
#
# Builds the release binary, starts it on 127.0.0.1 with a fresh database in a temporary
# directory, and measures: cold start, idle and peak RSS, one login's latency, and with wrk
# the throughput and latency of GET /api/v1/health, GET /api/internal/users/me and
# POST /api/internal/auth/jwt/login. Exits non-zero if the server does not start, a request
# fails, or a scenario gets a non-2xx answer.
set -euo pipefail
export LC_ALL=C

usage() {
    cat <<'EOF'
usage: bash benches/run.sh [--smoke] [--duration SECS] [--verbose]

  --smoke           2 s per scenario and fewer connections (a quick check, e.g. in CI)
  --duration SECS   seconds per wrk scenario (default 10; 2 with --smoke)
  --verbose         also print wrk's full output for each scenario
EOF
}

smoke=0
verbose=0
duration=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --smoke) smoke=1 ;;
        --verbose) verbose=1 ;;
        --duration)
            [[ $# -ge 2 ]] || { echo "error: --duration needs a value" >&2; exit 2; }
            duration="$2"
            shift
            ;;
        --duration=*) duration="${1#--duration=}" ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if [[ -n "$duration" && ! "$duration" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: --duration must be a whole number of seconds (at least 1)" >&2
    exit 2
fi

if [[ $smoke -eq 1 ]]; then
    duration="${duration:-2}"
    conns_get=8       # health, users/me and the API-key scenarios
    conns_login=2
    seed_keys=1000
else
    duration="${duration:-10}"
    conns_get=64
    conns_login=4
    seed_keys=10000
fi

seed_label="$((seed_keys / 1000))k"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Microseconds since the epoch, without forking.
now_us() { local t="$EPOCHREALTIME"; echo "${t/[.,]/}"; }

die() { echo "error: $*" >&2; exit 1; }

# --- build -------------------------------------------------------------------------------
echo "== building (cargo build --release)" >&2
artifacts="$(cargo build --release --message-format=json-render-diagnostics)" ||
    die "cargo build --release failed"
bin="$(printf '%s\n' "$artifacts" | grep '"reason":"compiler-artifact"' |
    grep -o '"executable":"[^"]*/shipstar"' | tail -n 1 | sed 's/^"executable":"//; s/"$//' || true)"
if [[ -z "$bin" || ! -x "$bin" ]]; then
    target_dir="${CARGO_TARGET_DIR:-$root/target}"
    for candidate in "$target_dir/x86_64-unknown-linux-gnu/release/shipstar" "$target_dir/release/shipstar"; do
        if [[ -x "$candidate" ]]; then bin="$candidate"; break; fi
    done
fi
[[ -n "$bin" && -x "$bin" ]] || die "cannot find the release binary after the build"

# --- tools -------------------------------------------------------------------------------
command -v curl >/dev/null || die "curl is needed"
if ! command -v wrk >/dev/null; then
    echo "== installing wrk" >&2
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "wrk is missing; install it (apt-get install wrk)"
        sudo="sudo"
    fi
    $sudo apt-get install -y wrk >&2 ||
        { $sudo apt-get update >&2 && $sudo apt-get install -y wrk >&2; } ||
        die "cannot install wrk"
fi

# --- machine -------------------------------------------------------------------------------
cores="$(nproc)"
wrk_version="$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }' || true)"
echo "== machine: $cores cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" >&2
load="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== load average before measuring (1, 5, 15 min): $load" >&2
if awk -v l="${load%% *}" -v c="$cores" 'BEGIN { exit !(l > c / 2) }'; then
    echo "warning: the machine is busy (load ${load%% *} on $cores cores); the figures will be low" >&2
fi
echo "== wrk ${wrk_version:-?}, ${duration} s per scenario, server $("$bin" version 2>/dev/null || echo shipstar)" >&2

# --- server ------------------------------------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/shipstar-bench.XXXXXX")"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    local port
    for _ in $(seq 100); do
        port=$((20000 + RANDOM % 40000))
        if ! { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
            echo "$port"
            return
        fi
        exec 3<&- 3>&-
    done
    die "no free port found"
}

# One GET /api/v1/health over bash's /dev/tcp (no fork, so polling is fine-grained).
health_ok() {
    local line=""
    { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf 'GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 2>/dev/null
    IFS= read -r -t 2 line <&3 || true
    exec 3<&- 3>&-
    [[ "$line" == HTTP/1.[01]\ 200* ]]
}

rss_kib() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$server_pid/status"; }

port="$(free_port)"
base="http://127.0.0.1:$port"
email="bench@example.com"
password="bench-$RANDOM$RANDOM-password"

# Only the settings below apply: no config file, nothing inherited from the caller's
# SHIPSTAR_* environment. Argon2 keeps its defaults; every rate limit is off (0).
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^SHIPSTAR_' || true)
export SHIPSTAR_ADMIN_EMAIL="$email"
export SHIPSTAR_ADMIN_PASSWORD="$password"
export SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE=0
export SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE=0
export SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE=0
export SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE=0
export SHIPSTAR_RATE_LIMIT_REFRESH_PER_MINUTE=0

echo "== starting $bin on 127.0.0.1:$port" >&2
start_us="$(now_us)"
(cd "$tmp" && exec "$bin" serve --listen "127.0.0.1:$port" --database "$tmp/bench.db" \
    </dev/null >"$tmp/server.out" 2>"$tmp/server.log") &
server_pid=$!
ready_us=""
deadline_us=$((start_us + 30000000))
while :; do
    if health_ok; then ready_us="$(now_us)"; break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: the server exited during start-up; its log:" >&2
        tail -n 20 "$tmp/server.log" >&2 || true
        exit 1
    fi
    if [[ $(now_us) -gt $deadline_us ]]; then
        echo "error: no 200 from GET /api/v1/health within 30 s; server log:" >&2
        tail -n 20 "$tmp/server.log" >&2 || true
        exit 1
    fi
    sleep 0.002
done
cold_start_ms="$(awk -v us=$((ready_us - start_us)) 'BEGIN { printf "%.0f", us / 1000 }')"

# --- login -------------------------------------------------------------------------------
login() {
    curl -sS --max-time 10 -o "$tmp/login.json" \
        -w '%{http_code} %{time_pretransfer} %{time_starttransfer}\n' \
        --data-urlencode "username=$email" --data-urlencode "password=$password" \
        "$base/api/internal/auth/jwt/login"
}
read -r code _ < <(login) || die "login request failed"
[[ "$code" == 2?? ]] || die "login answered $code: $(head -c 300 "$tmp/login.json")"
jwt="$(sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p' "$tmp/login.json")"
[[ -n "$jwt" ]] || die "no access_token in the login answer: $(head -c 300 "$tmp/login.json")"

code="$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $jwt" \
    "$base/api/internal/users/me")" || die "GET /api/internal/users/me failed"
[[ "$code" == 2?? ]] || die "GET /api/internal/users/me with the JWT answered $code"

idle_rss_kib="$(rss_kib VmRSS)"

# Sequential logins on an idle server, each about one Argon2id verification. The time
# counted is the server's: from the request sent to the first byte of the answer.
login_runs=7
login_times=()
for _ in $(seq "$login_runs"); do
    read -r code sent first_byte < <(login) || die "login request failed"
    [[ "$code" == 2?? ]] || die "login answered $code"
    login_times+=("$(awk -v a="$sent" -v b="$first_byte" 'BEGIN { print b - a }')")
done
single_login_ms="$(printf '%s\n' "${login_times[@]}" | sort -g |
    awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m * 1000 }')"

# --- load ------------------------------------------------------------------------------
failed=0
results=()
# run_wrk NAME CONNECTIONS [wrk args...] URL
run_wrk() {
    local name="$1" conns="$2"
    shift 2
    local threads=$((conns < cores ? conns : cores))
    local out="$tmp/wrk-$name.txt"
    if ! wrk -t "$threads" -c "$conns" -d "${duration}s" --timeout 10s --latency "$@" >"$out" 2>&1; then
        cat "$out" >&2
        die "wrk failed in scenario $name"
    fi
    if [[ $verbose -eq 1 ]]; then cat "$out" >&2; fi
    local line
    line="$(grep '^BENCH ' "$out" | tail -n 1)"
    [[ -n "$line" ]] || { cat "$out" >&2; die "no summary from wrk in scenario $name"; }
    local non2xx
    non2xx="$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$out")"
    non2xx="${non2xx:-0}"
    kill -0 "$server_pid" 2>/dev/null || die "the server died during scenario $name"
    local row hwm
    hwm="$(rss_kib VmHWM)"
    row="$(awk -v name="$name" -v conns="$conns" -v non2xx="$non2xx" -v line="$line" -v hwm="$hwm" 'BEGIN {
        n = split(line, kv, " ")
        for (i = 2; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
        socket = v["connect"] + v["read"] + v["write"] + v["timeout"]
        printf "%-16s %5d %10.1f %9.2f %9.2f %8d %8d %9d %9.1f",
            name, conns, v["requests"] / (v["duration_us"] / 1e6),
            v["p50_us"] / 1000, v["p99_us"] / 1000, non2xx, socket, v["requests"], hwm / 1024
    }')"
    results+=("$row")
    echo "$row"
    local socket_errors requests
    socket_errors="$(echo "$row" | awk '{ print $7 }')"
    requests="$(echo "$row" | awk '{ print $8 }')"
    if [[ "$non2xx" -ne 0 ]]; then
        echo "error: scenario $name got $non2xx non-2xx answers" >&2
        failed=1
    fi
    if [[ "$socket_errors" -ne 0 ]]; then
        echo "error: scenario $name had $socket_errors socket errors (connect/read/write/timeout)" >&2
        failed=1
    fi
    if [[ "$requests" -eq 0 ]]; then
        echo "error: scenario $name completed no request" >&2
        failed=1
    fi
}

export BENCH_LUA_DIR="$root/benches" BENCH_EMAIL="$email" BENCH_PASSWORD="$password"
# rss(MiB) is the server's peak RSS (VmHWM) so far, read after each scenario.
printf '%-16s %5s %10s %9s %9s %8s %8s %9s %9s\n' \
    scenario conns "req/s" "p50(ms)" "p99(ms)" non-2xx sockerr requests "rss(MiB)"
run_wrk health "$conns_get" -s benches/report.lua "$base/api/v1/health"
run_wrk users_me "$conns_get" -s benches/report.lua -H "Authorization: Bearer $jwt" \
    "$base/api/internal/users/me"
api_key="$("$bin" --database "$tmp/bench.db" key create --project default --user "$email" \
    --name bench 2>>"$tmp/server.log")" || die "shipstar key create failed"
run_wrk api_key_me "$conns_get" -s benches/report.lua -H "Authorization: Bearer $api_key" \
    "$base/api/v1/me"
run_wrk login "$conns_login" -s benches/login.lua "$base/api/internal/auth/jwt/login"

# Public content: one published changelog and a full page (20) of blog posts, read without
# a credential.
# seed_content COUNT KIND FIRST: COUNT published items of KIND (slugs KIND-FIRST, ...),
# created and published over HTTP.
seed_content() {
    python3 - "$base" "$jwt" "$1" "$2" "$3" <<'PY'
import http.client, json, sys, urllib.parse
base, jwt, count, kind, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
auth = {"Authorization": "Bearer " + jwt}
conn.request("GET", "/api/internal/projects", headers=auth)
project = json.loads(conn.getresponse().read())[0]["id"]
headers = dict(auth, **{"Content-Type": "application/json"})
entries = [{"category": c, "title": "%s item %d" % (c, n), "description": "Details of the change."}
           for n, c in enumerate(["Added", "Changed", "Fixed", "Fixed", "Security"])]
def call(method, path, body):
    conn.request(method, path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status not in (200, 201):
        sys.exit("%s %s: HTTP %d %s" % (method, path, response.status, data[:200]))
    return json.loads(data)
for i in range(first, first + count):
    title = "%s %d of the benchmark" % (kind.capitalize(), i)
    if kind == "changelog":
        text = json.dumps({"title": title, "entries": entries})
    else:
        text = "# %s\n\nA paragraph of a post, long enough to look like one. " % title * 3
    item = call("POST", "/api/internal/projects/%s/content" % project,
                {"type": kind, "title": title, "content": text})
    call("POST", "/api/internal/content/%s/publish" % item["id"], {"slug": "%s-%d" % (kind, i)})
PY
}
seed_content 1 changelog 0 || die "seeding a changelog failed"
seed_content 20 blog 0 || die "seeding a blog post failed"
run_wrk changelog_slug "$conns_get" -s benches/report.lua "$base/api/v1/changelog/changelog-0"
run_wrk blogs "$conns_get" -s benches/report.lua "$base/api/v1/blogs"

# The same key lookup with many keys in the table: it must not slow down (indexed by hash).
python3 - "$base" "$jwt" "$seed_keys" <<'PY' || die "seeding API keys failed"
import http.client, json, sys, urllib.parse
base, jwt, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
auth = {"Authorization": "Bearer " + jwt}
conn.request("GET", "/api/internal/projects", headers=auth)
project = json.loads(conn.getresponse().read())[0]["id"]
headers = dict(auth, **{"Content-Type": "application/json"})
for i in range(count):
    body = json.dumps({"name": "seed %d" % i})
    conn.request("POST", "/api/internal/projects/%s/api-keys" % project, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 201:
        sys.exit("key %d: HTTP %d" % (i, response.status))
PY
echo "== seeded $seed_keys more API keys" >&2
run_wrk api_key_me_${seed_label} "$conns_get" -s benches/report.lua \
    -H "Authorization: Bearer $api_key" "$base/api/v1/me"

# The public reads again with many published blog posts in the content table: lists read a
# partial index in order and the slug lookup a unique index, so neither may slow down.
seed_content "$seed_keys" blog 20 || die "seeding blog posts failed"
echo "== seeded $seed_keys more published blog posts" >&2
run_wrk changelog_slug_${seed_label} "$conns_get" -s benches/report.lua \
    "$base/api/v1/changelog/changelog-0"
run_wrk blogs_${seed_label} "$conns_get" -s benches/report.lua "$base/api/v1/blogs"

peak_rss_kib="$(rss_kib VmHWM)"

login_rps="$(printf '%s\n' "${results[@]}" | awk '$1 == "login" { print $3 }')"
awk -v c="$cold_start_ms" -v idle="$idle_rss_kib" -v peak="$peak_rss_kib" \
    -v single="$single_login_ms" -v runs="$login_runs" -v cores="$cores" -v rps="$login_rps" 'BEGIN {
    printf "cold start: %d ms (spawn to first 200 from /api/v1/health, fresh database)\n", c
    printf "server RSS: idle %.1f MiB, peak %.1f MiB (VmRSS before load, VmHWM after)\n", idle / 1024, peak / 1024
    ceiling = cores * 1000 / single
    printf "login: single request %.1f ms (median of %d), %d cores / single = %.1f logins/s, measured %.1f logins/s (%.0f%%)\n",
        single, runs, cores, ceiling, rps, 100 * rps / ceiling
}'

if [[ $failed -ne 0 ]]; then
    echo "FAILED: see the errors above" >&2
    exit 1
fi
