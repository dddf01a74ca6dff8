#!/usr/bin/env bash
# Load benchmark of a local shipstar server with wrk. See docs/BENCHMARKS.md.
#
#   bash benches/run.sh [--smoke] [--duration SECS] [--verbose] [--server PATH]
#
# Builds the release binary and the ceilings (benches/hyper_ceiling.rs: a bare hyper 1.x server
# on tokio answering a fixed JSON body, the one the targets divide by; benches/ceiling.rs: the
# same with tiny_http, the earlier reference), starts them on 127.0.0.1 (shipstar on
# a fresh database in a temporary directory) and measures with wrk: the ceiling, health,
# users/me (JWT), /api/v1/me (API key), login, the public changelog and blog reads, the same
# reads again with 10,000 API keys, users and published blog posts in the database, users/me
# while logins saturate the hashing threads, and users/me over 256 connections; plus cold
# start, RSS and one login's latency. Ends with a table of every target, each row's ratio to
# the ceiling measured in the same run. Exits non-zero if a server does not start, a request
# fails, or a scenario gets a non-2xx answer or socket errors (never because a target is
# missed: the figures depend on the machine).
set -euo pipefail
export LC_ALL=C

usage() {
    cat <<'EOF'
usage: bash benches/run.sh [--smoke] [--duration SECS] [--verbose] [--server PATH]

  --smoke           1 s per scenario, fewer connections and 100 seeded rows instead of
                    10,000: a quick check that every scenario works (e.g. in CI)
  --duration SECS   seconds per wrk scenario (default 10; 1 with --smoke)
  --verbose         also print wrk's full output for each scenario
  --server PATH     measure this shipstar binary instead of the one just built (e.g. an
                    older build, to compare two versions against the same ceiling)
EOF
}

