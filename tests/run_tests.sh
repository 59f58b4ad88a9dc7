#!/bin/sh
# Runs every test of the suite from the repository root and prints one
# closing line "N passed, N failed".  $1 is the build folder (build).
# CB_VALGRIND=1 runs each test binary under valgrind memcheck; CB_ONLY="a b"
# limits the unit tests to test_a, test_b (make valgrind's subset).
# CB_ASAN_B=DIR also runs DIR's unit tests and CLI checks (an ASan+UBSan
# build); CB_FUZZ_B=DIR runs each DIR/fuzz/fuzz_* for a fixed number of
# inputs from seed 1 (at most CB_FUZZ_SECONDS, 30, seconds).  `make test`
# sets both (see the Makefile).
# CB_RUN="a b" runs only the tests named a and b: a unit test with or without
# its test_ prefix (verify, test_verify), a script by the name given to run
# below (cli_errors), an example by its file name; a name that matches no
# test fails (make check T=NAME, make check-fast).  CB_BROWSER=0 leaves out
# report_browser (make check).
B=${1:-build}
pass=0; failn=0; failed=""; seen=" "
selected() {  # name: whether CB_RUN selects it
  [ -z "${CB_RUN:-}" ] && return 0
  short=${1#test_}; short=${short#example }
  case " $CB_RUN " in *" $1 "*|*" $short "*) seen="$seen$short ";; *) return 1;; esac
}
run() {  # name, command...
  name=$1; shift
  selected "$name" || return 0
  echo "=== $name"
  if "$@"; then pass=$((pass+1)); else failn=$((failn+1)); failed="$failed $name"; fi
}
VG=""
[ "${CB_VALGRIND:-0}" = 1 ] && VG="valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite"
for t in "$B"/tests/test_*; do
  [ -x "$t" ] || continue
  if [ -n "${CB_ONLY:-}" ]; then
    case " $CB_ONLY " in *" $(basename "$t" | sed 's/^test_//') "*) ;; *) continue;; esac
  fi
  run "$(basename "$t")" $VG "$t"
done
run bad_inputs env CB_VG="$VG" sh tests/run_bad.sh "$B/cerbere"
run cli_errors env CB_VG="$VG" sh tests/run_cli.sh "$B/cerbere"
[ -z "$VG" ] && run verify_witness sh tests/run_verify_witness.sh "$B/cerbere"
[ -z "$VG" ] && run verify_edge sh tests/run_verify_edge.sh "$B/cerbere"
[ -z "$VG" ] && run mpi_verify sh tests/run_mpi_verify.sh "$B"
[ -z "$VG" ] && run proof_cli sh tests/run_proof.sh "$B"
[ -z "$VG" ] && run npy_formats sh tests/run_npy.sh "$B/cerbere"
[ -z "$VG" ] && run formats_360 sh tests/run_formats.sh "$B/cerbere"
[ -z "$VG" ] && run normalise_cifar sh tests/run_normalise.sh "$B/cerbere"
[ -z "$VG" ] && run info_check sh tests/run_info_check.sh "$B/cerbere"
[ -z "$VG" ] && run regression_bounds sh tests/run_regression.sh "$B/cerbere"
[ -z "$VG" ] && run lipsign_exlipbab sh tests/run_lipsign.sh "$B/cerbere"
[ -z "$VG" ] && run certify_interrupt sh tests/run_certify.sh "$B/cerbere"
[ -z "$VG" ] && run certify_set sh tests/run_cert_set.sh "$B/cerbere"
[ -z "$VG" ] && run certify_bab sh tests/run_cert_bab.sh "$B/cerbere"
[ -z "$VG" ] && run certify_shard sh tests/run_shard.sh "$B/cerbere"
[ -z "$VG" ] && run certify_mpi sh tests/run_mpi_certify.sh "$B/cerbere"
[ -z "$VG" ] && [ "${CB_BROWSER:-1}" != 0 ] && run report_browser sh tests/run_browser.sh "$B/cerbere"
for e in "$B"/examples/*; do
  [ -x "$e" ] || continue
  case $(basename "$e") in
    verify) run "example verify" $VG "$e" tests/data/tiny.nnet tests/data/tiny_unsat.vnnlib;;
    *) run "example $(basename "$e")" $VG "$e" nets/digits_mlp.onnx nets/digits_test20.csv;;
  esac
done
[ -z "$VG" ] && run install sh tests/run_install.sh "$B"
[ -z "$VG" ] && run python sh tests/run_python.sh "$B"
run limits_ulimit sh tests/run_limits.sh "$B/cerbere"
[ -z "$VG" ] && run deps_check sh tests/run_deps.sh
if [ -n "${CB_ASAN_B:-}" ]; then
  for t in "$CB_ASAN_B"/tests/test_*; do
    [ -x "$t" ] || continue
    run "asan $(basename "$t")" env ASAN_OPTIONS=detect_leaks=1 "$t"
  done
  run "asan bad_inputs" sh tests/run_bad.sh "$CB_ASAN_B/cerbere"
  run "asan cli_errors" sh tests/run_cli.sh "$CB_ASAN_B/cerbere"
fi
if [ -n "${CB_FUZZ_B:-}" ]; then
  for f in "$CB_FUZZ_B"/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    n=$(basename "$f"); n=${n#fuzz_}
    # a fixed seed, fresh corpus and run count (about 20 s each here) make
    # the smoke run deterministic; `make fuzz` explores anew
    case $n in vnnlib) runs=800000;; onnx) runs=50000;; npy) runs=60000;; *) runs=60000;; esac
    run "fuzz smoke $n" env FUZZ_SEED="${FUZZ_SEED:-1}" FUZZ_FRESH=1 FUZZ_RUNS="$runs" \
      sh fuzz/run.sh "$n" "${CB_FUZZ_SECONDS:-30}" "$CB_FUZZ_B"
  done
fi
for w in ${CB_RUN:-}; do
  case "$seen" in *" ${w#test_} "*) ;; *) echo "no test named $w (or its binary is not built)"; failn=$((failn+1)); failed="$failed $w";; esac
done
echo
[ -n "$failed" ] && echo "FAILED:$failed"
echo "$pass passed, $failn failed"
[ "$failn" = 0 ]
