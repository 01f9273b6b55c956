#!/usr/bin/env bash
# Re-runs the attacks of issue 13's table (docs/security.md) against a real `facepay serve` on
# loopback, as the security test ran them (curl, raw sockets from Node.js), and prints one line
# per row with what the server did. A manual check beside the tests in
# tests/service/hardening_test.cc, which assert the same things.
#
#   bench/attack-rows.sh [FACEPAY_BIN]     # LFW under $FACEPAY_DATA_DIR (default ../shared/data)
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
F="${1:-$here/build/release/apps/facepay/facepay}"
DATA="${FACEPAY_DATA_DIR:-$here/../shared/data}"
L="$DATA/lfw-view1/images"
W=$(mktemp -d /tmp/facepay-attack.XXXXXX)
port=$(node -e 'const s=require("net").createServer().listen(0,()=>{console.log(s.address().port);s.close()})')
U="http://127.0.0.1:$port"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
mkdir -p "$W/data" && chmod 0755 "$W/data"
"$F" serve --data "$W/data" --port "$port" --terminals "$here/config/terminals/demo.json" \
  > "$W/serve.out" 2> "$W/serve.err" &
pid=$!
until curl -sf -o /dev/null "$U/healthz/live"; do sleep 0.1; done
ADMIN=$(sed -n 2p "$W/serve.out")
key() { "$F" keys create --data "$W/data" --role "$1" ${2:+--bind "$2"} | sed -n 's/.*"token": "\(.*\)".*/\1/p'; }
GATE=$(key gate g1); TILL=$(key merchant t1); ENR=$(key enroller); ATM=$(key atm a1)
post() { curl -s -o "$W/body" -w '%{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' --data-binary "@$3" "$U$2"; }
postj() { printf '%s' "$3" > "$W/req.json"; post "$1" "$2" "$W/req.json"; }
code() { sed -n 's/.*"code":"\([a-z_]*\)".*/\1/p' "$W/body" | head -1; }
row() { printf '%-3s %-60s %s\n' "$1" "$2" "$3"; }
b64() { base64 -w0 "$1"; }

# 1: 100,000 nested objects, then 1M nested arrays inside an object
node -e 'const d=100000;process.stdout.write("{\"x\":".repeat(d)+"1"+"}".repeat(d))' > "$W/n1.json"
node -e 'const d=1000000;process.stdout.write("{\"event_id\":"+"[".repeat(d)+"]".repeat(d)+"}")' > "$W/n2.json"
c1=$(post "$GATE" /v1/gates/g1/passages "$W/n1.json"); k1=$(code)
c2=$(post "$GATE" /v1/gates/g1/passages "$W/n2.json"); k2=$(code)
up=$(curl -s -o /dev/null -w '%{http_code}' "$U/healthz/live")
row 1 "100k nested objects / 1M nested arrays (gate key)" "$c1 $k1 / $c2 $k2; server up: $up"

# Accounts and a subject for the money rows
postj "$ENR" /v1/accounts '{"id":"acct:v"}' >/dev/null
postj "$ENR" /v1/accounts/acct:v/topups '{"idempotency_key":"t0","amount_minor":5000}' >/dev/null
curl -s -o /dev/null -H "Authorization: Bearer $ENR" -F id=victim -F text_version=v1 -F account_id=acct:v \
  -F phone_last4=4321 -F images=@"$L/Alvaro_Uribe/Alvaro_Uribe_0007.jpg" \
  -F images=@"$L/Alvaro_Uribe/Alvaro_Uribe_0010.jpg" "$U/v1/subjects"

# 9: duplicate keys, a number as a string, a duplicate form field
c1=$(postj "$ENR" /v1/accounts/acct:v/topups '{"idempotency_key":"t1","amount_minor":5,"amount_minor":500000}'); k1=$(code)
c2=$(postj "$ENR" /v1/accounts/acct:v/topups '{"idempotency_key":"t2","amount_minor":"12"}'); k2=$(code)
c3=$(curl -s -o "$W/body" -w '%{http_code}' -H "Authorization: Bearer $ENR" -F idempotency_key=t3 \
  -F amount_minor=5 -F amount_minor=500000 "$U/v1/accounts/acct:v/topups"); k3=$(code)
bal=$(curl -s -H "Authorization: Bearer $ADMIN" "$U/v1/accounts/acct:v" | sed -n 's/.*"balance_minor":\([0-9-]*\).*/\1/p')
row 9 "duplicate JSON key / \"12\" / duplicate form field" "$c1 $k1 / $c2 $k2 / $c3 $k3; balance $bal (was 5000)"

# 2: fresh till challenges with the victim's photo, wrong codes (the policy puts this probe in
# the step-up band only when its score falls there; the row needs a step-up to be meaningful)
P=$(b64 "$L/Alvaro_Uribe/Alvaro_Uribe_0026.jpg")
steps=0; wrong=0; locked=""
for i in $(seq 1 12); do
  postj "$TILL" /v1/tills/t1/payments "{\"order_id\":\"o$i\",\"amount_minor\":4000,\"frames\":[\"$P\"]}" >/dev/null
  ch=$(sed -n 's/.*"challenge":{[^}]*"id":"\(ch_[0-9a-f]*\)".*/\1/p' "$W/body")
  [ -z "$ch" ] && continue
  steps=$((steps+1))
  c=$(postj "$TILL" "/v1/tills/t1/payments/$ch/step-up" "{\"phone_last4\":\"$(printf '%04d' $((i*7)))\"}")
  if [ "$c" = 429 ]; then locked="429 $(code) after $wrong wrong codes"; break; fi
  wrong=$((wrong+1))