smoke=0
verbose=0
duration=""
server_override=""
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
        --server)
            [[ $# -ge 2 ]] || { echo "error: --server needs a path" >&2; exit 2; }
            server_override="$2"
            shift
            ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if [[ -n "$duration" && ! "$duration" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: --duration must be a whole number of seconds (at least 1)" >&2
    exit 2
fi

cores="$(nproc)"
if [[ $smoke -eq 1 ]]; then
    duration="${duration:-1}"
    conns_get=8       # the ceiling and every GET scenario
    conns_many=32     # the many-connections memory scenario
    seed_rows=100
    login_runs=3
else
    duration="${duration:-10}"
    conns_get=64
    conns_many=256
    seed_rows=10000
    login_runs=7
fi
# Logins: twice the hashing threads (= cores by default), so a hash is always queued.
conns_login=$((2 * cores))
# users/me while logins saturate: a few connections, each pausing between requests.
conns_paced=4
pace_ms=10

if [[ $seed_rows -ge 1000 ]]; then seed_label="$((seed_rows / 1000))k"; else seed_label="$seed_rows"; fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Microseconds since the epoch, without forking.
now_us() { local t="$EPOCHREALTIME"; echo "${t/[.,]/}"; }

source benches/common.sh

# --- build -------------------------------------------------------------------------------
echo "== building (cargo build --release --bin shipstar --example ceiling --example hyper_ceiling)" >&2
artifacts="$(cargo build --release --bin shipstar --example ceiling --example hyper_ceiling \
    --message-format=json-render-diagnostics)" || die "cargo build --release failed"
# artifact NAME RELATIVE: the executable NAME that cargo just built (else RELATIVE under the
# target directory).
artifact() {
    local found
    found="$(printf '%s\n' "$artifacts" | grep '"reason":"compiler-artifact"' |
        grep -o "\"executable\":\"[^\"]*/$1\"" | tail -n 1 |
        sed 's/^"executable":"//; s/"$//' || true)"
    if [[ -z "$found" || ! -x "$found" ]]; then
        local target_dir="${CARGO_TARGET_DIR:-$root/target}" candidate
        for candidate in "$target_dir/x86_64-unknown-linux-gnu/release/$2" "$target_dir/release/$2"; do
            if [[ -x "$candidate" ]]; then found="$candidate"; break; fi
        done
    fi
    echo "$found"
}
bin="$(artifact shipstar shipstar)"
if [[ -n "$server_override" ]]; then bin="$(realpath "$server_override")"; fi
[[ -n "$bin" && -x "$bin" ]] || die "cannot find the release binary after the build"
ceiling_bin="$(artifact ceiling examples/ceiling)"
[[ -n "$ceiling_bin" && -x "$ceiling_bin" ]] || die "cannot find the ceiling binary after the build"
hyper_bin="$(artifact hyper_ceiling examples/hyper_ceiling)"
[[ -n "$hyper_bin" && -x "$hyper_bin" ]] || die "cannot find the hyper ceiling binary after the build"

# --- tools -------------------------------------------------------------------------------
command -v curl >/dev/null || die "curl is needed"
ensure_wrk

# --- machine -------------------------------------------------------------------------------
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
ceiling_pid=""
hyper_pid=""
background_pid=""
paced_pid=""
# stop PID: TERM, then KILL after 5 s; only processes this script started.
stop() {
    local pid="$1"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    [[ -z "$pid" ]] || wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop "$paced_pid"
    stop "$background_pid"
    stop "$ceiling_pid"
    stop "$hyper_pid"
    stop "$server_pid"
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

# One GET /api/v1/health to port $1 (default: the server's) over bash's /dev/tcp (no fork,
# so polling is fine-grained).
health_ok() {
    local line="" to="${1:-$port}"
    { exec 3<>"/dev/tcp/127.0.0.1/$to"; } 2>/dev/null || return 1
    printf 'GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 2>/dev/null
    IFS= read -r -t 2 line <&3 || true
    exec 3<&- 3>&-
    [[ "$line" == HTTP/1.[01]\ 200* ]]
}

rss_kib() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$server_pid/status"; }

# --- the ceiling -------------------------------------------------------------------------
ceiling_port="$(free_port)"
"$ceiling_bin" "127.0.0.1:$ceiling_port" </dev/null >/dev/null 2>"$tmp/ceiling.log" &
ceiling_pid=$!
for _ in $(seq 1500); do
    if health_ok "$ceiling_port"; then break; fi
    kill -0 "$ceiling_pid" 2>/dev/null || die "the ceiling server exited: $(cat "$tmp/ceiling.log")"
    sleep 0.02
done
health_ok "$ceiling_port" || die "the ceiling server does not answer"
hyper_port="$(free_port)"
"$hyper_bin" "127.0.0.1:$hyper_port" </dev/null >/dev/null 2>"$tmp/hyper.log" &
hyper_pid=$!
for _ in $(seq 1500); do
    if health_ok "$hyper_port"; then break; fi
    kill -0 "$hyper_pid" 2>/dev/null || die "the hyper ceiling exited: $(cat "$tmp/hyper.log")"
    sleep 0.02
done
health_ok "$hyper_port" || die "the hyper ceiling does not answer"

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
# Every client here is one load generator on one address: no per-address connection cap.
export SHIPSTAR_MAX_CONNECTIONS_PER_IP=0
# Throughput is measured at capacity: shedding public reads past max_concurrent_public_reads
# would turn the excess into 503s, as rate limits would into 429s.
export SHIPSTAR_MAX_CONCURRENT_PUBLIC_READS=0

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
# Per scenario: "rps p50_ms p99_ms", by name.
declare -A stats=()

# wrk_start NAME CONNECTIONS [wrk args...] URL: runs wrk, output in $tmp/wrk-NAME.txt.
wrk_start() {
    local name="$1" conns="$2"
    shift 2
    local threads=$((conns < cores ? conns : cores))
    wrk -t "$threads" -c "$conns" -d "${duration}s" --timeout 10s --latency "$@" \
        >"$tmp/wrk-$name.txt" 2>&1
}

# wrk_row NAME CONNECTIONS: checks and prints the result of a finished wrk run NAME.
wrk_row() {
    local name="$1" conns="$2" out="$tmp/wrk-$1.txt"
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
    row="$(awk -v name="$name" -v conns="$conns" -v non2xx="$non2xx" -v line="$line" -v hwm="$hwm" \
        -v served="${served_of[$name]:-?}" 'BEGIN {
        n = split(line, kv, " ")
        for (i = 2; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
        socket = v["connect"] + v["read"] + v["write"] + v["timeout"]
        printf "%-24s %5d %6s %10.1f %9.2f %9.2f %8d %8d %9d %9.1f",
            name, conns, served, v["requests"] / (v["duration_us"] / 1e6),
            v["p50_us"] / 1000, v["p99_us"] / 1000, non2xx, socket, v["requests"], hwm / 1024
    }')"
    echo "$row" | awk -v switches="${switches_of[$name]:-0}" '{
        printf "%s %9.2f\n", $0, ($9 > 0 ? switches / $9 : 0) }'
    stats[$name]="$(echo "$row" | awk '{ print $4, $5, $6 }')"
    local socket_errors requests
    socket_errors="$(echo "$row" | awk '{ print $8 }')"
    requests="$(echo "$row" | awk '{ print $9 }')"
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

# connection_threads PID NAME: how many connections process PID serves. shipstar and the
# hyper ceiling serve connections on a few threads, so their open sockets are counted (less
# the listener); tiny_http's (the ceiling's) connection threads are unnamed and carry the
# process name NAME, beside the main and the accept thread.
connection_threads() {
    local count
    if [[ "$2" == shipstar || "$2" == hyper ]]; then
        count="$(find /proc/"$1"/fd -lname 'socket:*' 2>/dev/null | wc -l)"
        echo $((count > 0 ? count - 1 : 0))
        return
    fi
    count="$(cat /proc/"$1"/task/*/comm 2>/dev/null | grep -cx "$2" || true)"
    echo $((count - 2))
}

# tiny_http 0.12 (the ceiling) gives each connection a thread from a pool that keeps 4 idle
# threads. When more connections than that arrive at once, the pool can queue the extra ones
# behind connections that stay open, and those are not served until others close (see
# docs/BENCHMARKS.md). wrk opens all its connections at once, so a run can end up measuring
# a handful of connections. Each run is checked after a second: the "served" column is how
# many connection threads the target runs then (at most the connections); below three
# quarters of wrk's connections the run is repeated (at most 3 times) and, failing that,
# flagged in the summary. shipstar starts a thread per connection as it accepts it.
starved=()
declare -A served_of=()
check_after=1
if [[ $duration -lt 2 ]]; then check_after=0.5; fi

# served_all SCENARIO PID NAME CONNECTIONS: whether PID serves (nearly) all CONNECTIONS.
served_all() {
    local served
    served="$(connection_threads "$2" "$3")"
    served_of[$1]=$((served < $4 ? served : $4))
    if [[ $((4 * served)) -ge $((3 * $4)) ]]; then return 0; fi
    echo "note: scenario $1: $3 is serving $served of $4 connections; measuring again" >&2
    return 1
}

# run_wrk NAME CONNECTIONS [wrk args...] URL: one scenario, then its row.
run_wrk() {
    local name="$1" conns="$2" url="${*: -1}" pid comm attempt wrk_pid ok=1
    if [[ "$url" == "$ceiling_url"* ]]; then pid="$ceiling_pid" comm=ceiling
    elif [[ "$url" == "$hyper_url"* ]]; then pid="$hyper_pid" comm=hyper
    else pid="$server_pid" comm=shipstar; fi
    local switches_before
    switches_before="$(context_switches "$pid")"
    for attempt in 1 2 3; do
        wrk_start "$@" &
        wrk_pid=$!
        sleep "$check_after"
        ok=1
        served_all "$name" "$pid" "$comm" "$conns" || ok=0
        wait "$wrk_pid" || { cat "$tmp/wrk-$name.txt" >&2; die "wrk failed in scenario $name"; }
        [[ $ok -eq 0 ]] || break
    done
    [[ $ok -eq 1 ]] || starved+=("$name")
    switches_of[$name]=$(( $(context_switches "$pid") - switches_before ))
    wrk_row "$name" "$conns"
}

# context_switches PID: voluntary and involuntary context switches of every thread of PID so
# far (a thread that ended takes its count with it; the servers measured keep theirs).
context_switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}
declare -A switches_of=()

# figure NAME FIELD: rps, p50 or p99 of a scenario (empty if it did not run).
figure() {
    local values="${stats[$1]:-}"
    [[ -n "$values" ]] || return 0
    case "$2" in
        rps) echo "$values" | awk '{ print $1 }' ;;
        p50) echo "$values" | awk '{ print $2 }' ;;
        p99) echo "$values" | awk '{ print $3 }' ;;
    esac
}

