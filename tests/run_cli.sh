#!/bin/sh
# CLI error cases (tests/cli/cases.txt): exit code, exactly one stderr line
# containing the expected text, no output file written, and nothing on stdout
# (non-negotiable 3: no partial output before an error).  $1 = cerbere.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
while IFS='|' read -r args code sub; do
  case "$args" in ''|'#'*) continue;; esac
  rm -f "$tmp/out.json"
  # shellcheck disable=SC2086
  $CB_VG "$CB" $args --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr"
  rc=$?
  why=""
  [ "$rc" = "$code" ] || why="exit $rc, expected $code"
  [ "$(wc -l < "$tmp/stderr")" = 1 ] || why="$why; $(wc -l < "$tmp/stderr") stderr lines"
  grep -qF -- "$sub" "$tmp/stderr" || why="$why; message lacks '$sub'"
  [ -e "$tmp/out.json" ] && why="$why; output file written"
  [ -s "$tmp/stdout" ] && why="$why; partial stdout ($(wc -c < "$tmp/stdout") bytes)"
  if [ -z "$why" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL [$args]: $why"; sed 's/^/    /' "$tmp/stderr" | head -3; fi
done < tests/cli/cases.txt
# --norm linf|l2|l1 are aliases of inf|2|1: the same bounds (timings stripped)
for pair in "linf inf" "L2 2" "l1 1"; do
  set -- $pair
  for n in "$1" "$2"; do
    "$CB" bounds nets/digits_mlp.onnx --data nets/digits_test20.csv --rows 0:3 --norm "$n" --eps 0.02 --json "$tmp/b_$n.json" >/dev/null 2>&1 ||
      { fail=$((fail+1)); echo "FAIL: bounds --norm $n exited non-zero"; }
    grep -v '"time_ms"\|"cpu_ms"\|"created"\|"seconds"' "$tmp/b_$n.json" > "$tmp/b_$n.txt" 2>/dev/null
  done
  if cmp -s "$tmp/b_$1.txt" "$tmp/b_$2.txt" && [ -s "$tmp/b_$1.txt" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: --norm $1 and --norm $2 differ"; fi
done
# bounds --batch 7: rows share CROWN passes (rows_batched > 0) and print the same
# verdicts and margins (6 digits; batched bounds differ by rounding only)
for b in 1 7; do
  "$CB" bounds nets/digits_mlp.onnx --data nets/digits_test20.csv --norm inf --eps 0.02 --batch $b --json "$tmp/bt_$b.json" 2>/dev/null |
    sed 's/ *([0-9.]* ms)//' > "$tmp/bt_$b.txt"
done
if cmp -s "$tmp/bt_1.txt" "$tmp/bt_7.txt" && [ -s "$tmp/bt_1.txt" ] && tr -d "[:space:]" < "$tmp/bt_7.json" | grep -q "\"rows_batched\":[1-9]" &&
   ! tr -d "[:space:]" < "$tmp/bt_1.json" | grep -q "\"rows_batched\":[1-9]"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL: bounds --batch 7 differs from --batch 1 (or stacked nothing)"; diff "$tmp/bt_1.txt" "$tmp/bt_7.txt" | head -5; fi
# One success path of lipschitz --bracket: exit 0, the bracket in the JSON
# (upper >= lower, both points) and on stdout.
if $CB_VG "$CB" lipschitz tests/data/tiny.nnet --bracket --domain -1:1 --budget 5 --json "$tmp/b.json" >"$tmp/stdout" 2>"$tmp/stderr" \
   && grep -q '"bracket"' "$tmp/b.json" && grep -q '"point2"' "$tmp/b.json" && grep -q '^row 0: upper' "$tmp/stdout" \
   && awk '/^row /{ if ($4 + 0 < $6 + 0) bad = 1 } END { exit bad }' "$tmp/stdout"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL [lipschitz --bracket success path]"; head -3 "$tmp/stderr"; fi
# Local brackets: lipschitz --bracket --data --eps (every margin's upper >= its
# lower on stdout, bracket_local with both secant points in the JSON) and jacobian --bracket
# (bracket and certified_radius_shell in the JSON; mean radius >= the plain one).
if $CB_VG "$CB" lipschitz nets/digits_mlp.onnx --bracket --data nets/digits_test20.csv --eps 0.2 --nodes 16 --json "$tmp/lb.json" >"$tmp/stdout" 2>"$tmp/stderr" \
   && grep -q '"bracket_local"' "$tmp/lb.json" && grep -q '"upper_plain"' "$tmp/lb.json" && grep -q '"point_y"' "$tmp/lb.json" && [ "$(grep -c '^  class' "$tmp/stdout")" = 180 ] \
   && awk '/^  class/{ if ($4 + 0 < $8 + 0 || $4 + 0 > $6 + 0) bad = 1 } END { exit bad }' "$tmp/stdout"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL [lipschitz --bracket --data --eps success path]"; head -3 "$tmp/stderr"; fi
if $CB_VG "$CB" jacobian nets/digits_mlp.onnx --data nets/digits_test20.csv --rows 0:4 --norm 2 --eps 0.1 --quiet >"$tmp/p.txt" 2>"$tmp/stderr" \
   && $CB_VG "$CB" jacobian nets/digits_mlp.onnx --data nets/digits_test20.csv --rows 0:4 --norm 2 --eps 0.1 --bracket --nodes 16 --shells 4 --json "$tmp/jb.json" --quiet >"$tmp/b.txt" 2>>"$tmp/stderr" \
   && grep -q '"certified_radius_shell"' "$tmp/jb.json" && grep -q '"bracket"' "$tmp/jb.json" && grep -q '"point_y"' "$tmp/jb.json" \
   && [ "$(awk '{print $NF}' "$tmp/b.txt")" ] && awk -v p="$(awk '{print $NF}' "$tmp/p.txt")" '{ exit !($NF + 0 >= p + 0) }' "$tmp/b.txt"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL [jacobian --bracket success path]"; head -3 "$tmp/stderr"; cat "$tmp/p.txt" "$tmp/b.txt"; fi
# jacobian --bracket at eps 5e307: the secant's sampled points overflow to inf;
# exact_dist_le handed inf to GMP, which raised SIGFPE (exit 136).  Now the
# points are outside the ball, and the run ends normally.
$CB_VG "$CB" jacobian tests/data/tiny.nnet --data tests/data/tiny_rows.csv --norm 2 --eps 5e307 --bracket >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
if [ "$rc" = 0 ] && grep -q "mean certified radius" "$tmp/stdout"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL [jacobian --bracket at eps 5e307]: exit $rc"; head -3 "$tmp/stderr"; fi
echo "cli error cases: $pass passed, $fail failed"
[ "$fail" = 0 ]
