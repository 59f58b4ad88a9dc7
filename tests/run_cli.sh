#!/bin/sh
# CLI error cases (tests/cli/cases.txt): exit code, exactly one stderr line
# containing the expected text, and no output file written.  $1 = cerbere.
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
  if [ -z "$why" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL [$args]: $why"; sed 's/^/    /' "$tmp/stderr" | head -3; fi
done < tests/cli/cases.txt
echo "cli error cases: $pass passed, $fail failed"
[ "$fail" = 0 ]