export BENCH_LUA_DIR="$root/benches" BENCH_EMAIL="$email" BENCH_PASSWORD="$password"
export BENCH_PACE_MS="$pace_ms"
auth=(-H "Authorization: Bearer $jwt")
# rss(MiB) is the server's peak RSS (VmHWM) so far, read after each scenario.
printf '%-24s %5s %6s %10s %9s %9s %8s %8s %9s %9s %9s\n' \
    scenario conns served "req/s" "p50(ms)" "p99(ms)" non-2xx sockerr requests "rss(MiB)" "cs/req"

# The ceiling: the same wrk settings against the bare tiny_http server. In a full run it is
# measured again at the end and the higher figure is the one every ratio divides by.
ceiling_url="http://127.0.0.1:$ceiling_port/"
# A short unrecorded warm-up of each server first: on a fresh process, tiny_http's connection
# pool has 4 threads, and a burst of new connections queued behind them is let through one
# nudge (10 ms) at a time, which puts the ceiling's first-second p99 in the hundreds of
# milliseconds (see "tiny_http's connection pool" in the docs). shipstar gets the same
# warm-up, so both are measured warm.
warm_up() { wrk -t "$cores" -c "$conns_get" -d 1s "$1" >/dev/null 2>&1 || true; }
hyper_url="http://127.0.0.1:$hyper_port/"
warm_up "$hyper_url"
run_wrk hyper "$conns_get" -s benches/report.lua "$hyper_url"
warm_up "$ceiling_url"
run_wrk ceiling "$conns_get" -s benches/report.lua "$ceiling_url"
if [[ $smoke -eq 0 ]]; then
    # The ceiling again with the JWT row's Authorization header: tiny_http reads headers a
    # byte at a time, so a 300-byte token costs every server something before any handler.
    run_wrk ceiling_jwt_header "$conns_get" -s benches/report.lua "${auth[@]}" "$ceiling_url"
