#!/bin/sh
# Issue 25 acceptance 3: the local-Lipschitz certified L2 radius on
# digits_mlp and digits_cnn (nets/digits_test20.csv, 20 rows), plain search
# (`jacobian --norm 2 --eps 0.1`, the session-9 baseline) against the
# bracketed constants + shell radius (`--bracket --nodes N --shells K`),
# side by side in one run.  Prints medians of certified_radius_local, their
# ratio, CPU seconds and the load average.  Usage: sh bench/lip_local.sh [N] [K]
CB=${CB:-build/cerbere}
N=${1:-256}
K=${2:-16}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
med() {  # median of certified_radius_local in a jacobian JSON (no python needed)
  grep -o '"certified_radius_local":[^,}]*' "$1" | cut -d: -f2 | sort -g |
    awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.10g\n", (a[NR/2]+a[NR/2+1])/2}'
}
cpu() { /usr/bin/time -f "%U" "$@" 2>&1 >/dev/null | tail -1; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-10s %10s %10s %7s %9s %9s\n" net plain bracket ratio plain_cpu brk_cpu
for net in digits_mlp digits_cnn; do
  c0=$(cpu nice "$CB" jacobian nets/$net.onnx --data nets/digits_test20.csv --norm 2 --eps 0.1 --json "$tmp/p.json" --quiet)
  c1=$(cpu nice "$CB" jacobian nets/$net.onnx --data nets/digits_test20.csv --norm 2 --eps 0.1 --bracket --nodes "$N" --shells "$K" --json "$tmp/b.json" --quiet)
  p=$(med "$tmp/p.json"); b=$(med "$tmp/b.json")
  printf "%-10s %10.6g %10.6g %7.3f %9s %9s\n" "$net" "$p" "$b" "$(echo "$b $p" | awk '{print $1/$2}')" "$c0" "$c1"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  (nodes $N per margin and ball, $K shells; CPU s user, OpenMP over rows)"
