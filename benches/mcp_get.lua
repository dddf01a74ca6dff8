-- wrk script: GET /api/v1/changelogs?limit=20 with the same API key (benches/mcp.sh).
local key = os.getenv("SHIPSTAR_BENCH_KEY")
wrk.headers["Authorization"] = "Bearer " .. key

-- The shared done() that prints the summary line.
local dir = os.getenv("BENCH_LUA_DIR") or "benches"
dofile(dir .. "/report.lua")
