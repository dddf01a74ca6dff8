-- wrk script: one MCP tools/call of list_changelogs per request (benches/mcp.sh).
-- The key comes from the environment so it is never written to disk.
local key = os.getenv("SHIPSTAR_BENCH_KEY")
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    .. '"params":{"name":"list_changelogs","arguments":{"limit":20}}}'

-- The shared done() that prints the summary line.
local dir = os.getenv("BENCH_LUA_DIR") or "benches"
dofile(dir .. "/report.lua")
