#!/bin/sh
# VNN-COMP runner: bench/vnncomp.sh FAMILY [FILTER] runs every instance of
# ../shared/benchmarks/FAMILY/instances.csv (or only the lines matching the
# grep pattern FILTER) with `cerbere verify --timeout T` (T from the csv, or
# $TIMEOUT to override) and writes bench/results/FAMILY.csv:
#   instance,answer,time_s,nodes,reason
# answer is the result file's first line ("error" when the run exited non-zero
# without one).  Threads: $THREADS (default 1, the machine is shared).
# $EVERY=k keeps every k-th matching instance (a representative subset);
# $SUFFIX is appended to the output name (e.g. _subset).  $VERIFY_ARGS is
# passed to verify as extra options (e.g. "--beta-bab 0").  The reason field
# ends with "; beta-CROWN N subdomains" when the beta-CROWN search ran.
set -u
fam=${1:?usage: bench/vnncomp.sh FAMILY [FILTER]}
filter=${2:-.}
root=${SHARED:-../shared}/benchmarks/$fam
cb=${CB:-build/cerbere}
out=bench/results/$fam${SUFFIX:-}.csv
[ -f "$root/instances.csv" ] || { echo "no $root/instances.csv"; exit 3; }
mkdir -p bench/results
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "instance,answer,time_s,nodes,reason" > "$out.tmp"
grep -e "$filter" "$root/instances.csv" | awk -v k="${EVERY:-1}" '(NR - 1) % k == 0' | while IFS=, read -r net prop to; do
  to=$(echo "$to" | tr -d '\r ')
  [ -n "${TIMEOUT:-}" ] && to=$TIMEOUT
  rm -f "$tmp/res" "$tmp/j"
  t0=$(date +%s.%N)
  OMP_NUM_THREADS=${THREADS:-1} OPENBLAS_NUM_THREADS=1 "$cb" verify "$root/$net" "$root/$prop" \
    --timeout "$to" --out "$tmp/res" --json "$tmp/j" --threads "${THREADS:-1}" ${VERIFY_ARGS:-} >/dev/null 2>"$tmp/err"
  t1=$(date +%s.%N)
  ans=$(head -n 1 "$tmp/res" 2>/dev/null || echo error)
  nodes=$(sed -n 's/.*"nodes":[[:space:]]*\([0-9]*\).*/\1/p' "$tmp/j" 2>/dev/null | head -n 1)
  why=$(sed -n 's/.*"reason":[[:space:]]*"\([^"]*\)".*/\1/p' "$tmp/j" 2>/dev/null | head -n 1 | tr ',' ';')
  [ -s "$tmp/err" ] && why="$why $(head -n 1 "$tmp/err" | tr ',' ';')"
  bdoms=$(sed -n 's/.*"subdomains":[[:space:]]*\([0-9]*\).*/\1/p' "$tmp/j" 2>/dev/null | head -n 1)
  [ -n "$bdoms" ] && why="$why; beta-CROWN $bdoms subdomains"
  t=$(echo "$t1 - $t0" | bc)
  echo "$(basename "$net" .onnx)+$(basename "$prop" .vnnlib),$ans,$t,${nodes:-0},$why" | tee -a "$out.tmp"
done
mv "$out.tmp" "$out"
awk -F, 'NR > 1 { n++; s += $3; c[$2]++ } END { printf "%d instances, %.1f s total;", n, s; for (a in c) printf " %s %d", a, c[a]; print "" }' "$out"
