-- wrk script: each connection pauses BENCH_PACE_MS milliseconds (default 10) before each
-- request, for a low, steady rate beside another load (benches/run.sh uses it for users/me
-- while logins saturate the hashing threads).
local pause = tonumber(os.getenv("BENCH_PACE_MS") or "10")

function delay()
   return pause
end

-- The shared done() that prints the summary line.
local dir = os.getenv("BENCH_LUA_DIR") or "benches"
dofile(dir .. "/report.lua")
