#!/usr/bin/env bash
# The CLI scenario: starts `promo serve` on a free loopback port with a fresh
# store, drives the `promo` client (the same binary) through a campaign's
# life and checks each answer: exit code, stdout, stderr. The last line is
#   N passed, N failed
# and the exit status is non-zero when anything failed.
#
#   PROMO_BIN  the binary (default build/promo)
#   PROMO_CLI  the client binary, when it is not PROMO_BIN (default PROMO_BIN)
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
abs() { case $1 in /*) echo "$1" ;; *) if [ -e "$1" ]; then echo "$PWD/$1"; else echo "$ROOT/$1"; fi ;; esac; }
BIN=$(abs "${PROMO_BIN:-build/promo}")
CLI=$(abs "${PROMO_CLI:-$BIN}")

passed=0
failed=0
TMP=$(mktemp -d)
SERVER_PID=

cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL $1: $2"
  echo "     exit $RC; stdout: $(head -c 400 <<<"$OUT" | tr '\n' '|')"
  echo "     stderr: $(head -c 400 <<<"$ERR" | tr '\n' '|')"
}
summary() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

# t NAME EXIT STDOUT_RE STDERR_RE COMMAND...
# Runs COMMAND and checks its exit status and, when not empty, that stdout
# and stderr match the extended regexes. Leaves OUT, ERR and RC set.
t() {
  local name=$1 want=$2 ore=$3 ere=$4 why=
  shift 4
  OUT=$("$@" 2>"$TMP/stderr")
  RC=$?
  ERR=$(cat "$TMP/stderr")
  [ "$RC" = "$want" ] || why="exit $RC, expected $want"
  [ -z "$why" ] && [ -n "$ore" ] && ! grep -qE -- "$ore" <<<"$OUT" && why="stdout does not match /$ore/"
  [ -z "$why" ] && [ -n "$ere" ] && ! grep -qE -- "$ere" <<<"$ERR" && why="stderr does not match /$ere/"
  if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
}

# check NAME COMMAND...: passes when COMMAND succeeds (OUT/ERR/RC as left).
check() {
  local name=$1
  shift
  if "$@" 2>/dev/null; then pass "$name"; else fail "$name" "check failed: $*"; fi
}

# Reads a member of the JSON document in $OUT: json_get '["id"]'.
json_get() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)" <<<"$OUT"; }

promo() { "$CLI" "$@"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- the server -------------------------------------------------------------------
if [ ! -x "$BIN" ]; then
  echo "FAIL no server binary at $BIN"
  failed=1
  summary
fi
PORT=$(free_port)
DEAD_PORT=$(free_port)
TOKEN="cli-test-$RANDOM$RANDOM-token"
PROMO_BOOTSTRAP_TOKEN=$TOKEN "$BIN" serve --db "$TMP/promo.db" --listen "127.0.0.1:$PORT" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
up=
for _ in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then up=1; break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$up" ]; then
  echo "FAIL the server did not answer /healthz on port $PORT"
  tail -20 "$TMP/server.log"
  failed=1
  summary
fi
export PROMO_URL="http://127.0.0.1:$PORT" PROMO_TOKEN="$TOKEN"
unset PROMO_BOOTSTRAP_TOKEN

# ---- reaching the server ----------------------------------------------------------
t "health answers" 0 '^status: +ok' '' promo health
t "help lists every command" 0 'codes generate' '' promo help
t "--help works before the command" 0 'promo redeem' '' promo --help
t "a command's --help explains its options" 0 '--max-uses' '' promo codes generate --help
t "an unreachable server exits 3" 3 '' 'cannot reach' promo --url "http://127.0.0.1:$DEAD_PORT" health
t "PROMO_URL of an unreachable server exits 3" 3 '' '' env PROMO_URL="http://127.0.0.1:$DEAD_PORT" "$CLI" campaign list
t "a wrong token is refused with exit 1" 1 '' '^promo: unauthorized: ' promo --token wrong-token campaign list

# ---- campaigns --------------------------------------------------------------------
t "campaign create --json" 0 '"id"' '' promo --json campaign create --name "CLI 테스트" --currency KRW \
  --percent 10 --max-amount 5000 --min-order 1000 --metadata channel=cli,team=qa
C=$(json_get '["id"]' 2>/dev/null)
check "the campaign id is a cmp_ id" [ "${C#cmp_}" != "$C" ]
check "create --json output is one JSON document" python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$OUT"
t "campaign get prints key: value lines" 0 '^discount\.max_amount: +5000$' '' promo campaign get "$C"
check "campaign get shows the metadata" grep -qE '^metadata\.team: +qa$' <<<"$OUT"
t "campaign list prints a table" 0 "^ID +NAME +STATUS" '' promo campaign list
check "the table has the campaign's row" grep -qE "^$C +CLI 테스트 +active +KRW +10% \\(max 5000\\)" <<<"$OUT"
t "global flags after the command" 0 '"status": "active"' '' promo campaign get "$C" --json
t "campaign update changes only the given fields" 0 '^limits\.per_customer: +5$' '' \
  promo campaign update "$C" --per-customer 5
check "update kept the discount cap" grep -qE '^discount\.max_amount: +5000$' <<<"$OUT"

# ---- codes ------------------------------------------------------------------------
t "codes generate 20000 runs as a job" 0 '"status": "done"' '' promo --json codes generate "$C" \
  --count 20000 --pattern 'CLI-########'
check "the job id is a job_ id" [ "$(json_get '["id"][:4]' 2>/dev/null)" = job_ ]
check "the job made 20000 codes" [ "$(json_get '["done"]' 2>/dev/null)" = 20000 ]
t "codes generate on a pipe draws no progress bar" 0 '^generated 20000 codes$' '^$' \
  promo codes generate "$C" --count 20000 --length 12 --prefix JOB-
t "codes generate within the request" 0 '^generated 50 codes$' '' promo codes generate "$C" --count 50 --length 12 --prefix Q-
t "codes add a vanity code" 0 '^code: +WELCOME-CLI$' '' promo codes add "$C" WELCOME-CLI --max-uses 1
t "codes add of an existing code is a conflict" 1 '' '^promo: conflict: ' promo codes add "$C" welcome-cli
t "codes get forgives case" 0 '^state: +active$' '' promo codes get welcome-cli
t "codes list --limit" 0 '^CODE +STATE +USES' 'more rows' promo codes list "$C" --limit 3
check "codes list shows 3 rows" [ "$(grep -c '' <<<"$OUT")" = 4 ]
t "codes list --json" 0 '' '' promo --json codes list "$C" --limit 5
check "--json codes list parses with 5 rows and a cursor" python3 -c \
  'import json,sys; d=json.load(sys.stdin); assert len(d["data"]) == 5 and d["next_cursor"]' <<<"$OUT"

# ---- validation and redemption ----------------------------------------------------
t "validate a good order" 0 '^valid: +true$' '' promo validate WELCOME-CLI --amount 20000 --customer u1
check "validate shows the discount" grep -qE '^discount\.amount: +2000$' <<<"$OUT"
t "validate sums the items when --amount is left out" 0 '^order_amount_after: +27000$' '' \
  promo validate 'welcome cli' --item p1:outer:15000:2 --customer u1
t "validate refusal exits 1 with the reason" 1 '' '^promo: min_order_not_met: ' promo validate WELCOME-CLI --amount 500 --customer u1
t "validate --json refusal is a JSON document" 1 '"valid": false' 'min_order_not_met' promo --json validate WELCOME-CLI --amount 500 --customer u1
t "--lang ko keeps the reason code" 1 '' '^promo: code_not_found: ' promo --lang ko validate NO-SUCH-CODE --amount 1000
t "redeem" 0 '"status": "succeeded"' '' promo --json redeem WELCOME-CLI --order-id o-1 --amount 20000 --customer u1 \
  --idempotency-key key-1
R=$(json_get '["id"]' 2>/dev/null)
check "the redemption id is an rdm_ id" [ "${R#rdm_}" != "$R" ]
t "redeem replayed with the same key answers the first" 0 "^id: +$R\$" '' promo redeem WELCOME-CLI --order-id o-1 \
  --amount 20000 --customer u1 --idempotency-key key-1
t "redeem again is refused: code_redeemed" 1 '' '^promo: code_redeemed: ' promo redeem WELCOME-CLI --order-id o-2 --amount 20000
t "codes get after redeem" 0 '^state: +redeemed$' '' promo codes get WELCOME-CLI
t "redemptions list" 0 "^$R +WELCOME-CLI +u1 +o-1 " '' promo redemptions list --campaign "$C"
t "rollback" 0 '^status: +rolled_back$' '' promo rollback "$R" --reason order_cancelled
t "a second rollback is a conflict" 1 '' '^promo: conflict: ' promo rollback "$R"
t "the code is usable again after rollback" 0 '^state: +active$' '' promo codes get WELCOME-CLI

# ---- reservations -----------------------------------------------------------------
t "codes add a code to reserve" 0 '^code: +RSV-CLI$' '' promo codes add "$C" RSV-CLI
t "reserve" 0 '"status": "held"' '' promo --json reserve RSV-CLI --order-id o-3 --amount 30000 --customer u2 --ttl 120
H=$(json_get '["id"]' 2>/dev/null)
t "reservation confirm" 0 '^status: +succeeded$' '' promo reservation confirm "$H"
t "releasing a confirmed hold is a conflict" 1 '' '^promo: conflict: ' promo reservation release "$H"

# ---- export and import ------------------------------------------------------------
# 20000 + 20000 + 50 generated, WELCOME-CLI, RSV-CLI, and the header.
t "codes export -o FILE" 0 '' '' promo codes export "$C" -o "$TMP/codes.csv"
check "the export has every code and a header" [ "$(wc -l <"$TMP/codes.csv")" = 40053 ]
check "the export starts with its header" grep -q '^code,customer_id,max_uses,uses,state' <(head -1 "$TMP/codes.csv")
t "codes export to stdout" 0 '' '' promo codes export "$C" --state redeemed
check "the redeemed export has the confirmed code" [ "$(grep -c '' <<<"$OUT")" = 2 ] && grep -q '^RSV-CLI,' <<<"$OUT"
t "export of an unknown campaign is refused" 1 '' '^promo: not_found: ' promo codes export cmp_nosuch -o "$TMP/nope.csv"
check "a refused export leaves no file" [ ! -e "$TMP/nope.csv" ]
printf 'IMPORT-A1\nIMPORT-A2\nnot a valid code!\nIMPORT-A3\n' >"$TMP/import.csv"
t "codes import reports the count" 0 '^imported 3 codes$' '' promo codes import "$C" "$TMP/import.csv"
check "codes import reports the bad line" grep -qE '^ +line 3' <<<"$OUT"
t "an imported code exists" 0 '^code: +IMPORT-A2$' '' promo codes get import-a2
t "codes import from stdin" 0 '^imported 1 code$' '' promo codes import "$C" - <<<"IMPORT-STDIN"

# ---- templates, messages, webhooks -------------------------------------------------
printf 'Hi {{customer.nmae}}\n' >"$TMP/bad.txt"
printf 'Hi {{customer.name}},\nyour code {{code}} takes {{discount}} off.\n' >"$TMP/ok.txt"
t "template put refuses an unknown variable naming it" 1 '' 'body_text: unknown variable \{\{customer.nmae\}\}' \
  promo template put --name bad --text-file "$TMP/bad.txt"
t "template put --json" 0 '"variables"' '' promo --json template put --name welcome --subject 'Hi {{customer.name}}' \
  --text-file "$TMP/ok.txt"
TPL=$(json_get '["id"]' 2>/dev/null)
check "the template id is a tpl_ id" [ "${TPL#tpl_}" != "$TPL" ]
t "template list shows it" 0 "^$TPL +welcome" '' promo template list
printf '{"customer": {"name": "Mina", "locale": "ko"}, "code": "C-1", "discount": 5000, "currency": "KRW"}' >"$TMP/data.json"
t "template preview fills the values" 0 '5,000원 off' '' promo template preview "$TPL" --data "$TMP/data.json"
t "template put --id replaces it" 0 '^name: +welcome2$' '' promo template put --id "$TPL" --name welcome2 \
  --text-file "$TMP/ok.txt"
t "message send queues an e-mail" 0 '^state: +queued$' '' promo message send --template "$TPL" \
  --to mina@example.test --name Mina --locale ko --data "$TMP/data.json"
M=$(awk '$1 == "id:" {print $2}' <<<"$OUT")
t "message list shows it" 0 "^$M +email" '' promo message list --channel email
t "message retry of a message that is not dead is refused" 1 '' '^promo: conflict: ' promo message retry "$M"
t "message attempts lists the attempts" 0 '' '' promo message attempts "$M"
t "webhook create prints the secret once" 0 '^secret: +whsec_' 'shown only now' promo webhook create \
  --url http://127.0.0.1:9/hook --events redeemed,code_issued
W=$(awk '$1 == "id:" {print $2}' <<<"$OUT")
t "webhook list shows it without the secret" 0 "^$W " '' promo webhook list
check "no secret in the list" bash -c "! grep -q whsec_ <<<\"\$1\"" _ "$OUT"
t "webhook delete" 0 '^deleted: +true$' '' promo webhook delete "$W"

# ---- rules and expiry reminders (before the template is deleted) -----------------
printf '{"name": "cart", "trigger": {"event": "cart_abandoned"}, "steps": [{"delay_seconds": 86400, "message": {"template_id": "%s", "channel": "email"}}], "cancel_on": {"event": "purchase", "match": "cart_id"}}' "$TPL" >"$TMP/rule.json"
printf '{"name": "bad", "trigger": {"event": "cart_abandoned"}, "steps": [{"delay_seconds": -5, "message": {"template_id": "%s", "channel": "email"}}]}' "$TPL" >"$TMP/badrule.json"
t "rule put refuses a bad delay naming the field" 1 '' 'steps\[0\]\.delay_seconds' promo rule put --file "$TMP/badrule.json"
t "rule put makes a rule" 0 '^name: +cart$' '' promo rule put --file "$TMP/rule.json"
R=$(awk '$1 == "id:" {print $2}' <<<"$OUT")
t "rule list shows it" 0 "^$R +cart +true +event cart_abandoned +1$" '' promo rule list
t "rule get" 0 '^trigger.event: +cart_abandoned$' '' promo rule get "$R"
t "rule put --id replaces it" 0 '^name: +cart$' '' promo rule put --id "$R" --file "$TMP/rule.json"
t "rule delete" 0 '^deleted: +true$' '' promo rule delete "$R"
t "reminders set" 0 '^expiry_offsets_days: +3, 1, 0$' '' promo reminders set "$C" --template "$TPL"
t "reminders set refuses bad offsets" 2 '' 'offsets' promo reminders set "$C" --template "$TPL" --offsets 3,x
t "reminders get" 0 "^template_id: +$TPL\$" '' promo reminders get "$C"
t "reminders delete" 0 '^deleted: +true$' '' promo reminders delete "$C"
t "template delete" 0 '^deleted: +true$' '' promo template delete "$TPL"

# ---- the rest ---------------------------------------------------------------------
t "campaign stats" 0 '^redeemed: +1$' '' promo campaign stats "$C"
t "campaign pause" 0 'is now paused' '' promo campaign pause "$C"
t "a paused campaign's code is refused" 1 '' '^promo: campaign_inactive: ' promo validate IMPORT-A1 --amount 5000
t "campaign resume" 0 'is now active' '' promo campaign resume "$C"
t "codes disable" 0 '^state: +disabled$' '' promo codes disable IMPORT-A3
t "codes issue" 0 '^customer_id: +u9$' '' promo codes issue "$C" --customer u9 --channel email
t "--json campaign list --all is one JSON document" 0 '' '' promo --json campaign list --all --limit 1
check "--json output parses with json.load" python3 -c \
  "import json,sys; d=json.load(sys.stdin); assert [x for x in d['data'] if x['id'] == '$C']" <<<"$OUT"
t "a refusal with --json prints the error document" 1 '"code": "not_found"' '^promo: not_found: ' promo --json campaign get cmp_nosuch

# ---- usage errors -----------------------------------------------------------------
t "no command is a usage error" 2 '' '^usage: ' promo
t "an unknown command is a usage error" 2 '' 'unknown command' promo frobnicate
t "an unknown option is a usage error" 2 '' "unknown option '--frob'" promo campaign list --frob
t "a non-numeric --count is a usage error" 2 '' '^promo: --count must be an integer' promo codes generate "$C" --count many
t "an out of range --limit is a usage error" 2 '' '^promo: --limit must be an integer from 1 to 1000' promo codes list "$C" --limit 0
t "--max-uses takes a number or unlimited" 2 '' "^promo: --max-uses .*or 'unlimited'" promo codes add "$C" X1 --max-uses lots
t "a bad --percent is a usage error" 2 '' '^promo: --percent' promo campaign create --name x --currency KRW --percent 12.345
t "create without a discount is a usage error" 2 '' 'discount is required' promo campaign create --name x --currency KRW
t "redeem without --order-id is a usage error" 2 '' '^promo: --order-id is required' promo redeem WELCOME-CLI --amount 100
t "validate without a code is a usage error" 2 '' '^promo: missing CODE' promo validate
t "validate without an order is a usage error" 2 '' '--amount N or at least one --item' promo validate WELCOME-CLI
t "a malformed --item is a usage error" 2 '' '^promo: --item' promo validate WELCOME-CLI --item p1:outer
t "a bad --from file is a usage error" 2 '' 'line [0-9]' promo campaign create --from - <<<'{"name": '
t "a bad URL is a usage error" 2 '' 'http://' promo --url ftp://example.org health

# ---- tokens and OAuth clients ---------------------------------------------------------
# absent TEXT: succeeds when $OUT does not hold TEXT.
absent() { ! grep -qF -- "$1" <<<"$OUT"; }
t "token create prints the secret once" 0 '^secret: promo_[a-z0-9]+$' 'shown only this once' \
  promo token create --role viewer --name cli-viewer
VSECRET=$(sed -n 's/^secret: //p' <<<"$OUT")
VID=$(sed -n 's/^id: *//p' <<<"$OUT")
check "the token id is a tok_ id" [ "${VID#tok_}" != "$VID" ]
t "the new token works" 0 '^ID +NAME +STATUS' '' promo --token "$VSECRET" campaign list
t "the viewer token may not write" 1 '' '^promo: forbidden: ' promo --token "$VSECRET" campaign create --name x \
  --currency KRW --fixed 100
t "token show never shows the secret" 0 '^role: +viewer$' '' promo token show "$VID"
check "token show has no secret" absent "$VSECRET"
t "token list prints a table" 0 "^$VID +viewer +cli-viewer +api " '' promo token list
check "token list has no secret" absent "$VSECRET"
t "token list --json pages" 0 '' '' promo --json token list --all --limit 1
check "--json token list parses and holds the token" python3 -c \
  "import json,sys; d=json.load(sys.stdin); assert [x for x in d['data'] if x['id'] == '$VID']" <<<"$OUT"
t "token create --json holds the secret" 0 '"secret": "promo_' '' promo --json token create --role storefront --ttl 3600
t "token create with an unknown role is refused" 1 '' '^promo: bad_request: role must be one of' \
  promo token create --role root
t "token create with --ttl and --expires-at is a usage error" 2 '' 'not both' \
  promo token create --role viewer --ttl 60 --expires-at 2099-01-01T00:00:00Z
t "token create without --role is a usage error" 2 '' '^promo: --role is required' promo token create
t "token create with a past --expires-at is refused" 1 '' '^promo: bad_request: expires_at' \
  promo token create --role viewer --expires-at 2020-01-01T00:00:00Z
t "a non-admin token may not make tokens" 1 '' '^promo: forbidden: ' promo --token "$VSECRET" token create --role admin
t "token revoke" 0 "^token $VID revoked at " '' promo token revoke "$VID"
t "a revoked token is refused at once" 1 '' '^promo: unauthorized: ' promo --token "$VSECRET" campaign list
t "revoking twice is a conflict" 1 '' '^promo: conflict: ' promo token revoke "$VID"
t "token show of an unknown id" 1 '' '^promo: not_found: ' promo token show tok_nosuch
t "oauth-client create prints the secret once" 0 '^client_secret: promo_cs_[a-z0-9]+$' 'shown only this once' \
  promo oauth-client create --name cli-crm --role marketer --ttl 120
OCID=$(sed -n 's/^client_id: *//p' <<<"$OUT")
OCSECRET=$(sed -n 's/^client_secret: //p' <<<"$OUT")
check "the client id is an ocl_ id" [ "${OCID#ocl_}" != "$OCID" ]
t "oauth-client list" 0 "^$OCID +cli-crm +marketer +120 " '' promo oauth-client list
check "oauth-client list has no secret" absent "$OCSECRET"
t "oauth-client show" 0 '^access_token_ttl_seconds: +120$' '' promo oauth-client show "$OCID"
OUT=$(curl -s -u "$OCID:$OCSECRET" -d grant_type=client_credentials "$PROMO_URL/oauth/token")
ACCESS=$(json_get '["access_token"]' 2>/dev/null)
check "the client gets an access token" [ -n "$ACCESS" ]
t "the access token works with the CLI" 0 '^ID +NAME +STATUS' '' promo --token "$ACCESS" campaign list
t "oauth-client create without --name is a usage error" 2 '' '^promo: --name is required' \
  promo oauth-client create --role viewer
t "oauth-client create with a too long --ttl is a usage error" 2 '' '^promo: --ttl must be an integer' \
  promo oauth-client create --name x --role viewer --ttl 86401
t "oauth-client delete revokes its tokens" 0 "^OAuth client $OCID deleted; 1 live access token revoked$" '' \
  promo oauth-client delete "$OCID"
t "the deleted client's access token is refused" 1 '' '^promo: unauthorized: ' promo --token "$ACCESS" campaign list
t "deleting a client twice is a conflict" 1 '' '^promo: conflict: ' promo oauth-client delete "$OCID"
# ---- customers, events, segments --------------------------------------------------
CU="cli-cust-$RANDOM"
t "customer put" 0 '^attributes\.city: +Busan$' '' promo customer put "$CU" --name Kim --email kim@example.kr \
  --segment staff --attr city=Busan --attr age=31
t "event send purchase" 0 '^properties\.amount: +1200000$' '' promo event send --type purchase --customer "$CU" \
  --id "ev-$CU" --prop order_id=o-1 --prop amount=1200000
t "event send again with the same id is a replay" 0 '^id: +ev-'"$CU"'$' '' promo event send --type purchase \
  --customer "$CU" --id "ev-$CU" --prop order_id=o-1 --prop amount=1200000
t "the same id with another body is refused" 1 '' '^promo: conflict: ' promo event send --type purchase \
  --customer "$CU" --id "ev-$CU" --prop order_id=o-1 --prop amount=1
t "customer get shows facts and computed segments" 0 '^computed_segments: +vip$' '' promo customer get "$CU"
check "the purchase counted once" grep -qE '^facts\.total_spent: +1200000$' <<<"$OUT"
t "customer list by segment" 0 "^$CU +Kim +kim@example.kr +staff,vip" '' promo customer list --segment vip
t "segment put" 0 '^members: +1$' '' promo segment put busan --description "Busan people" \
  --rule '{"all":[{"fact":"attributes.city","op":"=","value":"Busan"}]}'
t "segment list" 0 '^busan +1 +Busan people' '' promo segment list
t "segment get" 0 '^description: +Busan people$' '' promo segment get busan
t "segment delete" 0 '^deleted: +true$' '' promo segment delete busan
t "a bad rule is refused naming the member" 1 '' 'rule\.all\[0\]\.op' promo segment put broken \
  --rule '{"all":[{"fact":"order_count","op":"~","value":1}]}'
t "a --rule that is not JSON is a usage error" 2 '' '^promo: --rule is not JSON' promo segment put broken --rule '{'
t "event send without --type is a usage error" 2 '' '^promo: --type and --customer are required' \
  promo event send --customer "$CU"
t "a malformed --attr is a usage error" 2 '' "^promo: --attr must be key=value" promo customer put "$CU" --attr nokey

check "the server is still running" kill -0 "$SERVER_PID"
summary
