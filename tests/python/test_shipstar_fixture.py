"""Tests that use the `shipstar` fixture of conftest.py, as a project's own API tests would."""

import json
import urllib.error
import urllib.parse
import urllib.request

from conftest import KEY, USER


def get(url, token=None):
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_seeded_key_acts_as_its_user(shipstar):
    status, me = get(f"{shipstar['url']}/api/v1/me", KEY)
    assert status == 200
    assert me["email"] == "dev@example.com"


def test_a_seeded_user_signs_in(shipstar):
    form = urllib.parse.urlencode({"username": USER[0], "password": USER[1]}).encode()
    url = f"{shipstar['url']}/api/internal/auth/jwt/login"
    with urllib.request.urlopen(url, data=form, timeout=10) as response:
        token = json.load(response)["access_token"]
    status, me = get(f"{shipstar['url']}/api/internal/users/me", token)
    assert status == 200
    assert me["first_name"] == "Dev"


def test_published_content_is_public_and_drafts_are_not(shipstar):
    status, item = get(f"{shipstar['url']}/api/v1/changelog/release-1-0")
    assert status == 200
    assert item["title"] == "Release 1.0"
    status, _ = get(f"{shipstar['url']}/api/v1/blog/coming-soon")
    assert status == 404
