-- wrk script: POST /api/internal/auth/jwt/login with a form body, once per request.
-- The credentials come from BENCH_EMAIL and BENCH_PASSWORD (set by benches/run.sh).
--   BENCH_EMAIL=a@example.com BENCH_PASSWORD=secret12 \
--     wrk -t2 -c4 -d10s --latency -s benches/login.lua http://127.0.0.1:8080

local function urlencode(s)
   return (s:gsub("[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

local email = os.getenv("BENCH_EMAIL") or "bench@example.com"
local password = os.getenv("BENCH_PASSWORD") or "bench-password"

wrk.method = "POST"
wrk.path = "/api/internal/auth/jwt/login"
wrk.body = "username=" .. urlencode(email) .. "&password=" .. urlencode(password)
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

-- The shared done() that prints the summary line.
local dir = os.getenv("BENCH_LUA_DIR") or "benches"
dofile(dir .. "/report.lua")
