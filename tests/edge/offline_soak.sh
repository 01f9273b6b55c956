#!/usr/bin/env bash
# Offline soak of the edge gate (issue 14): `facepay gate --state-dir` streams passages of a real
# clip (looped, the same person presenting again and again) while `facepay serve` is killed with
# SIGKILL and restarted at random, KILLS times. Then one queued record is altered at rest and
# the queue is replayed. Checks:
#   - every passage the gate reported as open is settled exactly once (one tap record per event
#     in the ledger's idempotency table; no fare transaction twice),
#   - the altered record is refused (audited `offline_passage` / `tampered`), nothing is left,
#   - `facepay ledger check` is clean.
# Prints the figures: passages online / offline / replayed / refused.
#
#   tests/edge/offline_soak.sh SOURCE_DIR FACEPAY_BIN      (ctest: offline_soak, label edge)
set -euo pipefail
src="$1"
bin="$2"
kills="${KILLS:-10}"
data="${FACEPAY_DATA_DIR:-$src/../shared/data}"
video="$data/videos/d3.mp4"
if [ ! -f "$video" ]; then
  if [ "${FACEPAY_REQUIRE_DATA:-0}" = 1 ]; then echo "no video at $video" >&2; exit 1; fi
  echo "skipped: no video at $video (set FACEPAY_DATA_DIR)"; exit 77
fi
command -v ffmpeg >/dev/null || { echo "needs ffmpeg (scripts/setup installs it)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "needs sqlite3 (scripts/setup installs it)" >&2; exit 1; }
w="$(mktemp -d /tmp/facepay-offline-soak.XXXXXX)"
serve_pid=""; gate_pid=""
cleanup() {
  [ -n "$gate_pid" ] && kill -9 "$gate_pid" 2>/dev/null || true
  [ -n "$serve_pid" ] && kill -9 "$serve_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $w" || rm -rf "$w"
}
trap cleanup EXIT
say() { echo "[offline-soak] $*"; }

port=""
start_serve() {
  # One person passes dozens of times offline here: the server's per-person daily limit is raised.
  local args=(serve --data "$w/data" --no-access-log --port-file "$w/port" --offline-person-per-day 100000)
  if [ -n "$port" ]; then args+=(--port "$port"); else args+=(--port 0); fi
  rm -f "$w/port"
  "$bin" "${args[@]}" >> "$w/serve.out" 2>> "$w/serve.err" &
  serve_pid=$!
  for _ in $(seq 1 600); do
    if [ -s "$w/port" ] && curl -sf "http://127.0.0.1:$(cat "$w/port")/healthz/live" >/dev/null 2>&1; then
      port="$(cat "$w/port")"; return 0
    fi
    kill -0 "$serve_pid" 2>/dev/null || { cat "$w/serve.err" >&2; return 1; }
    sleep 0.05
  done
  echo "server did not start" >&2; return 1
}

start_serve
url="http://127.0.0.1:$port"
admin="$(sed -n 2p "$w/serve.out")"
token() { sed -n 's/.*"token": "\([^"]*\)".*/\1/p'; }
"$bin" keys create --data "$w/data" --role gate --bind g3 | token > "$w/gate.key"
ffmpeg -v error -ss 1 -i "$video" -vf fps=8 -frames:v 8 -q:v 2 "$w/enrol-%d.jpg"
curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"id":"acct:soak"}' "$url/v1/accounts" >/dev/null
curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"idempotency_key":"open","amount_minor":1000000}' "$url/v1/accounts/acct:soak/topups" >/dev/null
frames=(); for f in "$w"/enrol-*.jpg; do frames+=(-F "frames=@$f"); done
curl -sf -H "Authorization: Bearer $admin" -F id=soak -F account_id=acct:soak \
  -F consent_text_version=v1 -F channel=soak -F frame_interval_ms=125 "${frames[@]}" \
  "$url/v1/subjects" >/dev/null
"$bin" liveness calibrate --camera soak --live "$video#0-3000" --out "$w/camera.json" >/dev/null 2>&1

gate_args=(gate --gate g3 --server "$url" --key-file "$w/gate.key" --state-dir "$w/gate"
           --camera-profile "$w/camera.json" --sync-ms 200 --timeout-ms 500 --retry-budget-ms 300
           --offline-person-passages 100 --offline-gate-limit-minor 1000000000
           --offline-anti-passback-ms 0)  # one person presenting again and again: every offline
                                          # passage opens, so that many are queued
