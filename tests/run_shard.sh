#!/bin/sh
# certify --shard I/N and cerbere merge (docs/cluster.md):
#   - 3 shards merged equal a single run: certificates.json with every field
#     but the documented timing ones, key order included; report.json too;
#   - --resume works per shard (another shard's progress is refused);
#   - merge refuses overlapping rows, missing rows, other settings, another
#     network, an unfinished shard, with one line and nothing written;
#   - the Slurm array script of docs/cluster.md, run with SLURM_ARRAY_TASK_ID
#     set in a shell loop, then its merge script, equal the single run.
# $1 = cerbere.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok_rc() { [ "$1" = 0 ] || [ "$1" = 10 ] || [ "$1" = 11 ]; }
# the timing fields docs/cluster.md lists: everything else must be identical
NC='del(.summary.time_s, .summary.threads, .summary.method_ms_total, .samples[].time_ms, .samples[].method_ms)'
NR='del(.runs[].timing, .runs[].host, .runs[].cwd, .runs[].argv, .runs[].command_line, .runs[].summary.threads, .runs[].samples[].time_ms, .runs[].samples[].method_ms)'
same() {  # a b: the two output directories hold the same certificates and report
  jq "$NC" "$1/certificates.json" > "$tmp/a.json" && jq "$NC" "$2/certificates.json" > "$tmp/b.json" || fail "jq on $1, $2"
  cmp -s "$tmp/a.json" "$tmp/b.json" || { diff "$tmp/a.json" "$tmp/b.json" | head -n 8; fail "certificates.json of $2 differs from $1"; }
  jq "$NR" "$1/report.json" > "$tmp/a.json" && jq "$NR" "$2/report.json" > "$tmp/b.json" || fail "jq on reports"
  cmp -s "$tmp/a.json" "$tmp/b.json" || { diff "$tmp/a.json" "$tmp/b.json" | head -n 8; fail "report.json of $2 differs from $1"; }
}
command -v jq >/dev/null || { echo "SKIPPED: shard/merge (no jq)"; exit 0; }
# digits_mlp on 20 rows, L2 with radii: verified, falsified and radius rows
args="nets/digits_mlp.onnx --data nets/digits_test20.csv --norm 2 --eps 0.1 --radius --threads 1 --quiet"
"$CB" certify $args --out "$tmp/single" >/dev/null 2>"$tmp/err"; rc=$?; rc_single=$rc
ok_rc $rc || fail "single run exited $rc: $(cat "$tmp/err")"
[ "$(jq '[.samples[] | select(.verdict == "falsified")] | length' "$tmp/single/certificates.json")" -ge 1 ] || fail "no falsified row: the test would not check counterexamples"
for i in 0 1 2; do
  "$CB" certify $args --shard $i/3 --out "$tmp/s$i" >/dev/null 2>"$tmp/err"; rc=$?
  ok_rc $rc || fail "shard $i/3 exited $rc: $(cat "$tmp/err")"
done
n0=$(jq '.samples | length' "$tmp/s0/certificates.json")
[ "$n0" = 7 ] || fail "shard 0/3 of 20 rows holds $n0 rows, expected 7 (rows 0, 3, ..., 18)"
[ "$(jq -c '[.samples[].index]' "$tmp/s1/certificates.json")" = "[1,4,7,10,13,16,19]" ] || fail "shard 1/3 holds other rows"
[ "$(jq -c '.settings.shard' "$tmp/s2/certificates.json")" = '{"index":2,"count":3}' ] || fail "shard 2/3's settings do not record it"
"$CB" merge "$tmp/s2" "$tmp/s0" "$tmp/s1" --out "$tmp/m" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" = "$rc_single" ] || fail "merge exited $rc, the single run $rc_single: $(cat "$tmp/err")"
same "$tmp/single" "$tmp/m"
[ -f "$tmp/m/report.html" ] || fail "merge wrote no report.html"
grep -q -- "--shard" "$tmp/m/report.json" && fail "the merged report's command line still names --shard"
grep -q "rows 0..19 (20 samples)" "$tmp/out" || fail "merge summary line: $(cat "$tmp/out")"

# --resume per shard: shard 1's progress resumed by shard 1, refused by shard 2
mkdir -p "$tmp/r1"
{ printf '{"settings":%s}\n' "$(jq -c .settings "$tmp/s1/certificates.json")"
  jq -c '.samples[0]' "$tmp/s1/certificates.json"; jq -c '.samples[1]' "$tmp/s1/certificates.json"; } > "$tmp/r1/progress.jsonl"
