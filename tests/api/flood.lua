-- flood.lua — wrk script of test_abuse.py's memory test: GET /healthz, each
-- request from a new random client IP as a trusted proxy would report it
-- (X-Forwarded-For), so every request is a key the limiter has not seen.
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
end

function request()
  local ip = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(0, 255))
  return wrk.format("GET", "/healthz", { ["X-Forwarded-For"] = ip })
end
