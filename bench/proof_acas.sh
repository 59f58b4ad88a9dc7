#!/bin/sh
# Proofs of unsat on a VNN-COMP family (default acasxu): for every instance
# of ../shared/benchmarks/FAMILY/instances.csv (or the lines matching FILTER),
# `cerbere verify --proof` (timeout from the csv in CPU seconds, --cpu-time, one thread), then, for an
# unsat, `build/cerbere-check` on the proof.  Writes
# bench/results/proof_FAMILY.csv:
#   instance,answer,verify_s,proof_s,leaves,bytes,check_s,check
# All times are CPU seconds (the machine is shared: wall time grows with the
# load, CPU time does not): verify_s the verify process's user+sys CPU
# (/usr/bin/time) less proof_s, the proof search's CPU (the '# proof:'
# line); check_s the checker process's user+sys CPU.  check: valid /
# invalid / none (no proof written, with verify's reason).  Summary line at
# the end.  Usage: nice bench/proof_acas.sh [FAMILY [FILTER]]
set -u
fam=${1:-acasxu}
filter=${2:-.}
root=${SHARED:-../shared}/benchmarks/$fam
cb=${CB:-build/cerbere}
ck=${CK:-build/cerbere-check}
out=bench/results/proof_$fam${SUFFIX:-}.csv
[ -f "$root/instances.csv" ] || { echo "no $root/instances.csv: SKIPPED"; exit 0; }
mkdir -p bench/results
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "instance,answer,verify_s,proof_s,leaves,bytes,check_s,check" > "$out.tmp"
grep -e "$filter" "$root/instances.csv" | while IFS=, read -r net prop to; do
  to=$(echo "$to" | tr -d '\r ')
  [ -n "${TIMEOUT:-}" ] && to=$TIMEOUT
  rm -f "$tmp/res" "$tmp/j" "$tmp/p" "$tmp/log"
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "%U %S" -o "$tmp/cpu" "$cb" verify "$root/$net" "$root/$prop" \
    --timeout "$to" --threads 1 --cpu-time --out "$tmp/res" --json "$tmp/j" --proof "$tmp/p" > "$tmp/log" 2> "$tmp/err"
  ans=$(head -n 1 "$tmp/res" 2>/dev/null || echo error)
  ps=$(sed -n 's/^# proof: .*, \([0-9.]*\) s CPU (.*/\1/p' "$tmp/log")
  # /usr/bin/time puts "Command exited with non-zero status N" before the
  # times when verify exits non-zero (no proof written): read the last line
  vs=$(tail -n 1 "$tmp/cpu" | awk -v p="${ps:-0}" '{ printf "%.3f", $1 + $2 - p }')
  lv=$(sed -n 's/^# proof: [^,]*, \([0-9]*\) leaves.*/\1/p' "$tmp/log")
  by=$(sed -n 's/^# proof: .*, \([0-9]*\) bytes.*/\1/p' "$tmp/log")
  cs=""; ck_res=none
  if [ "$ans" = unsat ] && [ -f "$tmp/p" ]; then
    ck_res=$(OMP_NUM_THREADS=1 /usr/bin/time -f "%U %S" -o "$tmp/cpu2" "$ck" "$root/$net" "$root/$prop" "$tmp/p" | head -n 1 | cut -d: -f1)
    cs=$(tail -n 1 "$tmp/cpu2" | awk '{ printf "%.3f", $1 + $2 }')
  elif [ "$ans" = unsat ]; then ck_res="none: $(head -n 1 "$tmp/err" | tr ',' ';')"
  fi
  echo "$(basename "$net" .onnx)+$(basename "$prop" .vnnlib),$ans,${vs:-},${ps:-},${lv:-},${by:-},$cs,$ck_res" | tee -a "$out.tmp"
done
mv "$out.tmp" "$out"
awk -F, 'NR > 1 && $2 == "unsat" { n++; v += $3; p += $4; c += $7; b += $6; if ($8 == "valid") ok++; if ($7 > 3 * ($3 + $4)) slow++; if ($8 == "valid" && $7 > 3 * $3) slowv++ }
  END { printf "%d unsat, %d with a valid proof; CPU: verify %.1f s, proof %.1f s, check %.1f s in total (check/verify %.2f); %.1f MB of proofs; %d checks over 3x verify+proof, %d over 3x verify alone\n", n, ok, v, p, c, (v > 0 ? c / v : 0), b / 1e6, slow, slowv }' "$out"
