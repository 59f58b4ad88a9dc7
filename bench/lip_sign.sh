#!/bin/sh
# Sign-split brackets of the global L2 Lipschitz constant over R^n
# (`lipschitz --bracket --domain all`) on the ExLipBaB nets
# (../shared/lipschitz/exlipbab, README "exact (checked)"), S seconds per net
# (B for the bike nets), then mnist-net_256x4 over [0, 1]^784 after 1 s and
# 10 s with both engines: bench/RESULTS_lip.md, "Sign splits".
# usage: sh bench/lip_sign.sh [S] [B]   (defaults 300 and 600)
S=${1:-300}; B=${2:-600}
E=${CB_EXLIPBAB:-/work/shared/lipschitz/exlipbab}
M=${CB_BENCH:-/work/shared/benchmarks}/mnistfc/onnx/mnist-net_256x4.onnx
[ -d "$E" ] || { echo "SKIPPED: $E not found"; exit 0; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  budget ${S}s (bike ${B}s)  domain R^n, gap 1%"
for f in wine_11x12x12x1_relu wine_11x12x12x1_groupsort2 wine_11x24x24x1_relu wine_11x24x24x1_groupsort2 \
         abalone_9x16x16x1_relu abalone_9x16x16x1_groupsort2 abalone_9x16x16x1_groupsort4 \
         iris_4x6x6x3_relu iris_4x6x6x3_groupsort2 iris_4x6x6x3_groupsort3 \
         bike_13x20x16x8x3_relu bike_13x20x16x8x3_groupsort2; do
  case $f in bike*) T=$B ;; *) T=$S ;; esac
  printf '%s: ' "$f"
  /usr/bin/time -f 'cpu %U s' nice build/cerbere lipschitz "$E/$f.onnx" --bracket --domain all --budget "$T" --quiet 2>&1 \
    | grep -E '^(K_merged|upper|cpu)' | tr '\n' ' '
  echo
done
if [ -f "$M" ]; then
  for t in 1 10; do
    printf 'mnist-net_256x4 [0,1] %ss sign split (whole Jacobian): ' "$t"
    nice build/cerbere lipschitz "$M" --bracket --domain 0:1 --split sign --budget "$t" --quiet | grep -E '^upper' | tr '\n' ' '
    echo
    printf 'mnist-net_256x4 [0,1] %ss box split (row 0): ' "$t"
    nice build/cerbere lipschitz "$M" --bracket --domain 0:1 --row 0 --budget "$t" --quiet | grep -E '^row' | tr '\n' ' '
    echo
  done
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
