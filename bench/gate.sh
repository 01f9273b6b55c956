#!/usr/bin/env bash
# Edge gate benchmark recorded in docs/benchmarks.md: `facepay gate` over a real clip against a
# local `facepay serve` (SQLite, demo terminals: g3 is the edge gate) with the clip's person
# enrolled from a burst of its first second and its camera calibrated on its first 3 s.
#
#   1. the passage as a turnstile sees it: one person, one decision (accept, one fare)
#   2. throughput: `--rearm` (the same person presents again at once), the whole clip
#   3. the baseline in the same run: `facepay bench liveness` (one frame vs one 8-frame window
#      of the same clip through the pipeline, no server)
#
# Decisions per second and frame-to-decision median / p99 (from reading the burst's last frame
# to the server's answer) come from the gate's own summary line (stderr).
#
#   bench/gate.sh                 # VIDEO=$FACEPAY_DATA_DIR/videos/d3.mp4 by default
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$here/build/release/apps/facepay/facepay"
[ -x "$bin" ] || { echo "build first: scripts/setup" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "needs ffmpeg (scripts/setup installs it)" >&2; exit 1; }
data="${FACEPAY_DATA_DIR:-$here/../shared/data}"
video="${VIDEO:-$data/videos/d3.mp4}"
[ -f "$video" ] || { echo "no video at $video (set FACEPAY_DATA_DIR or VIDEO)" >&2; exit 1; }
work="$(mktemp -d /tmp/facepay-gate-bench.XXXXXX)"
serve_pid=""
cleanup() { [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin" serve --data "$work/data" --port 0 --port-file "$work/port" --no-access-log \
  > "$work/serve.out" 2> "$work/serve.err" &
serve_pid=$!
for _ in $(seq 1 300); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/serve.err" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$work/port")"
admin="$(sed -n 2p "$work/serve.out")"
token() { sed -n 's/.*"token": "\([^"]*\)".*/\1/p'; }
"$bin" keys create --data "$work/data" --role gate --bind g3 | token > "$work/gate.key"

# Enrolment: 8 frames of the clip's first second, as an enrolment kiosk sends them.
ffmpeg -v error -ss 1 -i "$video" -vf fps=8 -frames:v 8 -q:v 2 "$work/enrol-%d.jpg"
curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"id":"acct:bench"}' "$url/v1/accounts" > /dev/null
curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"idempotency_key":"open","amount_minor":100000}' "$url/v1/accounts/acct:bench/topups" > /dev/null
frames=()
for f in "$work"/enrol-*.jpg; do frames+=(-F "frames=@$f"); done
curl -sf -H "Authorization: Bearer $admin" -F id=bench -F account_id=acct:bench \
  -F consent_text_version=v1 -F channel=bench \
  -F frame_interval_ms=125 "${frames[@]}" "$url/v1/subjects" > "$work/enrol.json" \
  || { echo "enrolment failed:" >&2; cat "$work/enrol.json" >&2; exit 1; }

"$bin" liveness calibrate --camera bench --live "$video#0-3000" --out "$work/camera.json" > /dev/null

gate() {
  "$bin" gate --gate g3 --camera "$video" --server "$url" --key-file "$work/gate.key" \
    --camera-profile "$work/camera.json" "$@"
}
echo "== one passage (from 3 s: after the calibration part)"
gate --from-ms 3000 2> "$work/one.err" | tee "$work/one.out"
grep '"summary"' "$work/one.err"
echo "== throughput: --rearm over the whole clip"
gate --rearm 2> "$work/rearm.err" > "$work/rearm.out"
echo "decisions: $(wc -l < "$work/rearm.out"), outcomes: $(sed -n 's/.*"outcome":"\([a-z_]*\)".*/\1/p' "$work/rearm.out" | sort | uniq -c | tr '\n' ' ')"
grep '"summary"' "$work/rearm.err"
echo "== baseline: the pipeline alone on the same clip"
"$bin" bench liveness --video "$video" --windows 20
