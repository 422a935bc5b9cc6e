-- bench/validate_fresh.lua — POST /v1/validate of a valid code (BENCH_CODE)
-- for a new customer id on every request, so no validation can reuse what
-- an earlier one read (the server keeps a validation's inputs per code and
-- customer while nothing changes): the cost of a validation that reads the
-- store. Every answer must be 200 with "valid":true.
--   env: BENCH_LUA_DIR BENCH_TOKEN BENCH_CODE BENCH_RUN
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")

local code = lib.jstr(lib.env("BENCH_CODE"))
local run = lib.env("BENCH_RUN", tostring(os.time()))
wrk.method = "POST"
wrk.path = "/v1/validate"
wrk.headers["Authorization"] = "Bearer " .. lib.env("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"

local rest = ',"order":{"id":"ord-validate-1","amount":45000,"currency":"KRW",' ..
  '"items":[{"sku":"sku-1","category":"outer","price":30000,"quantity":1},' ..
  '{"sku":"sku-2","category":"shoes","price":15000,"quantity":1}]}}'

lib.install {
  expect = 200,
  contains = '"valid":true',
  body = function(tid, n)
    return '{"code":' .. code .. ',"customer_id":"v-' .. run .. '-' .. tid .. '-' .. n .. '"' .. rest
  end,
}
