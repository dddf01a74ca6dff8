"""The shipstar API client the bench scripts seed their data with.

JSON calls with the caller's session token over one keep-alive connection; any answer but
200 or 201 ends the script with the method, path, status and the start of the body.
"""
import http.client
import json
import sys
import urllib.parse

# The entries of a seeded changelog: one of each common category.
CHANGELOG_ENTRIES = [
    {"category": c, "title": "%s item %d" % (c, n), "description": "Details of the change."}
    for n, c in enumerate(["Added", "Changed", "Fixed", "Fixed", "Security"])
]


class Api:
    def __init__(self, base, jwt, timeout=10):
        url = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
        self.headers = {"Authorization": "Bearer " + jwt, "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        self.conn.request(method, path, body=None if body is None else json.dumps(body),
                          headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status not in (200, 201):
            sys.exit("%s %s: HTTP %d %s" % (method, path, response.status, data[:200]))
        return json.loads(data)

    def first_project(self):
        """The id of the first project the caller sees (the bootstrap's "default")."""
        return self.call("GET", "/api/internal/projects")[0]["id"]

    def publish(self, project, kind, title, text, slug):
        """Creates a content item in `project` and publishes it under `slug`."""
        item = self.call("POST", "/api/internal/projects/%s/content" % project,
                         {"type": kind, "title": title, "content": text})
        self.call("POST", "/api/internal/content/%s/publish" % item["id"], {"slug": slug})
