"""Drives every shipstar MCP tool with the official MCP Python SDK (`mcp` on PyPI).

Run by tests/integration/mcp.rs against the running binary; it can also be run alone:

    SHIPSTAR_MCP_URL=http://127.0.0.1:8080/mcp SHIPSTAR_MCP_KEY=sk_live_... \
        python3 tests/mcp/sdk_client.py

The key must belong to a project whose content may be changed: the script creates, edits,
publishes and unpublishes items (their titles and slugs end in a random suffix). It connects
twice: once as the SDK's default client does (mode "auto": `server/discover`, then the
stateless revision) and once with the `initialize` handshake (mode "legacy"), and calls all
eleven tools each time. Any unexpected answer fails with a message; success prints one line
per connection naming the negotiated protocol revision.
"""

import asyncio
import json
import os
import sys
import uuid

import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

URL = os.environ["SHIPSTAR_MCP_URL"]
KEY = os.environ["SHIPSTAR_MCP_KEY"]

READ_TOOLS = {
    "list_changelogs",
    "get_changelog",
    "list_blog_posts",
    "get_blog_post",
    "list_kb_article_sets",
    "get_kb_article_set",
    "list_drafts",
}
WRITE_TOOLS = {"create_content", "update_content", "publish_content", "unpublish_content"}


def check(condition, message):
    if not condition:
        raise AssertionError(message)


async def call(client, name, arguments, *, error=False):
    """Calls a tool; returns its structured result (or its error text when `error`)."""
    result = await client.call_tool(name, arguments)
    text = result.content[0].text if result.content else ""
    if error:
        check(result.is_error, f"{name}({arguments}) should fail but answered {text}")
        return text
    check(not result.is_error, f"{name}({arguments}) failed: {text}")
    check(result.structured_content is not None, f"{name}: no structuredContent")
    check(json.loads(text) == result.structured_content, f"{name}: text and structure differ")
    return result.structured_content


async def exercise(mode):
    suffix = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(URL, http_client=http), mode=mode) as client:
            tools = (await client.list_tools()).tools
            names = {tool.name for tool in tools}
            check(names == READ_TOOLS | WRITE_TOOLS, f"tools: {sorted(names)}")
            for tool in tools:
                read_only = tool.annotations is not None and tool.annotations.read_only_hint
                check(read_only == (tool.name in READ_TOOLS), f"{tool.name}: readOnlyHint")
                check(tool.input_schema.get("type") == "object", f"{tool.name}: inputSchema")
                check(tool.output_schema is not None, f"{tool.name}: outputSchema")

            entries = {"title": "March", "entries": [
                {"category": "Added", "title": "MCP tools", "description": "For assistants"}]}
            changelog = await call(client, "create_content", {
                "type": "changelog", "title": f"March {suffix}", "content": json.dumps(entries),
                "period_start": "2025-03-01T00:00:00Z", "period_end": "2025-03-31T00:00:00Z"})
            check(changelog["is_published"] is False, "a new item is a draft")
            problem = await call(client, "create_content",
                                 {"type": "blog", "title": "Blank", "content": "  "}, error=True)
            check("content" in problem, f"invalid content names the field: {problem}")
            drafts = await call(client, "list_drafts", {"type": "changelog", "limit": 100})
            check(changelog["id"] in {item["id"] for item in drafts["items"]}, "draft listed")
            updated = await call(client, "update_content",
                                 {"id": changelog["id"], "title": f"March, final {suffix}"})
            check(updated["title"] == f"March, final {suffix}", "title changed")
            slug = f"march-{suffix}"
            published = await call(client, "publish_content", {"id": changelog["id"], "slug": slug})
            check(published["is_published"] and published["public_slug"] == slug, "published")

            listed = await call(client, "list_changelogs", {"limit": 100})
            check(slug in {item["slug"] for item in listed["items"]}, "listed after publishing")
            check(listed["total"] >= 1, "total counts it")
            one = await call(client, "get_changelog", {"slug": slug})
            check(one["title"] == f"March, final {suffix}", "read by slug")

            other = await call(client, "create_content", {
                "type": "changelog", "title": f"Other {suffix}", "content": json.dumps(entries)})
            taken = await call(client, "publish_content", {"id": other["id"], "slug": slug},
                               error=True)
            check("taken" in taken.lower() or "exists" in taken.lower() or slug in taken,
                  f"slug taken: {taken}")

            post = await call(client, "create_content", {
                "type": "blog", "title": f"Hello {suffix}", "content": "# Hello\n\nFirst post."})
            post = await call(client, "publish_content", {"id": post["id"]})
            posts = await call(client, "list_blog_posts", {})
            check(post["public_slug"] in {item["slug"] for item in posts["items"]}, "post listed")
            read = await call(client, "get_blog_post", {"slug": post["public_slug"]})
            check(read["content"] == "# Hello\n\nFirst post.", "post content verbatim")

            articles = {"articles": [{"category": "Start", "title": "Install", "body": "Run."}]}
            kb = await call(client, "create_content", {
                "type": "kb", "title": f"Guide {suffix}", "content": json.dumps(articles)})
            kb = await call(client, "publish_content", {"id": kb["id"], "slug": f"guide-{suffix}"})
            sets = await call(client, "list_kb_article_sets", {"offset": 0})
            check(f"guide-{suffix}" in {item["slug"] for item in sets["items"]}, "KB set listed")
            kb_read = await call(client, "get_kb_article_set", {"slug": f"guide-{suffix}"})
            check("period_start" not in kb_read, "KB sets have no period")

            withdrawn = await call(client, "unpublish_content", {"id": changelog["id"]})
            check(withdrawn["is_published"] is False, "unpublished")
            gone = await call(client, "get_changelog", {"slug": slug}, error=True)
            check(gone == "Changelog not found", f"unpublished is not found: {gone}")
            bad = await call(client, "list_changelogs", {"limit": 0}, error=True)
            check("limit" in bad, f"schema failure names the argument: {bad}")
            try:
                await client.call_tool("no_such_tool", {})
            except MCPError as err:
                check(err.error.code == -32602, f"unknown tool code {err.error.code}")
            else:
                raise AssertionError("an unknown tool must be a -32602 error")
            return client.protocol_version


async def main():
    for mode in ("auto", "legacy"):
        version = await exercise(mode)
        print(f"mode={mode} protocol={version} tools=11 ok", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as err:  # noqa: BLE001 - every failure is reported the same way
        print(f"FAILED: {type(err).__name__}: {err}", file=sys.stderr)
        raise
