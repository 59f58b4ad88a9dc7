#!/bin/sh
# alpha-CROWN (and IBP, CROWN) side by side with auto_LiRPA on the first N
# VNNLIB instances of one net of a ../shared benchmark family, one thread each,
# interleaved (cerbere, auto_LiRPA, auto_LiRPA, cerbere): CPU ms are the best of
# the two runs per sample, margins are compared row by row (alpha_compare.py).
#   sh bench/alpha_vs_alirpa.sh FAMILY NET.onnx N [alpha_vnn options, e.g. --iters 20]
# OUT=DIR keeps the raw files (boxes.csv, cb1, cb2, al1, al2) in DIR.
# Needs build/bench/alpha_vnn (make build/bench/alpha_vnn) and auto_LiRPA's
# Debian dependencies (../shared/peers/README.md).
set -eu
fam=$1; net=$2; n=$3; shift 3
sh_dir=${SHARED:-../shared}
b=$sh_dir/benchmarks/$fam
peers=$(cd "$sh_dir/peers" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
files=$(grep "onnx/$net," "$b/instances.csv" | head -n "$n" | cut -d, -f2 | sed "s|^|$b/|")
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "date $(date -u '+%Y-%m-%d %H:%M') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg), $net, $n instances, $*"
# shellcheck disable=SC2086
build/bench/alpha_vnn "$@" --boxes "$tmp/boxes.csv" --json "$tmp/cb1" "$b/onnx/$net" $files > /dev/null
for k in 1 2; do
  /usr/bin/python3 "$peers/alirpa_bounds.py" "$b/onnx/$net" box "$tmp/boxes.csv" - IBP,CROWN,alpha-CROWN > "$tmp/al$k" 2>/dev/null
done
# shellcheck disable=SC2086
build/bench/alpha_vnn "$@" --json "$tmp/cb2" "$b/onnx/$net" $files > /dev/null
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/alpha_compare.py "$tmp/cb1,$tmp/cb2" "$tmp/al1,$tmp/al2"
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT"; cp "$tmp"/* "$OUT"/; fi