cp "$tmp/r1/progress.jsonl" "$tmp/progress1"
"$CB" certify $args --shard 2/3 --out "$tmp/r1" --resume >/dev/null 2>"$tmp/err"; rc=$?
[ "$rc" = 2 ] || fail "shard 2/3 resuming shard 1/3's progress exited $rc, expected 2"
grep -q "other settings" "$tmp/err" || fail "resume of another shard: $(cat "$tmp/err")"
cp "$tmp/progress1" "$tmp/r1/progress.jsonl"
"$CB" certify $args --shard 1/3 --out "$tmp/r1" --resume >/dev/null 2>"$tmp/err"; rc=$?
ok_rc $rc || fail "shard 1/3 --resume exited $rc: $(cat "$tmp/err")"
grep -q "resuming: 2 of 7 samples" "$tmp/err" || fail "shard resume did not reuse its 2 samples: $(cat "$tmp/err")"
jq "$NC" "$tmp/s1/certificates.json" > "$tmp/a.json"; jq "$NC" "$tmp/r1/certificates.json" > "$tmp/b.json"
cmp -s "$tmp/a.json" "$tmp/b.json" || fail "resumed shard 1/3 differs from the uninterrupted one"

# refusals: one line naming what differs, exit 3, nothing written
refuse() {  # what, expected words, dirs...
  what=$1; words=$2; shift 2
  "$CB" merge "$@" --out "$tmp/no" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ "$rc" = 3 ] || fail "merge with $what exited $rc, expected 3 ($(cat "$tmp/err"))"
  [ "$(wc -l < "$tmp/err")" = 1 ] || fail "merge with $what: not one line: $(cat "$tmp/err")"
  grep -q "$words" "$tmp/err" || fail "merge with $what: '$(cat "$tmp/err")' lacks '$words'"
  [ -e "$tmp/no" ] && fail "merge with $what wrote $tmp/no"
}
refuse "a shard twice" "overlapping rows: row 1 is in both $tmp/s1 and $tmp/s1" "$tmp/s0" "$tmp/s1" "$tmp/s1" "$tmp/s2"
refuse "a shard and the single run" "overlapping rows: row 0 is in both" "$tmp/s0" "$tmp/single"
refuse "a missing shard" "missing rows: 6 of rows 0..19 are in no directory, the first row 2 (no --shard 2/3 given)" "$tmp/s0" "$tmp/s1"
"$CB" certify nets/digits_mlp.onnx --data nets/digits_test20.csv --norm 2 --eps 0.2 --radius --threads 1 --quiet \
  --shard 2/3 --out "$tmp/e2" >/dev/null 2>&1
refuse "other settings" "settings differ at eps: 0.1 in $tmp/s0, 0.2 in $tmp/e2" "$tmp/s0" "$tmp/s1" "$tmp/e2"
"$CB" certify nets/digits_tanh.onnx --data nets/digits_test20.csv --norm 2 --eps 0.1 --radius --threads 1 --quiet \
  --shard 2/3 --out "$tmp/n2" >/dev/null 2>&1
refuse "another network" "network digests differ" "$tmp/s0" "$tmp/s1" "$tmp/n2"
jq '.version = "0.0.0"' "$tmp/s2/certificates.json" > "$tmp/v.json"; mkdir -p "$tmp/v2"
cp "$tmp/s2/report.json" "$tmp/v2/"; mv "$tmp/v.json" "$tmp/v2/certificates.json"
refuse "another tool version" "tool versions differ" "$tmp/s0" "$tmp/s1" "$tmp/v2"
mkdir -p "$tmp/u2"; cp "$tmp/progress1" "$tmp/u2/progress.jsonl"
refuse "an unfinished shard" "u2: the run has not finished (progress.jsonl, no certificates.json): finish it with certify --resume" "$tmp/s0" "$tmp/s1" "$tmp/u2"

# the Slurm array script of docs/cluster.md, run without Slurm
awk '/^<!-- tested: tests\/run_shard.sh/ { want = 1; next }
     want && /^```sh$/ { n++; out = sprintf("'"$tmp"'/slurm%d.sh", n); inb = 1; next }
     inb && /^```$/ { inb = 0; want = 0; next }
     inb { print > out }' docs/cluster.md
[ -s "$tmp/slurm1.sh" ] && [ -s "$tmp/slurm2.sh" ] || fail "docs/cluster.md: the two tested sh blocks are missing"
grep -q "^#SBATCH --array=0-2" "$tmp/slurm1.sh" || fail "docs/cluster.md: the array script is not --array=0-2"
i=0
while [ $i -lt 3 ]; do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=3 SLURM_CPUS_PER_TASK=1 CB="$CB" \
    NET=nets/digits_mlp.onnx DATA=nets/digits_test20.csv OUT="$tmp/cluster" CERTIFY_ARGS="--norm 2 --eps 0.1 --radius" \
    sh "$tmp/slurm1.sh" >/dev/null 2>"$tmp/err" || fail "the Slurm array script, task $i: $(cat "$tmp/err")"
  i=$((i + 1))
done
CB="$CB" OUT="$tmp/cluster" sh "$tmp/slurm2.sh" >/dev/null 2>"$tmp/err" || fail "the merge script: $(cat "$tmp/err")"
same "$tmp/single" "$tmp/cluster/all"
echo "shard/merge: 3 shards merged equal the single run (20 rows); per-shard resume; 7 refusals; the Slurm array script of docs/cluster.md"
