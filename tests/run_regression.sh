#!/bin/sh
# Regression networks (issue 20).  bounds on a single-output net: output
# intervals per row, the label column ignored (a label that is no class is
# fine), verified null, no margins, every logit inside its interval; certify
# without --regression refuses it by name.  certify --regression --tol T
# (acceptance 3) on the Collins RUL CNN (tests/data/collins: the VNN-COMP
# 2022 NN_rul_small_window_20.onnx and 4 rows, PROVENANCE there) at
# tolerances 1, 5 and 50: more tolerance never verifies fewer rows, the
# smallest falsifies and the largest verifies; every falsified row's
# witness is re-checked here: inside the ball (jq, in double) and its output
# moved by more than T, exactly (bc on the exact rationals the JSON gives
# for f(witness) and f(row)); a verified row's output bounds lie within T of
# its output.  Then a weighted ball (--eps-per-feature, the half-widths of a
# VNN-COMP robustness box), the small multi-output regression head, and,
# when the benchmark is present (../shared), all three Collins RUL networks
# (windows 20 and 40) at tolerances 1 and 50, every witness re-checked.
# $1 = cerbere.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
net=tests/data/ops/regression_head.onnx
sed 's/^0,/5,/' tests/data/ops/regression_head.in.csv > "$tmp/in.csv"
"$CB" bounds "$net" --data "$tmp/in.csv" --norm inf --eps 0.05 --json "$tmp/b.json" > "$tmp/out" 2>&1 || { echo "FAIL: bounds exit $?"; cat "$tmp/out"; fail=1; }
[ "$(jq '.samples | length' "$tmp/b.json")" = 8 ] || { echo "FAIL: not 8 samples"; fail=1; }
[ "$(jq '[.samples[] | select(.verified == null and (.margin_lb | length) == 0 and .logit_lb[0] <= .logits[0] and .logits[0] <= .logit_ub[0])] | length' "$tmp/b.json")" = 8 ] ||
  { echo "FAIL: a row is not an interval holding its output"; jq -c '.samples[0]' "$tmp/b.json"; fail=1; }
[ "$(jq '.n_verified' "$tmp/b.json")" = null ] || { echo "FAIL: n_verified not null"; fail=1; }
grep -q "output intervals of 8 rows" "$tmp/out" || { echo "FAIL: summary line"; cat "$tmp/out"; fail=1; }
"$CB" certify "$net" --data tests/data/ops/regression_head.in.csv --norm inf --eps 0.05 --out "$tmp/rep" > "$tmp/c" 2>&1 && { echo "FAIL: certify accepted a single-output net"; fail=1; }
grep -q "needs at least 2 outputs" "$tmp/c" || { echo "FAIL: certify message"; cat "$tmp/c"; fail=1; }
[ "$fail" = 0 ] && echo "regression bounds: 8 output intervals hold their outputs; certify refuses by name"

# certify --regression: the regression head (any output count)
"$CB" certify "$net" --data tests/data/ops/regression_head.in.csv --norm inf --eps 0.05 --regression --tol 0.5 --quiet --out "$tmp/head" > "$tmp/h" 2>&1
rc=$?
{ [ "$rc" = 0 ] || [ "$rc" = 10 ] || [ "$rc" = 11 ]; } || { echo "FAIL: certify --regression on the head: exit $rc"; cat "$tmp/h"; fail=1; }
[ "$(jq '.samples | length' "$tmp/head/certificates.json")" = 8 ] || { echo "FAIL: head: not 8 samples"; fail=1; }

# recheck DIR TOL EPS: every falsified row's witness, every verified row's bounds
recheck() {
  jq -r --argjson t "$2" --argjson e "$3" '.samples[] | select(.verdict == "falsified") |
    ([.counterexample, .x] | transpose | map(.[0] - .[1] | fabs) | max) as $d |
    .counterexample_output as $o |
    "\(.index) \($d <= $e) \((.counterexample_logits[$o] - .logits[$o]) | fabs > $t) \(.counterexample_logits_real[$o]) \(.logits_real[$o])"' \
    "$1/certificates.json" > "$tmp/cex"
  while read -r i inball moved yc y0; do
    [ "$inball" = true ] || { echo "FAIL tol $2: row $i: the witness is outside the ball"; fail=1; }
    [ "$moved" = true ] || { echo "FAIL tol $2: row $i: the witness does not move the output by more than $2 (double)"; fail=1; }
    # exact: |f(witness) - f(row)| > T with the rationals N/2^k as bc expressions (dyadic: exact at scale 1200)
    r=$(printf 'scale=1200\nd=(%s)-(%s)\nif (d < 0) d = -d\nd > %s\n' "$yc" "$y0" "$2" | BC_LINE_LENGTH=0 bc)
    [ "$r" = 1 ] || { echo "FAIL tol $2: row $i: exact |f(witness) - f(row)| is not > $2"; fail=1; }
    nw=$((nw + 1))
  done < "$tmp/cex"
  n_bad=$(jq --argjson t "$2" '[.samples[] | select(.verdict == "verified") | select(.logit_lb[0] < .logits[0] - $t - 1e-9 or .logit_ub[0] > .logits[0] + $t + 1e-9)] | length' "$1/certificates.json")
  [ "$n_bad" = 0 ] || { echo "FAIL tol $2: $n_bad verified rows with output bounds beyond the tolerance"; fail=1; }
}
C=tests/data/collins
nw=0; prev=-1; vlist=""
for tol in 1 5 50; do
  "$CB" certify $C/NN_rul_small_window_20.onnx --data $C/rows.csv --norm inf --eps 0.01 --regression --tol $tol --threads 2 --quiet --out "$tmp/c$tol" > "$tmp/c$tol.out" 2>&1
  rc=$?
  { [ "$rc" = 0 ] || [ "$rc" = 10 ]; } || { echo "FAIL: collins tol $tol: exit $rc"; cat "$tmp/c$tol.out"; fail=1; continue; }
  v=$(jq '.summary.n_verified' "$tmp/c$tol/certificates.json"); f=$(jq '.summary.n_falsified' "$tmp/c$tol/certificates.json")
  [ "$v" -ge "$prev" ] || { echo "FAIL: collins tol $tol verifies $v rows, fewer than a smaller tolerance"; fail=1; }
  [ "$(jq -r '.settings.property' "$tmp/c$tol/certificates.json")" = "regression: |f_j(y) - f_j(x)| <= tol for every output j" ] ||
    { echo "FAIL: the JSON does not state the regression property"; fail=1; }
  grep -q "regression" "$tmp/c$tol/report.html" || { echo "FAIL: report.html does not say regression"; fail=1; }
  prev=$v; vlist="$vlist tol $tol: $v verified, $f falsified;"
  recheck "$tmp/c$tol" $tol 0.01
