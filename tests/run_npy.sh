#!/bin/sh
# Same answers from every format (issue 20, acceptance 1, on the 20 rows of
# nets/digits_test20.csv): `certify --radius` on the CSV and on its NumPy
# copies in tests/data/npy/ (X float64, float32, uint8 x16 with --scale 1/16,
# (N, 1, 8, 8); .npz stored, deflated (np.savez_compressed), and uint8) must give the same verdicts,
# deciders, radii and margin lower bounds in certificates.json, bit for bit
# (the values are decimal-exact: the digits pixels are k/16).  $1 = cerbere.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
N=tests/data/npy
key() {   # the per-row answers of DIR/certificates.json, one per line
  grep -oE '"(verdict|decided_by|certified_radius|attack_radius)":[[:space:]]*("[^"]*"|[-0-9.eE+]+|null)|"margin_lb":[[:space:]]*\[[^]]*\]' "$1/certificates.json"
}
run() {   # NAME ARGS...: certify into $tmp/NAME
  name=$1; shift
  "$CB" certify nets/digits_mlp.onnx "$@" --norm inf --eps 0.02 --radius --quiet --threads 2 --out "$tmp/$name" >/dev/null 2>"$tmp/$name.err"
  rc=$?   # 10: some row falsified (one is, at this eps)
  [ "$rc" = 0 ] || [ "$rc" = 10 ] || { echo "FAIL $name: exit $rc"; head -3 "$tmp/$name.err"; return 1; }
}
fail=0
run csv --data nets/digits_test20.csv || exit 1
key "$tmp/csv" > "$tmp/csv.key"
[ "$(grep -c '"verdict"' "$tmp/csv.key")" = 20 ] || { echo "FAIL: the CSV run has no 20 verdicts"; exit 1; }
for v in "f8|--data $N/digits20_x_f8.npy --labels $N/digits20_y.npy" \
         "f4|--data $N/digits20_x_f4.npy --labels $N/digits20_y_i4.npy" \
         "u1|--data $N/digits20_x_u1x16.npy --labels $N/digits20_y_u1.npy --scale 1/16" \
         "nchw|--data $N/digits20_x_8x8.npy --labels $N/digits20_y_f8.npy" \
         "npz|--data $N/digits20.npz" \
         "npz_deflate|--data $N/digits20_compressed.npz" \
         "npz_u1|--data $N/digits20_u1x16.npz --scale 0.0625"; do
  name=${v%%|*}
  # shellcheck disable=SC2086
  run "$name" ${v#*|} || { fail=1; continue; }
  key "$tmp/$name" > "$tmp/$name.key"
  if cmp -s "$tmp/csv.key" "$tmp/$name.key"; then echo "ok $name: same verdicts, radii and bounds as the CSV"
  else echo "FAIL $name: certificates differ from the CSV's"; diff "$tmp/csv.key" "$tmp/$name.key" | head -5; fail=1; fi
done
[ "$fail" = 0 ]
