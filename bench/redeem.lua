-- bench/redeem.lua — POST /v1/redemptions, each request a new order of the
-- same unlimited code (BENCH_CODE): order.id is "<run>-<thread>-<n>", so no
-- two requests of one run (or of two runs on one database) are replays.
-- Every answer must be 201 "succeeded". Stops sending after BENCH_STOP_AFTER
-- seconds and lets the requests in flight finish (see lib.lua), so the
-- number of 201s it prints is exactly the number of uses the server made.
--   env: BENCH_LUA_DIR BENCH_TOKEN BENCH_CODE BENCH_RUN BENCH_STOP_AFTER
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")

local code = lib.jstr(lib.env("BENCH_CODE"))
local run = lib.env("BENCH_RUN", tostring(os.time()))
wrk.method = "POST"
wrk.path = "/v1/redemptions"
wrk.headers["Authorization"] = "Bearer " .. lib.env("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"

local items = '"items":[{"sku":"sku-1","category":"outer","price":30000,"quantity":1},' ..
              '{"sku":"sku-2","category":"shoes","price":15000,"quantity":1}]'

lib.install {
  expect = 201,
  contains = '"status":"succeeded"',
  stop_after = tonumber(lib.env("BENCH_STOP_AFTER", "5")),
  body = function(tid, n)
    return '{"code":' .. code ..
      ',"customer_id":"cust-' .. tid .. '-' .. (n % 1000) .. '"' ..
      ',"order":{"id":"ord-' .. run .. '-' .. tid .. '-' .. n .. '"' ..
      ',"amount":45000,"currency":"KRW",' .. items .. '}}'
  end,
}
