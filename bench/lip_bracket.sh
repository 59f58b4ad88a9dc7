#!/bin/sh
# Bracket of the global L2 Lipschitz constant of the single-output ExLipBaB
# nets (../shared/lipschitz/exlipbab, README "exact (checked)") over the box
# [-D, D]^n, S seconds per net: bench/RESULTS_lip.md, "Brackets".
# usage: sh bench/lip_bracket.sh [S] [D]   (defaults 60 and 100)
S=${1:-60}; D=${2:-100}
E=${CB_EXLIPBAB:-/work/shared/lipschitz/exlipbab}
[ -d "$E" ] || { echo "SKIPPED: $E not found"; exit 0; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  budget ${S}s  box [-$D, $D]"
for f in wine_11x12x12x1_relu wine_11x12x12x1_groupsort2 wine_11x24x24x1_relu wine_11x24x24x1_groupsort2 \
         abalone_9x16x16x1_relu abalone_9x16x16x1_groupsort2 abalone_9x16x16x1_groupsort4; do
  printf '%s: ' "$f"
  nice build/cerbere lipschitz "$E/$f.onnx" --bracket --domain "-$D:$D" --budget "$S" --nodes 1000000000 --quiet \
    | grep -E '^(K_merged|row)' | tr '\n' ' '
  echo
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