done
bal2=$(curl -s -H "Authorization: Bearer $ADMIN" "$U/v1/accounts/acct:v" | sed -n 's/.*"balance_minor":\([0-9-]*\).*/\1/p')
row 2 "wrong codes across fresh step-up challenges" "${locked:-no step-up lockout seen ($steps step-ups, $wrong wrong codes: this probe is accepted outright under the default policy; Hardening.StepUpGuessesAcrossFreshChallengesLockTheSubjectOut forces the band)}; balance $bal2"

# 5: a stranger's photos added to the victim
c=$(curl -s -o "$W/body" -w '%{http_code}' -H "Authorization: Bearer $ENR" \
  -F images=@"$L/Angelina_Jolie/Angelina_Jolie_0003.jpg" -F images=@"$L/Angelina_Jolie/Angelina_Jolie_0004.jpg" \
  "$U/v1/subjects/victim/images"); k=$(code)
row 5 "another person's photos added to a subject" "$c $k"

# 7: what a terminal sees; ATM verification against a named account, repeatedly
postj "$GATE" /v1/gates/g1/passages "{\"event_id\":\"e7\",\"frames\":[\"$(b64 "$L/Angelina_Jolie/Angelina_Jolie_0015.jpg")\"]}" >/dev/null
sc=$(grep -c '"score"\|"margin"\|"liveness":[0-9]' "$W/body")
postj "$ENR" /v1/accounts/acct:v/atm-cards '{}' >/dev/null
card=$(sed -n 's/.*"atm_card":"\([^"]*\)".*/\1/p' "$W/body")
c=$(postj "$ATM" /v1/atms/a1/verify "{\"account_id\":\"acct:v\",\"frames\":[\"$(b64 "$L/Angelina_Jolie/Angelina_Jolie_0015.jpg")\"]}"); named="$c $(code)"
atm=""
for i in 1 2 3 4 5 6; do
  c=$(postj "$ATM" /v1/atms/a1/verify "{\"atm_card\":\"$card\",\"frames\":[\"$(b64 "$L/Angelina_Jolie/Angelina_Jolie_0015.jpg")\"]}")
  atm="$atm $c"
done
row 7 "scores in a gate answer / ATM naming acct:v itself / 6 verifications with acct:v's card" "score fields: $sc / $named /$atm ($(code))"

# 8: a template with {"live": true} from a gate that is not an edge gate
T=$(node -e 'const t=new Array(512).fill(0);t[0]=1;console.log(JSON.stringify(t))')
c=$(postj "$GATE" /v1/gates/g1/passages "{\"event_id\":\"e8\",\"template\":$T,\"liveness\":{\"live\":true,\"score\":0.0}}"); k=$(code)
row 8 "template + live:true from gate g1 (not an edge gate)" "$c $k"

# 4: a 60 MiB chunked top-up
node -e 'process.stdout.write("{\"idempotency_key\":\"big\",\"pad\":\""+"a".repeat(60*1024*1024)+"\",\"amount_minor\":1}")' > "$W/big.json"
c=$(curl -s -o "$W/body" -w '%{http_code}' -H "Authorization: Bearer $ENR" -H 'Content-Type: application/json' \
  -H 'Transfer-Encoding: chunked' --data-binary "@$W/big.json" "$U/v1/accounts/acct:v/topups"); k=$(code)
rss=$(ps -o rss= -p "$pid")
row 4 "60 MiB chunked body" "$c $k; server RSS $((rss/1024)) MiB"

# 10: a PUT with no body; metrics; readiness while SQLite is locked; the access log
t0=$(date +%s%N)
node -e '
const s=require("net").connect('"$port"',"127.0.0.1",()=>s.write("PUT /v1/accounts HTTP/1.1\r\nHost: x\r\n\r\n"));
let b="";s.on("data",d=>b+=d);s.on("close",()=>{console.log(b.split("\r\n")[0])});' > "$W/put"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
curl -s -H "Authorization: Bearer $ADMIN" "$U/metrics" > "$W/metrics"
prom=$(promtool check metrics < "$W/metrics" 2>&1 | grep -c -i error)
# The status goes to a file: what .shell prints to stdout came back empty in a run.
sqlite3 "$W/data/facepay.db" "BEGIN EXCLUSIVE;" ".shell curl -s -o /dev/null -w %{http_code} $U/healthz/ready > $W/ready_code" "ROLLBACK;" 2>/dev/null || true
lock_rc=$(cat "$W/ready_code" 2>/dev/null)
lines=$(grep -c '"route":' "$W/serve.err")
row 10 "PUT without body / promtool / ready while locked / access log" "$(cat "$W/put") in ${ms} ms / $prom errors / $lock_rc / $lines lines"

# 6: modes of the data folder
row 6 "data folder and files" "$(stat -c '%a %n' "$W/data" "$W/data"/* | tr '\n' ' ')"

# 3: slowloris (100 connections), answered requests per second against the same server idle
node "$here/bench/slowloris.js" --port "$port" --seconds 5 --slow 100 > "$W/slow.json"
row 3 "slowloris, 100 connections: /healthz/live req/s idle vs held" "$(node -e 'const j=require("'"$W"'/slow.json");console.log(j.idle.req_per_s+" vs "+j.under_attack.req_per_s+", errors "+j.under_attack.errors+", held "+j.slow_held_at_end)')"
rm -rf "$W"
