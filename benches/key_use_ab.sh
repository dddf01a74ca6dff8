#!/usr/bin/env bash
# Authenticated throughput of two shipstar binaries, alternated: `GET /api/v1/me` with an API
# key (the hot path that counts usage and key activity), measured with wrk on loopback.
#
#   bash benches/key_use_ab.sh REFERENCE CANDIDATE [--rounds N] [--duration SECS] [--connections C]
#
# Starts both binaries on 127.0.0.1 (each on a fresh database in a temporary directory, rate
# limits off), creates one key on each, then runs wrk against them in turn, round after round,
# swapping which goes first each round (A B, B A, A B, ...), so that a burst of load from
# other work on a shared machine falls on both alike. Prints each run and the median req/s
# of each binary, and the candidate's ratio to the reference. Bounded: rounds x 2 runs of
# `duration` seconds each (default 5 rounds of 5 s), loopback only.
set -euo pipefail
export LC_ALL=C

die() { echo "error: $*" >&2; exit 1; }

[[ $# -ge 2 ]] || die "usage: bash benches/key_use_ab.sh REFERENCE CANDIDATE [--rounds N] [--duration SECS] [--connections C]"
reference="$1"
candidate="$2"
shift 2
rounds=5
duration=5
connections=16
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift ;;
        --duration) duration="$2"; shift ;;
        --connections) connections="$2"; shift ;;
        *) die "unknown argument $1" ;;
    esac
    shift
done
for n in "$rounds" "$duration" "$connections"; do
    [[ "$n" =~ ^[1-9][0-9]?$ ]] || die "rounds, duration and connections are 1 to 99"
done
command -v wrk >/dev/null || die "wrk is not installed"
[[ -x "$reference" && -x "$candidate" ]] || die "both binaries must exist and be executable"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

email=bench@example.com
password=bench-password-123

# Starts binary $1 as server $2; sets url_$2 and key_$2.
start() {
    local bin="$1" name="$2" dir="$work/$2"
    mkdir -p "$dir"
    (cd "$dir" && exec env -i PATH="$PATH" \
        SHIPSTAR_ADMIN_EMAIL="$email" SHIPSTAR_ADMIN_PASSWORD="$password" \
        SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE=0 SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE=0 \
        SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE=0 SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE=0 \
        SHIPSTAR_LOG_LEVEL=warn \
        "$bin" serve --listen 127.0.0.1:0 --database "$dir/bench.db" \
        >"$dir/ready" 2>"$dir/log") &
    pids+=($!)
    local url=""
    for _ in $(seq 1 200); do
        url="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"])' "$dir/ready" 2>/dev/null || true)"
        [[ -n "$url" ]] && break
        sleep 0.05
    done
    [[ -n "$url" ]] || die "$name did not start: $(cat "$dir/log")"
    local token project key
    token="$(curl -sf -X POST "$url/api/internal/auth/jwt/login" -d "username=$email" -d "password=$password" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
    project="$(curl -sf "$url/api/internal/projects" -H "Authorization: Bearer $token" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
    key="$(curl -sf -X POST "$url/api/internal/projects/$project/api-keys" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"name": "bench"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
    curl -sf "$url/api/v1/me" -H "Authorization: Bearer $key" >/dev/null || die "$name refused its key"
    printf -v "url_$name" '%s' "$url"
    printf -v "key_$name" '%s' "$key"
}

start "$reference" reference
start "$candidate" candidate

# One wrk run against server $1; prints its req/s.
measure() {
    local url_var="url_$1" key_var="key_$1"
    wrk -t2 -c"$connections" -d"${duration}s" \
        -H "Authorization: Bearer ${!key_var}" -H "User-Agent: bench/1" \
        "${!url_var}/api/v1/me" | awk '/^Requests\/sec:/ {print $2}'
}

ref_runs=()
cand_runs=()
echo "round  first      reference req/s  candidate req/s  (load average before the round)"
for round in $(seq 1 "$rounds"); do
    load="$(cut -d' ' -f1 /proc/loadavg)"
    if (( round % 2 == 1 )); then
        r="$(measure reference)"; c="$(measure candidate)"; first=reference
    else
        c="$(measure candidate)"; r="$(measure reference)"; first=candidate
    fi
    ref_runs+=("$r")
    cand_runs+=("$c")
    printf '%5d  %-9s  %15s  %15s  (%s)\n' "$round" "$first" "$r" "$c" "$load"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ref_median="$(median "${ref_runs[@]}")"
cand_median="$(median "${cand_runs[@]}")"
echo "median reference req/s: $ref_median"
echo "median candidate req/s: $cand_median"
awk -v r="$ref_median" -v c="$cand_median" 'BEGIN {printf "candidate / reference: %.3f\n", c / r}'
