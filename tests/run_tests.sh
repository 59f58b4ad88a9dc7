#!/bin/sh
# Runs every test of the suite from the repository root and prints one
# closing line "N passed, N failed".  $1 is the build folder (build).
# CB_VALGRIND=1 runs each test binary under valgrind memcheck.
B=${1:-build}
pass=0; failn=0; failed=""
run() {  # name, command...
  name=$1; shift
  echo "=== $name"
  if "$@"; then pass=$((pass+1)); else failn=$((failn+1)); failed="$failed $name"; fi
}
VG=""
[ "${CB_VALGRIND:-0}" = 1 ] && VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
for t in "$B"/tests/test_*; do
  [ -x "$t" ] || continue
  run "$(basename "$t")" $VG "$t"
done
run bad_inputs env CB_VG="$VG" sh tests/run_bad.sh "$B/cerbere"
run cli_errors env CB_VG="$VG" sh tests/run_cli.sh "$B/cerbere"
[ -z "$VG" ] && run certify_interrupt sh tests/run_certify.sh "$B/cerbere"
[ -z "$VG" ] && run report_browser sh tests/run_browser.sh "$B/cerbere"
for e in "$B"/examples/*; do
  [ -x "$e" ] || continue
  run "example $(basename "$e")" $VG "$e" nets/digits_mlp.onnx nets/digits_test20.csv
done
echo
[ -n "$failed" ] && echo "FAILED:$failed"
echo "$pass passed, $failn failed"
[ "$failn" = 0 ]
