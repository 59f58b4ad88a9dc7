#!/bin/sh
# Issue 20, acceptance 2: normalisation is exact.  A CIFAR-style conv net
# (3 x 8 x 8, tests/data/normalise, made by tests/data/gen_cifar_norm.py) is
# certified twice on the same 30 raw images, L-inf and L2, with --radius:
#   cifar_plain.onnx with --mean/--std (CIFAR-10's per-channel statistics),
#   cifar_builtin.onnx, the same weights behind Sub/Div nodes in the ONNX file.
# Verdicts must be identical and certified radii equal to 1e-9 relative
# (the two prefixes round differently: a SCALE by 1/std against the file's
# Div, each with its own outward slack).  $1 = cerbere.
CB=${1:-build/cerbere}
D=tests/data/normalise
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mean=$(sed -n 1p $D/mean_std.txt); std=$(sed -n 2p $D/mean_std.txt)
for ball in "inf 0.004" "2 0.05"; do
  set -- $ball
  for v in plain builtin; do
    if [ $v = plain ]; then extra="--mean $mean --std $std"; else extra=""; fi
    # shellcheck disable=SC2086
    "$CB" certify $D/cifar_$v.onnx --data $D/raw.csv --norm "$1" --eps "$2" --clip 0:1 --radius --threads 1 \
      --methods attack,ibp,crown,alpha-crown,strong-attack $extra --quiet --out "$tmp/$v$1" > /dev/null 2> "$tmp/err"
    rc=$?
    [ $rc = 0 ] || [ $rc = 10 ] || [ $rc = 11 ] || fail "certify $v --norm $1: exit $rc ($(cat "$tmp/err"))"
    jq -r '.samples[] | "\(.index) \(.verdict) \(.certified_radius // "none")"' "$tmp/$v$1/certificates.json" > "$tmp/$v$1.txt" ||
      fail "certify $v --norm $1: certificates.json unreadable"
  done
  [ "$(wc -l < "$tmp/plain$1.txt")" = 30 ] || fail "--norm $1: $(wc -l < "$tmp/plain$1.txt") rows, expected 30"
  paste -d' ' "$tmp/plain$1.txt" "$tmp/builtin$1.txt" | awk -v n="$1" '
    { if ($1 != $4 || $2 != $5) { print "FAIL: --norm " n " row " $1 ": " $2 " against " $5; bad = 1; next }
      if ($3 == "none" || $6 == "none") { if ($3 != $6) { print "FAIL: --norm " n " row " $1 ": radius " $3 " against " $6; bad = 1 }; next }
      d = $3 - $6; if (d < 0) d = -d; m = $3 < 0 ? -$3 : $3
      if (d > 1e-9 * m) { printf "FAIL: --norm %s row %s: radius %.17g against %.17g\n", n, $1, $3, $6; bad = 1 }
      if ($2 == "verified") v++; else if ($2 == "falsified") f++; else u++ }
    END { if (bad) exit 1; printf "--norm %s: 30 rows, %d verified, %d falsified, %d unknown: the same verdicts and radii\n", n, v, f, u }' ||
    exit 1
done
echo "normalisation exact: ok"
