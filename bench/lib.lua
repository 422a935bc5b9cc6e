-- bench/lib.lua — what the wrk scripts of bench/ share: every answer's
-- status (and optionally body) is checked against what the script expects,
-- a few unexpected answers are kept as samples, and done() prints one
-- machine-readable line for bench/bench.py:
--
--   BENCH_RESULT {"requests":..,"rps":..,"p50_us":..,"p99_us":..,"ok":..,"bad":..,...}
--   BENCH_SAMPLE <status> <body, first 300 bytes>
--
-- A script loads it with dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")
-- (each wrk thread runs the script in its own Lua state, so each loads it)
-- and calls lib.install{...}, which defines wrk's hooks as globals.
--
-- With stop_after = S, a thread stops sending new requests S seconds after
-- it started (delay() holds every connection from then on) and the answers
-- of the requests still in flight arrive before wrk ends (run wrk with
-- -d of S plus a second or so): nothing wrk sent is left unanswered, so what
-- wrk counted is exactly what the server did. The rate is then computed over
-- the time from the first request to the last answer, not over -d.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")

local lib = {}

function lib.now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

function lib.env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then
    if default == nil then error("bench: environment variable " .. name .. " is not set") end
    return default
  end
  return v
end

local function jstr(s)
  s = tostring(s)
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. s .. '"'
end
lib.jstr = jstr

-- opts:
--   expect      status every answer must have (200, 201, ...)
--   contains    optional plain substring every such answer's body must hold
--   request     optional function(tid, n) -> request string (dynamic requests);
--               without it, wrk.method/path/headers/body are sent as set
--   stop_after  optional seconds after which a thread sends nothing more
function lib.install(opts)
  local threads = {}
  local nthreads = 0
  local max_samples = 3

  -- main state: number the threads, keep them for done()
  function setup(thread)
    nthreads = nthreads + 1
    thread:set("bench_tid", nthreads)
    table.insert(threads, thread)
  end

  -- thread state
  function init(args)
    bench_ok, bench_bad, bench_n, bench_nsamples = 0, 0, 0, 0
    bench_statuses = {}
    bench_samples = ""
    bench_t0 = lib.now()
    bench_tlast = bench_t0
    if opts.stop_after then bench_stop = bench_t0 + opts.stop_after end
  end

  if opts.request then
    function request()
      bench_n = bench_n + 1
      return opts.request(bench_tid, bench_n)
    end
  end

  -- opts.body(tid, n): a new body for every request, sent with the script's
  -- method, path and headers. The request line and headers are made once
  -- (wrk.format walks the header table on every call): the load generator
  -- shares the machine with the server, and its cost per request should be
  -- as close as it can be to a fixed request's.
  if opts.body then
    local head
    function request()
      bench_n = bench_n + 1
      if head == nil then head = wrk.format(nil, nil, nil, nil):sub(1, -3) end
      local body = opts.body(bench_tid, bench_n)
      return head .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
    end
  end

  if opts.stop_after then
    function delay()
      if lib.now() >= bench_stop then return 3600 * 1000 end -- hold the connection until wrk ends
      return 0
    end
  end

  function response(status, headers, body)
    local k = tostring(status)
    bench_statuses[k] = (bench_statuses[k] or 0) + 1
    local good = status == opts.expect
    if good and opts.contains and not (body and body:find(opts.contains, 1, true)) then good = false end
    if good then
      bench_ok = bench_ok + 1
      bench_tlast = lib.now()
    else
      bench_bad = bench_bad + 1
      if bench_nsamples < max_samples then
        bench_nsamples = bench_nsamples + 1
        local b = (body or ""):sub(1, 300):gsub("[\r\n]", " ")
        bench_samples = bench_samples .. "BENCH_SAMPLE " .. status .. " " .. b .. "\n"
      end
    end
  end

  function done(summary, latency, requests)
    local ok, bad, t0, t1 = 0, 0, nil, nil
    local statuses, samples = {}, ""
    for _, t in ipairs(threads) do
      ok = ok + (t:get("bench_ok") or 0)
      bad = bad + (t:get("bench_bad") or 0)
      local a, b = t:get("bench_t0"), t:get("bench_tlast")
      if a and (t0 == nil or a < t0) then t0 = a end
      if b and (t1 == nil or b > t1) then t1 = b end
      for k, v in pairs(t:get("bench_statuses") or {}) do statuses[k] = (statuses[k] or 0) + v end
      samples = samples .. (t:get("bench_samples") or "")
    end
    local secs = summary.duration / 1e6
    local window = (t0 and t1 and t1 > t0) and (t1 - t0) or secs
    local e = summary.errors
    local st = {}
    for k, v in pairs(statuses) do table.insert(st, jstr(k) .. ":" .. v) end
    local fields = {
      '"requests":' .. summary.requests,
      '"duration_s":' .. string.format("%.3f", secs),
      '"rps":' .. string.format("%.1f", summary.requests / secs),
      '"window_s":' .. string.format("%.3f", window),
      '"ok_rps":' .. string.format("%.1f", ok / window),
      '"ok":' .. ok,
      '"bad":' .. bad,
      '"p50_us":' .. latency:percentile(50),
      '"p90_us":' .. latency:percentile(90),
      '"p99_us":' .. latency:percentile(99),
      '"max_us":' .. latency.max,
      '"mean_us":' .. string.format("%.1f", latency.mean),
      '"errors":{"connect":' .. e.connect .. ',"read":' .. e.read .. ',"write":' .. e.write ..
        ',"status":' .. e.status .. ',"timeout":' .. e.timeout .. '}',
      '"statuses":{' .. table.concat(st, ",") .. '}',
    }
    io.write("BENCH_RESULT {" .. table.concat(fields, ",") .. "}\n")
    io.write(samples)
  end
end

return lib
