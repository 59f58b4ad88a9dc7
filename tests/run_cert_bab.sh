#!/bin/sh
# certify's bab step and --export-vnnlib, end to end (issue 18).  $1 = cerbere.
#  - --bab-timeout 0: the cascade without bab (settings list no bab, every
#    sample has "bab": null, rows the cascade leaves open stay unknown);
#  - --export-vnnlib: one file per unknown row, row_<index>.vnnlib; each
#    parses with `cerbere verify`, and verify's answer agrees with the
#    verdict certify's bab step gives the same row (unsat = verified, sat =
#    falsified) whenever both decide; at least 3 rows are compared;
#  - default budget: bab decides some of the rows left open without it.
# digits_mlp, L-inf 0.08, rows 12-27 of nets/digits_test.csv: the cascade
# leaves 6 open (measured), bab decides them in 0.03-2 s each.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
args="nets/digits_mlp.onnx --data nets/digits_test.csv --rows 12:28 --norm inf --eps 0.08 --threads 1 --quiet"
"$CB" certify $args --bab-timeout 0 --out "$tmp/off" --export-vnnlib "$tmp/vnn" > "$tmp/off.txt" 2>"$tmp/err"
rc=$?
[ "$rc" = 10 ] || [ "$rc" = 11 ] || fail "--bab-timeout 0: exit $rc $(cat "$tmp/err")"
grep -q '"bab"' "$tmp/off/certificates.json" || fail "no bab field in certificates.json"
grep '"methods"' -A 12 "$tmp/off/certificates.json" | grep -q '"bab"' && fail "--bab-timeout 0 still lists bab in the settings"
[ "$(grep -c '"bab":[[:space:]]*null' "$tmp/off/certificates.json")" = 16 ] || fail "--bab-timeout 0: some sample ran bab"
nunk=$(grep -c '"verdict":[[:space:]]*"unknown"' "$tmp/off/certificates.json")
nfiles=$(ls "$tmp/vnn" | grep -c '^row_[0-9]*\.vnnlib$')
[ "$nunk" -ge 3 ] || fail "only $nunk unknown rows without bab: the test is void"
[ "$nfiles" = "$nunk" ] || fail "$nfiles VNNLIB files for $nunk unknown rows"
grep -q "exported VNNLIB *$nfiles files" "$tmp/off.txt" || fail "summary does not count the exported files"
"$CB" certify $args --out "$tmp/on" > /dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 10 ] || [ "$rc" = 11 ] || fail "default bab: exit $rc $(cat "$tmp/err")"
nunk2=$(grep -c '"verdict":[[:space:]]*"unknown"' "$tmp/on/certificates.json")
[ "$nunk2" -lt "$nunk" ] || fail "bab decided none of the $nunk open rows"
grep -q '"decided_by":[[:space:]]*"bab"' "$tmp/on/certificates.json" || fail "no row decided by bab"
# verdict of row I in the bab run (certificates.json is pretty-printed one field per line)
verdict() { awk -v i="$1" '/"index":/ { gsub(/[^0-9]/, "", $2); cur = $2 } /"verdict":/ && cur == i { gsub(/[",]/, "", $2); print $2; exit }' "$tmp/on/certificates.json"; }
cmp=0
for f in "$tmp"/vnn/row_*.vnnlib; do
  i=$(basename "$f" .vnnlib); i=${i#row_}
  ans=$("$CB" verify nets/digits_mlp.onnx "$f" --timeout 20 --threads 1 | head -n 1)
  case "$ans" in sat|unsat|timeout|unknown) ;; *) fail "verify on $f: '$ans'";; esac
  v=$(verdict "$i")
  case "$ans:$v" in
    unsat:verified|sat:falsified) cmp=$((cmp+1));;
    unsat:falsified|sat:verified) fail "row $i: verify says $ans, certify's bab $v";;
  esac
done
[ "$cmp" -ge 3 ] || fail "only $cmp rows decided by both verify and certify"
echo "certify bab: $nunk rows open without bab, $nunk2 with it; $nfiles exported files, verify agrees with certify on $cmp"
