#!/bin/sh
# verify under mpirun (issue 23; certify/vfy_mpi.c).  $1 = build folder.
# SKIPPED without mpirun or build/cerbere-mpi.  Root flags (CI runs as root)
# and --oversubscribe (4 ranks on 2 cores) are set here only.
#   1. the unit cases of tests/data (tiny.nnet: sat, unsat, a rational
#      witness) under -np 4 give single-process's answers, and every sat
#      witness holds: the property with its inputs pinned to the witness is
#      sat again (an independent single-process run);
#   2. 20 ACAS Xu instances (SKIPPED without ../shared/benchmarks), -np 4:
#      the same answers as single-process, witnesses re-checked the same way;
#      two of them at -np 2: the ranks' own counts add up to single-process's
#      (no work repeated) and both ranks bound subdomains (the race yields);
#      a Collins RUL instance (400 inputs: rank 0 alone, said in mpi.note);
#   3. --timeout 3 on 4 ranks: one timeout answer, every rank counted;
#   4. a rank killed (SIGKILL) mid-run: non-zero exit, mpirun's message naming
#      the signal, and no answer line.
B=${1:-build}
CB=$B/cerbere
MPI=$B/cerbere-mpi
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$MPI" ]; then
  echo "SKIPPED: no mpirun or no $MPI (Open MPI: make deps)"; exit 0
