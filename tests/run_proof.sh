#!/bin/sh
# Proofs of unsat (issue 22) through the command line, and the checker's
# independence.  $1 = the build folder (default build).
#   1. The checker builds from check/ and src/ alone: check/check.c compiles
#      with the include path of src/ only (a header of bounds/, lip/,
#      certify/ or cli/ is not found), and links with the src/ objects only
#      (a symbol of those floors would be undefined); build/cerbere-check
#      defines none of their functions (nm).
#   2. verify --proof writes a proof for the unsat unit cases that `cerbere
#      check` and build/cerbere-check call valid (exit 0); none for a sat
#      answer; a proof checked against another property is invalid (exit 1),
#      and with --ignore-hash names its failing leaf.
#      A proof search killed after the answer keeps the verdict on stdout.
#      An old proof is removed before the search (none next to a sat
#      answer), and the next run removes a killed run's PROOF.tmpPID.K.
#   3. With ../shared: three ACAS Xu unsat instances get proofs that check
#      valid (SKIPPED without it).
B=${1:-build}
CB=$B/cerbere
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {   # WHAT CONDITION...
  what=$1; shift
  if "$@"; then :; else echo "FAIL: $what"; fail=1; fi
}
CC=${CC:-cc}
LIBS="-lprotobuf-c -lcjson -llapacke -lopenblas -lglpk -lgmp -lcrypto -lpng -lz -lm -fopenmp"
# 1. independence
for f in check/check.c check/certs.c check/main.c; do
  check "$f compiles with src/ headers only" $CC -std=c11 -D_POSIX_C_SOURCE=200809L -fopenmp -c -Iinclude -Isrc -Icheck -I$B/gen \
    -I/usr/include/x86_64-linux-gnu "$f" -o "$tmp/$(basename "$f" .c).o"
