#!/usr/bin/env bash
# shipstar on PostgreSQL beside SQLite, in one run. See docs/BENCHMARKS.md, "PostgreSQL".
#
#   bash benches/postgres.sh [--smoke] [--duration SECS] [--verbose]
#
# Builds the release binary, starts a throwaway PostgreSQL cluster of its own (initdb and
# pg_ctl through tests/postgres-cluster.sh, on a free loopback port in a temporary directory,
# with PostgreSQL's default durable settings: fsync, full_page_writes and synchronous_commit
# on; plus pg_stat_statements), and three set-ups side by side on 127.0.0.1:
#
#   sqlite       one node on a SQLite file
#   postgres     one node on the PostgreSQL database, pool defaults
#   postgres_x2  two nodes on that same database, two wrk processes at once (half the
#                connections each, one per node), their figures summed
#
# For each request class (health, /api/v1/me with an API key, users/me with a JWT, a public
# changelog read, login, refresh; and users/me over one connection, on the first two) the
# set-ups run back to back, so the rows being compared meet the same machine load. On
# PostgreSQL it also counts the statements the database executed (pg_stat_statements, reset
# before each run, BEGIN and COMMIT included: each is one round trip) and divides by the
# requests the nodes logged; it reads the CPU time of the nodes and of the database's
# processes; and it checks that logins and refreshes wrote exactly one session or one
# generation per successful answer. Prints a row per run, then the side-by-side tables and,
# per class, the statements behind the count. Every process it starts, and the cluster, is
# stopped and removed on exit, also when interrupted. Exits non-zero if a server or the
# cluster does not start, a request made before the load fails, a run gets non-2xx answers,
# socket errors or no completed request, or a write count does not match the answers.
set -euo pipefail
export LC_ALL=C

usage() {
    cat <<'EOF'
usage: bash benches/postgres.sh [--smoke] [--duration SECS] [--verbose]

  --smoke           1 s per run and 8 connections: a quick check that every run works (CI)
  --duration SECS   seconds per wrk run (default 5; 1 with --smoke)
  --verbose         also print wrk's full output for each run
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

cores="$(nproc)"
if [[ $smoke -eq 1 ]]; then
    duration="${duration:-1}"
    conns_get=8
else
    duration="${duration:-5}"
    conns_get=64
fi
# Login and refresh: twice the hashing threads (= cores by default), as in run.sh. Refresh
# needs one session per connection, and one wrk thread per connection (benches/refresh.lua).
conns_auth=$((2 * cores))
[[ $conns_auth -ge 2 ]] || conns_auth=2

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

source benches/common.sh

# --- build and tools -------------------------------------------------------------------------
echo "== building (cargo build --release --bin shipstar)" >&2
artifacts="$(cargo build --release --bin shipstar --message-format=json-render-diagnostics)" ||
    die "cargo build --release failed"
bin="$(printf '%s\n' "$artifacts" | grep '"reason":"compiler-artifact"' |
    grep -o '"executable":"[^"]*/shipstar"' | tail -n 1 | sed 's/^"executable":"//; s/"$//' || true)"
[[ -n "$bin" && -x "$bin" ]] || die "cannot find the release binary after the build"

command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"
command -v psql >/dev/null || die "psql is needed (Debian: apt-get install postgresql-client)"
ensure_wrk

load="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $cores cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" >&2
echo "== load average before measuring (1, 5, 15 min): $load" >&2
if awk -v l="${load%% *}" -v c="$cores" 'BEGIN { exit !(l > c / 2) }'; then
    echo "warning: the machine is busy (load ${load%% *} on $cores cores); compare rows of this run only" >&2
fi

# --- processes, cleanup ----------------------------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/shipstar-pgbench.XXXXXX")"
# The cluster gets a directory of its own: the postgres OS user must reach it, and $tmp is
# private to the caller.
pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/shipstar-pgbench-cluster.XXXXXX")"
pg_started=0
declare -A node_pid=() node_port=()
wrk_pids=()

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
    local pid
    for pid in "${wrk_pids[@]}"; do stop "$pid"; done
    for pid in "${node_pid[@]}"; do stop "$pid"; done
    if [[ $pg_started -eq 1 ]]; then
        bash "$root/tests/postgres-cluster.sh" stop "$pg_dir" || true
    else
        rm -rf "$pg_dir"
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- the PostgreSQL cluster --------------------------------------------------------------------
# tests/postgres-cluster.sh starts a test cluster with durability off; a later -c wins, so the
# settings below put PostgreSQL's defaults back: every commit is flushed to disk before the
# client hears of it, as in production.
echo "== starting a throwaway PostgreSQL cluster (durable defaults, pg_stat_statements)" >&2
pg_started=1
admin_url="$(bash tests/postgres-cluster.sh start "$pg_dir" fsync=on full_page_writes=on \
    synchronous_commit=on max_connections=100 shared_preload_libraries=pg_stat_statements)" ||
    die "the PostgreSQL cluster did not start"
