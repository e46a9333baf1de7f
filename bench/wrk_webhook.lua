-- wrk script: POST signed Meta webhook bodies in turn from a pool prepared by bench/webhook.py.
-- The pool file holds one request per line: "<signature>\t<body>". Signing is done up front
-- (wrk's LuaJIT has no HMAC); every body in the pool is distinct, like real traffic.
local requests = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    local signature, body = line:match("^([^\t]+)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", "/webhook",
      {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = signature}, body)
  end
  index = math.random(#requests) - 1
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, requests)
  io.write(string.format(
    "WRK_RESULT {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, \"non2xx\": %d, \"errors\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
