#!/bin/sh
# Resource limits, end to end.  $1 = cerbere.
# 1. Files that claim huge sizes are refused under `ulimit -v 524288`
#    (512 MiB of address space): the expected message (not "out of memory")
#    shows that the loader checked the size before allocating.
# 2. bounds --timeout: unfinished rows come out as "timeout", with null
#    bounds and never "verified"; exit 0.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
ko() { fail=$((fail+1)); echo "FAIL $*"; }
# A sanitizer build reserves terabytes of shadow memory and cannot start
# under ulimit -v: its files are then checked without the ulimit.
UL="ulimit -v 524288"
sh -c 'ulimit -v 524288; exec "$0" --version' "$CB" >/dev/null 2>&1 || { UL=":"; echo "note: $CB cannot run under ulimit -v (sanitizer build): checked without it"; }
for c in "tera_tensor.onnx|absurd dimensions" "avgpool_huge_kernel.onnx|would take more than 256 MiB"; do
  f=${c%%|*}; sub=${c#*|}
  ( $UL; "$CB" info "tests/bad/$f" ) >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ "$rc" = 3 ] && grep -qF "$sub" "$tmp/err"; then ok; else ko "$f under ulimit -v 524288: exit $rc: $(cat "$tmp/err")"; fi
done
OMP_NUM_THREADS=1 "$CB" bounds nets/digits_cnn.onnx --data nets/digits_test.csv --norm inf --eps 0.01 \
  --timeout 0.000001 --quiet --json "$tmp/b.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" = 0 ] && grep -q "360 timed out (--timeout)" "$tmp/out" &&
   grep -Eq '"n_timeout":[[:space:]]*360,' "$tmp/b.json" && grep -Eq '"n_verified":[[:space:]]*0,' "$tmp/b.json" &&
   ! grep -Eq '"verified":[[:space:]]*true' "$tmp/b.json" &&
   [ "$(grep -Ec '"margin_lb":[[:space:]]*null' "$tmp/b.json")" = 360 ]
then ok; else ko "bounds --timeout: exit $rc; $(cat "$tmp/out" "$tmp/err" | head -3)"; fi
echo "resource limits: $pass passed, $fail failed"
[ "$fail" = 0 ]
