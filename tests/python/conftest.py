"""A pytest fixture that runs shipstar for the test session on a throwaway database.

`shipstar serve --ephemeral --seed FILE` starts on a fresh temporary database and a free
loopback port, writes the seed, and prints one JSON line on stdout once it is ready:
{"url": ..., "database": ..., "pid": ...}. Stopping it (SIGTERM) deletes the database.

The binary is `shipstar` on PATH, or the path in $SHIPSTAR.
"""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parent.parent / "examples" / "seed.toml"
# The seeded key and users (tests/examples/seed.toml).
KEY = "sk_live_cel5QZx0BEZZN6iZPbyXEK75YjPdINSK25FDmg"
USER = ("dev@example.com", "dev-password-for-tests")


@pytest.fixture(scope="session")
def shipstar():
    """The running server: a dict with `url`, `database` and `pid`."""
    process = subprocess.Popen(
        [os.environ.get("SHIPSTAR", "shipstar"), "serve", "--ephemeral", "--seed", str(SEED)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()  # blocks until ready; "" if it exited instead
        if not line:
            raise RuntimeError(f"shipstar exited with {process.wait()} before it was ready")
        server = json.loads(line)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    assert process.returncode == 0
    assert not os.path.exists(server["database"]), "the ephemeral database outlived the server"
