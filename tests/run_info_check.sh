#!/bin/sh
# info --check lists every unsupported node in one pass (issue 19): on
# tests/data/eight_unsupported.onnx (8 unsupported ops on parallel branches,
# tests/data/gen_unsup.py) it prints 8 UNSUPPORTED lines, one per node with
# its name and op, a "not checked" line for each node that reads them, and
# one error line counting 8; exit 3.  A dynamic-batch export whose shape
# subgraph is folded passes (exit 0, no UNSUPPORTED).  $1 = cerbere.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
"$CB" info --check tests/data/eight_unsupported.onnx >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 3 ] || { echo "FAIL: exit $rc, expected 3"; fail=1; }
n=$(grep -c '^UNSUPPORTED' "$tmp/out")
[ "$n" = 8 ] || { echo "FAIL: $n UNSUPPORTED lines, expected 8"; fail=1; }
for op in Sin Cos Tan Atan Asinh Cosh Sign Round; do
  grep -q "^UNSUPPORTED $op .*\"branch_[0-7]_" "$tmp/out" || { echo "FAIL: $op not listed with its node name"; fail=1; }
done
n=$(grep -c '^not checked' "$tmp/out")
[ "$n" = 8 ] || { echo "FAIL: $n 'not checked' lines, expected 8 (7 Add + Gemm)"; fail=1; }
[ "$(wc -l < "$tmp/err")" = 1 ] && grep -q "8 unsupported nodes" "$tmp/err" || { echo "FAIL: error line:"; cat "$tmp/err"; fail=1; }
"$CB" info --check tests/data/ops/dynamic_view.onnx >"$tmp/out2" 2>&1 || { echo "FAIL: dynamic_view.onnx refused"; cat "$tmp/out2"; fail=1; }
grep -q UNSUPPORTED "$tmp/out2" && { echo "FAIL: dynamic_view.onnx has UNSUPPORTED lines"; fail=1; }
# loader warnings reach verify (a comment line after the answer) and its JSON
"$CB" verify tests/data/tiny.nnet tests/data/tiny_unsat.vnnlib --json "$tmp/v.json" >"$tmp/v" 2>&1
grep -q "^# warning: the NNet header's input normalisation" "$tmp/v" || { echo "FAIL: verify does not say the NNet normalisation"; cat "$tmp/v"; fail=1; }
[ "$(jq '.warnings | length' "$tmp/v.json")" = 1 ] || { echo "FAIL: verify JSON warnings"; fail=1; }
[ "$(head -n 1 "$tmp/v")" = unsat ] || { echo "FAIL: verify answer line moved"; fail=1; }
[ "$fail" = 0 ] && echo "info --check: 8 of 8 unsupported nodes listed, 8 dependants said not checked; folded dynamic batch ok"
exit $fail
