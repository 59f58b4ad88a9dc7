#!/bin/sh
# Distributed verify against single-process, instance by instance (issue 23,
# acceptance 2): bench/mpi_verify.sh [FILTER] runs each ACAS Xu instance of
# ../shared/benchmarks/acasxu/instances.csv (or those matching the grep
# pattern FILTER) twice, interleaved:
#   single   build/cerbere verify, $THREADS threads (default 2: the portfolio)
#   mpi      mpirun -np $NP (default 2) build/cerbere-mpi verify, 1 thread a rank
# with the csv's timeout ($TIMEOUT overrides it), and writes bench/results/acasxu_mpi$SUFFIX.csv:
#   instance,single,single_s,mpi,mpi_s,same,nodes,messages,bytes,moved
# A sat answer of either run has its witness re-checked by a third run: the
# property with every input pinned to the witness's value must be sat again.
# Prints the load average before and after, and one summary line.
set -u
filter=${1:-.}
root=${SHARED:-../shared}/benchmarks/acasxu
np=${NP:-2}
out=bench/results/acasxu_mpi${SUFFIX:-}.csv
mpirun=${MPIRUN:-mpirun}
cb=${CB:-build/cerbere}
cbm=${CBMPI:-build/cerbere-mpi}
[ -f "$root/instances.csv" ] || { echo "no $root/instances.csv"; exit 3; }
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p bench/results
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "# load before: $(cat /proc/loadavg)"
echo "instance,single,single_s,mpi,mpi_s,same,nodes,messages,bytes,moved" > "$out.tmp"
# pinned PROP RESULT > OUT: PROP with each X_i of the witness in RESULT pinned
# (the doubles' exact decimal expansions, awk %.80g: the VNNLIB reader takes
# decimals exactly, and a 17-digit decimal is not the double it prints)
pinned() {
  cat "$1"
  sed -n 's/^[ (]*(X_\([0-9]*\) \([^)]*\)).*/\1 \2/p' "$2" |
    awk '{ printf "(assert (>= X_%s %.80g))\n(assert (<= X_%s %.80g))\n", $1, $2, $1, $2 }'
}
recheck() {  # NET PROP RESULT: "ok" when the pinned property is sat again
  pinned "$2" "$3" > "$tmp/pin.vnnlib"
  a=$("$cb" verify "$1" "$tmp/pin.vnnlib" --threads 1 --timeout 30 2>/dev/null | head -n 1)
  [ "$a" = sat ] && echo ok || echo "FAILED($a)"
}
grep -e "$filter" "$root/instances.csv" | while IFS=, read -r net prop to; do
  to=$(echo "$to" | tr -d '\r ')
  [ -n "${TIMEOUT:-}" ] && to=$TIMEOUT
  name="$(basename "$net" .onnx)+$(basename "$prop" .vnnlib)"
  rm -f "$tmp/s" "$tmp/m" "$tmp/j"
  t0=$(date +%s.%N)
  OMP_NUM_THREADS=${THREADS:-2} OPENBLAS_NUM_THREADS=1 nice "$cb" verify "$root/$net" "$root/$prop" \
    --timeout "$to" --threads "${THREADS:-2}" --out "$tmp/s" </dev/null >/dev/null 2>&1
  t1=$(date +%s.%N)
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice $mpirun --oversubscribe -np "$np" "$cbm" verify "$root/$net" "$root/$prop" \
    --timeout "$to" --threads 1 --out "$tmp/m" --json "$tmp/j" </dev/null >/dev/null 2>"$tmp/err"
  t2=$(date +%s.%N)
  s=$(head -n 1 "$tmp/s" 2>/dev/null || echo error)
  m=$(head -n 1 "$tmp/m" 2>/dev/null || echo error)
  same=yes; [ "$s" = "$m" ] || same=NO
  [ "$s" = sat ] && [ "$(recheck "$root/$net" "$root/$prop" "$tmp/s")" != ok ] && same="$same single-witness-FAILED"
  [ "$m" = sat ] && [ "$(recheck "$root/$net" "$root/$prop" "$tmp/m")" != ok ] && same="$same mpi-witness-FAILED"
  [ "$m" = sat ] && same="$same witness-rechecked"
  mj=$(jq -r '[.nodes, .mpi.messages, .mpi.bytes, .mpi.subdomains_moved] | map(tostring) | join(",")' "$tmp/j" 2>/dev/null || echo ",,,")
  echo "$name,$s,$(echo "$t1 - $t0" | bc),$m,$(echo "$t2 - $t1" | bc),$same,$mj" | tee -a "$out.tmp"
done
mv "$out.tmp" "$out"
echo "# load after: $(cat /proc/loadavg)"
awk -F, 'NR > 1 { n++; s += $3; m += $5; if ($6 ~ /^yes/) same++; c[$4]++ } END {
  printf "%d instances, %d same answer; single %.1f s, mpi %.1f s in total;", n, same, s, m;
  for (a in c) printf " %s %d", a, c[a]; print "" }' "$out"
