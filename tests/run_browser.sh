#!/bin/sh
# Browser test of report.html: headless Chromium loads the page from disk,
# takes a screenshot, and its DOM must hold the summary, the curve's SVG and
# one row per sample of report.json; Chromium's net log must show no request
# other than the file itself.  $1 = cerbere.  SKIPPED when chromium is absent
# (make deps installs it).
CB=${1:-build/cerbere}
command -v chromium >/dev/null 2>&1 || { echo "SKIPPED: chromium not installed (make deps installs it)"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$CB" certify nets/digits_mlp.onnx --data nets/digits_test20.csv --norm inf --eps 0.02 --radius --quiet --out "$tmp/r" >/dev/null
rc=$?; [ $rc = 0 ] || [ $rc = 10 ] || [ $rc = 11 ] || fail "certify exited $rc"
page="file://$(cd "$tmp/r" && pwd)/report.html"
flags="--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking --disable-component-update --disable-sync"
# shellcheck disable=SC2086
timeout 120 chromium $flags --user-data-dir="$tmp/ud1" --dump-dom --log-net-log="$tmp/net.json" "$page" > "$tmp/dom.html" 2>"$tmp/err1" \
  || fail "chromium --dump-dom failed: $(tail -2 "$tmp/err1")"
# shellcheck disable=SC2086
timeout 120 chromium $flags --user-data-dir="$tmp/ud2" --window-size=1200,2400 --screenshot="$tmp/shot.png" "$page" >/dev/null 2>"$tmp/err2" \
  || fail "chromium --screenshot failed: $(tail -2 "$tmp/err2")"
[ -s "$tmp/shot.png" ] || fail "no screenshot"
grep -q 'id="summary-0"' "$tmp/dom.html" || fail "DOM lacks the summary"
grep -q '<svg id="curve-0"' "$tmp/dom.html" || fail "DOM lacks the curve SVG"
rows=$(grep -o 'class="sample-row"' "$tmp/dom.html" | wc -l)
want=$(grep -c '"verdict":' "$tmp/r/report.json")
[ "$rows" = "$want" ] && [ "$rows" -gt 0 ] || fail "DOM has $rows sample rows, report.json $want samples"
# Requests the page made: URL requests with a page initiator (Chromium's own
# background requests, e.g. its clock and update checks, carry "not an origin").
page_requests() {   # one line per event (split before each "phase"), keep request starts
  sed 's/"phase":/\n/g' "$1" | grep '"initiator":"' | grep -v '"initiator":"not an origin"' |
    grep -o '"url":"[^"]*"' | grep -v '"url":"file://'
}
[ -s "$tmp/net.json" ] || fail "no net log written"
page_requests "$tmp/net.json" | grep -q . && fail "the page made network requests: $(page_requests "$tmp/net.json" | head -3)"
# control: the same check on a page with an external image must see it
printf '<html><body><img src="http://cerbere-test.invalid/x.png"></body></html>' > "$tmp/control.html"
# shellcheck disable=SC2086
timeout 120 chromium $flags --user-data-dir="$tmp/ud3" --dump-dom --log-net-log="$tmp/net2.json" "file://$(cd "$tmp" && pwd)/control.html" \
  >/dev/null 2>&1 || fail "chromium on the control page failed"
page_requests "$tmp/net2.json" | grep -q cerbere-test.invalid || fail "the network check did not see the control page's request"
echo "report.html in headless chromium: summary, curve, $rows sample rows, screenshot $(wc -c < "$tmp/shot.png") bytes, no network request"
