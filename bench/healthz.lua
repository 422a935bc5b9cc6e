-- bench/healthz.lua — GET /healthz, the server's cheapest answer: the
-- ceiling that validation is compared with. Every answer must be 200 "ok".
--   env: BENCH_LUA_DIR
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")

wrk.method = "GET"
wrk.path = "/healthz"

lib.install { expect = 200, contains = '"status":"ok"' }
