#!/usr/bin/env python3
"""Startup to ready, measured: a cold start on a fresh database file (no seed, default
Argon2id cost) beside `serve --ephemeral --seed` with 10 users, 10 API keys and 10 items.

    python3 benches/startup.py SHIPSTAR_BINARY [--runs N]

Each run spawns the binary, reads the ready line from its stdout (the clock stops there),
then polls /api/v1/health until 200 (a second clock), and stops it with SIGTERM. Bounded:
N runs per case (default 20, at most 200), 10 s per start. Prints the median and the
slowest of each case. Stdlib only.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def api_key(n):
    """A well-formed key (sk_live_ + 32 base62 + 6 base62 of the CRC32), as the server makes."""
    body = "sk_live_" + "".join(BASE62[(n * 7 + i * 13) % 62] for i in range(32))
    crc, digits = zlib.crc32(body.encode()), ""
    for _ in range(6):
        crc, digit = divmod(crc, 62)
        digits = BASE62[digit] + digits
    return body + digits


def seed_document():
    users = [{"email": f"user{i}@example.com", "password": f"password-{i:04d}"} for i in range(10)]
    return {
        "users": users,
        "teams": [{"name": "Bench", "slug": "bench", "owner": "user0@example.com"}],
        "members": [
            {"team": "bench", "email": f"user{i}@example.com", "role": "member"} for i in range(1, 10)
        ],
        "projects": [{"team": "bench", "name": "Bench", "slug": "bench"}],
        "api_keys": [
            {"project": "bench", "user": f"user{i}@example.com", "name": f"key {i}", "key": api_key(i)}
            for i in range(10)
        ],
        "content": [
            {"project": "bench", "type": "blog", "title": f"Post {i}", "content": "Hello.", "published": i % 2 == 0}
            for i in range(10)
        ],
    }


def one_start(binary, args, env):
    """Seconds from spawn to the ready line, and to the first 200 from health."""
    start = time.perf_counter()
    process = subprocess.Popen([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        line = process.stdout.readline()
        ready = time.perf_counter() - start
        if not line:
            raise RuntimeError(f"{binary} {' '.join(args)} exited with {process.wait()} before it was ready")
        url = json.loads(line)["url"]
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v1/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - start > 10:
                raise RuntimeError("no 200 from health within 10 s")
            time.sleep(0.0005)
        healthy = time.perf_counter() - start
        return ready, healthy
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    runs = 20
    if "--runs" in sys.argv:
        runs = max(1, min(200, int(sys.argv[sys.argv.index("--runs") + 1])))
    with tempfile.TemporaryDirectory(prefix="shipstar-startup-") as tmp:
        env = {"PATH": os.environ.get("PATH", ""), "TMPDIR": tmp}
        seed = os.path.join(tmp, "seed.json")
        with open(seed, "w") as f:
            json.dump(seed_document(), f)
        cases = {
            "cold start, fresh database file, no seed": lambda i: [
                "serve", "--listen", "127.0.0.1:0", "--database", os.path.join(tmp, f"cold-{i}.db")],
            "--ephemeral --seed (10 users, 10 keys, 10 items)": lambda i: [
                "serve", "--ephemeral", "--seed", seed],
        }
        print(f"{runs} runs per case; milliseconds from spawn")
        print(f"{'case':<52} {'ready line median':>18} {'max':>7} {'health 200 median':>18} {'max':>7}")
        for name, args in cases.items():
            ready, healthy = [], []
            for i in range(runs):
                r, h = one_start(binary, args(i), env)
                ready.append(r * 1000)
                healthy.append(h * 1000)
            print(f"{name:<52} {statistics.median(ready):>18.1f} {max(ready):>7.1f} "
                  f"{statistics.median(healthy):>18.1f} {max(healthy):>7.1f}")
        left = [name for name in os.listdir(tmp) if name.startswith("shipstar-ephemeral-")]
        if left:
            sys.exit(f"ephemeral directories left behind: {left}")


if __name__ == "__main__":
    main()