fi
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {   # WHAT CONDITION...
  what=$1; shift
  if "$@"; then :; else echo "FAIL: $what"; fail=1; fi
}
# pinned PROP RESULT: PROP with each input pinned to the witness in RESULT.
# The VNNLIB reader takes decimals exactly, so each printed value (%.17g: the
# double, read back by strtod) is written as the double's exact decimal
# expansion (awk's printf %.80g), not as the 17-digit decimal itself.
pinned() {
  cat "$1"
  sed -n 's/^[ (]*(X_\([0-9]*\) \([^)]*\)).*/\1 \2/p' "$2" |
    awk '{ printf "(assert (>= X_%s %.80g))\n(assert (<= X_%s %.80g))\n", $1, $2, $1, $2 }'
}
same() {   # NAME NET PROP TIMEOUT [verify options]: -np 4 answers as one process does
  name=$1 net=$2 prop=$3 to=$4; shift 4
  "$CB" verify "$net" "$prop" --threads 1 --timeout "$to" --out "$tmp/s" "$@" >/dev/null 2>&1
  mpirun --oversubscribe -np 4 "$MPI" verify "$net" "$prop" --threads 1 --timeout "$to" --out "$tmp/m" --json "$tmp/j" "$@" </dev/null \
    >"$tmp/o" 2>"$tmp/e"
  rc=$?
  s=$(head -n 1 "$tmp/s" 2>/dev/null); m=$(head -n 1 "$tmp/m" 2>/dev/null)
  check "$name: mpirun exit 0 (got $rc: $(head -n 2 "$tmp/e"))" [ "$rc" = 0 ]
  # a single-process timeout (the machine's load: the reference ran out of
  # time) is no answer to compare with; every other pair must agree
  if [ "$s" = timeout ]; then echo "$name: single-process timed out at this load: not compared"
  else check "$name: same answer (single $s, mpi $m)" [ "$s" = "$m" ]; fi
  case $m in sat|unsat) ;; *) check "$name: a decisive answer ($m)" false;; esac
  check "$name: one answer line on stdout" [ "$(grep -c -x -e sat -e unsat -e timeout -e unknown -e error "$tmp/o")" = 1 ]
  check "$name: json says 4 ranks" [ "$(jq .mpi.ranks "$tmp/j")" = 4 ]
  if [ "$m" = sat ] && ! grep -q '^; rational' "$tmp/m"; then
    pinned "$prop" "$tmp/m" > "$tmp/pin.vnnlib"
    check "$name: the witness, pinned, is sat again" [ "$("$CB" verify "$net" "$tmp/pin.vnnlib" --threads 1 --timeout 30 2>/dev/null | head -n 1)" = sat ]
  fi
  echo "$name: $m"
}
same tiny_sat tests/data/tiny.nnet tests/data/tiny_sat.vnnlib 20
same tiny_unsat tests/data/tiny.nnet tests/data/tiny_unsat.vnnlib 20
same tiny_pinned tests/data/tiny.nnet tests/data/tiny_pinned.vnnlib 20
check "tiny_pinned: the rational witness's decimal" grep -qx '((X_0 0.1)' "$tmp/m"
# input splitting alone (no ReLU splitting): every subdomain goes through the shared frontier
same tiny_unsat_input tests/data/tiny.nnet tests/data/tiny_unsat.vnnlib 20 --relu-split 0
a=${SHARED:-../shared}/benchmarks/acasxu
if [ -f "$a/instances.csv" ]; then
  # 20 instances that single-process decides in about a second each on an idle
  # machine: properties 3 and 4 on six networks, property 2 on six (sat), and
  # properties 8 (sat) and 10 (unsat)
  for n in 1_1 1_7 2_2 3_4 4_6 5_9; do
    same "acasxu $n prop 3" "$a/onnx/ACASXU_run2a_${n}_batch_2000.onnx" "$a/vnnlib/prop_3.vnnlib" 60
    same "acasxu $n prop 4" "$a/onnx/ACASXU_run2a_${n}_batch_2000.onnx" "$a/vnnlib/prop_4.vnnlib" 60
  done
  for n in 2_1 2_2 3_1 3_5 5_1 5_3 ; do
    same "acasxu $n prop 2" "$a/onnx/ACASXU_run2a_${n}_batch_2000.onnx" "$a/vnnlib/prop_2.vnnlib" 60
  done
  same "acasxu 4_5 prop 10" "$a/onnx/ACASXU_run2a_4_5_batch_2000.onnx" "$a/vnnlib/prop_10.vnnlib" 60
  same "acasxu 2_9 prop 8" "$a/onnx/ACASXU_run2a_2_9_batch_2000.onnx" "$a/vnnlib/prop_8.vnnlib" 60
  # -np 2 divides the work and repeats none: the ranks' own subdomain and
  # ReLU-state counts (mpi.per_rank) add up to single-process's exactly (the
  # tree does not depend on who bounds a box), each rank bounded some, and
  # the last rank, which also runs the race, takes part from the start (the
  # race yields; it used to hold that rank for 5 s).
  for n in "1_1 2" "4_5 10"; do
    set -- $n
    net=$a/onnx/ACASXU_run2a_$1_batch_2000.onnx prop=$a/vnnlib/prop_$2.vnnlib
    "$CB" verify "$net" "$prop" --threads 1 --timeout 60 --json "$tmp/s1" >/dev/null 2>&1
    mpirun --oversubscribe -np 2 "$MPI" verify "$net" "$prop" --threads 1 --timeout 60 --json "$tmp/j2" </dev/null >/dev/null 2>"$tmp/e"
    check "np 2 $1 prop $2: mpirun exit 0 ($(head -n 2 "$tmp/e"))" [ $? = 0 ]
    if [ "$(jq -r .answer "$tmp/s1")" != unsat ]; then echo "np 2 $1 prop $2: single-process did not answer unsat at this load: not compared"; continue; fi
    check "np 2 $1 prop $2: unsat" [ "$(jq -r .answer "$tmp/j2")" = unsat ]
    # the race (input splitting alone, on rank 1's idle time) may answer first
    # under load (4_5 prop 10: 725 subdomains alone); the shared search is
    # then cut short and its counts are not single-process's
    if jq -r .reason "$tmp/j2" | grep -q 'input splitting alone'; then
      echo "np 2 $1 prop $2: the race answered first ($(jq -r .reason "$tmp/j2")): counts not compared"; continue
    fi
    check "np 2 $1 prop $2: shared subdomains add up to single-process's ($(jq -c '[.mpi.per_rank[].subdomains]' "$tmp/j2") vs $(jq .nodes "$tmp/s1"))" \
      [ "$(jq '[.mpi.per_rank[].subdomains] | add' "$tmp/j2")" = "$(jq .nodes "$tmp/s1")" ]
    check "np 2 $1 prop $2: ReLU states add up to single-process's" \
      [ "$(jq '[.mpi.per_rank[].relu_states] | add' "$tmp/j2")" = "$(jq .relu_states "$tmp/s1")" ]
    check "np 2 $1 prop $2: the total counts the race's subdomains" \
      [ "$(jq '[.mpi.per_rank[] | .subdomains + .race_subdomains] | add' "$tmp/j2")" = "$(jq .nodes "$tmp/j2")" ]
    check "np 2 $1 prop $2: both ranks bounded subdomains" [ "$(jq '[.mpi.per_rank[].subdomains | select(. > 0)] | length' "$tmp/j2")" = 2 ]
    check "np 2 $1 prop $2: subdomains moved" [ "$(jq '.mpi.subdomains_moved > 0' "$tmp/j2")" = true ]
    echo "np 2 $1 prop $2: per rank $(jq -c '[.mpi.per_rank[] | [.subdomains, .race_subdomains]]' "$tmp/j2"), single $(jq .nodes "$tmp/s1")"
  done