done
[ "$(jq '.summary.n_falsified' "$tmp/c1/certificates.json")" -ge 1 ] || { echo "FAIL: tol 1 falsifies nothing"; fail=1; }
[ "$(jq '.summary.n_verified' "$tmp/c50/certificates.json")" = 4 ] || { echo "FAIL: tol 50 does not verify the 4 rows"; fail=1; }
# a weighted ball: the half-widths of the 16-perturbation robustness box
"$CB" certify $C/NN_rul_small_window_20.onnx --data $C/rows.csv --norm inf --eps 1 --eps-per-feature $C/radii_16perturbations.txt \
  --regression --tol 5 --threads 2 --quiet --out "$tmp/w" > "$tmp/w.out" 2>&1
rc=$?
{ [ "$rc" = 0 ] || [ "$rc" = 10 ]; } || { echo "FAIL: collins weighted: exit $rc"; cat "$tmp/w.out"; fail=1; }
[ "$(jq -r '.threat_model.eps_per_feature' "$tmp/w/certificates.json")" = "$C/radii_16perturbations.txt" ] || { echo "FAIL: threat_model"; fail=1; }
jq -r '.samples[] | select(.verdict == "falsified") | [.counterexample, .x] | transpose | to_entries[] |
  "\(.key) \(.value[0] - .value[1] | fabs)"' "$tmp/w/certificates.json" > "$tmp/wd"
awk 'NR == FNR { r[NR - 1] = $1; next } { if ($2 > r[$1] * (1 + 1e-12) + 1e-300) { print "FAIL: weighted witness moves input " $1 " by " $2 " > " r[$1]; bad = 1 } }
     END { exit bad }' $C/radii_16perturbations.txt "$tmp/wd" || fail=1
recheck "$tmp/w" 5 1e300
echo "collins RUL --regression (eps 0.01):$vlist $nw falsified witnesses re-checked exactly; weighted ball: $(jq '.summary.n_verified' "$tmp/w/certificates.json") verified, $(jq '.summary.n_falsified' "$tmp/w/certificates.json") falsified"

# The three Collins RUL networks of the benchmark (when /work/shared is here):
# rows are the centres of two robustness boxes per window, tolerances 1 and 50.
S=${SHARED:-../shared}/benchmarks/collins_rul_cnn
if [ -d "$S/onnx" ]; then
  for net in "$S"/onnx/NN_rul_*.onnx; do
    W=${net##*_window_}; W=${W%.onnx}; name=$(basename "$net" .onnx)
    for p in 2 16; do
      awk -v n=$((W * 20)) '/^\(assert \(>= X_/ { i = substr($3, 3) + 0; v = $4; sub(/\)+$/, "", v); lo[i] = v }
        /^\(assert \(<= X_/ { i = substr($3, 3) + 0; v = $4; sub(/\)+$/, "", v); hi[i] = v }
        END { printf "0"; for (i = 0; i < n; i++) printf ",%.17g", (lo[i] + hi[i]) / 2; printf "\n" }' \
        "$S/vnnlib/robustness_${p}perturbations_delta10_epsilon10_w$W.vnnlib"
    done > "$tmp/$name.csv"
    out=""
    for tol in 1 50; do
      "$CB" certify "$net" --data "$tmp/$name.csv" --norm inf --eps 0.01 --regression --tol $tol --threads 2 --quiet --out "$tmp/$name-$tol" > "$tmp/o" 2>&1
      rc=$?
      { [ "$rc" = 0 ] || [ "$rc" = 10 ] || [ "$rc" = 11 ]; } || { echo "FAIL: $name tol $tol: exit $rc"; cat "$tmp/o"; fail=1; continue; }
      recheck "$tmp/$name-$tol" $tol 0.01
      out="$out tol $tol: $(jq '.summary.n_verified' "$tmp/$name-$tol/certificates.json") verified, $(jq '.summary.n_falsified' "$tmp/$name-$tol/certificates.json") falsified;"
    done
    echo "$name --regression (2 rows):$out"
  done
  echo "$nw falsified witnesses re-checked exactly in all"
else
  echo "SKIPPED: the Collins RUL benchmark networks ($S absent); the committed small-window net ran above"
fi
exit $fail
