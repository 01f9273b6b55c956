#!/usr/bin/env bash
# The facepay CLI through its real surface: exit codes, stdout JSON contracts, stderr errors.
# Usage: cli_test.sh <facepay binary> <models dir>. Needs node (JSON checks) and the data folder.
set -uo pipefail
F="$1"
MODELS="${FACEPAY_MODELS_DIR:-$2}"
DATA="${FACEPAY_DATA_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/data}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0
ok()   { printf 'ok   %s\n' "$1"; }
bad()  { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
js()   { node -e "const fs=require('fs');const lines=fs.readFileSync(0,'utf8').trim().split('\n');$1"; }

if [ ! -d "$DATA/pad-samples" ]; then
  msg="test data not found at $DATA (set FACEPAY_DATA_DIR)"
  if [ "${FACEPAY_REQUIRE_DATA:-0}" = 1 ]; then echo "FAIL $msg"; exit 1; fi
  echo "SKIP $msg"; exit 77
fi

# setup-check: every model present, verified, loads and runs.
"$F" setup-check > "$tmp/check.json"; rc=$?
check "setup-check exits 0" "[ $rc = 0 ]"
check "setup-check reports ok for 4 models" \
  "js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.ok&&j.models.length==4&&j.models.every(m=>m.loads_and_runs)?0:1)' < $tmp/check.json"

# setup-check on a pack with a corrupted model fails with model_checksum_mismatch.
mkdir -p "$tmp/badpack" && cp "$MODELS"/manifest.json "$MODELS"/*.onnx "$tmp/badpack/"
printf 'x' >> "$tmp/badpack/fr_feature.onnx"
"$F" setup-check --models "$tmp/badpack" > "$tmp/bad.json"; rc=$?
check "setup-check fails on a corrupted model" "[ $rc = 1 ] && grep -q model_checksum_mismatch $tmp/bad.json"

# embed: one JSON line per image with the contract's fields.
"$F" embed --threads 2 "$DATA/pad-samples" > "$tmp/embed.jsonl" 2> "$tmp/embed.err"; rc=$?
check "embed exits 0" "[ $rc = 0 ]"
check "embed prints one line per image with the contract fields" "js '
  if (lines.length!=3) process.exit(1);
  for (const l of lines) { const j=JSON.parse(l);
    if (j.status!==\"ok\"||!Array.isArray(j.box)||j.box.length!=4||j.landmarks.length!=5||
        j.embedding.length!=512||typeof j.liveness!==\"number\"||typeof j.detection_score!==\"number\"||
        typeof j.quality!==\"object\"||\"error\" in j) process.exit(1); }' < $tmp/embed.jsonl"

# embed: a truncated image and a non-image become error lines with stable codes; others go on.
head -c 3000 "$DATA/pad-samples/image_T1.jpg" > "$tmp/cut.jpg"
echo "not an image" > "$tmp/note.png"
cp "$DATA/pad-samples/image_T1.jpg" "$tmp/good.jpg"
"$F" embed "$tmp/cut.jpg" "$tmp/note.png" "$tmp/good.jpg" > "$tmp/mixed.jsonl" 2>/dev/null; rc=$?
check "embed keeps going past bad files" "[ $rc = 0 ] && [ \$(wc -l < $tmp/mixed.jsonl) = 3 ]"
check "truncated JPEG -> error image_truncated, no embedding" \
  "grep cut.jpg $tmp/mixed.jsonl | js 'const j=JSON.parse(lines[0]);process.exit(j.status==\"error\"&&j.error==\"image_truncated\"&&!(\"embedding\" in j)?0:1)'"
check "text file -> error image_unsupported_format" \
  "grep note.png $tmp/mixed.jsonl | js 'const j=JSON.parse(lines[0]);process.exit(j.error==\"image_unsupported_format\"?0:1)'"

# detect: JSON + drawing; a missing file is exit 1 with file_not_found on stderr.
"$F" detect "$DATA/pad-samples/image_T1.jpg" --draw "$tmp/d.png" > "$tmp/det.json" 2>/dev/null; rc=$?
check "detect exits 0 and draws a PNG" "[ $rc = 0 ] && [ -s $tmp/d.png ] && head -c 8 $tmp/d.png | grep -q PNG"
"$F" detect /no/such/file.jpg > /dev/null 2> "$tmp/err.txt"; rc=$?
check "detect on a missing file exits 1 with file_not_found" "[ $rc = 1 ] && grep -q file_not_found $tmp/err.txt"

# verify: a photo against itself matches; the live photo against the print attack's subject too.
"$F" verify "$DATA/pad-samples/image_T1.jpg" "$tmp/good.jpg" > "$tmp/v.json" 2>/dev/null; rc=$?
check "verify of a photo with itself is a match with similarity ~1" \
  "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.decision==\"match\"&&j.similarity>0.99?0:1)' < $tmp/v.json"

# eval verify on a small real pair list, with the accuracy floor switch.
if [ -d "$DATA/lfw-view1" ]; then
  { echo 20; sed -n '2,11p' "$DATA/lfw-view1/pairsDevTest.txt"; sed -n '502,511p' "$DATA/lfw-view1/pairsDevTest.txt"; } > "$tmp/pairs.txt"
  "$F" eval verify --pairs "$tmp/pairs.txt" --images "$DATA/lfw-view1/images" --folds 2 --json \
    --roc "$tmp/roc.png" > "$tmp/ev.json" 2>/dev/null; rc=$?
  check "eval verify on 20 real pairs reports accuracy, AUC, EER and draws the ROC" \
    "[ $rc = 0 ] && [ -s $tmp/roc.png ] && js 'const v=JSON.parse(lines.join(\"\")).verification;process.exit(v.pairs==20&&v.auc>0.9&&v.kfold.mean_accuracy>0.8?0:1)' < $tmp/ev.json"
  "$F" eval verify --pairs "$tmp/pairs.txt" --images "$DATA/lfw-view1/images" --folds 2 --min-accuracy 1.01 > /dev/null 2>&1; rc=$?
  check "eval verify --min-accuracy fails below the floor" "[ $rc = 1 ]"
  printf '1\nSomeone\tx\t2\n' > "$tmp/badpairs.txt"
  "$F" eval verify --pairs "$tmp/badpairs.txt" --images "$DATA/lfw-view1/images" > /dev/null 2> "$tmp/err2.txt"; rc=$?
  check "eval verify on a malformed pair list names the line" "[ $rc = 1 ] && grep -q 'pairs_malformed.*:2:' $tmp/err2.txt"
fi

# eval pad on the three labelled samples.
"$F" eval pad --live "$DATA/pad-samples/image_T1.jpg" --attack "print:$DATA/pad-samples/image_F1.jpg" \
  --attack "screen:$DATA/pad-samples/image_F2.jpg" --json > "$tmp/pad.json" 2>/dev/null; rc=$?
check "eval pad reports per-attack APCER" \
  "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.bona_fide==1&&j.attacks==2&&\"print\" in j.per_attack_type&&\"screen\" in j.per_attack_type?0:1)' < $tmp/pad.json"

# Biometrics: enroll -> identify -> erase through the CLI, with its own store and key file.
LFW="$DATA/lfw-view1/images"
if [ -d "$LFW/Angelina_Jolie" ]; then
  B=(--store "$tmp/bio.db" --key-file "$tmp/bio/template.key" --snapshot "$tmp/bio/g.faiss")
  AJ="$LFW/Angelina_Jolie/Angelina_Jolie_"
  "$F" enroll "${B[@]}" --id 'bad id' "${AJ}0003.jpg" > /dev/null 2> "$tmp/e1.err"; rc=$?
  check "enroll refuses a bad subject id" "[ $rc = 1 ] && grep -q invalid_subject_id $tmp/e1.err"
  "$F" enroll "${B[@]}" --id aj --phone-last4 12a4 "${AJ}0003.jpg" > /dev/null 2> "$tmp/e2.err"; rc=$?
  check "enroll refuses phone digits that are not 4 digits" "[ $rc = 1 ] && grep -q invalid_phone_last4 $tmp/e2.err"
  "$F" enroll "${B[@]}" --id aj --phone-last4 1234 "${AJ}0003.jpg" "${AJ}0004.jpg" "${AJ}0008.jpg" \
    > "$tmp/enroll.json" 2> "$tmp/enroll.err"; rc=$?
  check "enroll stores the subject and says it created the key" \
    "[ $rc = 0 ] && grep -q 'created template key' $tmp/enroll.err && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.status==\"enrolled\"&&j.templates==3?0:1)' < $tmp/enroll.json"
  check "the key file is owner-only" "[ \$(stat -c %a $tmp/bio/template.key) = 600 ]"
  "$F" identify "${B[@]}" "${AJ}0015.jpg" > "$tmp/id.json"; rc=$?
  check "identify finds the enrolled subject first" \
    "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.top[0].subject_id==\"aj\"&&j.decision!=\"reject\"&&j.timings_ms.total>0?0:1)' < $tmp/id.json"
  "$F" identify "${B[@]}" --phone-last4 1234 "${AJ}0015.jpg" > "$tmp/id3.json"; rc=$?
  check "identify with the right phone digits accepts through the second factor" \
    "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.decision==\"accept\"&&j.subject_id==\"aj\"&&j.second_factor===true?0:1)' < $tmp/id3.json"
  "$F" identify "${B[@]}" --phone-last4 9999 "${AJ}0015.jpg" > "$tmp/id4.json"; rc=$?
  check "identify with wrong phone digits is no match" \
    "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.decision==\"reject\"&&j.reason==\"no_match\"?0:1)' < $tmp/id4.json"
  FACEPAY_TEMPLATE_KEY=$(printf '%064d' 7) "$F" identify "${B[@]}" "${AJ}0015.jpg" > /dev/null 2> "$tmp/k.err"; rc=$?
  check "a wrong key is a clear start-up error" "[ $rc = 1 ] && grep -q template_key_mismatch $tmp/k.err"
  "$F" identify --store "$tmp/bio.db" --key-file "$tmp/none.key" "${AJ}0015.jpg" > /dev/null 2> "$tmp/k2.err"; rc=$?
  check "a missing key is a clear start-up error" "[ $rc = 1 ] && grep -q template_key_missing $tmp/k2.err"
  "$F" erase "${B[@]}" --id aj > "$tmp/erase.json"; rc=$?
  check "erase removes the subject's templates" \
    "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.templates_removed==3&&j.in_index===false?0:1)' < $tmp/erase.json"
  "$F" identify "${B[@]}" "${AJ}0015.jpg" > "$tmp/id2.json"; rc=$?
  check "after erase the face is no match" \
    "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.decision==\"reject\"&&j.reason==\"no_match\"&&j.top.length==0?0:1)' < $tmp/id2.json"
  "$F" erase "${B[@]}" --id aj > /dev/null 2> "$tmp/e3.err"; rc=$?
  check "erasing twice says subject_not_found" "[ $rc = 1 ] && grep -q subject_not_found $tmp/e3.err"
  "$F" policy show "${B[@]}" > "$tmp/pol.json"; rc=$?
  check "policy show reports the uncalibrated defaults" \
    "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.calibrated===false&&j.accept>j.step_up?0:1)' < $tmp/pol.json"

  # calibrate --pairs: impostor comparisons from the mismatched pairs of an LFW pair list, in a
  # second store with one subject (FPIR = 1 x FMR). 12 mismatched pairs support FPIR 1e-1 (needs
  # 10), not 1e-2 (needs 100): the refusal names the pairs it would need.
  C=(--store "$tmp/cal.db" --key-file "$tmp/bio/template.key" --snapshot "$tmp/bio/c.faiss")
  "$F" enroll "${C[@]}" --id aj "${AJ}0003.jpg" > /dev/null 2>&1
  { echo 14; sed -n '2,3p' "$DATA/lfw-view1/pairsDevTest.txt"; sed -n '502,513p' "$DATA/lfw-view1/pairsDevTest.txt"; } > "$tmp/pairs.txt"
  "$F" calibrate "${C[@]}" --pairs "$tmp/pairs.txt" --images "$LFW" --target-fpir 0.1 \
    > "$tmp/cal.json" 2> "$tmp/cal.err"; rc=$?
  check "calibrate --pairs uses the mismatched pairs and states its limits" \
    "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.calibrated&&j.impostor_source==\"pairs\"&&j.limits.impostor_comparisons==12&&j.limits.same_person_pairs_ignored==2&&j.limits.largest_gallery_for_target_fpir==1&&j.impostor_probes==12?0:1)' < $tmp/cal.json"
  "$F" calibrate "${C[@]}" --pairs "$tmp/pairs.txt" --images "$LFW" --target-fpir 0.01 \
    > /dev/null 2> "$tmp/cal2.err"; rc=$?
  check "calibrate --pairs refuses a target its pairs cannot measure" \
    "[ $rc = 1 ] && grep -q too_few_impostor_pairs $tmp/cal2.err && grep -q 'at least 100 impostor pairs, got 12' $tmp/cal2.err"

  "$F" calibrate "${C[@]}" --images "$LFW/Aaron_Peirsol" --target-fpir 0.1 > /dev/null 2> "$tmp/cal3.err"; rc=$?
  check "calibrate --images refuses a target below 1/probes and prints its limits" \
    "[ $rc = 1 ] && grep -q too_few_impostor_probes $tmp/cal3.err && grep -q '\"lowest_calibratable_fpir\":0.25' $tmp/cal3.err"

  # eval identify with explicit gallery / probe lists (identity<TAB>path and bare paths).
  G="$tmp/gallery.txt"; P="$tmp/probes.txt"
  printf 'aj\t%s\n' "${AJ}0003.jpg" > "$G"
  printf '%s\n' "$LFW/Aaron_Peirsol/Aaron_Peirsol_0001.jpg" >> "$G"
  printf 'aj\t%s\naj\t%s\n' "${AJ}0004.jpg" "${AJ}0008.jpg" > "$P"
  printf '%s\n' "$LFW/AJ_Cook/AJ_Cook_0001.jpg" "$LFW/AJ_Lamas/AJ_Lamas_0001.jpg" \
    "$LFW/Aaron_Guiel/Aaron_Guiel_0001.jpg" >> "$P"
  "$F" eval identify --gallery "$G" --probes "$P" --policy-fpir 0.5,0.01 --threads 2 \
    > "$tmp/ei.json" 2> /dev/null; rc=$?
  check "eval identify takes gallery and probe lists: 2 mated, 3 non-mated, rank-1 1" \
    "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.gallery==2&&j.mated_probes==2&&j.nonmated_probes==3&&j.rank1==1&&j.distractors==1&&j.fnir_at_fpir[0].fpir_ci95.length==2?0:1)' < $tmp/ei.json"
  check "eval identify reports a refused policy target instead of dropping it" \
    "js 'const j=JSON.parse(lines.join(\"\"));const p=j.policies;process.exit(p.length==2&&p[0].policy.calibrated&&p[0].outcomes_face_only.mated&&/too_few_impostor_probes/.test(p[1].refused)?0:1)' < $tmp/ei.json"
  "$F" eval identify --gallery "$G" --probes "$P" --leave-one-out --policy-fpir 0.5 --threads 2 \
    > "$tmp/ei2.json" 2> /dev/null; rc=$?
  check "eval identify --leave-one-out adds each enrolled image as a non-mated probe" \
    "[ $rc = 0 ] && js 'const j=JSON.parse(lines.join(\"\"));process.exit(j.nonmated_probes==7&&j.nonmated_leave_one_out_probes==4&&j.mated_probes==2?0:1)' < $tmp/ei2.json"
  "$F" eval identify --gallery "$G" > /dev/null 2> "$tmp/ei3.err"; rc=$?
  check "eval identify wants --gallery and --probes together" "[ $rc = 1 ] && grep -q invalid_protocol $tmp/ei3.err"
fi
"$F" bench search --size 2000 --queries 50 --json > "$tmp/bs.json" 2>/dev/null; rc=$?
check "bench search on Flat is exact" \
  "[ $rc = 0 ] && js 'const j=JSON.parse(lines[0]);const p=j.points[0];process.exit(p.recall_at_1==1&&j.size==2000&&p.p99_ms>0&&j.exact_p99_ms>0?0:1)' < $tmp/bs.json"
"$F" bench search --size 3000 --queries 60 --index HNSW32 --ef-search 4,256 --ef-construction 80 --json \
  > "$tmp/bs2.json" 2>/dev/null; rc=$?
check "bench search measures every --ef-search on one HNSW build" \
  "[ $rc = 0 ] && js 'const j=JSON.parse(lines[0]);const p=j.points;process.exit(p.length==2&&p[0].ef_search==4&&p[1].ef_search==256&&j.ef_construction==80&&p[1].recall_at_1>=p[0].recall_at_1&&p[1].recall_at_1>0.9?0:1)' < $tmp/bs2.json"
"$F" bench search --size 3000 --queries 60 --index IVF16,Flat --ef-search 1,16 --json \
  > "$tmp/bs3.json" 2>/dev/null; rc=$?
check "bench search trains an IVF index; nprobe = all lists is exact" \
  "[ $rc = 0 ] && js 'const j=JSON.parse(lines[0]);const p=j.points;process.exit(p.length==2&&p[1].recall_at_1==1&&p[0].recall_at_1<1?0:1)' < $tmp/bs3.json"
"$F" bench search --size 100 --synthetic face-like > /dev/null 2> "$tmp/bs4.err"; rc=$?
check "bench search face-like needs real embeddings" "[ $rc = 1 ] && grep -q invalid_synthetic $tmp/bs4.err"
"$F" bench search --size 5 > /dev/null 2> "$tmp/bs.err"; rc=$?
check "bench search bounds the size" "[ $rc = 1 ] && grep -q invalid_size $tmp/bs.err"

# usage errors are exit code 2 (CLI11) or 1, never a crash.
"$F" embed > /dev/null 2>&1; rc=$?
check "embed without paths is a usage error" "[ $rc != 0 ] && [ $rc -lt 128 ]"

echo "$fails failure(s)"
[ $fails = 0 ]