done
check "the checker links from check/ and src/ objects alone" \
  $CC -o "$tmp/ck" "$tmp/check.o" "$tmp/certs.o" "$tmp/main.o" $B/src/*.o $B/gen/onnx.pb-c.o $LIBS
check "build/cerbere-check defines no function of bounds/, lip/, certify/, cli/" \
  sh -c "! nm --defined-only $B/cerbere-check | grep -Eq ' T (bounds_|crown_|alpha_|ibp_|ws_|bnet_|lip_|jac_|vfy_|proof_emit|cert_|cmd_)'"
check "src/proofchk.c includes no header of a floor above" sh -c "! grep -Eq '#include \"(bounds|crown|verify|vfy|certify|lip)' src/proofchk.c src/proofchk.h check/check.c"
# 2. command line
for p in tiny_unsat tiny_split; do
  "$CB" verify tests/data/tiny.nnet tests/data/$p.vnnlib --threads 1 --proof "$tmp/$p.proof" > "$tmp/o" 2> "$tmp/e"
  check "$p: unsat with a '# proof:' line" sh -c "head -n 1 '$tmp/o' | grep -qx unsat && grep -q '^# proof: ' '$tmp/o'"
  "$CB" check tests/data/tiny.nnet tests/data/$p.vnnlib "$tmp/$p.proof" > "$tmp/c"; rc=$?
  check "$p: cerbere check says valid, exit 0 (got $rc)" sh -c "[ $rc = 0 ] && head -n 1 '$tmp/c' | grep -qx valid"
  [ -x "$tmp/ck" ] && { "$tmp/ck" tests/data/tiny.nnet tests/data/$p.vnnlib "$tmp/$p.proof" > "$tmp/c2"; rc=$?
    check "$p: the separately linked checker agrees (got $rc)" sh -c "[ $rc = 0 ] && head -n 1 '$tmp/c2' | grep -qx valid"; }
done
"$CB" verify tests/data/tiny.nnet tests/data/tiny_sat.vnnlib --threads 1 --proof "$tmp/sat.proof" > "$tmp/o" 2>&1
check "no proof file for a sat answer" sh -c "head -n 1 '$tmp/o' | grep -qx sat && [ ! -e '$tmp/sat.proof' ]"
# an old proof never sits next to a new answer (review11's hazard 3): verify removes it before the
# search; sat (like unknown, timeout, an error or a kill) leaves none
cp "$tmp/tiny_split.proof" "$tmp/old.proof"
"$CB" verify tests/data/tiny.nnet tests/data/tiny_sat.vnnlib --threads 1 --proof "$tmp/old.proof" > "$tmp/o" 2>&1
check "an old proof is removed by a sat answer" sh -c "head -n 1 '$tmp/o' | grep -qx sat && [ ! -e '$tmp/old.proof' ]"
"$CB" verify tests/data/tiny.nnet tests/data/tiny_sat.vnnlib --proof tests/data/tiny_sat.vnnlib > "$tmp/o" 2>&1; rc=$?
check "--proof naming PROP: a usage error, PROP kept (got $rc)" sh -c "[ $rc = 2 ] && [ -s tests/data/tiny_sat.vnnlib ] && grep -q 'same file as' '$tmp/o'"
"$CB" check tests/data/tiny.nnet tests/data/tiny_unsat.vnnlib "$tmp/tiny_split.proof" > "$tmp/c"; rc=$?
check "a proof of another property: invalid, exit 1 (got $rc)" sh -c "[ $rc = 1 ] && grep -q '^invalid: the proof is for another property' '$tmp/c'"
"$CB" check tests/data/tiny.nnet tests/data/tiny_unsat.vnnlib "$tmp/tiny_split.proof" --ignore-hash > "$tmp/c"; rc=$?
check "--ignore-hash: the first failing leaf named (got $rc)" sh -c "[ $rc = 1 ] && grep -q '^invalid: leaf 0 (box 0' '$tmp/c'"
"$CB" check tests/data/tiny.nnet tests/data/tiny_unsat.vnnlib /nonexistent.proof > "$tmp/c" 2>&1; rc=$?
check "a missing proof file: exit 3 (got $rc)" [ "$rc" = 3 ]
# a proof search killed from outside (a harness's timeout) keeps the verdict already printed:
# the proof's temp file is a FIFO nobody reads, so fopen blocks in proof_emit after the answer;
# SIGKILL then must find 'unsat' on stdout, not only in --out (review11: stdout was buffered)
rm -f "$tmp/k.out"
sh -c 'mkfifo "$3.tmp$$.0" && exec "$0" verify "$1" "$2" --threads 1 --out "$4" --proof "$3"' \
  "$CB" tests/data/tiny.nnet tests/data/tiny_split.vnnlib "$tmp/k.proof" "$tmp/k.out" > "$tmp/ko" 2> "$tmp/ke" &
kpid=$!
i=0; while [ $i -lt 300 ] && ! [ -s "$tmp/k.out" ]; do sleep 0.1; i=$((i+1)); done
sleep 0.5
kill -9 $kpid 2>/dev/null; wait $kpid 2>/dev/null
check "a killed proof search: --out says unsat" grep -qx unsat "$tmp/k.out"
check "a killed proof search: stdout still carries the verdict (got '$(head -n 1 "$tmp/ko")')" sh -c "head -n 1 '$tmp/ko' | grep -qx unsat"
check "a killed proof search: no proof file" [ ! -e "$tmp/k.proof" ]
# its temp file stays (SIGKILL cannot be caught); the next verify --proof of the same file removes
# PROOF.tmpPID.K files whose PID is dead, and keeps a live one's (this shell's) and other names
check "a killed proof search leaves PROOF.tmpPID.0" sh -c "ls '$tmp' | grep -q '^k\.proof\.tmp[0-9]*\.0$'"
: > "$tmp/k.proof.tmp$$.0"; : > "$tmp/k.proofx.tmp1.0"
"$CB" verify tests/data/tiny.nnet tests/data/tiny_split.vnnlib --threads 1 --proof "$tmp/k.proof" > "$tmp/o" 2>&1
check "the next run removes the dead run's temp file only" sh -c "head -n 1 '$tmp/o' | grep -qx unsat && [ -s '$tmp/k.proof' ] &&
  [ \"\$(ls '$tmp' | grep -c '^k\.proof.*tmp')\" = 2 ] && [ -e '$tmp/k.proof.tmp$$.0' ] && [ -e '$tmp/k.proofx.tmp1.0' ]"
rm -f "$tmp"/k.proof.tmp* "$tmp/k.proofx.tmp1.0"
# the input space is in the header (version 2): a raw-space proof checks without options; the same
# proof claimed for normalized space (tiny_space is sat there) is invalid with its leaf named;
# --input-space that disagrees with the header is a usage error; version 1 proofs still read
"$CB" verify tests/data/tiny.nnet tests/data/tiny_space.vnnlib --threads 1 --proof "$tmp/sp.proof" > "$tmp/o" 2> "$tmp/e"
check "verify names the command that re-checks the proof" grep -q "re-check it independently: cerbere check tests/data/tiny.nnet tests/data/tiny_space.vnnlib $tmp/sp.proof" "$tmp/o"
check "the proof records input-space raw" grep -qx "input-space raw" "$tmp/sp.proof"
"$CB" check tests/data/tiny.nnet tests/data/tiny_space.vnnlib "$tmp/sp.proof" > "$tmp/c"; rc=$?
check "tiny_space raw proof: valid (got $rc)" sh -c "[ $rc = 0 ] && head -n 1 '$tmp/c' | grep -qx valid"
check "the valid line's comment names the input space the proof is about" grep -q "^# .* leaves checked in exact arithmetic over the raw input space" "$tmp/c"
sed 's/^input-space raw$/input-space normalized/' "$tmp/sp.proof" > "$tmp/sp2.proof"
"$CB" check tests/data/tiny.nnet tests/data/tiny_space.vnnlib "$tmp/sp2.proof" > "$tmp/c"; rc=$?
check "header switched to normalized: invalid, leaf named (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 1 ] && grep -q '^invalid: leaf 0 (box 0' '$tmp/c'"
"$CB" check tests/data/tiny.nnet tests/data/tiny_space.vnnlib "$tmp/sp.proof" --input-space normalized > "$tmp/c" 2> "$tmp/e"; rc=$?
check "--input-space against the header: exit 2 with the reason (got $rc)" sh -c "[ $rc = 2 ] && grep -q 'records input-space raw' '$tmp/e'"
sed 's/^input-space raw$/input-space both/' "$tmp/sp.proof" > "$tmp/sp3.proof"
"$CB" check tests/data/tiny.nnet tests/data/tiny_space.vnnlib "$tmp/sp3.proof" > "$tmp/c"; rc=$?
check "a bad input-space line: invalid, its line named (got $rc)" sh -c "[ $rc = 1 ] && grep -q 'line 4: expected .input-space raw' '$tmp/c'"
grep -v '^input-space' "$tmp/sp.proof" | sed 's/^cerbere-proof 2$/cerbere-proof 1/' > "$tmp/v1.proof"
"$CB" check tests/data/tiny.nnet tests/data/tiny_space.vnnlib "$tmp/v1.proof" > "$tmp/c"; rc=$?
check "a version-1 proof still reads and checks (got $rc)" sh -c "[ $rc = 0 ] && head -n 1 '$tmp/c' | grep -qx valid"
"$CB" check tests/data/tiny.nnet tests/data/tiny_space.vnnlib "$tmp/v1.proof" --input-space normalized > "$tmp/c"; rc=$?
check "version 1 with --input-space normalized: the other function, invalid (got $rc)" [ "$rc" = 1 ]
# --proof-timeout: the proof search's own CPU budget (a microsecond: no proof, exit 5, the reason said)
"$CB" verify tests/data/tiny.nnet tests/data/tiny_split.vnnlib --threads 1 --proof "$tmp/pt.proof" --proof-timeout 1e-6 > "$tmp/o" 2> "$tmp/e"; rc=$?
check "--proof-timeout 1e-6: unsat, no proof, exit 5 (got $rc)" sh -c "[ $rc = 5 ] && head -n 1 '$tmp/o' | grep -qx unsat && [ ! -e '$tmp/pt.proof' ] && grep -q 'CPU time limit of 1e-06 s' '$tmp/e'"
# format version 3 (tighten and beta records, tests/data/tighten_beta.proof): valid through both
# checkers; its beta multiplier negated: invalid, leaf 1 named
"$CB" check tests/data/tighten.nnet tests/data/tighten_beta.vnnlib tests/data/tighten_beta.proof > "$tmp/c"; rc=$?
check "version 3 proof: valid (got $rc)" sh -c "[ $rc = 0 ] && head -n 1 '$tmp/c' | grep -qx valid"
[ -x "$tmp/ck" ] && { "$tmp/ck" tests/data/tighten.nnet tests/data/tighten_beta.vnnlib tests/data/tighten_beta.proof > "$tmp/c"; rc=$?
  check "version 3: the separately linked checker agrees (got $rc)" [ "$rc" = 0 ]; }
sed 's/^beta 0x1p-2$/beta -0x1p-2/' tests/data/tighten_beta.proof > "$tmp/t3.proof"
"$CB" check tests/data/tighten.nnet tests/data/tighten_beta.vnnlib "$tmp/t3.proof" > "$tmp/c"; rc=$?
check "version 3, beta negated: invalid, leaf 1 named (got $rc)" sh -c "[ $rc = 1 ] && grep -q '^invalid: leaf 1 (box 0.*split multiplier 0 is negative' '$tmp/c'"
# certify --proof (L-inf): tests/data/tiny_rows.csv (six hand-written rows of tiny.nnet, all class 0)
# at eps 1, every row verified with a proof (row 4's has a split); clip4 with a clip box.
# `cerbere check NET DIR/certificates.json` validates them; tampering is rejected naming the row:
# a multiplier negated, eps enlarged, a label changed, a center moved.  L2 and L1 below.
"$CB" certify tests/data/tiny.nnet --data tests/data/tiny_rows.csv --norm inf --eps 1 --out "$tmp/ct" --proof --threads 1 > "$tmp/o" 2> "$tmp/e"; rc=$?
check "certify --proof: exit 0, a proofs line with the re-check command (got $rc)" sh -c "[ $rc = 0 ] && grep -q 'proofs .*6 of 6 verified rows carry a proof.*re-check them all: cerbere check tests/data/tiny.nnet $tmp/ct/certificates.json' '$tmp/o'"
check "report.html says how many verified samples carry a proof and the re-check command" grep -q "6 of the 6 <span class=verified>verified</span> samples carry a proof.*<code>cerbere check tests/data/tiny.nnet $tmp/ct/certificates.json</code>" "$tmp/ct/report.html"
check "certificates.json: the proofs summary and each sample's proof" sh -c "grep -q '\"with_proof\":.*6' '$tmp/ct/certificates.json' && [ \$(grep -c '\"file\":.*\"proofs/row_' '$tmp/ct/certificates.json') = 6 ] && grep -q '^split ' '$tmp/ct/proofs/row_4.proof'"
"$CB" check tests/data/tiny.nnet "$tmp/ct/certificates.json" > "$tmp/c"; rc=$?
check "check certificates.json: valid, 6 sample proofs (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 0 ] && head -n 1 '$tmp/c' | grep -qx valid && grep -q '# 6 sample proofs checked' '$tmp/c'"
[ -x "$tmp/ck" ] && { "$tmp/ck" tests/data/tiny.nnet "$tmp/ct/certificates.json" > "$tmp/c"; rc=$?
  check "the separately linked checker agrees on certificates.json (got $rc)" [ "$rc" = 0 ]; }
# a verified sample whose proof entry is removed: never a bare "valid" (the verdict rests on cerbere alone)
if command -v jq > /dev/null; then
  cp -r "$tmp/ct" "$tmp/t0"; jq 'del(.samples[4].proof)' "$tmp/ct/certificates.json" > "$tmp/t0/certificates.json"
  "$CB" check tests/data/tiny.nnet "$tmp/t0/certificates.json" > "$tmp/c"; rc=$?
  check "one proof missing: 'valid, partial: 1 verified samples carry no proof' (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 0 ] && head -n 1 '$tmp/c' | grep -qx 'valid, partial: 1 verified samples carry no proof' && grep -q '# 5 sample proofs checked' '$tmp/c'"
else echo "SKIPPED: the partial-certificates case needs jq"; fi
cp -r "$tmp/ct" "$tmp/t1"; sed -i 's/^conj 0 1$/conj 0 -1/' "$tmp/t1/proofs/row_2.proof"
"$CB" check tests/data/tiny.nnet "$tmp/t1/certificates.json" > "$tmp/c"; rc=$?
check "a multiplier negated: invalid, row 2 named (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 1 ] && grep -q '^invalid: sample row 2: .*multiplier 0 is negative' '$tmp/c'"
cp -r "$tmp/ct" "$tmp/t2"; sed -i 's/"eps":[[:space:]]*1\([,}]\)/"eps": 1.0625\1/' "$tmp/t2/certificates.json"
"$CB" check tests/data/tiny.nnet "$tmp/t2/certificates.json" > "$tmp/c"; rc=$?
check "eps enlarged: invalid, row 0 named (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 1 ] && grep -q '^invalid: sample row 0: the property.s box .* does not contain the sample.s set' '$tmp/c'"
cp -r "$tmp/ct" "$tmp/t3"; awk '/"index":[[:space:]]*3[,}]?$/ { f = 1 } f && /"label":[[:space:]]*0/ { sub(/"label":[[:space:]]*0/, "\"label\": 1"); f = 0 } { print }' "$tmp/ct/certificates.json" > "$tmp/t3/certificates.json"
"$CB" check tests/data/tiny.nnet "$tmp/t3/certificates.json" > "$tmp/c"; rc=$?
check "a label changed: invalid, row 3 named (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 1 ] && grep -q '^invalid: sample row 3: label 1 in the certificate, 0 in' '$tmp/c'"
sed '2s/.*/0,-0.375,3/' tests/data/tiny_rows.csv > "$tmp/moved.csv"
"$CB" check tests/data/tiny.nnet "$tmp/ct/certificates.json" --data "$tmp/moved.csv" > "$tmp/c"; rc=$?
check "a center moved: invalid, row 1 named (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 1 ] && grep -q '^invalid: sample row 1: the property.s box .* in input 0 does not contain' '$tmp/c'"
"$CB" certify tests/data/clip4.nnet --data tests/data/clip4_mixed.csv --norm inf --eps 0.05 --clip 0:1 --out "$tmp/cc" --proof --threads 1 > "$tmp/o" 2>&1
"$CB" check tests/data/clip4.nnet "$tmp/cc/certificates.json" > "$tmp/c"; rc=$?
check "clip4 with a clip box: 1 proof valid (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 0 ] && grep -q '# 1 sample proofs checked.*clipped' '$tmp/c'"
# L2 and L1 balls: proved by the box of radius eps that contains them; the checker's box test is the
# same (|x_i - row_i| <= |x - row|_p <= eps); eps enlarged and a multiplier negated are still rejected;
# a norm the checker does not know is refused in one line
for p in 2 1; do
  "$CB" certify tests/data/tiny.nnet --data tests/data/tiny_rows.csv --norm $p --eps 1 --out "$tmp/nrm$p" --proof --threads 1 > "$tmp/o" 2> "$tmp/e"; rc=$?
  check "certify --proof --norm $p: exit 0, every verified row with a proof (got $rc)" sh -c "[ $rc = 0 ] && grep -q 'proofs .*6 of 6 verified rows carry a proof' '$tmp/o'"
  check "L$p: the row's property names the norm" grep -q "L$p eps 1; its proof" "$tmp/nrm$p/proofs/row_0.vnnlib"
  "$CB" check tests/data/tiny.nnet "$tmp/nrm$p/certificates.json" > "$tmp/c"; rc=$?
  check "L$p certificates.json: valid, 6 sample proofs (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 0 ] && head -n 1 '$tmp/c' | grep -qx valid && grep -q '# 6 sample proofs checked' '$tmp/c'"
  cp -r "$tmp/nrm$p" "$tmp/nrme$p"; sed -i 's/"eps":[[:space:]]*1\([,}]\)/"eps": 1.0625\1/' "$tmp/nrme$p/certificates.json"
  "$CB" check tests/data/tiny.nnet "$tmp/nrme$p/certificates.json" > "$tmp/c"; rc=$?
  check "L$p eps enlarged: invalid, row 0 named (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 1 ] && grep -q '^invalid: sample row 0: the property.s box .* does not contain the sample.s set' '$tmp/c'"
  cp -r "$tmp/nrm$p" "$tmp/nrmn$p"; sed -i 's/^conj 0 1$/conj 0 -1/' "$tmp/nrmn$p/proofs/row_2.proof"
  "$CB" check tests/data/tiny.nnet "$tmp/nrmn$p/certificates.json" > "$tmp/c"; rc=$?
  check "L$p a multiplier negated: invalid, row 2 named (got $rc: $(head -n 1 "$tmp/c"))" sh -c "[ $rc = 1 ] && grep -q '^invalid: sample row 2: .*multiplier 0 is negative' '$tmp/c'"