# One statement through psql (quiet, unaligned, rows only, no ~/.psqlrc): sql on the
# administrative database, bench_sql on the one the nodes use.
sql() { psql "$admin_url" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
bench_sql() { psql "$pg_url" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
sql "CREATE EXTENSION pg_stat_statements" >/dev/null
sql "CREATE DATABASE shipstar_bench" >/dev/null
bench_db_oid="$(sql "SELECT oid FROM pg_database WHERE datname = 'shipstar_bench'")"
pg_url="${admin_url/\/postgres\?//shipstar_bench?}"
[[ "$pg_url" == *"/shipstar_bench?"* ]] || die "unexpected cluster URL $admin_url"
pg_settings="$(sql "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
    WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method',
                   'shared_buffers', 'max_connections', 'server_version')")"
echo "== PostgreSQL: $pg_settings (shared_buffers in 8 kB pages)" >&2

# --- the nodes ---------------------------------------------------------------------------------
email="bench@example.com"
password="bench-$RANDOM$RANDOM-password"
# Only the settings below apply: no config file, nothing inherited from the caller's
# SHIPSTAR_* environment; pool size, workers and Argon2 keep their defaults. Rate limits are
# off (0) so that they do not turn the load into 429s, as in run.sh.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^SHIPSTAR_' || true)
export SHIPSTAR_ADMIN_EMAIL="$email" SHIPSTAR_ADMIN_PASSWORD="$password"
export SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE=0 SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE=0 \
    SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE=0 SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE=0 \
    SHIPSTAR_RATE_LIMIT_REFRESH_PER_MINUTE=0
# Every connection comes from one address, the load generator's: no per-address cap, and no
# shedding of public reads into 503s at capacity.
export SHIPSTAR_MAX_CONNECTIONS_PER_IP=0 SHIPSTAR_MAX_CONCURRENT_PUBLIC_READS=0

# start_node NAME DATABASE: starts `shipstar serve` on a free port and waits for its health.
start_node() {
    local name="$1" database="$2" port
    port="$(free_port)"
    (cd "$tmp" && exec "$bin" serve --listen "127.0.0.1:$port" --database "$database" \
        </dev/null >"$tmp/$name.out" 2>"$tmp/$name.log") &
    node_pid[$name]=$!
    node_port[$name]="$port"
    for _ in $(seq 300); do
        curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/api/v1/health" && return 0
        kill -0 "${node_pid[$name]}" 2>/dev/null ||
            { tail -n 20 "$tmp/$name.log" >&2; die "node $name exited during start-up"; }
        sleep 0.1
    done
    die "node $name: no 200 from /api/v1/health within 30 s"
}
url_of() { echo "http://127.0.0.1:${node_port[$1]}"; }

# login NODE: a fresh session's token, from a login on NODE.
login() {
    local token
    token="$(curl -sS --max-time 10 --data-urlencode "username=$email" \
        --data-urlencode "password=$password" "$(url_of "$1")/api/internal/auth/jwt/login" |
        sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')"
    [[ -n "$token" ]] || die "login on node $1 failed"
    echo "$token"
}

# seed NODE DATABASE: the administrator's token and an API key (printed, one a line), and one
# published changelog of 5 entries (slug changelog-0), as run.sh seeds them.
seed() {
    local jwt key
    jwt="$(login "$1")"
    key="$("$bin" --database "$2" key create --project default --user "$email" --name bench \
        2>>"$tmp/$1.log")" || die "shipstar key create on $1's database failed"
    PYTHONPATH="$root/benches" python3 - "$(url_of "$1")" "$jwt" <<'PY' || die "seeding a changelog failed"
import json, sys
from api import Api, CHANGELOG_ENTRIES
api = Api(sys.argv[1], sys.argv[2])
api.publish(api.first_project(), "changelog", "Changelog 0 of the benchmark",
            json.dumps({"title": "Changelog 0 of the benchmark", "entries": CHANGELOG_ENTRIES}),
            "changelog-0")
PY
    printf '%s\n%s\n' "$jwt" "$key"
}

echo "== starting the nodes: sqlite, postgres (pg1), and a second node on the same database (pg2)" >&2
start_node sqlite "$tmp/bench.db"
start_node pg1 "$pg_url"
# The second node after the first is up: not a start-up race test (tests/integration/nodes*
# has those), just two ready nodes.
start_node pg2 "$pg_url"
{ read -r sqlite_jwt; read -r sqlite_key; } < <(seed sqlite "$tmp/bench.db")
{ read -r pg_jwt; read -r pg_key; } < <(seed pg1 "$pg_url")
[[ -n "$sqlite_key" && -n "$pg_key" ]] || die "seeding failed"

# Every request of the load answers 2xx on every node before the load; on the PostgreSQL
# nodes, credentials issued through pg1 are presented to pg2 too.
for node in sqlite pg1 pg2; do
    if [[ $node == sqlite ]]; then jwt="$sqlite_jwt" key="$sqlite_key"; else jwt="$pg_jwt" key="$pg_key"; fi
    for check in "/api/v1/health" "/api/v1/me $key" "/api/internal/users/me $jwt" \
        "/api/v1/changelog/changelog-0"; do
        read -r path credential <<<"$check"
        auth=()
        [[ -z "${credential:-}" ]] || auth=(-H "Authorization: Bearer $credential")
        code="$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "${auth[@]}" "$(url_of "$node")$path")"
        [[ "$code" == 2?? ]] || die "GET $path on node $node answered $code before the load"
    done
done

# --- measuring -----------------------------------------------------------------------------------
export BENCH_LUA_DIR="$root/benches" BENCH_EMAIL="$email" BENCH_PASSWORD="$password"
failed=0
# Per "class setup": "rps p50 p99", the requests completed, and on PostgreSQL the statements
# per request.
declare -A result=() statements=() requests_of=() cpu_of=()

# wrk_run FILE THREADS CONNECTIONS [wrk args...] URL: one wrk, its output in FILE. Run in the
# background only: it replaces its subshell, so $! is wrk's own id (for cleanup).
wrk_run() {
    local file="$1" threads="$2" conns="$3"
    shift 3
    exec wrk -t "$threads" -c "$conns" -d "${duration}s" --timeout 10s --latency "$@" >"$file" 2>&1
}

# wrk_figures FILE: "requests duration_us p50_us p99_us non2xx socket_errors" of a finished wrk.
wrk_figures() {
    local line non2xx
    [[ $verbose -eq 0 ]] || cat "$1" >&2
    line="$(grep '^BENCH ' "$1" | tail -n 1)"
    [[ -n "$line" ]] || { cat "$1" >&2; die "no summary from wrk in $1"; }
    non2xx="$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$1")"
    awk -v line="$line" -v non2xx="${non2xx:-0}" 'BEGIN {
        n = split(line, kv, " ")
        for (i = 2; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
        print v["requests"], v["duration_us"], v["p50_us"], v["p99_us"], non2xx,
            v["connect"] + v["read"] + v["write"] + v["timeout"]
    }'
}

