#!/usr/bin/env bash
# Instruction profile of each request class under callgrind. See docs/BENCHMARKS.md.
#
#   bash benches/profile.sh [--requests N] [--out DIR] [--binary PATH] [--ceiling PATH]
#
# Builds the `profiling` profile (the release build with symbols), starts the server under
# `valgrind --tool=callgrind` with instrumentation off, sets up the data (a JWT, an API key,
# a published changelog and 20 blog posts), then for each request class switches
# instrumentation on, sends N requests over one keep-alive connection, dumps the counters and
# switches it off again. The bare tiny_http ceiling (benches/ceiling.rs) is profiled the same
# way. Prints instructions per request for each class, then for each class the main parts of
# a request (inclusive cost) and the top functions (self cost), and writes one callgrind file
# per class, its callgrind_annotate reports and that summary to DIR (default
# target/profile). Instruction counts do not depend on the load of the machine, so
# before/after comparisons are meaningful even on a busy one; they count user-space
# instructions only (no kernel time, no waiting). --binary and --ceiling profile prebuilt
# binaries instead (e.g. an older build); they need symbols, as the profiling profile keeps.
set -euo pipefail
export LC_ALL=C

requests=2000
out=""
binary=""
ceiling_bin=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --requests) requests="$2"; shift ;;
        --out) out="$2"; shift ;;
        --binary) binary="$2"; shift ;;
        --ceiling) ceiling_bin="$2"; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[[ "$requests" =~ ^[1-9][0-9]*$ ]] || { echo "error: --requests must be a positive number" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
die() { echo "error: $*" >&2; exit 1; }
for tool in valgrind callgrind_control callgrind_annotate python3; do
    command -v "$tool" >/dev/null || die "$tool is needed (apt-get install valgrind python3)"
done

target_dir="${CARGO_TARGET_DIR:-$root/target}/x86_64-unknown-linux-gnu/profiling"
if [[ -z "$binary" || -z "$ceiling_bin" ]]; then
    echo "== building (cargo build --profile profiling --bin shipstar --example ceiling)" >&2
    cargo build --profile profiling --bin shipstar --example ceiling >&2 || die "build failed"
fi
binary="${binary:-$target_dir/shipstar}"
ceiling_bin="${ceiling_bin:-$target_dir/examples/ceiling}"
[[ -x "$binary" && -x "$ceiling_bin" ]] || die "missing $binary or $ceiling_bin"
binary="$(realpath "$binary")"
ceiling_bin="$(realpath "$ceiling_bin")"
out="${out:-${CARGO_TARGET_DIR:-$root/target}/profile}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/shipstar-profile.XXXXXX")"
vg_pid=""
stop_vg() {
    if [[ -n "$vg_pid" ]] && kill -0 "$vg_pid" 2>/dev/null; then
        kill -TERM "$vg_pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$vg_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$vg_pid" 2>/dev/null || true
    fi
    [[ -z "$vg_pid" ]] || wait "$vg_pid" 2>/dev/null || true
    vg_pid=""
}
cleanup() { stop_vg; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# client.py COUNT METHOD PATH [HEADER=VALUE...] [--body TEXT]: COUNT requests over one
# keep-alive connection; fails on any status other than 200.
cat >"$tmp/client.py" <<'PY'
import http.client, sys, time
port, count, method, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
headers, body = {}, None
args = sys.argv[5:]
while args:
    arg = args.pop(0)
    if arg == "--body":
        body = args.pop(0)
    else:
        name, value = arg.split("=", 1)
        headers[name] = value
deadline = time.time() + 120
while True:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", "/api/v1/health")
        conn.getresponse().read()
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("the server did not come up")
        time.sleep(0.2)
for i in range(count):
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        sys.exit("%s %s: HTTP %d %s" % (method, path, response.status, data[:200]))
    if count == 1:
        sys.stdout.write(data.decode())
PY
client() { python3 "$tmp/client.py" "$port" "$@"; }

# summary.py FILE REQUESTS: instructions per request of the main parts (inclusive) and of
# the top functions (self cost, summed over the places a function was inlined into), from
# callgrind_annotate.
cat >"$tmp/summary.py" <<'PY'
import re, subprocess, sys
path, requests = sys.argv[1], int(sys.argv[2])
# (label, function name fragment): inclusive cost of each part of a request.
PARTS = [
    ("http: read and parse the request", "shipstar::http::connection::Reader::read_from"),
    ("http: hand to a worker and back", "shipstar::http::server::handle"),
    ("http: serialise and write the answer", "shipstar::http::server::answer"),
    ("ceiling (tiny_http): read and parse the request", "<tiny_http::client::ClientConnection as core::iter::traits::iterator::Iterator>::next"),
    ("ceiling (tiny_http): write the response", "tiny_http::response::Response<R>::raw_print"),
    ("shipstar: route, handler, errors, headers", "shipstar::api::handle"),
    ("  routing", "shipstar::api::router::find"),
    ("  JWT check (HMAC-SHA-256, claims)", "shipstar::auth::jwt::verify"),
    ("  session and user lookup", "shipstar::store::credentials::<impl shipstar::store::Store>::session_with_user"),
    ("  API key lookup", "shipstar::store::credentials::<impl shipstar::store::Store>::key_holder_by_hash"),
    ("  API key shape and checksum", "shipstar::auth::api_key::is_well_formed"),
    ("  API key hash (SHA-256)", "shipstar::auth::api_key::hash"),
    ("  published item lookup", "shipstar::store::content::<impl shipstar::store::Store>::published_by_slug"),
    ("  ETag (SHA-256 of the body) and cache headers", "shipstar::api::public::cacheable"),
    ("  JSON body", "shipstar::http::response::Response::json"),
    ("  database health read", "shipstar::store::Store::is_healthy"),
    ("  password check (Argon2id)", "shipstar::auth::password::PasswordHasher::verify"),
    ("shipstar: request log line", "shipstar::logging::request"),
    ("shipstar: request id", "shipstar::ids::request_id"),
    ("usage flusher and log writer threads", "shipstar::api::usage::UsageRecorder::flush"),
    ("", "shipstar::logging::write_lines"),
    ("ceiling: the whole request loop", "ceiling::main::{{closure}}"),
]
row = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$")
# Symbols are kept mangled while profiling: demangled, every instance of a generic function
# (`Vec::from_iter`, `Row::get`, ...) has the same name and callgrind would merge them into
# one, making inclusive costs meaningless. They are demangled here, for display only.
ESCAPES = {"$LT$": "<", "$GT$": ">", "$u20$": " ", "$RF$": "&", "$BP$": "*", "$C$": ",",
           "$LP$": "(", "$RP$": ")", "$u7b$": "{", "$u7d$": "}", "$u5b$": "[", "$u5d$": "]",
           "$u27$": "'", "$u3b$": ";", "$u2b$": "+", "$u22$": '"', "$SP$": "@"}
def demangle(symbol):
    symbol = re.sub(r"\.llvm\.\d+$", "", symbol)
    if symbol.startswith("_R"):
        # Rust's v0 scheme (the standard library): good enough for a name to read, dropping
        # crate disambiguators and back-references.
        text = re.sub(r"Cs[0-9A-Za-z]*_", "C", symbol[2:])
        text = re.sub(r"B[0-9A-Za-z]*_", "", text)
        names, at = [], 0
        while at < len(text):
            n = re.match(r"(\d+)_?", text[at:])
            if n:
                start = at + len(n.group(0))
                names.append(text[start:start + int(n.group(1))])
                at = start + int(n.group(1))
            else:
                at += 1
        return "::".join(names) or symbol
    if not (symbol.startswith("_ZN") and symbol.endswith("E")):
        return symbol
    rest, parts = symbol[3:-1], []
    while rest:
        n = re.match(r"\d+", rest)
        if not n or len(n.group(0)) + int(n.group(0)) > len(rest):
            return symbol
        start = len(n.group(0))
        parts.append(rest[start:start + int(n.group(0))])
        rest = rest[start + int(n.group(0)):]
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    text = "::".join(p[1:] if p.startswith("_$") else p for p in parts)
    for escape, char in ESCAPES.items():
        text = text.replace(escape, char)
    return text.replace("..", "::")
def annotate(inclusive):
    out = subprocess.run(
        ["callgrind_annotate", "--auto=no", "--threshold=100",
         "--inclusive=" + ("yes" if inclusive else "no"), path],
        capture_output=True, text=True, check=True).stdout
    total, rows, table = 0, [], False
    for line in out.splitlines():
        if "file:function" in line:
            table = True
            continue
        m = row.match(line)
        if not m:
            continue
        cost, rest = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in rest:
            total = cost
        elif table:
            name = re.sub(r" \[[^\]]*\]$", "", rest)
            # "file:function": drop the file (it names where inlined code came from).
            m2 = re.match(r"^(/[^:]*|\?\?\?|[^<\s][^:]*\.rs):(.*)$", name)
            rows.append((m2.group(2) if m2 else name, cost))
    rows = [(symbol, demangle(symbol), cost) for symbol, cost in rows]
    return total, rows
total, self_rows = annotate(False)
_, inclusive_rows = annotate(True)
# A function appears once as itself and again for each place it was inlined into; its own
# entry is the largest.
inclusive = {}
for symbol, name, cost in inclusive_rows:
    if cost > inclusive.get(symbol, (name, 0))[1]:
        inclusive[symbol] = (name, cost)
print("%d instructions per request" % round(total / requests))
print("  where (inclusive):")
for label, fragment in PARTS:
    cost = max((c for n, c in inclusive.values() if n.startswith(fragment)), default=0)
    if cost * 200 >= total:  # 0.5% or more
        print("    %9d  %5.1f%%  %s" % (cost / requests, 100 * cost / total, label or fragment))
by_name = {}
for _, name, cost in self_rows:
    by_name[name] = by_name.get(name, 0) + cost
print("  top functions (self):")
for name, cost in sorted(by_name.items(), key=lambda kv: -kv[1])[:12]:
    print("    %9d  %5.1f%%  %s" % (cost / requests, 100 * cost / total, name[:110]))
PY

# profile NAME COUNT METHOD PATH [client args...]: one class, one dump.
profile() {
    local name="$1" count="$2"
    shift 2
    callgrind_control --zero "$vg_pid" >/dev/null 2>&1
    callgrind_control -i on "$vg_pid" >/dev/null 2>&1
    client "$count" "$@" >/dev/null || die "requests of class $name failed"
    callgrind_control --dump="$name" "$vg_pid" >/dev/null 2>&1
    callgrind_control -i off "$vg_pid" >/dev/null 2>&1
    local file
    # Each dump writes cg.out.<n>; the previous ones were moved away already.
    file="$(ls -t "$tmp"/cg.out.* 2>/dev/null | head -n 1 || true)"
    [[ -n "$file" ]] || die "no callgrind dump for $name"
    mv "$file" "$out/callgrind.$name.out"
    local total
    total="$(awk '/^summary:/ { print $2 }' "$out/callgrind.$name.out")"
    callgrind_annotate --threshold=99 "$out/callgrind.$name.out" >"$out/annotate.$name.txt" 2>/dev/null || true
    callgrind_annotate --inclusive=yes --threshold=99 "$out/callgrind.$name.out" \
        >"$out/annotate-inclusive.$name.txt" 2>/dev/null || true
    printf '%-16s %8d %14d %12.0f\n' "$name" "$count" "$total" "$(awk -v t="$total" -v n="$count" 'BEGIN { print t / n }')"
    { echo "== $name"; python3 "$tmp/summary.py" "$out/callgrind.$name.out" "$count"; } >>"$out/summary.txt"
}

start_vg() {
    (cd "$tmp" && exec valgrind --tool=callgrind --instr-atstart=no --demangle=no \
        --callgrind-out-file="$tmp/cg.out" "$@" </dev/null >"$tmp/vg.out" 2>"$tmp/vg.log") &
    vg_pid=$!
}

printf '%-16s %8s %14s %12s\n' class requests instructions "per request"
: >"$out/summary.txt"

# --- the ceiling ------------------------------------------------------------------------
start_vg "$ceiling_bin" "127.0.0.1:$port"
client 1 GET / >/dev/null || die "the ceiling did not answer"
profile ceiling "$requests" GET /
stop_vg

# --- shipstar ---------------------------------------------------------------------------
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^SHIPSTAR_' || true)
email="profile@example.com"
password="profile-$RANDOM$RANDOM-password"
export SHIPSTAR_ADMIN_EMAIL="$email" SHIPSTAR_ADMIN_PASSWORD="$password"
for class in LOGIN_PER_MINUTE LOGIN_EMAIL_PER_MINUTE AUTH_PER_MINUTE PUBLIC_PER_MINUTE REFRESH_PER_MINUTE; do
    export "SHIPSTAR_RATE_LIMIT_$class=0"
done
start_vg "$binary" serve --listen "127.0.0.1:$port" --database "$tmp/profile.db"
form="username=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$email")&password=$password"
login_json="$(client 1 POST /api/internal/auth/jwt/login \
    "Content-Type=application/x-www-form-urlencoded" --body "$form")" || die "login failed"