fi

warm_up "$base/api/v1/health"
run_wrk health "$conns_get" -s benches/report.lua "$base/api/v1/health"
run_wrk users_me "$conns_get" -s benches/report.lua "${auth[@]}" "$base/api/internal/users/me"
api_key="$("$bin" --database "$tmp/bench.db" key create --project default --user "$email" \
    --name bench 2>>"$tmp/server.log")" || die "shipstar key create failed"
run_wrk api_key_me "$conns_get" -s benches/report.lua -H "Authorization: Bearer $api_key" \
    "$base/api/v1/me"
run_wrk login "$conns_login" -s benches/login.lua "$base/api/internal/auth/jwt/login"

# users/me at a low, paced rate while logins keep every hashing thread busy: its p99 shows
# whether hashing starves ordinary requests.
for attempt in 1 2 3; do
    wrk_start login_saturating "$conns_login" -s benches/login.lua \
        "$base/api/internal/auth/jwt/login" &
    background_pid=$!
    wrk_start users_me_during_logins "$conns_paced" -s benches/paced.lua "${auth[@]}" \
        "$base/api/internal/users/me" &
    paced_pid=$!
    sleep "$check_after"
    pair_ok=1
    served_all login_saturating "$server_pid" shipstar $((conns_login + conns_paced)) || pair_ok=0
    served_of[users_me_during_logins]="${served_of[login_saturating]}"
    wait "$paced_pid" ||
        { cat "$tmp/wrk-users_me_during_logins.txt" >&2; die "wrk failed in scenario users_me_during_logins"; }
    wait "$background_pid" ||
        { cat "$tmp/wrk-login_saturating.txt" >&2; die "wrk failed in scenario login_saturating"; }
    background_pid=""
    [[ $pair_ok -eq 0 ]] || break
done
[[ $pair_ok -eq 1 ]] || starved+=(users_me_during_logins login_saturating)
wrk_row users_me_during_logins "$conns_paced"
wrk_row login_saturating "$conns_login"

