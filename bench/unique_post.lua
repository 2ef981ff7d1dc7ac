-- wrk script: POST a pool of pre-signed, unique WeChat messages, each exactly once.
--
--   wrk -t2 -c16 -d15s -s bench/unique_post.lua http://127.0.0.1:8100 -- POOL NTHREADS MARKER
--
-- POOL has one request a line: "<path?query>\t<xml body>". Thread k sends lines k, k+n, ...
-- If a thread runs out it starts again from its first line and counts `wrapped` (the caller
-- treats such a run as invalid for stateful servers). Replies are checked for MARKER.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
local idx = 0
local marker = ""

function init(args)
  local pool, nthreads = args[1], tonumber(args[2])
  marker = args[3] or ""
  sent, ok, matched, bad_status, wrapped, first_bad = 0, 0, 0, 0, 0, ""
  local i = 0
  for line in io.lines(pool) do
    if i % nthreads == tid then
      local tab = string.find(line, "\t", 1, true)
      local path, body = string.sub(line, 1, tab - 1), string.sub(line, tab + 1)
      reqs[#reqs + 1] = wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body)
    end
    i = i + 1
  end
end

function request()
  idx = idx + 1
  if idx > #reqs then
    idx = 1
    wrapped = wrapped + 1
  end
  sent = sent + 1
  return reqs[idx]
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    if marker == "" or string.find(body, marker, 1, true) then
      matched = matched + 1
    elseif first_bad == "" then
      first_bad = body
    end
  else
    bad_status = bad_status + 1
    if first_bad == "" then first_bad = status .. " " .. body end
  end
end

local function quote(s)
  s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local t = {sent = 0, ok = 0, matched = 0, bad_status = 0, wrapped = 0, pool = 0}
  local bad = ""
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do
      if k ~= "pool" then t[k] = t[k] + (thread:get(k) or 0) end
    end
    local fb = thread:get("first_bad")
    if bad == "" and fb and fb ~= "" then bad = fb end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "non_2xx": %d, "sent": %d, "ok": %d, ' ..
    '"matched": %d, "bad_status": %d, "wrapped": %d, "first_bad": %s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.timeout,
    e.status, t.sent, t.ok, t.matched, t.bad_status, t.wrapped, quote(string.sub(bad, 1, 300))))
end
