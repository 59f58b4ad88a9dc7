#!/bin/sh
# Strong scaling of distributed verify (issue 23): bench/mpi_scaling.sh
# [REPS] runs each of the three hardest ACAS Xu instances of
# bench/RESULTS_vnncomp.md (4_2 prop 2, 3_3 prop 2, 4_9 prop 1) on 1 rank
# (build/cerbere verify --threads 1: vfy_dist_run's one-process path, which
# is what mpirun -np 1 build/cerbere-mpi runs) and under `mpirun -np 2`
# (build/cerbere-mpi, one thread a rank), interleaved, REPS times each
# (default 1), then under `mpirun --oversubscribe -np $NP8` (default 8) once
# for the message counts.  $TIMEOUT (default 600) is long so that a loaded
# machine does not cut the runs.  Besides wall time it records CPU time: the
# 1-rank run's (user + sys), the 2-rank run's busiest rank's
# (mpi.cpu_max_rank_s): on a machine shared with other work (load average
# recorded before each run) wall time measures the scheduler's share, and
# cpu1 / cpu_max_rank is the speed-up the division of work allows on idle
# cores (waits excluded; mpi.idle_s gives them).  Writes
# bench/results/mpi_scaling.csv:
#   instance,ranks,rep,load1,wall_s,cpu_s,answer,nodes,messages,bytes,moved,steals,idle_s,max_rank,min_rank,cpu_min_s
set -u
reps=${1:-1}
root=${SHARED:-../shared}/benchmarks/acasxu
cb=${CB:-build/cerbere}
cbm=${CBMPI:-build/cerbere-mpi}
to=${TIMEOUT:-600}
out=bench/results/mpi_scaling${SUFFIX:-}.csv
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "instance,ranks,rep,load1,wall_s,cpu_s,answer,nodes,messages,bytes,moved,steals,idle_s,max_rank,min_rank,cpu_min_s" > "$out.tmp"
one() {   # INSTANCE NET PROP RANKS REP
  l=$(cut -d' ' -f1 /proc/loadavg)
  rm -f "$tmp/r" "$tmp/j"
  t0=$(date +%s.%N)
  if [ "$4" = 1 ]; then
    /usr/bin/time -f "%U %S" -o "$tmp/t" nice "$cb" verify "$root/onnx/$2" "$root/vnnlib/$3" --threads 1 --timeout "$to" \
      --out "$tmp/r" --json "$tmp/j" </dev/null >/dev/null 2>&1
    cpu=$(awk '{ print $1 + $2 }' "$tmp/t")
  else
    nice mpirun --oversubscribe -np "$4" "$cbm" verify "$root/onnx/$2" "$root/vnnlib/$3" --threads 1 --timeout "$to" \
      --out "$tmp/r" --json "$tmp/j" </dev/null >/dev/null 2>&1
    cpu=$(jq -r '.mpi.cpu_max_rank_s' "$tmp/j" 2>/dev/null)
  fi
  t1=$(date +%s.%N)
  a=$(head -n 1 "$tmp/r" 2>/dev/null || echo error)
  j=$(jq -r '[.nodes, (.mpi.messages // 0), (.mpi.bytes // 0), (.mpi.subdomains_moved // 0), (.mpi.steal_requests // 0),
              (.mpi.idle_s // 0), (.mpi.subdomains_max_rank // .nodes), (.mpi.subdomains_min_rank // .nodes),
              (.mpi.cpu_min_rank_s // 0)] | map(tostring) | join(",")' "$tmp/j" 2>/dev/null)
  echo "$1,$4,$5,$l,$(echo "$t1 - $t0" | bc),$cpu,$a,$j" | tee -a "$out.tmp"
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
awk -F, 'NR > 1 && ($2 == 1 || $2 == 2) { k = $1 SUBSEP $2; w[k] += $5; c[k] += $6; n[k]++; inst[$1] = 1 }
  END { for (i in inst) { a = i SUBSEP 1; b = i SUBSEP 2;
    printf "%s: wall 1 rank %.1f s, 2 ranks %.1f s (%.2fx); CPU 1 rank %.1f s, busiest of 2 ranks %.1f s (%.2fx)\n",
      i, w[a] / n[a], w[b] / n[b], w[a] / w[b], c[a] / n[a], c[b] / n[b], c[a] / c[b] } }' "$out"
