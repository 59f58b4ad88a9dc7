#!/bin/sh
# certify on the whole set (issue 16), end to end.  $1 = cerbere.
#  - a row outside the --clip box is judged on the set, not as its own
#    counterexample: clip4 at the origin, [0.6,1]^4 all class 0 -> verified;
#    labelled 1 -> falsified by clean at the row clamped into the box;
#  - --radius with L2 and a clip box 0.28-0.31 away from the rows runs
#    (it used to attack an empty set and stop with exit 3);
#  - --methods alpha-crown / local-lipschitz / ibp,alpha-crown run the named
#    method (they used to leave every row unknown, "no sound method ran").
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$CB" certify tests/data/clip4.nnet --data tests/data/clip4_origin.csv --norm inf --eps 1 --clip 0.6:1 --quiet \
  --out "$tmp/c1" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] || fail "clip4 at the origin, label 0: exit $rc, expected 0 (every row verified) $(cat "$tmp/err")"
[ "$(grep -c '"verdict":.*"verified"' "$tmp/c1/certificates.json")" = 2 ] || fail "clip4: not 2 verified rows"
for n in "inf 1" "2 1.5" "1 3"; do
  set -- $n
  "$CB" certify tests/data/clip4.nnet --data tests/data/clip4_label1.csv --norm "$1" --eps "$2" --clip 0.6:1 --quiet \
    --out "$tmp/c2" >/dev/null 2>"$tmp/err"
  rc=$?
  [ "$rc" = 10 ] || fail "clip4 label 1, L$1: exit $rc, expected 10 $(cat "$tmp/err")"
  grep -q '"decided_by":.*"clean"' "$tmp/c2/certificates.json" || fail "clip4 label 1, L$1: not decided by clean"
  grep -q '"counterexample":.*\[0.6, 0.6, 0.6, 0.6\]' "$tmp/c2/certificates.json" || fail "clip4 label 1, L$1: counterexample is not the clamped row"
done
"$CB" certify nets/digits_mlp.onnx --data nets/digits_test.csv --rows 7:16 --norm 2 --eps 0.4 --clip 0.05:0.95 --radius \
  --threads 1 --quiet --out "$tmp/r" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 10 ] || [ "$rc" = 11 ] || fail "--radius L2 clipped: exit $rc ($(cat "$tmp/err"))"
[ "$(grep -c '"certified_radius":.*[0-9]' "$tmp/r/certificates.json")" = 9 ] || fail "--radius L2 clipped: not 9 radii"
# eps 0.03: IBP proves none of rows 0-2, alpha-CROWN and local Lipschitz prove all three
for m in alpha-crown local-lipschitz ibp,alpha-crown; do
  "$CB" certify nets/digits_mlp.onnx --data nets/digits_test20.csv --rows 0:3 --norm inf --eps 0.03 --methods "$m" \
    --threads 1 --quiet --out "$tmp/m" >/dev/null 2>"$tmp/err"
  rc=$?
  [ "$rc" = 0 ] || fail "--methods $m: exit $rc, expected 0 ($(cat "$tmp/err"))"
  last=${m##*,}
  n=$(grep -c "\"decided_by\":.*\"$last\"" "$tmp/m/certificates.json")
  [ "$n" = 3 ] || fail "--methods $m: $n rows decided by $last, expected 3"
done
echo "certify on the set: clip4 verified / falsified at the clamped row, --radius L2 clipped ran, --methods subsets ran"
