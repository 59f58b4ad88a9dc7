#!/bin/sh
# Strong scaling of distributed verify (issue 23): bench/mpi_scaling.sh
# [REPS] runs each of the three hardest ACAS Xu instances of
# bench/RESULTS_vnncomp.md (4_2 prop 2, 3_3 prop 2, 4_9 prop 1) on 1 rank
# and on 2 ranks (one thread a rank), interleaved, REPS times each (default
# 3), then, if $NP8 > 0, under `mpirun --oversubscribe -np $NP8` once for the
# message counts (default 0: off).  The 1-rank run is `mpirun -np 1
# build/cerbere-mpi` (the same launcher and start-up cost as the 2-rank run;
# ONE=plain runs build/cerbere verify --threads 1 instead, the same search
# without mpirun).  On an idle 2-core machine the default takes about 3
# minutes (REPS=3).  $TIMEOUT (default 600) is long so that a loaded machine
# does not cut the runs.  Besides wall time (whole command) it records the
# search's own time (--json time_s, rank 0's), the CPU time (1 rank: user +
# sys; 2 ranks: the busiest rank's, mpi.cpu_max_rank_s) and each rank's own
# counts (mpi.per_rank: subdomains, busy CPU, the race's CPU, idle wall
# seconds).  The load average is recorded before each run: on a machine
# shared with other work wall time measures the scheduler's share.  Writes
# bench/results/mpi_scaling$SUFFIX.csv:
#   instance,ranks,rep,load1,wall_s,search_s,cpu_s,answer,nodes,messages,bytes,moved,steals,idle_s,
#   r0_subdomains,r1_subdomains,r0_busy_cpu_s,r1_busy_cpu_s,r1_race_cpu_s,r0_idle_s,r1_idle_s
set -u
reps=${1:-3}
root=${SHARED:-../shared}/benchmarks/acasxu
cb=${CB:-build/cerbere}
cbm=${CBMPI:-build/cerbere-mpi}
to=${TIMEOUT:-600}
out=bench/results/mpi_scaling${SUFFIX:-}.csv
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p bench/results
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "instance,ranks,rep,load1,wall_s,search_s,cpu_s,answer,nodes,messages,bytes,moved,steals,idle_s,r0_subdomains,r1_subdomains,r0_busy_cpu_s,r1_busy_cpu_s,r1_race_cpu_s,r0_idle_s,r1_idle_s" > "$out.tmp"
one() {   # INSTANCE NET PROP RANKS REP
  l=$(cut -d' ' -f1 /proc/loadavg)
  rm -f "$tmp/r" "$tmp/j"
  t0=$(date +%s.%N)
  if [ "$4" = 1 ] && [ "${ONE:-mpirun}" = plain ]; then
    /usr/bin/time -f "%U %S" -o "$tmp/t" "$cb" verify "$root/onnx/$2" "$root/vnnlib/$3" --threads 1 --timeout "$to" \
      --out "$tmp/r" --json "$tmp/j" </dev/null >/dev/null 2>&1
  else
    /usr/bin/time -f "%U %S" -o "$tmp/t" mpirun --oversubscribe --bind-to none -np "$4" "$cbm" verify "$root/onnx/$2" \
      "$root/vnnlib/$3" --threads 1 --timeout "$to" --out "$tmp/r" --json "$tmp/j" </dev/null >/dev/null 2>&1
  fi
  t1=$(date +%s.%N)
  if [ "$4" = 1 ]; then cpu=$(awk '{ print $1 + $2 }' "$tmp/t"); else cpu=$(jq -r '.mpi.cpu_max_rank_s' "$tmp/j" 2>/dev/null); fi
  a=$(head -n 1 "$tmp/r" 2>/dev/null || echo error)
  j=$(jq -r '[.time_s, $c, .answer, .nodes, (.mpi.messages // 0), (.mpi.bytes // 0), (.mpi.subdomains_moved // 0), (.mpi.steal_requests // 0),
              (.mpi.idle_s // 0), (.mpi.per_rank[0].subdomains // .nodes), (.mpi.per_rank[1].subdomains // 0),
              (.mpi.per_rank[0].busy_cpu_s // 0), (.mpi.per_rank[1].busy_cpu_s // 0), (.mpi.per_rank[1].race_cpu_s // 0),
              (.mpi.per_rank[0].idle_s // 0), (.mpi.per_rank[1].idle_s // 0)] | map(tostring) | join(",")' --arg c "$cpu" "$tmp/j" 2>/dev/null)
  [ -n "$j" ] || j=",$cpu,$a"
  echo "$1,$4,$5,$l,$(echo "$t1 - $t0" | bc),$j" | tee -a "$out.tmp"
}
for r in $(seq 1 "$reps"); do
  for i in "4_2 prop_2" "3_3 prop_2" "4_9 prop_1"; do
    set -- $i
    # alternate which goes first, so that a drift in load favours neither
    if [ $((r % 2)) = 1 ]; then a=1 b=2; else a=2 b=1; fi
    one "$1+$2" "ACASXU_run2a_$1_batch_2000.onnx" "$2.vnnlib" $a "$r"
    one "$1+$2" "ACASXU_run2a_$1_batch_2000.onnx" "$2.vnnlib" $b "$r"
  done
done
if [ "${NP8:-0}" -gt 0 ]; then
  for i in "4_2 prop_2" "3_3 prop_2" "4_9 prop_1"; do
    set -- $i
    one "$1+$2" "ACASXU_run2a_$1_batch_2000.onnx" "$2.vnnlib" "$NP8" 1
  done
fi
mv "$out.tmp" "$out"
# medians per instance and rank count; ratios 1 rank / 2 ranks
awk -F, 'NR > 1 && ($2 == 1 || $2 == 2) { k = $1 SUBSEP $2; n[k]++; w[k, n[k]] = $5; s[k, n[k]] = $6; c[k, n[k]] = $7; inst[$1] = 1 }
  function med(a, k,   m, i, j, t, v) { m = n[k]; for (i = 1; i <= m; i++) v[i] = a[k, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
  END { for (i in inst) { a = i SUBSEP 1; b = i SUBSEP 2; if (!n[a] || !n[b]) continue
    wa = med(w, a); wb = med(w, b); sa = med(s, a); sb = med(s, b); ca = med(c, a); cb = med(c, b)
    printf "%s: median wall 1 rank %.2f s, 2 ranks %.2f s (%.2fx); search %.2f / %.2f s (%.2fx); CPU 1 rank %.2f s, busiest of 2 %.2f s (%.2fx)\n",
      i, wa, wb, wa / wb, sa, sb, sa / sb, ca, cb, ca / cb } }' "$out"
