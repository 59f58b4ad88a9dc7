#!/bin/sh
# Rows for the Collins RUL regression tests (tests/run_regression.sh), from
# the VNN-COMP 2022 robustness properties of NN_rul_small_window_20.onnx:
# each property pins most of the 400 inputs and lets a few move in a box;
# a row is the box's centre (label column 0: regression rows have no label),
# radii_<name>.txt the box's half-widths (0 on pinned inputs), for
# --eps-per-feature.  The midpoint and half-width are computed in double
# (awk %.17g): the rows are data, not the properties themselves.
# Usage: sh tests/data/collins/gen_rows.sh [VNNLIB_DIR]
# (default /work/shared/benchmarks/collins_rul_cnn/vnnlib).
V=${1:-/work/shared/benchmarks/collins_rul_cnn/vnnlib}
D=$(dirname "$0")
: > "$D/rows.csv"
for p in 2 4 8 16; do
  f=$V/robustness_${p}perturbations_delta10_epsilon10_w20.vnnlib
  awk -v row="$D/rows.csv" -v rad="$D/radii_${p}perturbations.txt" '
    /^\(assert \(>= X_/ { i = substr($3, 3) + 0; v = $4; sub(/\)+$/, "", v); lo[i] = v }
    /^\(assert \(<= X_/ { i = substr($3, 3) + 0; v = $4; sub(/\)+$/, "", v); hi[i] = v }
    END {
      printf "0" >> row
      for (i = 0; i < 400; i++) { printf ",%.17g", (lo[i] + hi[i]) / 2 >> row; printf "%.17g\n", (hi[i] - lo[i]) / 2 > rad }
      printf "\n" >> row
    }' "$f"
done
