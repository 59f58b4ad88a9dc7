#!/bin/sh
# Markdown summary of bench/results/FAMILY.csv (from bench/vnncomp.sh):
# answer counts, total and median wall time, and the N slowest instances
# with their answer and subdomain count.  bench/vnncomp_summary.sh CSV [N]
csv=${1:?usage: bench/vnncomp_summary.sh CSV [N]}; n=${2:-8}
med=$(tail -n +2 "$csv" | cut -d, -f3 | sort -g | awk '{ t[NR] = $1 } END { print NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }')
tail -n +2 "$csv" | awk -F, -v med="$med" '
  { s += $3; c[$2]++; if ($2 == "sat" || $2 == "unsat") d += $3 }
  END {
    printf "| instances | sat | unsat | timeout | unknown | error | total s | decided-only s | median s |\n|---|---|---|---|---|---|---|---|---|\n";
    printf "| %d | %d | %d | %d | %d | %d | %.1f | %.1f | %.3f |\n\n", NR, c["sat"], c["unsat"], c["timeout"], c["unknown"], c["error"], s, d, med
  }'
echo "Slowest:"
echo
echo "| instance | answer | time s | subdomains |"
echo "|---|---|---|---|"
tail -n +2 "$csv" | sort -t, -k3,3 -g -r | head -n "$n" | awk -F, '{ printf "| %s | %s | %.2f | %s |\n", $1, $2, $3, $4 }'
