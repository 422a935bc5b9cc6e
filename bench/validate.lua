-- bench/validate.lua — POST /v1/validate of a valid code (BENCH_CODE) with
-- an order that has items; every answer must be 200 with "valid":true.
--   env: BENCH_LUA_DIR BENCH_TOKEN BENCH_CODE
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")

wrk.method = "POST"
wrk.path = "/v1/validate"
wrk.headers["Authorization"] = "Bearer " .. lib.env("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"code":' .. lib.jstr(lib.env("BENCH_CODE")) .. ',"customer_id":"cust-v1",' ..
  '"order":{"id":"ord-validate-1","amount":45000,"currency":"KRW",' ..
  '"items":[{"sku":"sku-1","category":"outer","price":30000,"quantity":1},' ..
  '{"sku":"sku-2","category":"shoes","price":15000,"quantity":1}]}}'

lib.install { expect = 200, contains = '"valid":true' }
