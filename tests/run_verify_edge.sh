#!/bin/sh
# verify on satisfiable properties whose counterexamples lie on the boundary
# (review12; issue 18's ReLU search, docs/soundness.md "Branch and bound").
# tests/data/edge/eN.nnet + eN.vnnlib (tests/data/gen_edge.py): a random
# ReLU net whose output-0 bias is shifted to 1e-9 below the maximum of Y_0
# (or of min_j Y_0 - Y_j), so the property holds only near one point x*, a
# real counterexample in exact arithmetic.  No answer may be unsat: sat
# (exact replay), unknown or timeout only.  eN_pin.vnnlib pins the box to x*
# (exact decimals of doubles): again never unsat, and at least a quarter of
# all runs are pinned ones answered sat (all 16 today).  A wrongly refuted
# region (a child state's box, an LP-tightened bound or a combined row that
# excludes x*) makes this fail: with the second child of a ReLU split
# started from the first child's boxes, all 16 boxes answer unsat.
# Then the proof checker on twins: eN_uns.proof (tests/data/gen_edge_proofs.sh,
# format version 3 with tighten and beta records) proves eN.vnnlib on
# eN_uns.nnet (shifted 1e-6 above the maximum): valid there, and invalid
# on eN.nnet (1e-9 below it, satisfiable), checked with --ignore-hash.
# $1 = cerbere.
CB=${1:-build/cerbere}
fail=0; n=0; nsat=0; npin=0
for net in tests/data/edge/e*.nnet; do
  case $net in *_uns.nnet) continue;; esac
  b=${net%.nnet}
  for p in "$b.vnnlib" "${b}_pin.vnnlib"; do
    a=$("$CB" verify "$net" "$p" --threads 1 --timeout 20 2>/dev/null | head -n 1)
    n=$((n + 1))
    case $a in
      sat) nsat=$((nsat + 1)); case $p in *_pin.vnnlib) npin=$((npin + 1));; esac;;
      unknown|timeout) ;;
      *) echo "FAIL: $net $p: '$a' (satisfiable: x* is the point of ${b}_pin.vnnlib)"; fail=1;;
    esac
  done
done
[ "$n" -ge 20 ] || { echo "FAIL: only $n instances (tests/data/edge missing?)"; fail=1; }
# the pins must mostly be decided sat (the replay works at these points)
[ "$npin" -ge $((n / 4)) ] || { echo "FAIL: only $npin pinned instances sat"; fail=1; }
np=0
for pf in tests/data/edge/e*_uns.proof; do
  b=${pf%_uns.proof}
  np=$((np + 1))
  grep -q '^tighten ' "$pf" && grep -q '^beta ' "$pf" || { echo "FAIL: $pf has no tighten or no beta record"; fail=1; }
  v=$("$CB" check "${b}_uns.nnet" "$b.vnnlib" "$pf" 2>&1 | grep -v '^#' | head -n 1)
  [ "$v" = valid ] || { echo "FAIL: $pf on ${b}_uns.nnet: $v"; fail=1; }
  v=$("$CB" check "$b.nnet" "$b.vnnlib" "$pf" --ignore-hash 2>&1 | grep -v '^#' | head -n 1)
  case $v in invalid:*) ;; *) echo "FAIL: $pf accepted on $b.nnet, whose property is satisfiable: $v"; fail=1;; esac
done
[ "$np" -ge 3 ] || { echo "FAIL: only $np twin proofs"; fail=1; }
[ "$fail" = 0 ] && echo "verify edge: $np twin proofs valid on their nets, invalid on the satisfiable twins"
[ "$fail" = 0 ] && echo "verify edge: $n runs, none unsat ($nsat sat, $npin of them pinned)"
exit $fail