jwt="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["access_token"])' "$login_json")"
api_key="$("$binary" --database "$tmp/profile.db" key create --project default --user "$email" \
    --name profile 2>/dev/null)" || die "key create failed"
PYTHONPATH="$root/benches" python3 - "$base" "$jwt" <<'PY' || die "seeding content failed"
import json, sys
from api import Api, CHANGELOG_ENTRIES
api = Api(sys.argv[1], sys.argv[2], timeout=120)
project = api.first_project()
items = [("changelog", 0, json.dumps({"title": "Changelog 0", "entries": CHANGELOG_ENTRIES}))]
items += [("blog", i, "# Blog %d\n\nA paragraph of a post, long enough to look like one. " % i * 3)
          for i in range(20)]
for kind, i, text in items:
    api.publish(project, kind, "%s %d" % (kind, i), text, "%s-%d" % (kind, i))
PY
profile health "$requests" GET /api/v1/health
profile api_key_me "$requests" GET /api/v1/me "Authorization=Bearer $api_key"
profile users_me "$requests" GET /api/internal/users/me "Authorization=Bearer $jwt"
profile changelog_slug "$requests" GET /api/v1/changelog/changelog-0
profile blogs "$((requests / 4))" GET /api/v1/blogs
profile login 5 POST /api/internal/auth/jwt/login \
    "Content-Type=application/x-www-form-urlencoded" --body "$form"
stop_vg
echo
cat "$out/summary.txt"
echo "== callgrind files, callgrind_annotate reports and summary.txt in $out" >&2