"$bin" "${gate_args[@]}" --camera "$video" --from-ms 3000 --loop --rearm \
  > "$w/gate.out" 2> "$w/gate.err" &
gate_pid=$!

# Kill and restart the server at random while the gate streams.
for i in $(seq 1 "$kills"); do
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 1.0 + (r % 200) / 100 }')"
  kill -9 "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.5 + (r % 150) / 100 }')"
  start_serve
  say "kill $i/$kills: restarted; gate decisions so far: $(wc -l < "$w/gate.out")"
done
# The server goes away once more; the gate stops with passages still queued.
sleep 2
kill -9 "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
sleep 2
kill -TERM "$gate_pid"; wait "$gate_pid" || { echo "the gate failed" >&2; cat "$w/gate.err" >&2; exit 1; }
gate_pid=""

pending="$(sqlite3 "$w/gate/gate.db" "SELECT COUNT(*) FROM queue WHERE state = 'pending'")"
[ "$pending" -ge 1 ] || { echo "no passage was queued offline at the end" >&2; exit 1; }
# Someone alters a queued record at rest.
tampered="$(sqlite3 "$w/gate/gate.db" "SELECT event_id FROM queue WHERE state = 'pending' ORDER BY id LIMIT 1")"
sqlite3 "$w/gate/gate.db" "UPDATE queue SET event_time_ms = event_time_ms - 1000 WHERE event_id = '$tampered'"

start_serve
"$bin" gate --gate g3 --server "$url" --key-file "$w/gate.key" --state-dir "$w/gate" --replay-only \
  > "$w/replay.json" 2>> "$w/gate.err" || { echo "queue not empty after replay:" >&2; cat "$w/replay.json" >&2; exit 1; }

# What the gate opened, and what the ledger settled.
grep '"open":true' "$w/gate.out" | sed -n 's/.*"event_id":"\([^"]*\)".*/\1/p' | sort > "$w/opened"
grep '"open":true' "$w/gate.out" | grep -c '"offline":true' > "$w/n_offline" || true
kill -9 "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
db="$w/data/facepay.db"
sqlite3 "$db" "SELECT key FROM idempotency WHERE key LIKE '%gate:g3:%'" \
  | sed 's/.*gate:g3://' | sort > "$w/settled"
dups="$(sqlite3 "$db" "SELECT COUNT(*) - COUNT(DISTINCT idem_key) FROM transactions WHERE kind = 'fare'")"
missing="$(comm -23 "$w/opened" "$w/settled" | grep -vx "$tampered" || true)"
decisions="$(wc -l < "$w/gate.out")"
opened="$(wc -l < "$w/opened")"
offline_opened="$(cat "$w/n_offline")"
tampered_audit="$(sqlite3 "$db" "SELECT COUNT(*) FROM audit_log WHERE action = 'offline_passage' AND outcome = 'tampered'")"
settled_offline="$(sqlite3 "$db" "SELECT COUNT(*) FROM audit_log WHERE action = 'offline_passage' AND outcome IN ('settled', 'already_settled')")"
already="$(sqlite3 "$db" "SELECT COUNT(*) FROM audit_log WHERE action = 'offline_passage' AND outcome = 'already_settled'")"
say "kills: $kills; decisions: $decisions; opened: $opened (online $((opened - offline_opened)), offline $offline_opened)"
say "replayed: settled $settled_offline (of which already settled online: $already), refused (tampered) $tampered_audit"
say "replay: $(cat "$w/replay.json")"
fail=0
if [ -n "$missing" ]; then echo "opened but never settled: $missing" >&2; fail=1; fi
if [ "$dups" != 0 ]; then echo "fare transactions with a repeated key: $dups" >&2; fail=1; fi
if [ "$tampered_audit" != 1 ]; then echo "tampered records refused: $tampered_audit (want 1)" >&2; fail=1; fi
if grep -qx "$tampered" "$w/settled"; then echo "the altered record $tampered was settled" >&2; fail=1; fi
if [ "$offline_opened" -lt 1 ]; then echo "no offline passage opened: the soak did not test offline" >&2; fail=1; fi
"$bin" ledger check --store "$db" > "$w/check.json" || { echo "ledger check failed:" >&2; cat "$w/check.json" >&2; fail=1; }
[ "$fail" = 0 ] && say "ok: every opened passage settled once; ledger check clean"
exit "$fail"
