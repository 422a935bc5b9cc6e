-- guess.lua — wrk script of test_abuse.py's brute-force test: every request
-- validates a fresh random 12-character code of the default charset, as a
-- guesser would. Counts answers by status; done() prints one line
--   GUESS_RESULT <answers 429> <answers 200> <other answers>
-- args: the bearer token, and the pause in milliseconds each connection
-- takes between an answer and its next request (0: none), which paces the
-- guesser below what saturates the test machine itself.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local chars = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
local token

local pause = 0

function init(args)
  token = args[1]
  pause = tonumber(args[2] or "0")
  n429, n200, nother = 0, 0, 0
  -- each thread its own sequence: the address of a fresh table differs per Lua state
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
end

function request()
  local t = {}
  for i = 1, 12 do
    local k = math.random(#chars)
    t[i] = chars:sub(k, k)
  end
  local body = '{"code":"' .. table.concat(t) .. '","order":{"amount":1000,"currency":"KRW"}}'
  return wrk.format("POST", "/v1/validate",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end

function delay()
  return pause
end

function response(status, headers, body)
  if status == 429 then
    n429 = n429 + 1
  elseif status == 200 then
    n200 = n200 + 1
  else
    nother = nother + 1
  end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("n429")
    b = b + t:get("n200")
    c = c + t:get("nother")
  end
  io.write(string.format("GUESS_RESULT %d %d %d\n", a, b, c))
end
