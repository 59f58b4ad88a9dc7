#!/bin/sh
# certify end to end: SIGINT during a long run leaves no certificates.json
# (only progress.jsonl), --resume finishes it without redoing finished
# samples, and the result equals an uninterrupted run's verdicts.  $1 = cerbere.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
args="nets/digits_mlp.onnx --data nets/digits_test.csv --norm 2 --eps 0.1 --radius --threads 1 --quiet"
"$CB" certify $args --out "$tmp/run" >/dev/null 2>"$tmp/err" &
pid=$!
# wait until some samples are done, then interrupt
for i in $(seq 1 200); do
  [ -f "$tmp/run/progress.jsonl" ] && [ "$(wc -l < "$tmp/run/progress.jsonl")" -ge 4 ] && break
  sleep 0.1
done
kill -INT $pid
wait $pid
rc=$?
[ "$rc" = 130 ] || fail "interrupted run exited $rc, expected 130 ($(cat "$tmp/err"))"
[ -e "$tmp/run/certificates.json" ] && fail "interrupted run left certificates.json"
ls "$tmp/run" | grep -q tmp && fail "interrupted run left a temporary file"
done1=$(($(wc -l < "$tmp/run/progress.jsonl") - 1))
[ "$done1" -ge 1 ] || fail "no finished sample recorded before the interrupt"
[ "$done1" -lt 360 ] || fail "the run finished before the interrupt; test is void"
# other settings: refused, and the progress file is kept
"$CB" certify nets/digits_mlp.onnx --data nets/digits_test.csv --norm 2 --eps 0.2 --radius --threads 1 --quiet \
  --out "$tmp/run" --resume >/dev/null 2>"$tmp/err3"
rc=$?
[ "$rc" = 2 ] || fail "resume with other settings exited $rc, expected 2"
grep -q "other settings" "$tmp/err3" || fail "resume with other settings: $(cat "$tmp/err3")"
"$CB" certify $args --out "$tmp/run" --resume >/dev/null 2>"$tmp/err2"
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 10 ] || [ "$rc" = 11 ] || fail "resumed run exited $rc ($(cat "$tmp/err2"))"
grep -q "resuming: $done1 of 360" "$tmp/err2" || fail "resume did not reuse the $done1 finished samples: $(cat "$tmp/err2")"
[ -f "$tmp/run/certificates.json" ] || fail "resumed run wrote no certificates.json"
n=$(grep -c '"verdict"' "$tmp/run/certificates.json")
[ "$n" = 360 ] || fail "certificates.json has $n samples, expected 360"
# a tiny per-sample timeout: undecided samples end unknown with reason timeout, exit 11 or 10
"$CB" certify nets/digits_cnn.onnx --data nets/digits_test20.csv --norm 2 --eps 0.3 --timeout 0.0005 --quiet \
  --out "$tmp/to" >/dev/null 2>"$tmp/err4"
rc=$?
[ "$rc" = 10 ] || [ "$rc" = 11 ] || fail "timeout run exited $rc ($(cat "$tmp/err4"))"
grep -q '"reason":.*"timeout after 0.0005 s"' "$tmp/to/certificates.json" || fail "no sample reported a timeout"
echo "certify interrupt/resume: interrupted after $done1 samples, exit 130, no partial report; resume completed 360"
