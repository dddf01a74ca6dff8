-- wrk script: POST /api/internal/auth/jwt/refresh in a chain, each request presenting the
-- token the previous answer returned (refresh rotates: the presented token stops working).
-- Each connection needs a session of its own, and wrk's hooks cannot tell connections of one
-- thread apart, so run it with one connection per thread (-t N -c N) and N tokens, one per
-- session, space-separated in BENCH_REFRESH_TOKENS (benches/postgres.sh logs in N times).
--   BENCH_REFRESH_TOKENS="$t1 $t2" wrk -t2 -c2 -d5s --latency -s benches/refresh.lua \
--     http://127.0.0.1:8080/api/internal/auth/jwt/refresh

local tokens = {}
for token in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS") or "", "%S+") do
   tokens[#tokens + 1] = token
end
local handed = 0

-- Runs once per thread, in the main state: hands each thread a session of its own.
function setup(thread)
   handed = handed + 1
   if tokens[handed] == nil then
      error("BENCH_REFRESH_TOKENS holds fewer tokens than wrk has threads")
   end
   thread:set("token", tokens[handed])
end

function request()
   return wrk.format("POST", nil, { ["Authorization"] = "Bearer " .. token }, "")
end

-- The next request presents the token this answer carries; a failed refresh keeps the old
-- one, so the run ends with status errors rather than silently measuring 401s.
function response(status, headers, body)
   if status == 200 then
      local next_token = string.match(body, '"access_token"%s*:%s*"([^"]+)"')
      if next_token then
         token = next_token
      end
   end
end

-- The shared done() that prints the summary line.
local dir = os.getenv("BENCH_LUA_DIR") or "benches"
dofile(dir .. "/report.lua")
