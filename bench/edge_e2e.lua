-- wrk script for bench/edge_e2e.sh: POST /v1/cases with Prefer: wait, a new customer per request
-- (so per-customer limits and the fraud reviewer's repeat window behave as in production).
local threads = {}
setup = function(thread) table.insert(threads, thread) end

counter = 0
bad = 0
local token = os.getenv("EDGE_TOKEN") or "bench-token-not-for-production"
local rep = os.getenv("REP") or "1"
local conc = os.getenv("C") or "1"

request = function()
  counter = counter + 1
  local body = '{"kind":"support_message","channel":"web","customer_ref":"bench-' .. rep .. '-' .. counter ..
               '","message":"I was charged twice on my debit card yesterday at the grocery store."}'
  return wrk.format("POST", "/v1/cases",
                    {["Authorization"] = "Bearer " .. token, ["Prefer"] = "wait=10", ["Content-Type"] = "application/json"}, body)
end

response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"status":"resolved"', 1, true) then bad = bad + 1 end
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  for _, t in ipairs(threads) do errors = errors + t:get("bad") end
  io.write(string.format("RUN name=edge_e2e C=%s rep=%s rps=%.0f p50_ms=%.3f p99_ms=%.3f n=%d errors=%d\n", conc, rep,
                         summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
                         summary.requests, errors))
end
