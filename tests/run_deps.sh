#!/bin/sh
# The Makefile's floor rules, on scratch copies of the sources (Makefile,
# include/ and the floors), so the real tree is never touched:
# 1. `make deps-floors` passes on an unchanged copy;
# 2. `make deps-check` fails when src/net.c includes "bounds.h", and so does
#    compiling src/net.c in the normal build (src/ has no -Ibounds);
# 3. `make -k deps-floor-bounds deps-floor-certify` names bounds/ibp.c including
#    "../lip/lipschitz.h" (a path around the include paths) and
#    certify/verify.h including a header of a cli/ folder made for the test
#    (cli/ joins the floors when it exists);
# 4. deps-cli fails when a library object calls a function that a CLI object
#    defines (two small objects stand in for the library and the CLI).
# Only the preprocessor runs on the copies (and the compiler on src/net.c),
# so this takes seconds.  `make check` runs the full deps-check on the real
# tree itself.  Run from the repository root.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
ko() { fail=$((fail+1)); echo "FAIL $*"; }
# the outer make's flags and variables (B=, -j, T=) are not this test's
unset MAKEFLAGS MFLAGS MAKELEVEL
floors=$(ls -d src bounds lip certify cli 2>/dev/null)
mk() {  # dir, make arguments...: make quietly in dir, output in $tmp/out
  d=$1; shift
  make -s --no-print-directory -C "$d" "$@" >"$tmp/out" 2>&1
}

mkdir -p "$tmp/clean" && cp -Rp Makefile include $floors "$tmp/clean"/ || ko "cannot copy the sources"
if mk "$tmp/clean" deps-floors; then ok; else ko "deps-floors fails on an unchanged copy:"; cat "$tmp/out"; fi

cp -Rp "$tmp/clean" "$tmp/up"   # with its build/gen: protoc-c runs once
echo '#include "bounds.h"' >> "$tmp/up/src/net.c"
if mk "$tmp/up" deps-check; then ko "deps-check passes with src/net.c including bounds.h"
elif grep -q 'src/net.c.*bounds.h: No such file' "$tmp/out" && grep -q 'deps-check: a file in src/' "$tmp/out"; then ok
else ko "deps-check failed without naming src/net.c and bounds.h:"; cat "$tmp/out"; fi
if mk "$tmp/up" build/src/net.o; then ko "src/net.c including bounds.h compiles in the normal build"; else ok; fi

echo '#include "../lip/lipschitz.h"' >> "$tmp/up/bounds/ibp.c"
mkdir -p "$tmp/up/cli"
printf '#ifndef CMD_X_H\n#define CMD_X_H\nint cmd_x(void);\n#endif\n' > "$tmp/up/cli/cmd_x.h"
echo '#include "cmd_x.h"' >> "$tmp/up/certify/verify.h"
if mk "$tmp/up" -k deps-floor-bounds deps-floor-certify; then ko "deps-floors passes with three upward includes"
else
  grep -q 'bounds/ibp.c includes bounds/../lip/lipschitz.h' "$tmp/out" && ok || ko "no line for bounds/ibp.c including ../lip/lipschitz.h"
  grep -q 'certify/verify.h:.*cmd_x.h: No such file' "$tmp/out" && ok || ko "no line for certify/verify.h including cli/cmd_x.h"
  grep -q 'deps-check: a file in certify/.*floors above: cli' "$tmp/out" && ok || ko "cli/ not counted as a floor above certify/"
fi

mkdir -p "$tmp/obj"
echo 'int cmd_x(void); int lib_y(void); int lib_y(void) { return cmd_x(); }' > "$tmp/obj/lib.c"
echo 'int cmd_x(void); int cmd_x(void) { return 1; } int main(void) { return cmd_x(); }' > "$tmp/obj/cli.c"
${CC:-cc} -c "$tmp/obj/lib.c" -o "$tmp/obj/lib.o" && ${CC:-cc} -c "$tmp/obj/cli.c" -o "$tmp/obj/cli.o" || ko "cannot compile the stand-in objects"
if mk "$tmp/clean" deps-cli LIB_OBJ="$tmp/obj/lib.o" CLI_OBJ="$tmp/obj/cli.o"; then
  ko "deps-cli passes with a library object calling the CLI's cmd_x"
elif grep -q 'lib.o uses cmd_x, defined by the CLI' "$tmp/out"; then ok
else ko "deps-cli failed without naming lib.o and cmd_x:"; cat "$tmp/out"; fi
if mk "$tmp/clean" deps-cli LIB_OBJ="$tmp/obj/cli.o" CLI_OBJ="$tmp/obj/lib.o"; then ok
else ko "deps-cli fails with a CLI object calling the library:"; cat "$tmp/out"; fi

echo "deps-check rule: $pass passed, $fail failed"
[ "$fail" = 0 ]
