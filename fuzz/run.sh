#!/bin/sh
# Runs one libFuzzer harness for N seconds: fuzz/run.sh NAME SECONDS [BUILD]
# (NAME = onnx, nnet, csv, ...; the binary is BUILD/fuzz/fuzz_NAME, BUILD =
# build-fuzz).  The working corpus BUILD/corpus/NAME starts from the seeds
# (the project's own files of that kind) and grows across runs; a crash,
# hang (> 1 s on one input) or out-of-memory (> 2 GiB) leaves its input in
# BUILD/artifacts/NAME/ and makes this script fail.  Prints libFuzzer's last
# status line (executions, coverage, corpus) prefixed with the name.
name=$1; secs=${2:-30}; B=${3:-build-fuzz}
bin=$B/fuzz/fuzz_$name
[ -x "$bin" ] || { echo "fuzz $name: $bin not built"; exit 1; }
corpus=$B/corpus/$name; art=$B/artifacts/$name
# FUZZ_FRESH=1 starts from the seeds alone in a corpus of its own (the smoke
# run: with FUZZ_SEED and FUZZ_RUNS it then replays the same inputs on every
# machine, so what passes here passes in CI; a slower machine stops at the
# time limit and so runs a prefix of the same sequence).
if [ "${FUZZ_FRESH:-0}" = 1 ]; then corpus=$B/corpus-smoke/$name; rm -rf "$corpus"; fi
mkdir -p "$corpus" "$art"
case $name in
  onnx) seeds="nets/*.onnx tests/data/ops/*.onnx tests/data/torch_elem/*.onnx tests/bad/*.onnx";;
  nnet) seeds="tests/data/*.nnet tests/bad/*.nnet";;
  csv) seeds="nets/digits_test20.csv tests/data/*.csv tests/data/ops/*.in.csv tests/bad/*.csv tests/cli/*.csv";;
  npy) seeds="tests/data/npy/*.npy tests/data/npy/*.npz tests/bad/*.npy tests/bad/*.npz tests/bad/bad_box_* tests/bad/bad_epsw_* tests/data/threat/*.txt";;
  vnnlib) seeds="tests/data/*.vnnlib tests/bad/*.vnnlib nets/*.vnnlib";;
  proof) seeds="tests/data/*.proof";;
  *) seeds="";;
esac
for s in $seeds; do [ -f "$s" ] && cp "$s" "$corpus/seed_$(basename "$s")"; done
dict=""; [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
# FUZZ_SEED fixes libFuzzer's random seed (the smoke run in make test does, so
# CI explores the same inputs each time); unset, every run explores anew.
seedopt=""; [ -n "${FUZZ_SEED:-}" ] && seedopt="-seed=$FUZZ_SEED"
[ -n "${FUZZ_RUNS:-}" ] && seedopt="$seedopt -runs=$FUZZ_RUNS"
log=$B/fuzz_$name.log
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1 \
  "$bin" "$corpus" -max_total_time="$secs" -timeout=1 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
  -max_len=65536 -artifact_prefix="$art/" -print_final_stats=1 $dict $seedopt >"$log" 2>&1
rc=$?
last=$(grep -aE '^#[0-9]+' "$log" | tail -n 1)
execs=$(grep -aE '^stat::number_of_executed_units' "$log" | awk '{print $2}')
echo "fuzz $name: ${secs}s, ${execs:-?} executions, last: $last"
if [ "$rc" != 0 ]; then
  echo "fuzz $name: FAILED (exit $rc), see $log and $art/"
  grep -aE 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5
  exit 1
fi
