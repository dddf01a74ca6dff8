"""A flood of one expensive public route, and how the cheap routes fare meanwhile.

    python3 benches/flood.py BASE_URL SERVER_PID JWT [options]

Seeds 50 published blog posts of --post-bytes bytes each (text that HTML and XML escaping
make longer, as Markdown full of code tends to be), reads the blog feed once for its size,
then for --duration seconds:

  * --clients connections request /api/v1/blogs/feed back to back on keep-alive, each
    reading every answer whole (whatever its status) and asking again at once;
  * --stalled connections send one feed request each and never read the answer;
  * a separate process probes GET /api/v1/health and GET /api/internal/users/me (with the
    session token) in turn, one at a time on its own keep-alive connection, every 20 ms, and
    records how long each full answer took.

Meanwhile the server's resident memory is sampled every 100 ms; above --rss-cap-mib the run
stops early (the machine is shared: a run must not take it down) and says so.

Prints one line: FLOOD key=value ... with the feed size, the flood's answers by status, the
probes' p50/p99/max in ms and their failures, and the server's peak RSS (VmHWM). Only
loopback addresses are accepted; every loop ends by itself at the deadline.
"""
import argparse
import multiprocessing
import socket
import sys
import threading
import time
import urllib.parse

from api import Api

FEED = "/api/v1/blogs/feed"
POSTS = 50


def post_text(size):
    """Markdown-like text of exactly `size` ASCII bytes, heavy in characters to escape."""
    paragraph = ("Fixed `if a < b && c > d` in the \"parser\"; see <https://example.com/"
                 "?q=1&r=2> & the 'notes'.\n\n")
    text = paragraph * (size // len(paragraph) + 1)
    return text[:size]


def connect(url, timeout):
    return socket.create_connection((url.hostname, url.port), timeout=timeout)


def request_bytes(url, path, headers=()):
    lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (url.hostname, url.port)]
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(sock, buf, pending):
    """Reads one whole answer; returns (status, body length, leftover bytes)."""
    data = pending
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the header section ended")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if len(rest) >= length:
        return status, length, rest[length:]
    left = length - len(rest)
    view = memoryview(buf)
    while left > 0:
        got = sock.recv_into(view[: min(left, len(buf))])
        if got == 0:
            raise ConnectionError("closed in the middle of a body")
        left -= got
    return status, length, b""


def flood_client(url, path, deadline, counts, lock):
    """Asks for `path` back to back until the deadline, reading every answer whole."""
    buf = bytearray(1 << 20)
    request = request_bytes(url, path)
    sock, pending = None, b""
    while time.monotonic() < deadline:
        try:
            if sock is None:
                sock, pending = connect(url, 30), b""
            sock.sendall(request)
            status, _, pending = read_answer(sock, buf, pending)
            key = str(status)
        except (OSError, ValueError, IndexError) as err:
            key = "error:" + type(err).__name__
            if sock is not None:
                sock.close()
            sock = None
        with lock:
            counts[key] = counts.get(key, 0) + 1
    if sock is not None:
        sock.close()


def stalled_client(url, path, stop):
    """Sends one request for `path` and never reads the answer, until told to stop."""
    try:
        sock = connect(url, 30)
        sock.sendall(request_bytes(url, path))
    except OSError:
        return
    stop.wait()
    sock.close()


def prober(base, jwt, duration, out):
    """Probes health and an authenticated read in turn; sends the timings back via `out`."""
    url = urllib.parse.urlparse(base)
    buf = bytearray(1 << 16)
    requests = [
        ("health", request_bytes(url, "/api/v1/health")),
        ("auth", request_bytes(url, "/api/internal/users/me", ["Authorization: Bearer " + jwt])),
    ]
    timings = {"health": [], "auth": []}
    failures = {"health": 0, "auth": 0}
    deadline = time.monotonic() + duration
    sock, pending, turn = None, b"", 0
    while time.monotonic() < deadline:
        name, request = requests[turn % 2]
        turn += 1
        started = time.monotonic()
        try:
            if sock is None:
                sock, pending = connect(url, 60), b""
            sock.sendall(request)
            status, _, pending = read_answer(sock, buf, pending)
            if status == 200:
                timings[name].append((time.monotonic() - started) * 1000)
            else:
                failures[name] += 1
        except (OSError, ValueError, IndexError):
            failures[name] += 1
            if sock is not None:
                sock.close()
            sock = None
        time.sleep(0.02)
    out.send((timings, failures))


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def status_kib(pid, field):
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("pid", type=int)
    parser.add_argument("jwt")
    parser.add_argument("--path", default=FEED, help="the route to flood (default: the blog feed)")
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--stalled", type=int, default=6)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--post-bytes", type=int, default=200_000)
    parser.add_argument("--rss-cap-mib", type=int, default=3072)
    args = parser.parse_args()
    url = urllib.parse.urlparse(args.base)
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("flood.py only targets loopback addresses")
    if not (1 <= args.clients <= 256 and 0 <= args.stalled <= 64 and 0 < args.duration <= 120):
        sys.exit("clients 1..256, stalled 0..64, duration up to 120 s")

    api = Api(args.base, args.jwt, timeout=60)
    project = api.first_project()
    text = post_text(args.post_bytes)
    for n in range(POSTS):
        api.publish(project, "blog", "Post %d" % n, text, "post-%d" % n)

    sock = connect(url, 120)
    sock.sendall(request_bytes(url, args.path))
    started = time.monotonic()
    status, feed_bytes, _ = read_answer(sock, bytearray(1 << 20), b"")
    feed_ms = (time.monotonic() - started) * 1000
    sock.close()
    if status != 200:
        sys.exit("%s answered %d before the flood" % (args.path, status))

    receive, send = multiprocessing.Pipe(duplex=False)
    probe = multiprocessing.Process(target=prober,
                                    args=(args.base, args.jwt, args.duration, send))
    probe.start()
    deadline = time.monotonic() + args.duration
    counts, lock, stop = {}, threading.Lock(), threading.Event()
    threads = [threading.Thread(target=stalled_client, args=(url, args.path, stop), daemon=True)
               for _ in range(args.stalled)]
    threads += [threading.Thread(target=flood_client, args=(url, args.path, deadline, counts, lock),
                                 daemon=True)
                for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    capped = False
    while time.monotonic() < deadline:
        if status_kib(args.pid, "VmRSS") > args.rss_cap_mib * 1024:
            capped = True
            break
        time.sleep(0.1)
    peak_kib = status_kib(args.pid, "VmHWM")
    if capped:
        # Over the cap: the caller stops the server; the clients then fail and end.
        print("FLOOD capped=1 rss_cap_mib=%d" % args.rss_cap_mib, flush=True)
        probe.terminate()
        return 3
    stop.set()
    timings, failures = receive.recv()
    probe.join()
    for thread in threads:
        thread.join(timeout=60)
    fields = {
        "feed_bytes": feed_bytes,
        "feed_ms": "%.0f" % feed_ms,
        "flood": ",".join("%s:%d" % kv for kv in sorted(counts.items())) or "none",
        "peak_rss_mib": "%.0f" % (peak_kib / 1024),
    }
    for name in ("health", "auth"):
        values = timings[name]
        fields[name + "_n"] = len(values)
        fields[name + "_failed"] = failures[name]
        for label, p in (("p50", 50), ("p99", 99)):
            fields["%s_%s_ms" % (name, label)] = "%.1f" % percentile(values, p)
        fields[name + "_max_ms"] = "%.1f" % (max(values) if values else float("nan"))
    print("FLOOD " + " ".join("%s=%s" % kv for kv in fields.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