# Public content: one published changelog and a full page (20) of blog posts, read without
# a credential.
# seed_content COUNT KIND FIRST: COUNT published items of KIND (slugs KIND-FIRST, ...),
# created and published over HTTP.
seed_content() {
    PYTHONPATH="$root/benches" python3 - "$base" "$jwt" "$1" "$2" "$3" <<'PY'
import json, sys
from api import Api, CHANGELOG_ENTRIES
base, jwt, count, kind, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
api = Api(base, jwt)
project = api.first_project()
for i in range(first, first + count):
    title = "%s %d of the benchmark" % (kind.capitalize(), i)
    if kind == "changelog":
        text = json.dumps({"title": title, "entries": CHANGELOG_ENTRIES})
    else:
        text = "# %s\n\nA paragraph of a post, long enough to look like one. " % title * 3
    api.publish(project, kind, title, text, "%s-%d" % (kind, i))
PY
}
seed_content 1 changelog 0 || die "seeding a changelog failed"
seed_content 20 blog 0 || die "seeding a blog post failed"
run_wrk changelog_slug "$conns_get" -s benches/report.lua "$base/api/v1/changelog/changelog-0"
run_wrk blogs "$conns_get" -s benches/report.lua "$base/api/v1/blogs"
if [[ $smoke -eq 0 ]]; then
    # The ceiling again, answering as many bytes (status line, headers and body) as the
    # changelog read does: a larger answer costs the load generator and the kernel more, and
    # the ceiling (tiny_http) sends one over 1 KiB in two writes.
    wire_bytes() {
        curl -sS --max-time 10 -o /dev/null -w '%{size_header} %{size_download}' "$1" |
            awk '{ print $1 + $2 }'
    }
    changelog_bytes="$(wire_bytes "$base/api/v1/changelog/changelog-0")"
    sized_body=$((changelog_bytes - $(curl -sS --max-time 10 -o /dev/null -w '%{size_header}' "$ceiling_url")))
    ceiling_sized_url="${ceiling_url}?bytes=$sized_body"
    # The Content-Length may have one digit more or less than the fixed body's.
    sized_body=$((sized_body + changelog_bytes - $(wire_bytes "$ceiling_sized_url")))
    ceiling_sized_url="${ceiling_url}?bytes=$sized_body"
    [[ "$(wire_bytes "$ceiling_sized_url")" -eq "$changelog_bytes" ]] ||
        die "the sized ceiling does not answer as many bytes as the changelog read"
    run_wrk ceiling_changelog_size "$conns_get" -s benches/report.lua "$ceiling_sized_url"
fi

# --- the same reads with many rows --------------------------------------------------------
# API keys, created through the API: the key lookup must not slow down (indexed by hash).
seed_started="$(now_us)"
PYTHONPATH="$root/benches" python3 - "$base" "$jwt" "$seed_rows" <<'PY' || die "seeding API keys failed"
import sys
from api import Api
base, jwt, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
api = Api(base, jwt)
project = api.first_project()
for i in range(count):
    api.call("POST", "/api/internal/projects/%s/api-keys" % project, {"name": "seed %d" % i})
PY
echo "== seeded $seed_rows more API keys in $(( ($(now_us) - seed_started) / 1000 )) ms" >&2
run_wrk "api_key_me_${seed_label}" "$conns_get" -s benches/report.lua \
    -H "Authorization: Bearer $api_key" "$base/api/v1/me"

