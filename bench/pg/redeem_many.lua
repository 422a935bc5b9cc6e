-- bench/pg/redeem_many.lua — POST /v1/redemptions of a random code among
-- BENCH_NCODES codes of one of BENCH_NCAMP campaigns (codes PGB<c>X<k>, as
-- bench/pg/bench_pg.py imports them), each request a new order. Every
-- answer must be 201 "succeeded".
--   env: BENCH_LUA_DIR BENCH_TOKEN BENCH_NCAMP BENCH_NCODES BENCH_RUN BENCH_STOP_AFTER
--        BENCH_NCUST (customers per wrk thread, default 1000: fewer make each
--        customer's order history grow faster; 0: guest checkouts, no
--        customer_id, as redeem_guest.sql)
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")

local ncamp = tonumber(lib.env("BENCH_NCAMP"))
local ncodes = tonumber(lib.env("BENCH_NCODES"))
local run = lib.env("BENCH_RUN", tostring(os.time()))
local ncust = tonumber(lib.env("BENCH_NCUST", "1000"))
wrk.method = "POST"
wrk.path = "/v1/redemptions"
wrk.headers["Authorization"] = "Bearer " .. lib.env("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"

lib.install {
  expect = 201,
  contains = '"status":"succeeded"',
  stop_after = tonumber(lib.env("BENCH_STOP_AFTER", "5")),
  request = function(tid, n)
    if n == 1 then math.randomseed(os.time() * 1000 + tid) end
    local code = "PGB" .. math.random(0, ncamp - 1) .. "X" .. math.random(1, ncodes)
    local who = ncust > 0 and ('","customer_id":"cust-' .. tid .. '-' .. (n % ncust)) or ''
    local body = '{"code":"' .. code .. who .. '"' ..
      ',"order":{"id":"ord-' .. run .. '-' .. tid .. '-' .. n .. '","amount":45000,"currency":"KRW"}}'
    return wrk.format(nil, nil, nil, body)
  end,
}
