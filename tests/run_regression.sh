#!/bin/sh
# bounds on a single-output (regression) net (issue 20): output intervals per
# row, the label column ignored (a label that is no class is fine), verified
# null, no margins, every logit inside its interval; certify (margins)
# refuses it by name.  $1 = cerbere.
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
exit $fail
