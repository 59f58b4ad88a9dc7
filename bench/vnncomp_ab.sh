#!/bin/sh
# Side-by-side VNN-COMP runs of two cerbere binaries on the same load:
#   bench/vnncomp_ab.sh FAMILY BIN_A BIN_B [FILTER]
# runs every instance of ../shared/benchmarks/FAMILY/instances.csv (or the
# lines matching FILTER; $EVERY=k keeps every k-th) with BIN_A then BIN_B,
# interleaved instance by instance, so both see the same machine load, and
# writes bench/results/FAMILY_ab$SUFFIX.csv:
#   instance,answer_a,answer_b,wall_a,wall_b,cpu_a,cpu_b,states_a,states_b,load
# (cpu = user + sys seconds of the process, all threads; states = subdomains +
# ReLU-search states from --json).  Timeout: the csv's, or $TIMEOUT.
# Threads: $THREADS (default 2).  $VERIFY_ARGS goes to both (e.g. THREADS=1
# VERIFY_ARGS=--cpu-time: timeouts in CPU seconds, the same searches whatever
# the machine's load).  A sat answer's witness is checked by verify
# itself in exact arithmetic; an unsat answer of one binary against a sat one
# of the other is printed as CROSSED and makes the script exit 1.
set -u
fam=${1:?usage: bench/vnncomp_ab.sh FAMILY BIN_A BIN_B [FILTER]}
A=${2:?BIN_A}; B=${3:?BIN_B}
filter=${4:-.}
root=${SHARED:-../shared}/benchmarks/$fam
out=bench/results/${fam}_ab${SUFFIX:-}.csv
th=${THREADS:-2}
[ -f "$root/instances.csv" ] || { echo "no $root/instances.csv"; exit 3; }
mkdir -p bench/results
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "instance,answer_a,answer_b,wall_a,wall_b,cpu_a,cpu_b,states_a,states_b,load" > "$out.tmp"
crossed=0
one() {  # bin net prop timeout -> $tmp/{ans,wall,cpu,st}
  rm -f "$tmp/res" "$tmp/j"
  t0=$(date +%s.%N)
  OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "%U %S" -o "$tmp/t" nice "$1" verify "$root/$2" "$root/$3" \
    --timeout "$4" --out "$tmp/res" --json "$tmp/j" --threads "$th" ${VERIFY_ARGS:-} >/dev/null 2>&1
  t1=$(date +%s.%N)
  ans=$(head -n 1 "$tmp/res" 2>/dev/null || echo error)
  wall=$(echo "$t1 - $t0" | bc)
  cpu=$(awk 'END { print $1 + $2 }' "$tmp/t")
  st=$(jq '.nodes + .relu_states' "$tmp/j" 2>/dev/null || echo 0)
}
grep -e "$filter" "$root/instances.csv" | awk -v k="${EVERY:-1}" '(NR - 1) % k == 0' > "$tmp/list"
while IFS=, read -r net prop to; do
  to=$(echo "$to" | tr -d '\r ')
  [ -n "${TIMEOUT:-}" ] && to=$TIMEOUT
  one "$A" "$net" "$prop" "$to"; aa=$ans; wa=$wall; ca=$cpu; sa=$st
  one "$B" "$net" "$prop" "$to"
  case "$aa/$ans" in sat/unsat|unsat/sat) echo "CROSSED: $net $prop $aa $ans"; crossed=1;; esac
  echo "$(basename "$net" .onnx)+$(basename "$prop" .vnnlib),$aa,$ans,$wa,$wall,$ca,$cpu,$sa,$st,$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out.tmp"
done < "$tmp/list"
mv "$out.tmp" "$out"
awk -F, 'NR > 1 { n++; wa += $4; wb += $5; ca += $6; cb += $7; da += ($2 == "sat" || $2 == "unsat"); db += ($3 == "sat" || $3 == "unsat") }
  END { printf "%d instances: decided %d / %d; wall %.1f / %.1f s; cpu %.1f / %.1f s (a / b)\n", n, da, db, wa, wb, ca, cb }' "$out"
exit $crossed
