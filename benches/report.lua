-- wrk script: prints one machine-readable summary line after the run, which
-- benches/run.sh parses. Used as is for the GET scenarios, and loaded by login.lua.
-- It defines no request()/response() hook, so wrk keeps its fast path.
--
-- wrk counts a response with a status of 400 or more as a status error; run.sh
-- checks each scenario's request once with curl (must be 2xx) before loading it.

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d "
         .. "status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end
