#!/usr/bin/env bash
# The facepay .deb as an operator receives it: cpack builds it from this build tree into a
# scratch folder; dpkg-deb checks its control data and contents; the package is extracted into a
# scratch root, whose binary must find its installed models without a flag and start the
# server with facepay.service's own command line; systemd-analyze verifies both units (and must
# reject a broken copy, so the check is known to bite). No root needed.
# Usage: check_deb.sh <cpack> <build dir> <facepay binary of the build>
set -uo pipefail
CPACK="$1" BUILD="$2" BUILT_BINARY="$3"
units=(facepay.service facepay-gate@.service)

for tool in dpkg-deb systemd-analyze curl; do
  command -v "$tool" >/dev/null || { echo "SKIP $tool not installed"; exit 77; }
done
[ -x "$BUILT_BINARY" ] || { echo "FAIL $BUILT_BINARY not built (cmake --build ... --target facepay)"; exit 1; }

tmp=$(mktemp -d); server=""
cleanup() { [ -n "$server" ] && kill -KILL "$server" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
ok()    { printf 'ok   %s\n' "$1"; }
bad()   { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# ---------------------------------------------------------------- build the package
start=$SECONDS
if ! "$CPACK" -G DEB --config "$BUILD/CPackConfig.cmake" -B "$tmp/out" > "$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"; echo "FAIL cpack -G DEB"; exit 1
fi
debs=("$tmp"/out/facepay_*.deb)
[ -f "${debs[0]}" ] || { cat "$tmp/cpack.log"; echo "FAIL cpack wrote no facepay_*.deb"; exit 1; }
deb="${debs[0]}"
echo "note cpack: $((SECONDS - start)) s, $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB"

# ---------------------------------------------------------------- control data
dpkg-deb --info "$deb" > "$tmp/info.txt"
field() { dpkg-deb --field "$deb" "$1"; }
check "package is named facepay" "[ \"\$(field Package)\" = facepay ]"
check "version is set" "[ -n \"\$(field Version)\" ]"
check "Depends lists the runtime libraries (dpkg-shlibdeps) and adduser" \
  "field Depends | grep -q 'libc6' && field Depends | grep -q 'libopencv-core' &&
   field Depends | grep -q 'libsodium' && field Depends | grep -q 'adduser'"
echo "note Depends: $(field Depends)"
dpkg-deb --control "$deb" "$tmp/control"
check "maintainer scripts are executable and parse" \
  "(for s in postinst prerm postrm; do [ -x $tmp/control/\$s ] && sh -n $tmp/control/\$s || exit 1; done)"
check "postinst creates the facepay system user" \
  "grep -q 'adduser --system .*facepay' $tmp/control/postinst"

# ---------------------------------------------------------------- contents
dpkg-deb --contents "$deb" > "$tmp/contents.txt"
has() { awk '{print $6}' "$tmp/contents.txt" | grep -qx "./${1#/}"; }
check "contains /usr/bin/facepay, executable" \
  "grep -q '^-rwxr-xr-x root/root .* ./usr/bin/facepay\$' $tmp/contents.txt"
check "contains both systemd units" \
  "has /lib/systemd/system/facepay.service && has /lib/systemd/system/facepay-gate@.service"
check "contains the model manifest" "has /usr/share/facepay/models/manifest.json"
root="$tmp/root"
dpkg-deb -x "$deb" "$root"
models=$(grep -o '"file": *"[^"]*"' "$root/usr/share/facepay/models/manifest.json" 2>/dev/null |
         sed 's/.*"\([^"]*\)"$/\1/')
check "contains every model file the manifest names ($(echo $models))" \
  "[ -n \"\$models\" ] && (for m in \$models; do has /usr/share/facepay/models/\$m || exit 1; done)"
check "contains the example terminals config and what it names" \
  "has /etc/facepay/terminals/demo.json && has /etc/facepay/fares/metro.json &&
   has /etc/facepay/cameras/dev-webcam.json"
check "every file is owned by root" "! awk '{print \$2}' $tmp/contents.txt | grep -vqx root/root"
check "every file under /etc is a conffile, and every conffile is in the package" \
  "diff <(awk '\$1 ~ /^-/ {print \$6}' $tmp/contents.txt | grep '^./etc/' | sed 's|^\.||' | sort) \
        <(sort $tmp/control/conffiles)"

# ---------------------------------------------------------------- the extracted package
F="$root/usr/bin/facepay"
check "the installed binary runs: --help" "'$F' --help > $tmp/help.txt 2>&1"
env -u FACEPAY_MODELS_DIR "$F" setup-check > "$tmp/check.json" 2>&1; rc=$?
check "setup-check without flags finds the installed models and runs each of them" \
  "[ $rc = 0 ] && grep -q '\"ok\": true' $tmp/check.json &&
   grep -q '\"models_dir\": \"$root/usr/share/facepay/models\"' $tmp/check.json"
[ $rc = 0 ] || cat "$tmp/check.json"

# facepay.service's own ExecStart and environment, with its paths moved into the scratch root
# and a free port, serves: ready, first-start admin key, clean stop on SIGTERM.
unit="$root/lib/systemd/system/facepay.service"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
terminals=$(sed -n 's/^Environment=FACEPAY_TERMINALS=//p' "$unit")
check "facepay.service names a terminals config that the package ships" "[ -f '$root$terminals' ]"
"$F" serve --help > "$tmp/serve-help.txt" 2>&1
check "every option facepay.service passes is one 'facepay serve --help' lists" \
  "(for o in \$(grep -o -- '--[a-z-]*' <<< \"\$exec_start\"); do grep -q -- \"\$o\" $tmp/serve-help.txt || exit 1; done)"
cmd=${exec_start//\/usr\/bin\/facepay/$F}
cmd=${cmd//\/var\/lib\/facepay/$tmp/state}
cmd=${cmd//\$FACEPAY_SERVE_ARGS/--port 0 --port-file $tmp/port}
mkdir -p "$tmp/state"
(cd "$tmp/state" && umask 077 && exec env -u FACEPAY_MODELS_DIR FACEPAY_TERMINALS="$root$terminals" \
  $cmd > "$tmp/serve.out" 2> "$tmp/serve.err") &
server=$!
for _ in $(seq 1 300); do [ -s "$tmp/port" ] || ! kill -0 "$server" 2>/dev/null && break; sleep 0.1; done
port=$(cat "$tmp/port" 2>/dev/null)
check "the server from the package starts with the unit's command line" "[ -n '$port' ]"
check "it is ready (GET /healthz/ready)" \
  "[ -n '$port' ] && curl -sf --max-time 5 http://127.0.0.1:$port/healthz/ready | grep -q '\"ok\"'"
check "its first start prints the admin key on stdout (the journal)" \
  "grep -q 'first start: admin API key' $tmp/serve.out"
kill -TERM "$server" 2>/dev/null; wait "$server"; rc=$?; server=""
check "SIGTERM stops it cleanly (exit 0)" "[ $rc = 0 ] && grep -q 'facepay: stopped' $tmp/serve.err"
[ $rc = 0 ] || tail -5 "$tmp/serve.err"

# ---------------------------------------------------------------- systemd-analyze verify
# verify checks that ExecStart exists, so each unit is copied with its absolute Exec paths moved
# into the scratch root (--root would also need a whole systemd tree there). It exits 0 on a
# mistyped key or bad value and only prints a warning: any line naming the unit is a failure.
verify() {  # <unit file> -> 0 when systemd-analyze has nothing to say about it
  local out
  out=$(systemd-analyze verify --man=no "$1" 2>&1); local vrc=$?
  local about; about=$(grep -F facepay <<< "$out")
  [ -n "$out" ] && printf '     %s\n' "$out"
  [ $vrc = 0 ] && [ -z "$about" ]
}
# Each in its own folder: verify loads the units beside the one it checks (After=facepay.service).
for u in "${units[@]}"; do
  mkdir -p "$tmp/units/$u"
  sed -E "s|^(Exec[A-Za-z]*=[-@:+!]*)/|\1$root/|" "$root/lib/systemd/system/$u" > "$tmp/units/$u/$u"
  check "systemd-analyze verify $u" "verify '$tmp/units/$u/$u'"
done
mkdir -p "$tmp/broken"
sed 's/^ProtectSystem=strict/ProtectSytem=strict/' "$tmp/units/facepay.service/facepay.service" \
  > "$tmp/broken/facepay.service"
check "systemd-analyze verify rejects a unit with a mistyped key (the check bites)" \
  "! verify '$tmp/broken/facepay.service' > /dev/null"
sed "s|^ExecStart=$root|ExecStart=$tmp/no-such|" "$tmp/units/facepay.service/facepay.service" \
  > "$tmp/broken/facepay.service"
check "systemd-analyze verify rejects a unit whose binary is missing" \
  "! verify '$tmp/broken/facepay.service' > /dev/null"

echo "note total: $((SECONDS - start)) s"
[ "$fails" = 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all packaging checks passed"
