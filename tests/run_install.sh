#!/bin/sh
# The library from outside (issue 20, acceptance 4): `make install` into a
# temporary DESTDIR with PREFIX=/usr, then the three examples (bounds,
# certify, verify) are built from examples/*.c with only what pkg-config
# says about the installed cerbere.pc, once against libcerbere.so and once
# against libcerbere.a, and their answers are compared with the installed
# binary's: `cerbere bounds --json` (every logit and margin bound, equal as
# doubles), `cerbere lipschitz --json`, `cerbere certify` (verdict and
# deciding method per row) and `cerbere verify` (answer and witness).
# Finally `make uninstall` must leave no file behind.
#   usage: sh tests/run_install.sh BUILD_DIR
B=${1:-build}
NET=nets/digits_mlp.onnx; CSV=nets/digits_test20.csv
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
D=$T/dest; U=$D/usr
fail() { echo "run_install: $*"; exit 1; }
command -v pkg-config >/dev/null || fail "pkg-config is missing (make deps installs it)"
make --no-print-directory -s install B="$B" DESTDIR="$D" PREFIX=/usr > "$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install failed"; }
for f in bin/cerbere lib/libcerbere.a lib/libcerbere.so lib/libcerbere.so.0 include/cerbere.h \
         lib/pkgconfig/cerbere.pc share/man/man1/cerbere.1; do
  [ -e "$U/$f" ] || fail "make install did not install /usr/$f"
done
readelf -d "$U/lib/libcerbere.so" | grep -q 'SONAME.*\[libcerbere\.so\.0\]' || fail "libcerbere.so has no soname libcerbere.so.0"
man -l "$U/share/man/man1/cerbere.1" 2>/dev/null | grep -q 'cerbere' || { command -v man >/dev/null && fail "the man page does not render"; }
CLI=$U/bin/cerbere

# Only the staged cerbere.pc, its paths under the staging root.
export PKG_CONFIG_LIBDIR="$U/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D"
pkg-config --exists cerbere || fail "pkg-config does not find cerbere"
CFL=$(pkg-config --cflags cerbere); LIBS=$(pkg-config --libs cerbere)
SLIBS=$(pkg-config --static --libs cerbere | sed 's/-lcerbere\b/-l:libcerbere.a/')
for e in bounds certify verify; do
  cc -std=c11 -Wall -Wextra -Werror examples/$e.c $CFL $LIBS -o "$T/$e.shared" || fail "examples/$e.c does not build against libcerbere.so"
  cc -std=c11 -Wall -Wextra -Werror examples/$e.c $CFL $SLIBS -o "$T/$e.static" || fail "examples/$e.c does not build against libcerbere.a"
  readelf -d "$T/$e.shared" | grep -q 'NEEDED.*libcerbere\.so\.0' || fail "$e.shared does not use libcerbere.so.0"
  readelf -d "$T/$e.static" | grep -q 'NEEDED.*libcerbere' && fail "$e.static still needs libcerbere.so"
done
export LD_LIBRARY_PATH="$U/lib"

# Bounds: the lines "row R", "logit_lb ...", "logit_ub ...", "margin_lb ..."
# of the example against the same lines made from the CLI's JSON; numbers
# compared as doubles (awk), so the digits printed may differ.
same_numbers() {  # a b: same words, numbers equal as doubles
  awk 'NR == FNR { a[FNR] = $0; n = FNR; next }
       { m = split(a[FNR], f, " "); if (m != NF || f[1] != $1) bad++
         else for (i = 2; i <= NF; i++) if ((f[i] + 0) != ($i + 0)) bad++ }
       END { if (FNR != n || n == 0) bad++; exit bad > 0 }' "$1" "$2"
}
for m in crown ibp crown-ibp alpha-crown; do
  "$CLI" bounds $NET --data $CSV --norm inf --eps 0.01 --method $m --json "$T/b.json" --quiet > /dev/null || fail "cerbere bounds --method $m failed"
  jq -r '.samples[] | "row \(.index)", "logit_lb \(.logit_lb | map(tostring) | join(" "))",
         "logit_ub \(.logit_ub | map(tostring) | join(" "))", "margin_lb \(.margin_lb | map(tostring) | join(" "))"' \
    "$T/b.json" > "$T/b.cli"
  "$CLI" lipschitz $NET --norm inf --json "$T/l.json" > /dev/null || fail "cerbere lipschitz failed"
  jq -r '"lipschitz_inf \([.K_layerwise, .K_merged] | min)"' "$T/l.json" >> "$T/b.cli"
  for kind in shared static; do
    "$T/bounds.$kind" $NET $CSV 0.01 $m > "$T/b.ex" || fail "bounds.$kind $m failed"
    same_numbers "$T/b.cli" "$T/b.ex" || { diff "$T/b.cli" "$T/b.ex" | head -5; fail "bounds.$kind --method $m differs from cerbere bounds --json"; }
  done
done

# Certify: verdict and deciding method of every row (L-inf 0.05, clip [0, 1]:
# some rows verified, some falsified).
"$CLI" certify $NET --data $CSV --norm inf --eps 0.05 --clip 0:1 --bab-timeout 1 --out "$T/cert" --quiet > /dev/null
rc=$?; [ $rc = 0 ] || [ $rc = 10 ] || [ $rc = 11 ] || fail "cerbere certify failed ($rc)"
jq -r '.samples[] | "row \(.index): \(.verdict) (\(if .verdict == "unknown" then "none" else .decided_by end))"' \
  "$T/cert/certificates.json" > "$T/c.cli"
grep -q verified "$T/c.cli" && grep -q falsified "$T/c.cli" || fail "the certify case should have verified and falsified rows"
for kind in shared static; do
  "$T/certify.$kind" $NET $CSV 0.05 1 | sed 's/) .*/)/' > "$T/c.ex" || fail "certify.$kind failed"
  cmp -s "$T/c.cli" "$T/c.ex" || { diff "$T/c.cli" "$T/c.ex" | head -5; fail "certify.$kind differs from cerbere certify"; }
done

# Verify: the answer and the witness lines of both tiny properties.
for p in tiny_unsat tiny_sat; do
  "$CLI" verify tests/data/tiny.nnet tests/data/$p.vnnlib | grep -v '^#' > "$T/v.cli" || fail "cerbere verify $p failed"
  for kind in shared static; do
    "$T/verify.$kind" tests/data/tiny.nnet tests/data/$p.vnnlib | grep -v '^#' > "$T/v.ex" || fail "verify.$kind $p failed"
    cmp -s "$T/v.cli" "$T/v.ex" || { diff "$T/v.cli" "$T/v.ex"; fail "verify.$kind $p differs from cerbere verify"; }
  done
done
[ "$(head -n 1 "$T/v.cli")" = sat ] || fail "tiny_sat should be sat"

make --no-print-directory -s uninstall B="$B" DESTDIR="$D" PREFIX=/usr > /dev/null || fail "make uninstall failed"
left=$(find "$D" -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "run_install: ok (install, pkg-config, shared and static builds of 3 examples, answers equal to the CLI's, uninstall)"
