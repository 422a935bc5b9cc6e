-- bench/validate_codes.lua — POST /v1/validate of a different code on every
-- request (codes read from BENCH_CODES_FILE, one per line, taken in turn by
-- both threads) for a new customer id each time: the validation that reads
-- the store for a code it has not just read, as when every customer has a
-- code of their own. Every answer must be 200 with "valid":true.
--   env: BENCH_LUA_DIR BENCH_TOKEN BENCH_CODES_FILE BENCH_RUN
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")

local run = lib.env("BENCH_RUN", tostring(os.time()))
local codes = {}
for line in io.lines(lib.env("BENCH_CODES_FILE")) do
  if line ~= "" then codes[#codes + 1] = lib.jstr(line) end
end
if #codes == 0 then error("bench: no codes in " .. lib.env("BENCH_CODES_FILE")) end

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
    return '{"code":' .. code .. ',"customer_id":"c-' .. run .. '-' .. tid .. '-' .. n .. '"' .. rest
  end,
}
