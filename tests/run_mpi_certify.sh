#!/bin/sh
# certify under mpirun (build/cerbere-mpi, cli/certify_mpi.c; docs/cluster.md):
#   - mpirun -np 2 and -np 4 (oversubscribed) give the single run's
#     certificates (every field but the documented timing ones) and exit code;
#   - a rank killed with SIGKILL mid-run: non-zero exit, a clear message, no
#     certificates.json; --resume (under mpirun) completes with the single
#     run's results;
#   - an input error is printed once, not once per rank;
#   - build/cerbere (no MPI) under mpirun refuses, saying it was built without MPI.
# SKIPPED without Open MPI's mpirun or without build/cerbere-mpi.  As root (CI)
# Open MPI wants the allow-run-as-root variables, set here only.
# $1 = cerbere (the MPI build is $1-mpi).
CB=${1:-build/cerbere}
CBM=${CB}-mpi
command -v mpirun >/dev/null || { echo "SKIPPED: mpi certify (no mpirun: Debian openmpi-bin)"; exit 0; }
mpirun --version 2>/dev/null | grep -q "Open MPI" || { echo "SKIPPED: mpi certify (mpirun is not Open MPI's)"; exit 0; }
[ -x "$CBM" ] || { echo "SKIPPED: mpi certify (no $CBM: make builds it when mpicc is present)"; exit 0; }
command -v jq >/dev/null || { echo "SKIPPED: mpi certify (no jq)"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="mpirun --oversubscribe"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
NC='del(.summary.time_s, .summary.threads, .summary.method_ms_total, .samples[].time_ms, .samples[].method_ms)'
same() {  # a b: same certificates.json but for the timing fields
  jq "$NC" "$1/certificates.json" > "$tmp/a.json" && jq "$NC" "$2/certificates.json" > "$tmp/b.json" || fail "jq on $1, $2"
  cmp -s "$tmp/a.json" "$tmp/b.json" || { diff "$tmp/a.json" "$tmp/b.json" | head -n 8; fail "$2 differs from $1"; }
}
args="nets/digits_mlp.onnx --data nets/digits_test20.csv --norm 2 --eps 0.1 --radius --threads 1 --quiet"
"$CB" certify $args --out "$tmp/single" >/dev/null 2>&1; rc1=$?
[ "$rc1" = 10 ] || fail "single run exited $rc1, expected 10 (one falsified row)"
for np in 2 4; do
  $MPIRUN -np $np "$CBM" certify $args --out "$tmp/np$np" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ "$rc" = "$rc1" ] || fail "mpirun -np $np exited $rc, the single run $rc1: $(head -n 5 "$tmp/err")"
  same "$tmp/single" "$tmp/np$np"
  [ "$(jq .summary.threads "$tmp/np$np/certificates.json")" = $np ] || fail "-np $np: summary.threads is not $np"
  [ -e "$tmp/np$np/progress.jsonl" ] && fail "-np $np left progress.jsonl"
done

# an input error: one line, from rank 0 only
$MPIRUN -np 2 "$CBM" certify nets/no_such.onnx --data nets/digits_test20.csv --norm 2 --eps 0.1 --out "$tmp/bad" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" = 3 ] || fail "a missing net under mpirun exited $rc, expected 3"
[ "$(grep -c '^cerbere' "$tmp/err")" = 1 ] || fail "a missing net under mpirun: not one line: $(cat "$tmp/err")"
# the build without MPI refuses under mpirun
$MPIRUN -np 2 "$CB" certify $args --out "$tmp/nompi" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" != 0 ] || fail "build/cerbere under mpirun exited 0"
[ "$(grep -c 'built without MPI' "$tmp/err")" = 1 ] || fail "build/cerbere under mpirun: $(cat "$tmp/err")"
[ -e "$tmp/nompi/certificates.json" ] && fail "build/cerbere under mpirun wrote certificates"

# SIGKILL of rank 1 mid-run, then --resume
big="nets/digits_mlp.onnx --data nets/digits_test.csv --rows 0:120 --norm 2 --eps 0.1 --radius --threads 1 --quiet"
"$CB" certify $big --out "$tmp/single120" >/dev/null 2>&1
$MPIRUN -np 2 "$CBM" certify $big --out "$tmp/kill" >"$tmp/out" 2>"$tmp/err" &
mp=$!
i=0
while [ $i -lt 300 ]; do
  [ -f "$tmp/kill/progress.jsonl" ] && [ "$(wc -l < "$tmp/kill/progress.jsonl")" -ge 6 ] && break
  sleep 0.05; i=$((i + 1))
done
victim=
for p in $(pgrep -P $mp); do
  tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -q '^OMPI_COMM_WORLD_RANK=1$' && victim=$p
done
[ -n "$victim" ] || { kill $mp; fail "rank 1 not found among mpirun's children"; }
kill -KILL "$victim"
wait $mp; rck=$?
[ "$rck" != 0 ] || fail "the run with a killed rank exited 0"
grep -q "stopped by mpirun (a rank died, or the job was cancelled): [0-9]* finished samples are in $tmp/kill/progress.jsonl; no final file was written; rerun with --resume to continue" "$tmp/err" ||
  fail "no clear message after the kill: $(cat "$tmp/err")"
[ -e "$tmp/kill/certificates.json" ] && fail "the killed run wrote certificates.json"
ls "$tmp/kill" | grep -qv '^progress.jsonl$' && fail "the killed run left other files: $(ls "$tmp/kill")"
done1=$(($(wc -l < "$tmp/kill/progress.jsonl") - 1))
[ "$done1" -lt 120 ] || fail "the run finished before the kill; test is void"
$MPIRUN -np 2 "$CBM" certify $big --out "$tmp/kill" --resume >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" = 0 ] || [ "$rc" = 10 ] || [ "$rc" = 11 ] || fail "the resumed run exited $rc: $(head -n 5 "$tmp/err")"
grep -q "resuming: [0-9]* of 120 samples already done" "$tmp/err" || fail "the resumed run did not resume: $(head -n 3 "$tmp/err")"
same "$tmp/single120" "$tmp/kill"
echo "mpi certify: -np 2 and -np 4 equal the single run; rank 1 killed after $done1 rows: exit $rck, no final file, --resume equal; errors printed once"
