-- wrk script for benches/load.sh: each connection cycles through a mix of requests, the way
-- a dashboard, API clients and anonymous readers hit one server together:
--   GET /api/internal/users/me   with a session JWT      (BENCH_JWT)
--   GET /api/v1/me               with a project API key  (BENCH_API_KEY)
--   GET /api/v1/health           no credential
--   GET /api/v1/changelogs       no credential (public content)
-- done() prints one summary line that load.sh parses; non-2xx answers are counted exactly
-- (wrk's own status error count only covers 400 and up).

local jwt = os.getenv("BENCH_JWT") or ""
local key = os.getenv("BENCH_API_KEY") or ""

local requests = {}

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   non2xx = 0
   next_request = 0
   -- Built here, not when the script loads: only now does wrk know the host, and an HTTP/1.1
   -- request without Host is refused (400), as RFC 9112 section 3.2 asks.
   requests = {
      wrk.format("GET", "/api/internal/users/me", { ["Authorization"] = "Bearer " .. jwt }),
      wrk.format("GET", "/api/v1/me", { ["Authorization"] = "Bearer " .. key }),
      wrk.format("GET", "/api/v1/health"),
      wrk.format("GET", "/api/v1/changelogs"),
   }
end

function request()
   next_request = next_request % #requests + 1
   return requests[next_request]
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("non2xx")
   end
   local e = summary.errors
   io.write(string.format(
      "LOAD requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d "
         .. "connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99), latency.max, bad,
      e.connect, e.read, e.write, e.timeout))
end