# CPU time, from /proc: a snapshot is "pid ppid ticks" (user + system) of every process.
clk_tck="$(getconf CLK_TCK)"
postmaster="$(head -n 1 "$pg_dir/data/postmaster.pid" 2>/dev/null || echo 0)"
snapshot() {
    # A process may end between the listing and the read: cat then fails, the rest counts.
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
        awk '{ pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print pid, f[2], f[12] + f[13] }'
}
# cpu_ms BEFORE AFTER PIDS: CPU milliseconds used between two snapshots by PIDS (space
# separated), or with PIDS "db" by the cluster (the postmaster and its children: one backend
# per pooled connection).
cpu_ms() {
    awk -v pids=" $3 " -v pm="$postmaster" -v hz="$clk_tck" '
        NR == FNR { before[$1] = $3; next }
        { want = (pids == " db " ? ($1 == pm || $2 == pm) : index(pids, " " $1 " ") > 0) }
        want { total += $3 - (($1 in before) ? before[$1] : 0) }
        END { printf "%.0f", total * 1000 / hz }' "$1" "$2"
}

# Statements the database executed for the shipstar database since the last reset.
statement_count() {
    sql "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = $bench_db_oid"
}
reset_statements() { sql "SELECT pg_stat_statements_reset()" >/dev/null; }