# Users, each with a live session, written straight into the database in one transaction:
# creating them through the API would cost one Argon2id hash each (minutes for 10,000), and
# the token check reads only the session and user rows by primary key. They share the
# administrator's password hash; nobody signs in as them.
seed_started="$(now_us)"
python3 - "$tmp/bench.db" "$seed_rows" "$email" <<'PY' || die "seeding users failed"
import sqlite3, sys, time, uuid
path, count, admin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
db = sqlite3.connect(path, timeout=10, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
(password_hash,) = db.execute("SELECT password_hash FROM users WHERE email = ?", (admin,)).fetchone()
now = int(time.time())
for i in range(count):
    user, session = str(uuid.uuid4()), str(uuid.uuid4())
    db.execute(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, is_active, "
        "is_verified, is_superuser, created_at) VALUES (?, ?, ?, 'Seed', ?, 1, 1, 0, ?)",
        (user, "seed-%d@example.com" % i, password_hash, str(i), now))
    db.execute(
        "INSERT INTO sessions (id, user_id, generation, rotated_at, created_at, last_seen_at, "
        "token_expires_at, user_agent, ip) VALUES (?, ?, 0, ?, ?, ?, ?, 'bench', '127.0.0.1')",
        (session, user, now, now, now, now + 900))
db.execute("COMMIT")
PY
echo "== seeded $seed_rows more users with a session each in $(( ($(now_us) - seed_started) / 1000 )) ms" >&2
run_wrk "users_me_${seed_label}" "$conns_get" -s benches/report.lua "${auth[@]}" \
    "$base/api/internal/users/me"

# Published blog posts, through the API: lists read a partial index in order and the slug
# lookup a unique index, so neither may slow down.
seed_started="$(now_us)"
seed_content "$seed_rows" blog 20 || die "seeding blog posts failed"
echo "== seeded $seed_rows more published blog posts in $(( ($(now_us) - seed_started) / 1000 )) ms" >&2
run_wrk "changelog_slug_${seed_label}" "$conns_get" -s benches/report.lua \
    "$base/api/v1/changelog/changelog-0"
run_wrk "blogs_${seed_label}" "$conns_get" -s benches/report.lua "$base/api/v1/blogs"

# Memory with many connections open at once (each has a thread of its own).
run_wrk "users_me_${conns_many}_conns" "$conns_many" -s benches/report.lua "${auth[@]}" \
    "$base/api/internal/users/me"
many_rss_kib="$(rss_kib VmHWM)"

if [[ $smoke -eq 0 ]]; then
    run_wrk ceiling_again "$conns_get" -s benches/report.lua "$ceiling_url"
    run_wrk hyper_again "$conns_get" -s benches/report.lua "$hyper_url"
fi

peak_rss_kib="$(rss_kib VmHWM)"
stop "$ceiling_pid"
ceiling_pid=""
stop "$hyper_pid"
hyper_pid=""

# --- summary -----------------------------------------------------------------------------
echo "== load average after measuring (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)" >&2
ceiling_rps="$(printf '%s\n' "$(figure ceiling rps)" "$(figure ceiling_again rps)" | sort -g | tail -n 1)"
echo
awk -v c="$cold_start_ms" -v idle="$idle_rss_kib" -v peak="$peak_rss_kib" \
    -v single="$single_login_ms" -v runs="$login_runs" -v cores="$cores" \
    -v rps="$(figure login rps)" 'BEGIN {
    printf "cold start: %d ms (spawn to first 200 from /api/v1/health, fresh database)\n", c
    printf "server RSS: idle %.1f MiB, peak %.1f MiB (VmRSS before load, VmHWM at the end)\n", idle / 1024, peak / 1024
    ceiling = cores * 1000 / single
    printf "login: single request %.1f ms (median of %d), %d cores / single = %.1f logins/s, measured %.1f logins/s (%.0f%%)\n",
        single, runs, cores, ceiling, rps, 100 * rps / ceiling
}'
echo "ceiling: $ceiling_rps req/s (bare tiny_http, fixed JSON body, the higher of its runs)"
echo
printf '%-30s %10s %8s %9s %10s %8s  %s\n' target "req/s" ratio "p99(ms)" "goal" measured verdict
# row LABEL SCENARIO MIN_RATIO: throughput as a ratio of the ceiling, and p99 <= 3 ms.
row() {
    local rps p99
    rps="$(figure "$2" rps)"
    p99="$(figure "$2" p99)"
    [[ -n "$rps" ]] || return 0
    awk -v label="$1" -v rps="$rps" -v p99="$p99" -v ceiling="$ceiling_rps" -v min="$3" 'BEGIN {
        ratio = rps / ceiling
        verdict = (ratio >= min && p99 <= 3) ? "met" : "MISSED"
        printf "%-30s %10.1f %8.2f %9.2f %10s %8s  %s\n", label, rps, ratio, p99,
            sprintf(">=%.2f", min), sprintf("%.0f%%", 100 * ratio), verdict
    }'
}
# versus LABEL SCENARIO BASE [info]: throughput within 10% of the small-database figure
# ("info": shown for comparison, not one of the targets).
versus() {
    local rps base
    rps="$(figure "$2" rps)"
    base="$(figure "$3" rps)"
    [[ -n "$rps" && -n "$base" ]] || return 0
    awk -v label="$1" -v rps="$rps" -v base="$base" -v ceiling="$ceiling_rps" -v p99="$(figure "$2" p99)" \
        -v info="${4:-}" 'BEGIN {
        change = rps / base - 1
        verdict = (change >= -0.10) ? "met" : "MISSED"
        if (info != "") verdict = "(not a target)"
        printf "%-30s %10.1f %8.2f %9.2f %10s %8s  %s\n", label, rps, rps / ceiling, p99,
            "-10%", sprintf("%+.0f%%", 100 * change), verdict
    }'
}
row "GET /api/v1/me (API key)" api_key_me 0.60
row "GET users/me (JWT)" users_me 0.60
row "GET changelog/{slug}" changelog_slug 0.70
if [[ -n "$(figure ceiling_changelog_size rps)" ]]; then
    awk -v rps="$(figure changelog_slug rps)" -v sized="$(figure ceiling_changelog_size rps)" \
        -v bytes="${changelog_bytes:-0}" 'BEGIN {
        printf "%-30s %10.1f %8.2f %9s %10s %8s  %s\n", "  vs a same-size ceiling", rps, rps / sized, "-",
            "-", sprintf("%d B", bytes), "(for comparison)"
    }'
