"""Schemathesis hooks for shipstar's OpenAPI check (run by tests/integration/openapi.rs).

The run authenticates once: the `jwt` scheme's token is a session of the bootstrap
administrator, the `apiKey` scheme's token a key of the `default` project. A fuzzer free to call
every route would soon lock itself out: a refresh rotates that token away, logout and
revoke-all end sessions, and a superuser may deactivate itself, or deactivate, roll or delete
the key. The run would then go on, but every later answer would be a 401 and prove little.

Instead of leaving those routes out, these hooks keep them in and make them harmless:

* refresh, logout, revoke-all and revoking one session are sent, whenever the run's own token
  was about to be used, with a fresh session of a separate "spare" user signed in for that
  call alone: they can succeed (200/204) and their answers are checked like any other;
* a path that names a protected id (the administrator, the spare user, the run's key) is sent
  with a fresh random UUID there instead: the call still happens and must answer 404.

Configuration comes from the environment (see schemathesis.toml beside this file):
SHIPSTAR_FUZZ_BASE_URL, SHIPSTAR_FUZZ_JWT, SHIPSTAR_FUZZ_SPARE_EMAIL,
SHIPSTAR_FUZZ_SPARE_PASSWORD and SHIPSTAR_FUZZ_PROTECTED_IDS (comma-separated).
"""

import json
import os
import urllib.parse
import urllib.request
import uuid

import schemathesis

BASE_URL = os.environ["SHIPSTAR_FUZZ_BASE_URL"].rstrip("/")
RUN_AUTHORIZATION = "Bearer " + os.environ["SHIPSTAR_FUZZ_JWT"]
SPARE_EMAIL = os.environ["SHIPSTAR_FUZZ_SPARE_EMAIL"]
SPARE_PASSWORD = os.environ["SHIPSTAR_FUZZ_SPARE_PASSWORD"]
PROTECTED_IDS = {value for value in os.environ["SHIPSTAR_FUZZ_PROTECTED_IDS"].split(",") if value}

# Operations that end or rotate the session that makes them.
SESSION_ENDING = {
    ("POST", "/api/internal/auth/jwt/refresh"),
    ("POST", "/api/internal/auth/jwt/logout"),
    ("POST", "/api/internal/auth/sessions/revoke-all"),
    ("DELETE", "/api/internal/auth/sessions/{id}"),
}

# Path parameters that may name a user or key the run depends on.
ID_PARAMETERS = ("id", "user_id", "key_id")


def spare_session_token():
    """Signs the spare user in and returns the new session's token."""
    form = urllib.parse.urlencode({"username": SPARE_EMAIL, "password": SPARE_PASSWORD}).encode()
    request = urllib.request.Request(
        BASE_URL + "/api/internal/auth/jwt/login",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


@schemathesis.hook
def before_call(context, case, kwargs):
    if (case.method.upper(), case.path) in SESSION_ENDING and case.headers is not None:
        # Only the run's own credential is swapped: cases that test a missing or broken
        # credential keep theirs.
        if case.headers.get("Authorization") == RUN_AUTHORIZATION:
            case.headers["Authorization"] = "Bearer " + spare_session_token()
    for name in ID_PARAMETERS:
        if case.path_parameters.get(name) in PROTECTED_IDS:
            case.path_parameters[name] = str(uuid.uuid4())