else
  echo "SKIPPED: ACAS Xu (no $a/instances.csv)"
fi
# More than 64 inputs (Collins RUL, 400): ReLU splitting from the root, not
# shared: rank 0 alone, the same (rational) witness, and the note says so.
c=${SHARED:-../shared}/benchmarks/collins_rul_cnn
if [ -f "$c/instances.csv" ]; then
  same "collins (rank 0 alone)" tests/data/collins/NN_rul_small_window_20.onnx \
    "$c/vnnlib/robustness_2perturbations_delta5_epsilon10_w20.vnnlib" 60
  check "collins: the note says rank 0 alone" sh -c "jq -r .mpi.note '$tmp/j' | grep -q 'rank 0 alone'"
  check "collins: the rational witness's decimal" grep -qx '((X_0 -0.432882241988499)' "$tmp/m"
else
  echo "SKIPPED: Collins RUL (no $c/instances.csv)"
fi
# A rank killed mid-run: a property the search cannot finish in the time
# the test waits (nets/digits_mlp.onnx, the L-inf box of radius 0.15 around
# row 0 of nets/digits_test.csv, input splitting alone: ~5,000 subdomains a
# second, still open at 8 s), so that the ranks are exchanging subdomains.
awk -F, 'NR == 1 {
  for (i = 0; i < 64; i++) printf "(declare-const X_%d Real)\n", i
  for (j = 0; j < 10; j++) printf "(declare-const Y_%d Real)\n", j
  for (i = 2; i <= 65; i++) { lo = $i - 0.15; hi = $i + 0.15; if (lo < 0) lo = 0; if (hi > 1) hi = 1
    printf "(assert (>= X_%d %s))\n(assert (<= X_%d %s))\n", i - 2, lo, i - 2, hi }
  printf "(assert (or"; for (j = 0; j < 10; j++) if (j != $1) printf " (and (>= Y_%d Y_%d))", j, $1; print "))" }' \
  nets/digits_test.csv > "$tmp/digits.vnnlib"
set -- nets/digits_mlp.onnx "$tmp/digits.vnnlib" --relu-split 0 --timeout 60
# The timeout holds globally: 4 ranks, --timeout 3, one "timeout" answer,
# all four ranks counted, and the run ends within a few seconds of it.
t0=$(date +%s)
mpirun --oversubscribe -np 4 "$MPI" verify "$@" --threads 1 --timeout 3 --json "$tmp/tj" </dev/null >"$tmp/to" 2>"$tmp/te"
rc=$?; t1=$(date +%s)
check "timeout: exit 0 (got $rc: $(head -n 2 "$tmp/te"))" [ "$rc" = 0 ]
check "timeout: one answer line, timeout" [ "$(grep -x -e sat -e unsat -e timeout -e unknown -e error "$tmp/to")" = timeout ]
check "timeout: every rank counted" [ "$(jq .mpi.ranks_counted "$tmp/tj")" = 4 ]
check "timeout: subdomains on every rank" [ "$(jq '.mpi.subdomains_min_rank > 0' "$tmp/tj")" = true ]
check "timeout: ends within 15 s of the start ($((t1 - t0)) s)" [ $((t1 - t0)) -le 15 ]
echo "timeout: $(grep '^# mpi' "$tmp/to")"
mpirun --oversubscribe -np 2 "$MPI" verify "$@" --threads 1 --out "$tmp/k" </dev/null >"$tmp/ko" 2>"$tmp/ke" &
mp=$!
victim=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  sleep 0.5
  for p in $(pgrep -P "$mp" 2>/dev/null); do
    grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$p/environ" 2>/dev/null && victim=$p
  done
  [ -n "$victim" ] && break
done
if [ -n "$victim" ]; then
  sleep 1
  kill -KILL "$victim"
  wait "$mp"; rc=$?
  check "killed rank: mpirun exits non-zero (got $rc)" [ "$rc" != 0 ]
  check "killed rank: the message names the signal" grep -q -i -e 'signal 9' -e killed "$tmp/ke"
  check "killed rank: no answer line" sh -c "! grep -q -x -e sat -e unsat '$tmp/ko'"
  check "killed rank: no result file" [ ! -f "$tmp/k" ]
  echo "killed rank 1 (pid $victim): exit $rc, $(grep -i -m 1 -e 'signal 9' -e killed "$tmp/ke")"
else
  kill "$mp" 2>/dev/null; wait "$mp"
  check "killed rank: found rank 1's process" false
fi
exit $fail