# stmts/req, app, db: per request the nodes logged (wrk's count leaves out those in flight
# at its end): statements the database executed, CPU microseconds of the node(s) and of the
# database's processes.
printf '%-12s %-12s %7s %10s %9s %9s %9s %8s %8s %10s %8s %8s\n' class setup conns "req/s" \
    "p50(ms)" "p99(ms)" requests non-2xx sockerr "stmts/req" "app(us)" "db(us)"

# measure CLASS SETUP CONNECTIONS [wrk args...] PATH: one run of CLASS on SETUP (sqlite,
# postgres or postgres_x2), a row printed and kept. For postgres_x2 the connections are split
# over two wrk processes, one per node, run at once: requests and req/s are summed, p50 and
# p99 are the higher of the two. BENCH_TOKENS_<node> (refresh) go to each wrk.
measure() {
    local class="$1" setup="$2" conns="$3"
    shift 3
    local path="${*: -1}" args=("${@:1:$#-1}") nodes threads per pg=0
    case "$setup" in
        sqlite) nodes=(sqlite) ;;
        postgres) nodes=(pg1) pg=1 ;;
        postgres_x2) nodes=(pg1 pg2) pg=1 ;;
    esac
    per=$((conns / ${#nodes[@]}))
    threads=$((per < cores ? per : cores))
    if [[ ${#nodes[@]} -gt 1 ]]; then threads=$((threads / 2 > 0 ? threads / 2 : 1)); fi
    # refresh.lua needs a thread per connection.
    if [[ "${args[*]}" == *refresh.lua* ]]; then threads="$per"; fi
    # On PostgreSQL, what login and refresh write is counted against the answers: each
    # successful login adds a session, each successful refresh one generation to a session.
    local invariant="" invariant_what="" invariant_before=0
    if [[ $pg -eq 1 && $class == login ]]; then
        invariant="SELECT count(*) FROM sessions" invariant_what="the sessions"
    elif [[ $pg -eq 1 && $class == refresh ]]; then
        invariant="SELECT coalesce(sum(generation), 0) FROM sessions" invariant_what="the sessions' generations"
    fi
    [[ -z "$invariant" ]] || invariant_before="$(bench_sql "$invariant")"
    [[ $pg -eq 0 ]] || reset_statements
    snapshot >"$tmp/cpu-before"
    local node
    declare -A log_lines=()
    for node in "${nodes[@]}"; do log_lines[$node]="$(wc -l <"$tmp/$node.log")"; done
    wrk_pids=()
    for node in "${nodes[@]}"; do
        local tokens_var="BENCH_TOKENS_$node"
        BENCH_REFRESH_TOKENS="${!tokens_var:-}" wrk_run "$tmp/wrk-$class-$setup-$node.txt" \
            "$threads" "$per" "${args[@]}" "$(url_of "$node")$path" &
        wrk_pids+=($!)
    done
    local pid
    for pid in "${wrk_pids[@]}"; do
        wait "$pid" || { cat "$tmp/wrk-$class-$setup-"*.txt >&2; die "wrk failed in $class on $setup"; }
    done
    wrk_pids=()
    # Requests still in flight when wrk stopped finish within a moment; they reach the
    # database too, so the statements are divided by the requests the nodes logged (one line
    # per request), not by wrk's count of those that completed in time.
    sleep 0.2
    snapshot >"$tmp/cpu-after"
    local handled=0 succeeded=0 counts
    for node in "${nodes[@]}"; do
        counts="$(tail -n "+$((log_lines[$node] + 1))" "$tmp/$node.log" |
            awk '/ request / { n++; if (/ status=200 /) ok++ } END { print n + 0, ok + 0 }')"
        handled=$((handled + ${counts% *}))
        succeeded=$((succeeded + ${counts#* }))
    done
    local app_ms db_ms="" node_pids=""
    for node in "${nodes[@]}"; do node_pids+="${node_pid[$node]} "; done
    app_ms="$(cpu_ms "$tmp/cpu-before" "$tmp/cpu-after" "$node_pids")"
    [[ $pg -eq 0 ]] || db_ms="$(cpu_ms "$tmp/cpu-before" "$tmp/cpu-after" db)"
    local count=""
    [[ $pg -eq 0 ]] || count="$(statement_count)"
    [[ $pg -eq 0 ]] || sql "SELECT calls, regexp_replace(query, '\s+', ' ', 'g')
        FROM pg_stat_statements WHERE dbid = $bench_db_oid ORDER BY calls DESC" \
        >"$tmp/statements-$class-$setup.txt"
    if [[ -n "$invariant" ]]; then
        local grown=$(($(bench_sql "$invariant") - invariant_before))
        if [[ $grown -eq $succeeded ]]; then
            echo "($class on $setup: $succeeded successful requests logged, $invariant_what grew by $grown: none lost or doubled)" >&2
        else
            echo "error: $class on $setup: $succeeded successful requests logged, but $invariant_what grew by $grown" >&2
            failed=1
        fi
    fi
    local figures=()
    for node in "${nodes[@]}"; do
        kill -0 "${node_pid[$node]}" 2>/dev/null || die "node $node died during $class on $setup"
        figures+=("$(wrk_figures "$tmp/wrk-$class-$setup-$node.txt")")
    done
    local row
    row="$(printf '%s\n' "${figures[@]}" | awk -v count="$count" -v handled="$handled" -v app="$app_ms" -v db="$db_ms" '
        { requests += $1; rps += $1 / ($2 / 1e6); if ($3 > p50) p50 = $3; if ($4 > p99) p99 = $4
          non2xx += $5; socket += $6 }
        END {
            per = (handled == 0) ? 0 : 1000 / handled
            printf "%.1f %.3f %.2f %d %d %d %s %s %s\n", rps, p50 / 1000, p99 / 1000, requests,
                non2xx, socket, (count == "" || handled == 0) ? "-" : sprintf("%.2f", count / handled),
                (handled == 0) ? "-" : sprintf("%.0f", app * per),
                (db == "" || handled == 0) ? "-" : sprintf("%.0f", db * per)
        }')"
    local rps p50 p99 requests non2xx socket per_request app_us db_us
    read -r rps p50 p99 requests non2xx socket per_request app_us db_us <<<"$row"
    local shown_conns="$conns"
    [[ ${#nodes[@]} -eq 1 ]] || shown_conns="$per+$per"
    printf '%-12s %-12s %7s %10s %9s %9s %9s %8s %8s %10s %8s %8s\n' "$class" "$setup" \
        "$shown_conns" "$rps" "$p50" "$p99" "$requests" "$non2xx" "$socket" "$per_request" \
        "$app_us" "$db_us"
    result["$class $setup"]="$rps $p50 $p99"
    cpu_of["$class $setup"]="$app_us $db_us"
    requests_of["$class $setup"]="$handled"
    statements["$class $setup"]="$per_request"
    if [[ "$non2xx" -ne 0 ]]; then echo "error: $class on $setup: $non2xx non-2xx answers" >&2; failed=1; fi
    if [[ "$socket" -ne 0 ]]; then echo "error: $class on $setup: $socket socket errors" >&2; failed=1; fi
    if [[ "$requests" -eq 0 ]]; then echo "error: $class on $setup: no request completed" >&2; failed=1; fi
}

# Warm-up, unrecorded: each node's first second (connections opened, statements prepared).
if [[ $smoke -eq 0 ]]; then
    for node in sqlite pg1 pg2; do
        wrk -t "$cores" -c "$conns_get" -d 1s "$(url_of "$node")/api/v1/health" >/dev/null 2>&1 || true
    done
fi

setups=(sqlite postgres postgres_x2)
# run_class CLASS CONNECTIONS CREDENTIAL LUA PATH: CLASS on each set-up in turn. CREDENTIAL is
# none, key or jwt (the set-up's own); refresh logs in a fresh session per connection first.
run_class() {
    local class="$1" conns="$2" credential="$3" lua="$4" path="$5" setup token
    for setup in "${setups[@]}"; do
        local auth=()
        case "$credential" in
            key) token="$([[ $setup == sqlite ]] && echo "$sqlite_key" || echo "$pg_key")" ;;
            jwt) token="$([[ $setup == sqlite ]] && echo "$sqlite_jwt" || echo "$pg_jwt")" ;;
            *) token="" ;;
        esac
        [[ -z "$token" ]] || auth=(-H "Authorization: Bearer $token")
        BENCH_TOKENS_sqlite="" BENCH_TOKENS_pg1="" BENCH_TOKENS_pg2=""
        if [[ "$class" == refresh ]]; then
            local n
            case "$setup" in
                sqlite) for n in $(seq "$conns"); do BENCH_TOKENS_sqlite+="$(login sqlite) "; done ;;
                postgres) for n in $(seq "$conns"); do BENCH_TOKENS_pg1+="$(login pg1) "; done ;;
                postgres_x2)
                    # Crosswise: each node refreshes sessions the other one created.
                    for n in $(seq $((conns / 2))); do
                        BENCH_TOKENS_pg1+="$(login pg2) "
                        BENCH_TOKENS_pg2+="$(login pg1) "
                    done
                    ;;
            esac
        fi
        measure "$class" "$setup" "$conns" -s "$lua" "${auth[@]}" "$path"
    done
}

run_class health "$conns_get" none benches/report.lua /api/v1/health
run_class api_key_me "$conns_get" key benches/report.lua /api/v1/me
run_class users_me "$conns_get" jwt benches/report.lua /api/internal/users/me
# One connection, one request at a time: the latency of a request on an idle server, where a
# database round trip shows undiluted by queueing (one node only: one connection cannot be
# split over two).
setups=(sqlite postgres)
run_class users_me_1c 1 jwt benches/report.lua /api/internal/users/me
setups=(sqlite postgres postgres_x2)
run_class changelog "$conns_get" none benches/report.lua /api/v1/changelog/changelog-0
run_class login "$conns_auth" none benches/login.lua /api/internal/auth/jwt/login
run_class refresh "$conns_auth" none benches/refresh.lua /api/internal/auth/jwt/refresh

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- summary -------------------------------------------------------------------------------------
echo
echo "side by side (req/s, p50 ms, p99 ms; stmts: statements the database ran per request)"
printf '%-12s | %9s %7s %7s | %9s %7s %7s %6s | %9s %7s %7s %6s\n' "" "sqlite" "" "" \
    "postgres" "" "" "" "2 nodes" "" "" ""
printf '%-12s | %9s %7s %7s | %9s %7s %7s %6s | %9s %7s %7s %6s\n' class "req/s" p50 p99 \
    "req/s" p50 p99 stmts "req/s" p50 p99 stmts
for class in health api_key_me users_me users_me_1c changelog login refresh; do
    read -r a1 a2 a3 <<<"${result["$class sqlite"]:-- - -}"
    read -r b1 b2 b3 <<<"${result["$class postgres"]:-- - -}"
    read -r c1 c2 c3 <<<"${result["$class postgres_x2"]:-- - -}"
    printf '%-12s | %9s %7s %7s | %9s %7s %7s %6s | %9s %7s %7s %6s\n' "$class" "$a1" "$a2" "$a3" \
        "$b1" "$b2" "$b3" "${statements["$class postgres"]:--}" "$c1" "$c2" "$c3" \
        "${statements["$class postgres_x2"]:--}"
done

echo
echo "CPU microseconds per request: the node(s) (app) and PostgreSQL's processes (db)"
printf '%-12s | %8s | %8s %8s | %8s %8s\n' class "sqlite" "postgres" "" "2 nodes" ""
printf '%-12s | %8s | %8s %8s | %8s %8s\n' "" app app db app db
for class in health api_key_me users_me users_me_1c changelog login refresh; do
    read -r a1 _ <<<"${cpu_of["$class sqlite"]:-- -}"
    read -r b1 b2 <<<"${cpu_of["$class postgres"]:-- -}"
    read -r c1 c2 <<<"${cpu_of["$class postgres_x2"]:-- -}"
    printf '%-12s | %8s | %8s %8s | %8s %8s\n' "$class" "$a1" "$b1" "$b2" "$c1" "$c2"
done

echo
echo "statements per request on one PostgreSQL node, by statement (at least 0.01 per request)"
for class in health api_key_me users_me users_me_1c changelog login refresh; do
    file="$tmp/statements-$class-postgres.txt"
    [[ -f "$file" && -n "${requests_of["$class postgres"]:-}" ]] || continue
    echo "$class (${statements["$class postgres"]} per request):"
    awk -F'|' -v n="${requests_of["$class postgres"]}" 'n > 0 && $1 / n >= 0.01 {
        query = $0; sub(/^[^|]*\|/, "", query)
        if (length(query) > 110) query = substr(query, 1, 107) "..."
        printf "  %6.2f  %s\n", $1 / n, query
    }
    n > 0 && $1 / n < 0.01 { rest += $1; kinds++ }
    END { if (kinds) printf "  %6.4f  (%d other statements, %d calls in all: work not done per request)\n", rest / n, kinds, rest }' "$file"
done

echo
echo "load average before: $load; after: $load_after ($cores cores)"
echo "PostgreSQL: $pg_settings"
if [[ $smoke -eq 1 ]]; then
    echo "(smoke run: $duration s per run, $conns_get connections; the figures are for a full run)"
fi
if [[ $failed -ne 0 ]]; then
    echo "FAILED: see the errors above" >&2
    exit 1
fi