done
cp -r "$tmp/nrm2" "$tmp/nrm7"; sed -i 's/"norm":[[:space:]]*"2"/"norm": "7"/' "$tmp/nrm7/certificates.json"
"$CB" check tests/data/tiny.nnet "$tmp/nrm7/certificates.json" > "$tmp/c" 2> "$tmp/e"; rc=$?
check "a norm the checker does not know: refused in one line (got $rc: $(head -n 1 "$tmp/e"))" sh -c "[ $rc != 0 ] && grep -q 'norm L7: per-sample proofs are of L-inf, L2 and L1 balls only' '$tmp/e' && ! grep -q '^valid' '$tmp/c'"
"$CB" certify tests/data/tiny.nnet --data tests/data/tiny_rows.csv --norm inf --eps 1 --out "$tmp/c4" --threads 1 > "$tmp/o" 2>&1
"$CB" check tests/data/tiny.nnet "$tmp/c4/certificates.json" > "$tmp/c"; rc=$?
check "certificates without proofs: not valid (got $rc)" sh -c "[ $rc = 1 ] && grep -q 'no sample carries a proof' '$tmp/c'"
# 3. ACAS Xu
A=${CB_SHARED:-../shared}/benchmarks/acasxu
if [ -d "$A/onnx" ]; then
  for i in "1_1 prop_1" "1_9 prop_1" "3_5 prop_3"; do
    set -- $i
    n=$A/onnx/ACASXU_run2a_$1_batch_2000.onnx; p=$A/vnnlib/$2.vnnlib
    OMP_NUM_THREADS=1 "$CB" verify "$n" "$p" --threads 1 --timeout 60 --proof "$tmp/a.proof" > "$tmp/o" 2>&1
    check "ACAS $1 $2: unsat with a proof" sh -c "head -n 1 '$tmp/o' | grep -qx unsat && [ -s '$tmp/a.proof' ]"
    "$B/cerbere-check" "$n" "$p" "$tmp/a.proof" > "$tmp/c"; rc=$?
    check "ACAS $1 $2: valid (got $rc: $(head -n 1 "$tmp/c"))" [ "$rc" = 0 ]
    rm -f "$tmp/a.proof"
  done
else echo "SKIPPED: ACAS Xu part (no $A)"; fi
exit $fail
