#!/bin/sh
# Same answers from every format (issue 20, acceptance 1) on all 360 rows of
# nets/digits_test.csv: `certify --radius` on the CSV, on X.npy (uint8 x 16,
# shape (360, 1, 8, 8), --scale 1/16) with y.npy, on one .npz (float64,
# deflated) and on a folder of 360 PNG images with labels.csv (--scale 1/16)
# must give the same verdicts, deciders, certified and attack radii and
# margin lower bounds in certificates.json, bit for bit (the pixels are
# k/16, exact in every format).  The data: tests/data/gen_digits360.py.
# bab is off (--bab-timeout 0) and the methods are the cheap ones, so no
# verdict depends on a time budget and the four runs take seconds.
# $1 = cerbere.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
D=tests/data/digits360
key() {   # the per-row answers of DIR/certificates.json, one per line
  grep -oE '"(index|label|verdict|decided_by|certified_radius|attack_radius)":[[:space:]]*("[^"]*"|[-0-9.eE+]+|null)|"margin_lb":[[:space:]]*\[[^]]*\]' "$1/certificates.json"
}
run() {   # NAME ARGS...: certify into $tmp/NAME
  name=$1; shift
  "$CB" certify nets/digits_mlp.onnx "$@" --norm inf --eps 0.02 --radius --methods attack,ibp,crown-ibp --bab-timeout 0 \
    --quiet --threads 2 --out "$tmp/$name" >/dev/null 2>"$tmp/$name.err"
  rc=$?   # 10: some rows are falsified at this eps
  [ "$rc" = 10 ] || { echo "FAIL $name: exit $rc (expected 10: some rows falsified)"; head -3 "$tmp/$name.err"; return 1; }
}
fail=0
run csv --data nets/digits_test.csv || exit 1
key "$tmp/csv" > "$tmp/csv.key"
n=$(grep -c '"verdict"' "$tmp/csv.key")
[ "$n" = 360 ] || { echo "FAIL: the CSV run has $n verdicts, not 360"; exit 1; }
for v in verified falsified; do
  grep -q "\"verdict\":[[:space:]]*\"$v\"" "$tmp/csv.key" || { echo "FAIL: no $v row: the comparison would be weak"; fail=1; }
done
for v in "npy|--data $D/x_u1x16.npy --labels $D/y.npy --scale 1/16" \
         "npz|--data $D/digits360.npz" \
         "png|--data $D/png --labels $D/png/labels.csv --scale 1/16"; do
  name=${v%%|*}
  # shellcheck disable=SC2086
  run "$name" ${v#*|} || { fail=1; continue; }
  key "$tmp/$name" > "$tmp/$name.key"
  if cmp -s "$tmp/csv.key" "$tmp/$name.key"; then echo "ok $name: 360 rows, same verdicts, radii and margin bounds as the CSV"
  else echo "FAIL $name: certificates differ from the CSV's"; diff "$tmp/csv.key" "$tmp/$name.key" | head -5; fail=1; fi
done
[ "$fail" = 0 ]
