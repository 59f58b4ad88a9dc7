#!/bin/sh
# Distributed certify (issue 23, acceptance 1 and the certify scaling figure):
# digits_cnn on the 360 rows of nets/digits_test.csv at L2 0.3 with --radius,
#   - single process (build/cerbere, 1 thread), 3 shards merged, mpirun -np 2
#     and -np 4 (oversubscribed), all 1 thread per process: the verdicts and
#     radii (every field but the timing ones) must be identical;
#   - strong scaling: mpirun -np 1 against -np 2, 1 thread each, interleaved
#     (1, 2, 1, 2, ...; REPS pairs), wall time of the whole mpirun, medians.
# Every run is nice'd and unbound (--bind-to none: the machine is shared, so
# a rank pinned to a busy core could not move).  Prints the load average
# before each run.  Usage: sh bench/distributed.sh [cerbere] [REPS]
CB=${1:-build/cerbere}
REPS=${2:-2}
CBM=${CB}-mpi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="nice mpirun --oversubscribe --bind-to none"
tmp=${TMPDIR:-/tmp}/cb_bench_dist.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
args="nets/digits_cnn.onnx --data nets/digits_test.csv --norm 2 --eps 0.3 --radius --threads 1 --quiet"
NC='del(.summary.time_s, .summary.threads, .summary.method_ms_total, .samples[].time_ms, .samples[].method_ms)'
load() { cut -d' ' -f1-3 /proc/loadavg; }
wall() {  # name, command...: runs it, prints "name wall_s load"
  name=$1; shift
  l=$(load); t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$tmp/err.$name"; rc=$?
  t1=$(date +%s.%N)
  echo "$name $(echo "$t1 - $t0" | bc) rc=$rc load_before=\"$l\""
}
wall single nice "$CB" certify $args --out "$tmp/single"
wall shards sh -c "for i in 0 1 2; do nice '$CB' certify $args --shard \$i/3 --out '$tmp/s'\$i; done; '$CB' merge '$tmp/s0' '$tmp/s1' '$tmp/s2' --out '$tmp/merged'"
wall np2 $MPIRUN -np 2 "$CBM" certify $args --out "$tmp/np2"
wall np4 $MPIRUN -np 4 "$CBM" certify $args --out "$tmp/np4"
jq "$NC" "$tmp/single/certificates.json" > "$tmp/ref.json"
for d in merged np2 np4; do
  jq "$NC" "$tmp/$d/certificates.json" > "$tmp/$d.json"
  if cmp -s "$tmp/ref.json" "$tmp/$d.json"; then echo "identical: single = $d"; else echo "DIFFERENT: single vs $d"; fi
done
jq -r '.summary | "summary: \(.n_samples) rows, \(.n_verified) verified, \(.n_falsified) falsified, \(.n_unknown) unknown, median certified radius \(.median_certified_radius)"' "$tmp/single/certificates.json"
jq -r '[.samples[] | .certified_radius] | "radii: \(length) values, sum \(add)"' "$tmp/single/certificates.json"
r=1
while [ $r -le "$REPS" ]; do
  wall "scale_np1_rep$r" $MPIRUN -np 1 "$CBM" certify $args --out "$tmp/p1"
  wall "scale_np2_rep$r" $MPIRUN -np 2 "$CBM" certify $args --out "$tmp/p2"
  r=$((r + 1))
done
echo "load after: $(load)"
