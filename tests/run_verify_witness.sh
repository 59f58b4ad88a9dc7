#!/bin/sh
# verify's witness text at a rational point (issue 18).  tests/data/tiny.nnet
# with X_0 pinned to 0.1 (tests/data/tiny_pinned.vnnlib): the box holds no
# double, so the witness is the rational point X = (1/10, 2), where by hand
# (normalised inputs -0.2, 0.25; hidden relu(0.3, -0.0375, -1.05)) the real
# outputs are Y = (0.8, -0.8).  The result file must print the decimals, not
# rounded doubles, end with the "; rational witness" line, and --json must
# carry x_rational, x_exact and the exact y_real.  Then, when ../shared is
# present, one Collins RUL instance (X_0 pinned to -0.432882241988499) the
# same way; SKIPPED otherwise.  $1 = cerbere.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {   # WHAT CONDITION...
  what=$1; shift
  if "$@"; then :; else echo "FAIL: $what"; fail=1; fi
}
"$CB" verify tests/data/tiny.nnet tests/data/tiny_pinned.vnnlib --threads 1 --out "$tmp/r" --json "$tmp/j" >"$tmp/o" 2>"$tmp/e"
rc=$?
check "exit 0 (got $rc)" [ "$rc" = 0 ]
check "first line sat" [ "$(head -n 1 "$tmp/r")" = sat ]
check "X_0 printed as the decimal 0.1" grep -qx '((X_0 0.1)' "$tmp/r"
check "X_1 printed as 2" grep -qx ' (X_1 2)' "$tmp/r"
check "Y_0 exact 0.8" grep -qx ' (Y_0 0.8)' "$tmp/r"
check "Y_1 exact -0.8" grep -qx ' (Y_1 -0.8))' "$tmp/r"
check "closing rational witness line" sh -c "tail -n 1 '$tmp/r' | grep -q '^; rational witness'"
check "stdout carries the same text" grep -qx '((X_0 0.1)' "$tmp/o"
check "json x_rational" [ "$(jq -c .x_rational "$tmp/j")" = true ]
check "json x_exact" [ "$(jq -c .x_exact "$tmp/j")" = '["0.1","2"]' ]
# --cpu-time (timeouts in CPU seconds, --threads 1) runs the same search: the
# same answer and subdomain count; --json's profile counts the work
# (subdomains_bounded = nodes + relu_states, the batches of the loop).
"$CB" verify tests/data/tiny.nnet tests/data/tiny_pinned.vnnlib --threads 1 --cpu-time --out "$tmp/rc" --json "$tmp/jc" >/dev/null 2>&1
check "cpu-time: sat" [ "$(head -n 1 "$tmp/rc")" = sat ]
check "cpu-time: same nodes" [ "$(jq .nodes "$tmp/jc")" = "$(jq .nodes "$tmp/j")" ]
"$CB" verify tests/data/tiny.nnet tests/data/tiny_split.vnnlib --threads 1 --json "$tmp/js" >/dev/null 2>&1
check "split: unsat" [ "$(jq -r .answer "$tmp/js")" = unsat ]
check "profile subdomains_bounded = nodes + relu_states > 1" [ "$(jq '.profile.subdomains_bounded == .nodes + .relu_states and .profile.subdomains_bounded > 1' "$tmp/js")" = true ]
check "profile batches: one of one subdomain" [ "$(jq -c '.profile | [.batches, .batch_mean, .batch_max]' "$tmp/js")" = '[1,1,1]' ]
# --input-space normalized: the same box written in the header's normalised
# space (tests/data/tiny_pinned_norm.vnnlib) gives the same real point's exact
# outputs, and the warning says which space the box was read in; an ONNX net
# refuses the option.
"$CB" verify tests/data/tiny.nnet tests/data/tiny_pinned_norm.vnnlib --input-space normalized --threads 1 --out "$tmp/rn" --json "$tmp/jn" >"$tmp/on" 2>"$tmp/en"
check "normalized: exit 0, sat" [ "$?" = 0 ] && check "normalized: sat" [ "$(head -n 1 "$tmp/rn")" = sat ]
check "normalized: X_0 -0.2" grep -qx '((X_0 -0.2)' "$tmp/rn"
check "normalized: Y_0 exact 0.8" grep -qx ' (Y_0 0.8)' "$tmp/rn"
check "normalized: Y_1 exact -0.8" grep -qx ' (Y_1 -0.8))' "$tmp/rn"
check "normalized: the warning names the space" grep -q '^# warning: .*--input-space normalized' "$tmp/on"
check "normalized: json warnings" sh -c "jq -r '.warnings[0]' '$tmp/jn' | grep -q 'read as already normalised'"
"$CB" verify tests/data/tiny.nnet tests/data/tiny_pinned.vnnlib --threads 1 >"$tmp/oraw" 2>&1
check "raw (default): the warning names the raw space" grep -q '^# warning: .*raw, unnormalised space' "$tmp/oraw"
check "json y_real" [ "$(jq -c .y_real "$tmp/j")" = '["0.8","-0.8"]' ]
check "json y_real_exact" [ "$(jq -c .y_real_exact "$tmp/j")" = true ]
check "json x holds the nearest doubles" [ "$(jq -c .x "$tmp/j")" = '[0.1,2]' ]
# the same box pinned to 0.5, a double: an ordinary witness, no rational line
sed 's/0\.1))/0.5))/' tests/data/tiny_pinned.vnnlib > "$tmp/half.vnnlib"
"$CB" verify tests/data/tiny.nnet "$tmp/half.vnnlib" --threads 1 --out "$tmp/r2" --json "$tmp/j2" >/dev/null 2>&1
check "pinned to a double: sat" [ "$(head -n 1 "$tmp/r2")" = sat ]
check "pinned to a double: no rational line" sh -c "! grep -q rational '$tmp/r2'"
check "pinned to a double: no x_rational" [ "$(jq -c .x_rational "$tmp/j2")" = null ]
c=${SHARED:-../shared}/benchmarks/collins_rul_cnn
if [ -f "$c/instances.csv" ]; then
  "$CB" verify "$c/onnx/NN_rul_small_window_20.onnx" "$c/vnnlib/robustness_2perturbations_delta5_epsilon10_w20.vnnlib" \
    --threads 1 --timeout 60 --out "$tmp/r3" --json "$tmp/j3" >/dev/null 2>&1
  check "collins: sat" [ "$(head -n 1 "$tmp/r3")" = sat ]
  check "collins: X_0 at its decimal" grep -qx '((X_0 -0.432882241988499)' "$tmp/r3"
  check "collins: rational line" sh -c "tail -n 1 '$tmp/r3' | grep -q '^; rational witness'"
  check "collins: x_exact[0]" [ "$(jq -r '.x_exact[0]' "$tmp/j3")" = -0.432882241988499 ]
else
  echo "verify witness (collins_rul_cnn): SKIPPED (no $c)"
fi
[ "$fail" = 0 ] && echo "verify witness text: ok"
exit $fail
