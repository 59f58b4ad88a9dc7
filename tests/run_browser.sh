#!/bin/sh
# Browser test of report.html: headless Chromium loads the page from disk,
# takes a screenshot, and its DOM must hold the summary, the curve's SVG and
# one row per sample of report.json; Chromium's net log must show no request
# other than the file itself.  Then (issue 20, acceptance 6) a run with every
# setting given: each (methods, attack strength, timeouts, threads, input
# space, normalisation, threat model, date, host, version, commit, the
# reproduce command) must be in the rendered DOM (screen) and in the text of
# the page printed to PDF by Chromium (print media), and pdftoppm must render
# the PDF.  $1 = cerbere.  SKIPPED when chromium is absent (make deps
# installs it, and poppler-utils for pdftotext/pdftoppm).
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

# Every setting in the DOM (screen) and in the printed PDF (print media: the
# print stylesheet must expand the collapsed tables): a run with every knob
# set, its values read back from report.json.
"$CB" certify nets/digits_mlp.onnx --data nets/digits_test20.csv --norm inf --eps 0.02 --rows 0:3 --quiet --threads 2 \
  --timeout 30 --bab-timeout 5 --methods attack,ibp,crown,alpha-crown,strong-attack,bab --mean 0.5 --std 0.25 --target 8 \
  --out "$tmp/s" >/dev/null
rc=$?; [ $rc = 0 ] || [ $rc = 10 ] || [ $rc = 11 ] || fail "certify (settings run) exited $rc"
page2="file://$(cd "$tmp/s" && pwd)/report.html"
# shellcheck disable=SC2086
timeout 120 chromium $flags --user-data-dir="$tmp/ud5" --dump-dom "$page2" > "$tmp/dom2.html" 2>"$tmp/err5" \
  || fail "chromium --dump-dom (settings run) failed: $(tail -2 "$tmp/err5")"
# shellcheck disable=SC2086
timeout 120 chromium $flags --user-data-dir="$tmp/ud6" --no-pdf-header-footer --print-to-pdf="$tmp/s.pdf" "$page2" >/dev/null 2>"$tmp/err6" \
  || fail "chromium --print-to-pdf failed: $(tail -2 "$tmp/err6")"
[ -s "$tmp/s.pdf" ] || fail "no PDF printed"
J=$tmp/s/report.json
host=$(jq -r '.runs[0].host // .host' "$J"); created=$(jq -r '.runs[0].timing.created // .timing.created' "$J")
version=$(jq -r '.tool.version' "$J"); commit=$(jq -r '.tool.git_commit' "$J"); cwd=$(jq -r '.runs[0].cwd // .cwd' "$J")
[ -n "$host" ] && [ "$host" != null ] && [ "$created" != null ] && [ "$version" != null ] && [ "$commit" != null ] && [ "$cwd" != null ] ||
  fail "report.json lacks host, date, version, commit or cwd"
# NAME|TEXT: each text must be in the page text of the DOM and of the PDF
cat > "$tmp/want" <<EOW
method attack|"attack"
method ibp|"ibp"
method crown|"crown"
method alpha-crown|"alpha-crown"
method strong-attack|"strong-attack"
method bab|"bab"
attack strength|attack_steps
attack restarts|attack_restarts
strong attack|strong_attack_steps
timeout|timeout_s
bab timeout|bab_timeout_s
threads|threads 2
input space|input space: raw
normalisation|normalisation: mean [0.5], std [0.25]
threat model|"target":8
date|$created
host|run on $host
version|$version
commit|$commit
reproduce|cd $cwd && cerbere certify nets/digits_mlp.onnx --data nets/digits_test20.csv
EOW
dom_text() { sed -e 's/<[^>]*>//g' -e 's/&amp;/\&/g' -e 's/&quot;/"/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' "$1" | tr -s ' \n' '  '; }
dom_text "$tmp/dom2.html" > "$tmp/dom2.txt"
pdftext=""
if command -v pdftotext >/dev/null 2>&1; then
  pdftotext -raw "$tmp/s.pdf" - | tr -d ' \n' > "$tmp/pdf.txt"; pdftext=1   # no blanks: line breaks fall anywhere
  pdftoppm -r 30 -png -f 1 -l 1 "$tmp/s.pdf" "$tmp/page" && [ -s "$tmp/page-1.png" ] || fail "pdftoppm did not render the PDF"
fi
nset=0
while IFS='|' read -r name text; do
  grep -qF -- "$text" "$tmp/dom2.txt" || fail "setting '$name' ($text) not in the rendered DOM"
  if [ -n "$pdftext" ]; then
    t2=$(printf '%s' "$text" | tr -d ' ')
    grep -qF -- "$t2" "$tmp/pdf.txt" || fail "setting '$name' ($text) not in the printed PDF's text"
  fi
  nset=$((nset + 1))
done < "$tmp/want"
[ -n "$pdftext" ] && printmsg="PDF printed and rendered by pdftoppm, the $nset settings in its text" ||
  printmsg="print media NOT checked: pdftotext/pdftoppm absent (poppler-utils)"
echo "report.html in headless chromium: summary, curve, $rows sample rows, screenshot $(wc -c < "$tmp/shot.png") bytes, no network request; $nset settings in the DOM; $printmsg"
