#!/bin/sh
# certify's bab step on issue 18's acceptance 3: mnist-net_256x2 on 50 MNIST
# rows (box centres of the mnistfc and eran2021 VNNLIB files, built by
# bench/mnistfc_rows.py), L-inf 0.02, clip [0,1], 2 threads.  Counts the
# unknown rows with --bab-timeout 0 (the cascade of before), with 10 s and
# with the default budget (60 s of CPU), and runs `cerbere verify` (60 s, its
# default threads)
# on the file --export-vnnlib wrote for every row the default left unknown.
# Prints markdown.  Usage: sh bench/certify_bab.sh [cerbere] [BENCHMARKS_DIR]
# (SKIPPED without the benchmarks).
CB=${1:-build/cerbere}
BM=${2:-${SHARED:-../shared}/benchmarks}
NET=$BM/mnistfc/onnx/mnist-net_256x2.onnx
[ -f "$NET" ] || { echo "certify_bab: SKIPPED (no $NET)"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 bench/mnistfc_rows.py "$BM" > "$tmp/rows.csv" || exit 1
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| --bab-timeout | verified | falsified | unknown | decided by bab | wall s |"
echo "|---|---|---|---|---|---|"
for bt in 0 10 default; do
  extra=""; [ "$bt" = default ] || extra="--bab-timeout $bt"
  exp=""; [ "$bt" = default ] && exp="--export-vnnlib $tmp/vnn"
  "$CB" certify "$NET" --data "$tmp/rows.csv" --norm inf --eps 0.02 --clip 0:1 --quiet $extra $exp \
    --json "$tmp/c_$bt.json" > "$tmp/s_$bt.txt" 2>&1
  v=$(sed -n 's/.*(\([0-9]*\) verified).*/\1/p' "$tmp/s_$bt.txt")
  f=$(sed -n 's/^  falsified *\([0-9]*\)/\1/p' "$tmp/s_$bt.txt")
  u=$(sed -n 's/^  unknown *\([0-9]*\)/\1/p' "$tmp/s_$bt.txt")
  b=$(sed -n 's/.*bab \([0-9]*\)$/\1/p' "$tmp/s_$bt.txt")
  t=$(sed -n 's/^  time *\([0-9.]*\) s/\1/p' "$tmp/s_$bt.txt")
  echo "| $bt | $v | $f | $u | $b | $t |"
done
echo
echo "Rows the default budget left unknown, given to \`cerbere verify --timeout 60\`:"
echo
echo "| row | verify | its reason line |"
echo "|---|---|---|"
for f in "$tmp"/vnn/row_*.vnnlib; do
  [ -f "$f" ] || continue
  i=$(basename "$f" .vnnlib); i=${i#row_}
  "$CB" verify "$NET" "$f" --timeout 60 > "$tmp/v.txt" 2>&1
  echo "| $i | $(head -n 1 "$tmp/v.txt") | $(grep '^#' "$tmp/v.txt" | sed 's/^# //') |"
done
echo
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
