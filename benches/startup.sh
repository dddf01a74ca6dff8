#!/usr/bin/env bash
# Startup to ready: a cold start beside `serve --ephemeral --seed` with 10 users, 10 keys and
# 10 items (docs/BENCHMARKS.md, "Startup in test suites"). Builds the release binary first.
#
#   bash benches/startup.sh [--runs N] [--server PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=20
server=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) runs="$2"; shift ;;
        --server) server="$2"; shift ;;
        *) echo "usage: bash benches/startup.sh [--runs N] [--server PATH]" >&2; exit 2 ;;
    esac
    shift
done
if [[ -z "$server" ]]; then
    cargo build --release --quiet
    server=target/x86_64-unknown-linux-gnu/release/shipstar
    [[ -x "$server" ]] || server=target/release/shipstar
fi
python3 benches/startup.py "$server" --runs "$runs"
