#!/bin/sh
# Distributed certify (issue 23: acceptance 1 and the certify scaling figure):
# digits_cnn on the 360 rows of nets/digits_test.csv at L2 0.3 with --radius,
# 1 thread per process, every run nice'd.
#   1. equality: the single process run (build/cerbere) and the 3 shards run
#      at the same time; then mpirun -np 2 and -np 4 (oversubscribed) at the
#      same time; the shards are merged.  The verdicts and radii (every field
#      but the timing ones) must be identical: "identical: single = X".
#   2. strong scaling: mpirun -np 1 then -np 2, REPS pairs interleaved,
#      wall and user CPU time of the whole mpirun (/usr/bin/time), the load
#      average before each.  Ranks unbound (--bind-to none): on a shared
#      machine a rank pinned to a busy core could not move.
# The equality runs share the machine with each other, so their times say
# nothing; only step 2 is timed.  Usage: sh bench/distributed.sh [cerbere] [REPS]
CB=${1:-build/cerbere}
REPS=${2:-1}
CBM=${CB}-mpi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="nice mpirun --oversubscribe --bind-to none"
tmp=${TMPDIR:-/tmp}/cb_bench_dist.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
args="nets/digits_cnn.onnx --data nets/digits_test.csv --norm 2 --eps 0.3 --radius --threads 1 --quiet"
NC='del(.summary.time_s, .summary.threads, .summary.method_ms_total, .samples[].time_ms, .samples[].method_ms)'
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load before: $(load)"
nice "$CB" certify $args --out "$tmp/single" >/dev/null 2>&1 &
for i in 0 1 2; do nice "$CB" certify $args --shard $i/3 --out "$tmp/s$i" >/dev/null 2>&1 & done
wait
"$CB" merge "$tmp/s0" "$tmp/s1" "$tmp/s2" --out "$tmp/merged" >/dev/null
$MPIRUN -np 2 "$CBM" certify $args --out "$tmp/np2" >/dev/null 2>&1 &
$MPIRUN -np 4 "$CBM" certify $args --out "$tmp/np4" >/dev/null 2>&1 &
wait
jq "$NC" "$tmp/single/certificates.json" > "$tmp/ref.json"
for d in merged np2 np4; do
  jq "$NC" "$tmp/$d/certificates.json" > "$tmp/$d.json" 2>/dev/null
  if cmp -s "$tmp/ref.json" "$tmp/$d.json"; then echo "identical: single = $d"; else echo "DIFFERENT: single vs $d"; fi
done
jq -r '.summary | "summary: \(.n_samples) rows, \(.n_verified) verified, \(.n_falsified) falsified, \(.n_unknown) unknown, median certified radius \(.median_certified_radius)"' "$tmp/single/certificates.json"
r=1
while [ "$r" -le "$REPS" ]; do
  for np in 1 2; do
    l=$(load)
    /usr/bin/time -f "%e %U" -o "$tmp/t" $MPIRUN -np $np "$CBM" certify $args --out "$tmp/p$np" >/dev/null 2>&1
    echo "scaling rep $r: -np $np: wall $(cut -d' ' -f1 "$tmp/t") s, user CPU $(cut -d' ' -f2 "$tmp/t") s, load before $l"
  done
  r=$((r + 1))
done
echo "load after: $(load)"
