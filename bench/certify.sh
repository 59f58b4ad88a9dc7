#!/bin/sh
# Certify benchmark (issue: certify): wall time of `cerbere certify` on all 360
# rows of nets/digits_test.csv for each reference net at L-inf 0.01 and L2 0.1,
# with 1 and 2 threads (median of 3 runs), the per-method breakdown (summed
# method time over samples, from certificates.json), and the radius search
# time per sample.  Prints a markdown table.  Usage: sh bench/certify.sh [cerbere]
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
med3() { sort -n | sed -n 2p; }
summ() {  # certificates.json -> "ver/fal/unk | method ms"
  python3 - "$1" <<'PY' 2>/dev/null || echo "(python3 missing: no breakdown)"
import json, sys
d = json.load(open(sys.argv[1])); s = d["summary"]
ms = ", ".join("%s %.0f" % (k, v) for k, v in s["method_ms_total"].items() if v > 0.5)
by = ", ".join("%s %d" % (k, v) for k, v in s["decided_by"].items() if v)
print("%d/%d/%d | %s | %s" % (s["n_verified"], s["n_falsified"], s["n_unknown"], by, ms))
PY
}
echo "| net | ball | 1 thread s | 2 threads s | verified/falsified/unknown | decided by | method ms (summed over samples) |"
echo "|---|---|---|---|---|---|---|"
for net in digits_mlp digits_cnn digits_tanh digits_orth; do
  for ball in "inf 0.01" "2 0.1"; do
    set -- $ball
    for th in 1 2; do
      for r in 1 2 3; do
        "$CB" certify nets/$net.onnx --data nets/digits_test.csv --norm $1 --eps $2 --threads $th --quiet \
          --out "$tmp/o" > "$tmp/sum" 2>/dev/null
        sed -n 's/^  time *\([0-9.]*\) s/\1/p' "$tmp/sum"
      done | med3 > "$tmp/t$th"
    done
    echo "| $net | L$1 $2 | $(cat "$tmp/t1") | $(cat "$tmp/t2") | $(summ "$tmp/o/certificates.json") |"
  done
done
echo
echo "Radius search (--radius, L2 eps 0.1, 2 threads, one run): total s and ms per sample"
echo
echo "| net | total s | ms per sample | median certified radius |"
echo "|---|---|---|---|"
for net in digits_mlp digits_cnn digits_tanh digits_orth; do
  "$CB" certify nets/$net.onnx --data nets/digits_test.csv --norm 2 --eps 0.1 --radius --threads 2 --quiet \
    --out "$tmp/r" > "$tmp/sum" 2>/dev/null
  t=$(sed -n 's/^  time *\([0-9.]*\) s/\1/p' "$tmp/sum")
  m=$(sed -n 's/^  median cert. radius *\([0-9.e-]*\)/\1/p' "$tmp/sum")
  echo "| $net | $t | $(echo "$t" | awk '{printf "%.2f", $1 * 1000 / 360}') | $m |"
done
