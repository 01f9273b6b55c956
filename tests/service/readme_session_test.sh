#!/usr/bin/env bash
# Runs the README's "Run the service" curl session verbatim (only the port is changed to a free
# one), in a scratch folder laid out like a fresh checkout, and checks what it promises: the
# enrollment, an accepted passage charging 250, the retry replayed, the balance 1750.
# Usage: readme_session_test.sh <repo dir> <facepay binary>.
set -uo pipefail
REPO="$1"
BIN="$2"
DATA="${FACEPAY_DATA_DIR:-$REPO/../shared/data}"
if [ ! -d "$DATA/lfw-view1" ]; then
  msg="test data not found at $DATA (set FACEPAY_DATA_DIR)"
  if [ "${FACEPAY_REQUIRE_DATA:-0}" = 1 ]; then echo "FAIL $msg"; exit 1; fi
  echo "SKIP $msg"; exit 77
fi
tmp=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/repo/build/release/apps/facepay" "$tmp/shared"
ln -s "$BIN" "$tmp/repo/build/release/apps/facepay/facepay"
ln -s "$REPO/config" "$tmp/repo/config"
ln -s "$DATA" "$tmp/shared/data"
# A data folder left readable by others (as an older facepay or a careless copy made it): the
# server must tighten it to 0700 / 0600 at start-up and say so.
mkdir -p "$tmp/repo/data" && chmod 0755 "$tmp/repo/data"
echo note > "$tmp/repo/data/notes.txt" && chmod 0644 "$tmp/repo/data/notes.txt"
port=$(node -e 'const s=require("net").createServer().listen(0,()=>{console.log(s.address().port);s.close()})')
# The session: the ```sh block that starts with F=... under "## Run the service".
awk '/^## Run the service/{on=1} on&&/^```sh$/{blk=1;next} blk&&/^```$/{exit} blk{print}' \
  "$REPO/README.md" > "$tmp/session.sh"
grep -q 'facepay serve\|\$F serve' "$tmp/session.sh" || { echo "FAIL no session in README"; exit 1; }
sed -i "s/localhost:8080/localhost:$port/g; s/\$F serve /\$F serve --port $port /" "$tmp/session.sh"
sed -i 's/^kill %1$/kill %1; wait/' "$tmp/session.sh"
cd "$tmp/repo" && FACEPAY_MODELS_DIR="${FACEPAY_MODELS_DIR:-$REPO/models}" bash "$tmp/session.sh" \
  > "$tmp/out.txt" 2> "$tmp/err.txt"
rc=$?
fails=0
check() { if grep -q -- "$2" "$tmp/out.txt"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails+1)); fi; }
[ $rc = 0 ] && echo "ok   session exits 0" || { echo "FAIL session exit $rc"; fails=$((fails+1)); }
check "subject enrolled" '"status":"enrolled"'
check "passage accepted" '"outcome":"accept"'
check "fare 250 charged" '"fare_minor":250'
check "retry replayed" '"replayed":true'
check "balance 1750 after one fare" '"balance_minor":1750,"created_at_ms"'
check "metrics served" 'facepay_http_requests_total'
mode() { stat -c %a "$tmp/repo/$1"; }
[ "$(mode data)" = 700 ] && echo "ok   data folder 0700" || { echo "FAIL data folder $(mode data)"; fails=$((fails+1)); }
for f in notes.txt facepay.db template.key border.key watchlist.db; do
  [ "$(mode data/$f)" = 600 ] && echo "ok   data/$f 0600" || { echo "FAIL data/$f $(mode data/$f)"; fails=$((fails+1)); }
done
grep -q "was readable by group/others" "$tmp/err.txt" && echo "ok   loose modes reported" || { echo "FAIL no warning about loose modes"; fails=$((fails+1)); }
grep -q '"route":"/v1/gates/{gate}/passages","status":200' "$tmp/err.txt" && echo "ok   access log line" || { echo "FAIL no access log line"; fails=$((fails+1)); }
grep -q "facepay: stopped" "$tmp/err.txt" && echo "ok   server stopped cleanly" || { echo "FAIL no clean stop"; fails=$((fails+1)); }
if [ $fails -ne 0 ]; then echo "--- stdout"; cat "$tmp/out.txt"; echo "--- stderr"; cat "$tmp/err.txt"; fi
exit $((fails > 0))
