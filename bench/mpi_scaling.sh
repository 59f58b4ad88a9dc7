#!/bin/sh
# Strong scaling of distributed verify (issue 23): bench/mpi_scaling.sh
# [REPS] runs each of the three hardest ACAS Xu instances of
# bench/RESULTS_vnncomp.md (4_2 prop 2, 3_3 prop 2, 4_9 prop 1) under
# `mpirun -np 1` and `mpirun -np 2` (build/cerbere-mpi, one thread a rank),
# interleaved (1, 2, 1, 2, ...), REPS times each (default 3), timeout 116 s,
# with the load average before each run; then `-np $NP8` (default 8,
# --oversubscribe) once each for the message counts.  Wall time includes
# mpirun's start-up.  Writes bench/results/mpi_scaling.csv:
#   instance,ranks,rep,load1,wall_s,answer,nodes,messages,bytes,moved,steals,idle_s,max_rank,min_rank
# and prints per instance the median wall time per rank count and the ratio.
set -u
reps=${1:-3}
root=${SHARED:-../shared}/benchmarks/acasxu
cbm=${CBMPI:-build/cerbere-mpi}
out=bench/results/mpi_scaling.csv
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "instance,ranks,rep,load1,wall_s,answer,nodes,messages,bytes,moved,steals,idle_s,max_rank,min_rank" > "$out.tmp"
one() {   # INSTANCE NET PROP RANKS REP
  l=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  nice mpirun --oversubscribe -np "$4" "$cbm" verify "$root/onnx/$2" "$root/vnnlib/$3" --threads 1 --timeout 116 \
    --out "$tmp/r" --json "$tmp/j" </dev/null >/dev/null 2>&1
  t1=$(date +%s.%N)
  a=$(head -n 1 "$tmp/r" 2>/dev/null || echo error)
  j=$(jq -r '[.nodes, (.mpi.messages // 0), (.mpi.bytes // 0), (.mpi.subdomains_moved // 0), (.mpi.steal_requests // 0),
              (.mpi.idle_s // 0), (.mpi.subdomains_max_rank // .nodes), (.mpi.subdomains_min_rank // .nodes)]
             | map(tostring) | join(",")' "$tmp/j" 2>/dev/null)
  echo "$1,$4,$5,$l,$(echo "$t1 - $t0" | bc),$a,$j" | tee -a "$out.tmp"
}
for i in "4_2 prop_2" "3_3 prop_2" "4_9 prop_1"; do
  set -- $i
  name="$1+$2"
  for r in $(seq 1 "$reps"); do
    one "$name" "ACASXU_run2a_$1_batch_2000.onnx" "$2.vnnlib" 1 "$r"
    one "$name" "ACASXU_run2a_$1_batch_2000.onnx" "$2.vnnlib" 2 "$r"
  done
  [ "${NP8:-8}" -gt 0 ] && one "$name" "ACASXU_run2a_$1_batch_2000.onnx" "$2.vnnlib" "${NP8:-8}" 1
done
mv "$out.tmp" "$out"
awk -F, 'NR > 1 && ($2 == 1 || $2 == 2) { k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $5; inst[$1] = 1 }
  function med(k,   m, i, j, t, a) { m = n[k]; for (i = 1; i <= m; i++) a[i] = v[k, i];
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
  END { for (i in inst) { a = med(i SUBSEP 1); b = med(i SUBSEP 2);
    printf "%s: 1 rank %.2f s, 2 ranks %.2f s (medians), speed-up %.2fx\n", i, a, b, a / b } }' "$out"