fi
versus "API key, ${seed_label} keys" "api_key_me_${seed_label}" api_key_me
versus "JWT, ${seed_label} users" "users_me_${seed_label}" users_me
versus "changelog, ${seed_label} posts" "changelog_slug_${seed_label}" changelog_slug
versus "blogs list, ${seed_label} posts" "blogs_${seed_label}" blogs info
awk -v single="$single_login_ms" -v cores="$cores" -v rps="$(figure login rps)" \
    -v p99="$(figure users_me_during_logins p99)" -v c="$cold_start_ms" \
    -v idle="$idle_rss_kib" -v many="$many_rss_kib" -v conns="$conns_many" 'BEGIN {
    share = rps / (cores * 1000 / single)
    printf "%-30s %10.1f %8s %9s %10s %8s  %s\n", "login (Argon2id, OWASP)", rps, "-", "-",
        ">=90%", sprintf("%.0f%%", 100 * share), (share >= 0.9 ? "met" : "MISSED")
    printf "%-30s %10s %8s %9.2f %10s %8s  %s\n", "users/me p99 during logins", "-", "-", p99,
        "<=20 ms", sprintf("%.2f", p99), (p99 <= 20 ? "met" : "MISSED")
    printf "%-30s %10s %8s %9s %10s %8s  %s\n", "cold start to health 200", "-", "-", "-",
        "<=100 ms", c " ms", (c <= 100 ? "met" : "MISSED")
    printf "%-30s %10s %8s %9s %10s %8s  %s\n", "RSS idle", "-", "-", "-", "<=30 MiB",
        sprintf("%.1f", idle / 1024), (idle <= 30 * 1024 ? "met" : "MISSED")
    printf "%-30s %10s %8s %9s %10s %8s  %s\n", sprintf("RSS peak, %d connections", conns),
        "-", "-", "-", "<=100 MiB", sprintf("%.1f", many / 1024), (many <= 100 * 1024 ? "met" : "MISSED")
}'
# Against the bare hyper ceiling (the higher of its runs): throughput as a ratio of it, and p99
# at most twice its p99.
hyper_rps="$(printf '%s\n' "$(figure hyper rps)" "$(figure hyper_again rps)" | sort -g | tail -n 1)"
hyper_p99="$(figure hyper p99)"
echo
echo "hyper ceiling: $hyper_rps req/s, p99 $hyper_p99 ms (bare hyper 1.x on tokio, fixed JSON body)"
printf '%-30s %10s %8s %9s %10s %10s  %s\n' target "req/s" ratio "p99(ms)" goal "p99 goal" verdict
hyper_row() {
    local rps p99
    rps="$(figure "$2" rps)"
    p99="$(figure "$2" p99)"
    [[ -n "$rps" ]] || return 0
    awk -v label="$1" -v rps="$rps" -v p99="$p99" -v ceiling="$hyper_rps" -v cp99="$hyper_p99" \
        -v min="$3" 'BEGIN {
        ratio = rps / ceiling
        verdict = (ratio >= min && p99 <= 2 * cp99) ? "met" : "MISSED"
        printf "%-30s %10.1f %8.2f %9.2f %10s %10s  %s\n", label, rps, ratio, p99,
            sprintf(">=%.2f", min), sprintf("<=%.2f", 2 * cp99), verdict
    }'
}
hyper_row "GET health" health 0.80
hyper_row "GET /api/v1/me (API key)" api_key_me 0.60
hyper_row "GET users/me (JWT)" users_me 0.60
hyper_row "GET changelog/{slug}" changelog_slug 0.60
if [[ ${#starved[@]} -gt 0 ]]; then
    echo "warning: some connections were left unserved in every attempt of: ${starved[*]} (those rows measure fewer connections)"
fi
if [[ $smoke -eq 1 ]]; then
    echo "(smoke run: $duration s per scenario, $conns_get connections, $seed_rows seeded rows; the targets are for a full run)"
fi

if [[ $failed -ne 0 ]]; then
    echo "FAILED: see the errors above" >&2
    exit 1
fi
