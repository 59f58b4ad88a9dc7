#!/bin/sh
# Golden outputs for refactoring (issue 17): `sh tests/golden/golden.sh record`
# writes tests/golden/json/*.json from the current build, `... check` reruns the
# same commands and diffs every number bit for bit (as printed, %.17g).
# Timings, thread counts, work counters (flops*, rows_skipped), the precision
# setting and versions are dropped (jq); everything else stays.
#   - bounds: 4 methods x digits_{mlp,cnn,tanh,orth} x (L-inf 0.01, L2 0.1), 20 rows
#   - certify --radius on digits_mlp and digits_cnn (L-inf 0.01, 1 thread)
#   - lipschitz and jacobian on digits_cnn
#   - verify answers and state counts on 10 ACAS Xu instances (1 thread, no
#     portfolio, so the counts are deterministic; SKIPPED without ../shared)
# $2: the cerbere binary (default build/cerbere).
set -u
mode=${1:?usage: golden.sh record|check [cerbere]}
cb=${2:-build/cerbere}
dir=tests/golden/json
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
acas=${SHARED:-../shared}/benchmarks/acasxu
strip='walk(if type == "object" then with_entries(select(.key | test("time|_per_s|_ms|^ms$|threads|seconds|flops|rows_skipped|^precision$|version|commit|created|^out$|^dir$") | not)) else . end)'
fail=0
run() {  # name, command... (writes $tmp/j)
  name=$1; shift
  rm -f "$tmp/j"
  "$@" --json "$tmp/j" >/dev/null 2>"$tmp/err"
  rc=$?
  if [ ! -s "$tmp/j" ]; then echo "golden $name: no JSON (exit $rc): $(head -n 1 "$tmp/err")"; fail=1; return; fi
  jq -S "$strip" "$tmp/j" > "$tmp/n" || { fail=1; return; }
  echo "{\"exit\": $rc}" >> "$tmp/n"
  if [ "$mode" = record ]; then mkdir -p "$dir"; cp "$tmp/n" "$dir/$name.json"
  elif ! cmp -s "$tmp/n" "$dir/$name.json"; then
    echo "golden $name: differs"; diff "$dir/$name.json" "$tmp/n" | head -n 6; fail=1
  fi
}
for net in mlp cnn tanh orth; do
  for m in ibp crown crown-ibp alpha-crown; do
    for ball in "inf 0.01" "2 0.1"; do set -- $ball
      run "bounds_${net}_${m}_$1" "$cb" bounds "nets/digits_$net.onnx" --data nets/digits_test20.csv --norm "$1" --eps "$2" --method "$m" --quiet
    done
  done
done
for net in mlp cnn; do
  run "certify_$net" "$cb" certify "nets/digits_$net.onnx" --data nets/digits_test20.csv --norm inf --eps 0.01 --radius \
      --threads 1 --quiet --out "$tmp/c"
done
run lipschitz_cnn "$cb" lipschitz nets/digits_cnn.onnx --quiet
run jacobian_cnn "$cb" jacobian nets/digits_cnn.onnx --data nets/digits_test20.csv --norm inf --eps 0.01 --quiet
if [ -f "$acas/instances.csv" ]; then
  for i in 1 5 20 45 60 90 120 150 170 186; do
    line=$(sed -n "${i}p" "$acas/instances.csv"); net=${line%%,*}; rest=${line#*,}; prop=${rest%%,*}
    run "verify_acas_$i" "$cb" verify "$acas/$net" "$acas/$prop" --threads 1 --timeout 60
  done
else echo "golden verify: SKIPPED (no $acas)"; fi
[ "$fail" = 0 ] && echo "golden $mode: ok"
exit $fail
