-- bench/validate_fresh.lua — POST /v1/validate for a new customer id on
-- every request, so no validation can reuse what an earlier one read for
-- that code and customer (the server keeps a validation's inputs per code
-- and customer while nothing changes).
--   BENCH_CODE: one valid code, every time;
--   BENCH_CODES_FILE (instead): codes one per line, a different one each
--   request, taken in turn by both threads — as when every customer has a
--   code of their own.
-- Every answer must be 200 with "valid":true.
--   env: BENCH_LUA_DIR BENCH_TOKEN BENCH_CODE or BENCH_CODES_FILE, BENCH_RUN
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")

local run = lib.env("BENCH_RUN", tostring(os.time()))
local codes = {}
local file = os.getenv("BENCH_CODES_FILE")
if file and file ~= "" then
  for line in io.lines(file) do
    if line ~= "" then codes[#codes + 1] = lib.jstr(line) end
  end
  if #codes == 0 then error("bench: no codes in " .. file) end
else
  codes[1] = lib.jstr(lib.env("BENCH_CODE"))
end

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
    local code = codes[((n * 2 + tid) % #codes) + 1]
    return '{"code":' .. code .. ',"customer_id":"v-' .. run .. '-' .. tid .. '-' .. n .. '"' .. rest
  end,
}
