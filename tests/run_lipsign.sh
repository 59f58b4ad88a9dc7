#!/bin/sh
# Issue 25, acceptance 2 on the committed ExLipBaB nets (tests/data/exlipbab,
# PROVENANCE): `lipschitz --bracket --domain all` must bracket the exact
# global L2 constant of values.json (lower <= exact <= upper; the reference
# is a double enumeration, trusted to 1e-9 relative) and close to a 1% gap
# ("stop gap") within 120 s each.  $1 = cerbere.
CB=${1:-build/cerbere}
E=tests/data/exlipbab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v jq >/dev/null || { echo "SKIPPED: jq not installed"; exit 0; }
fail=0
for f in wine_11x12x12x1_relu wine_11x12x12x1_groupsort2 iris_4x6x6x3_relu iris_4x6x6x3_groupsort2 \
         iris_4x6x6x3_groupsort3 abalone_9x16x16x1_groupsort2; do
  ex=$(jq -r ".nets.\"$f\".exact" "$E/values.json")
  if ! "$CB" lipschitz "$E/$f.onnx" --bracket --domain all --budget 120 --quiet --json "$tmp/$f.json" >"$tmp/$f.out" 2>&1; then
    echo "FAIL $f: exit code"; head -3 "$tmp/$f.out"; fail=1; continue
  fi
  ok=$(jq -r --argjson ex "$ex" '.bracket.rows[0] | (.lower <= $ex * (1 + 1e-9)) and ($ex <= .upper * (1 + 1e-9))
        and (.upper - .lower <= 0.01 * .upper) and .stop == "gap"' "$tmp/$f.json")
  line=$(jq -r '.bracket.rows[0] | "[\(.lower), \(.upper)] gap \(.gap) nodes \(.nodes) \(.seconds) s stop \(.stop)"' "$tmp/$f.json")
  if [ "$ok" = true ]; then echo "ok $f: exact $ex in $line"; else echo "FAIL $f: exact $ex, bracket $line"; fail=1; fi
  # The text line's 10 digits are rounded outward: the printed upper is still
  # >= the JSON's upper, the printed lower still <= its lower.
  pu=$(sed -n 's/^upper \([^ ]*\) lower \([^ ]*\) .*/\1/p' "$tmp/$f.out")
  pl=$(sed -n 's/^upper \([^ ]*\) lower \([^ ]*\) .*/\2/p' "$tmp/$f.out")
  dir=$(jq -r --argjson pu "${pu:-0}" --argjson pl "${pl:-1e308}" \
        '.bracket.rows[0] | ($pu >= .upper) and ($pl <= .lower)' "$tmp/$f.json")
  if [ "$dir" != true ]; then echo "FAIL $f: printed upper $pu / lower $pl not rounded outward"; fail=1; fi
done
# L-inf and L1 (--norm inf|1: the induced operator norms; exactness against an
# enumeration is test_lipsign's): on two iris nets the bracket closes to 1%,
# the JSON names the norm, and the printed line names it.
for nm in inf 1; do
  for f in iris_4x6x6x3_relu iris_4x6x6x3_groupsort2; do
    if ! "$CB" lipschitz "$E/$f.onnx" --bracket --domain all --norm $nm --budget 60 --quiet --json "$tmp/n.json" >"$tmp/n.out" 2>&1; then
      echo "FAIL $f --norm $nm: exit code"; head -3 "$tmp/n.out"; fail=1; continue
    fi
    ok=$(jq -r --arg nm "$nm" '.bracket.input_norm == $nm and (.bracket.rows[0] | .lower > 0 and .lower <= .upper
          and (.upper - .lower <= 0.01 * .upper) and .stop == "gap")' "$tmp/n.json")
    txt=$([ $nm = inf ] && echo "L-inf norm of" || echo "L1 norm of")
    if [ "$ok" = true ] && grep -q "$txt" "$tmp/n.out"; then echo "ok $f --norm $nm: $(grep '^upper' "$tmp/n.out" | cut -d' ' -f1-6)"
    else echo "FAIL $f --norm $nm: $(grep '^upper' "$tmp/n.out")"; fail=1; fi
  done
done
# Margins (--margin I:J): iris ReLU f_0 - f_2 in the three norms closes to
# 1% (exactness against an enumeration: test_lipsign's test_margin).
for nm in 2 inf 1; do
  if "$CB" lipschitz "$E/iris_4x6x6x3_relu.onnx" --bracket --domain all --norm $nm --margin 0:2 --budget 60 --quiet \
       --json "$tmp/m.json" >"$tmp/m.out" 2>&1 &&
     [ "$(jq -r '.bracket.rows[0] | .row == "0-2" and .margin_i == 0 and .margin_j == 2 and .lower > 0
          and (.upper - .lower <= 0.01 * .upper) and .stop == "gap"' "$tmp/m.json")" = true ] &&
     grep -q "margin f_0 - f_2" "$tmp/m.out"; then echo "ok iris relu --margin 0:2 --norm $nm: $(grep '^upper' "$tmp/m.out" | cut -d' ' -f1-6)"
  else echo "FAIL iris relu --margin 0:2 --norm $nm"; head -3 "$tmp/m.out"; fail=1; fi
done
exit $fail
