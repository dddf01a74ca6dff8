"""Schemathesis hooks for shipstar's OpenAPI check (run by tests/integration/openapi.rs).

The run authenticates once: the `jwt` scheme's token is a session of the bootstrap
administrator, the `apiKey` scheme's token a key of the `default` project. A fuzzer free to call
every route would soon lock itself out: a refresh rotates that token away, logout and
revoke-all end sessions, and a superuser may deactivate itself, or deactivate, roll or delete
the key. The run would then go on, but every later answer would be a 401 and prove little.

Instead of leaving those routes out, these hooks keep them in and make them harmless:

* refresh, logout, revoke-all and revoking one session are sent, whenever the run's own token
  was about to be used, with a fresh session of a separate "spare" user signed in for that
  call alone: they can succeed (200/204) and their answers are checked like any other. Every
  other revocation of one session names a second live session of the spare user instead of
  the generated id, so both its answers (204 and 404) are exercised;
* a path that names a protected id (the administrator, the spare user, the run's key) is sent
  with a fresh random UUID there instead: the call still happens and must answer 404;
* a leak report (POST /api/v1/keys/report-leak, no credential) that names the run's own key
  reports a made-up, well-formed-looking token instead: the report is still sent and
  answered, but cannot switch the run's key off.

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
RUN_KEY = os.environ["SHIPSTAR_FUZZ_KEY"]
PROTECTED_IDS = {value for value in os.environ["SHIPSTAR_FUZZ_PROTECTED_IDS"].split(",") if value}

# Operations that end or rotate the session that makes them.
SESSION_ENDING = {
    ("POST", "/api/internal/auth/jwt/refresh"),
    ("POST", "/api/internal/auth/jwt/logout"),
    ("POST", "/api/internal/auth/sessions/revoke-all"),
    ("DELETE", "/api/internal/auth/sessions/{id}"),
}

# Path parameters that may name a user or key the run depends on. Team members (`user_id`) are
# left alone: the administrator is a superuser, who acts as an owner of every team anyway.
ID_PARAMETERS = ("id", "key_id")


REVOKE_ONE = ("DELETE", "/api/internal/auth/sessions/{id}")
REPORT_LEAK = ("POST", "/api/v1/keys/report-leak")
revocations = 0


def call(method, path, data=None, headers=None):
    request = urllib.request.Request(BASE_URL + path, data=data, headers=headers or {}, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def spare_session_token():
    """Signs the spare user in and returns the new session's token."""
    form = urllib.parse.urlencode({"username": SPARE_EMAIL, "password": SPARE_PASSWORD}).encode()
    content_type = {"Content-Type": "application/x-www-form-urlencoded"}
    return call("POST", "/api/internal/auth/jwt/login", form, content_type)["access_token"]


def other_spare_session(token):
    """Signs the spare user in once more and returns the id of that session."""
    spare_session_token()
    sessions = call("GET", "/api/internal/auth/sessions", headers={"Authorization": "Bearer " + token})
    return next(session["id"] for session in sessions if not session["current"])


def is_uuid(value):
    try:
        return str(uuid.UUID(value)) == value
    except (TypeError, ValueError, AttributeError):
        return False


@schemathesis.hook
def before_call(context, case, kwargs):
    global revocations
    operation = (case.method.upper(), case.path)
    # Only the run's own credential is swapped: cases that test a missing or broken credential
    # keep theirs.
    if operation in SESSION_ENDING and case.headers and case.headers.get("Authorization") == RUN_AUTHORIZATION:
        token = spare_session_token()
        case.headers["Authorization"] = "Bearer " + token
        # Only well-formed ids are replaced, so cases about malformed ids stay what they are.
        if operation == REVOKE_ONE and is_uuid(case.path_parameters.get("id")):
            revocations += 1
            if revocations % 2 == 0:
                case.path_parameters["id"] = other_spare_session(token)
    if operation == REPORT_LEAK and isinstance(case.body, list):
        for item in case.body:
            if isinstance(item, dict) and item.get("token") == RUN_KEY:
                item["token"] = "sk_live_" + uuid.uuid4().hex[:32] + "000000"
    for name in ID_PARAMETERS:
        if case.path_parameters.get(name) in PROTECTED_IDS:
            case.path_parameters[name] = str(uuid.uuid4())
