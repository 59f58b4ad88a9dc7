#!/bin/sh
# The Python binding (python/cerbere, issue 20 acceptance 5): SKIPPED when no
# python3 with NumPy is found ($PYTHON, then python3 on PATH, then
# /usr/bin/python3, Debian's).  Otherwise:
#   1. tests/python_binding.py with the package from the source tree and
#      CERBERE_LIB = BUILD/libcerbere.so.0: bounds equal `cerbere bounds
#      --json` bit for bit, certify/verify/lipschitz/jacobian/attribute
#      results equal the CLI's (see its header);
#   2. how the package finds the library: a CERBERE_LIB that does not exist
#      is an ImportError naming it; without CERBERE_LIB the source-tree
#      package finds an installed library or the build tree's;
#   3. `pip install --no-index ./python` into a fresh
#      venv (--system-site-packages, for NumPy): offline; then `make install`
#      into a staging root, and the installed package, with only
#      LD_LIBRARY_PATH pointing at the installed library, runs the example
#      python/examples/certify_torch.py.  SKIPPED (this part only) without
#      python3-venv / python3-pip.
#   usage: sh tests/run_python.sh BUILD_DIR
B=${1:-build}
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in the source tree
fail() { echo "run_python: $*"; exit 1; }
PY=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  command -v "$p" >/dev/null 2>&1 || continue
  "$p" -c "import numpy" 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || { echo "SKIPPED: no python3 with numpy (Debian: python3-numpy)"; exit 0; }
[ -e "$B/libcerbere.so.0" ] || fail "$B/libcerbere.so.0 is missing (make)"
LIB=$(cd "$B" && pwd)/libcerbere.so.0
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

CERBERE_LIB=$LIB PYTHONPATH=python "$PY" tests/python_binding.py "$B/cerbere" || fail "tests/python_binding.py failed"

out=$(CERBERE_LIB=$T/none.so PYTHONPATH=python "$PY" -c "import cerbere" 2>&1) && fail "a missing CERBERE_LIB was accepted"
echo "$out" | grep -q "CERBERE_LIB=$T/none.so cannot be loaded" || fail "a missing CERBERE_LIB gives: $out"
where=$(env -u CERBERE_LIB PYTHONPATH=python "$PY" -c "import cerbere; print(cerbere.lib_path)") || fail "no library found without CERBERE_LIB"
case $where in libcerbere.so*|/usr/*/libcerbere.so.0|*/python/cerbere/../../build/libcerbere.so.0) ;;
  *) fail "without CERBERE_LIB the library came from $where";; esac
echo "ok   the library: CERBERE_LIB, else $where"

if ! "$PY" -c "import venv, ensurepip" 2>/dev/null; then
  echo "SKIPPED: pip install ./python (no venv/ensurepip: Debian python3-venv)"; exit 0
fi
"$PY" -m venv --system-site-packages "$T/venv" > "$T/venv.log" 2>&1 || { cat "$T/venv.log"; fail "python3 -m venv failed"; }
"$T/venv/bin/python" -m pip --version > /dev/null 2>&1 || { echo "SKIPPED: pip install ./python (no pip in the venv: Debian python3-pip)"; exit 0; }
cp -r python "$T/src"   # pip builds in the source folder: keep the tree clean
# plain `pip install` (isolated build): the in-tree backend needs nothing from
# the network; --no-index makes sure nothing is fetched, numpy comes from the
# system site-packages
"$T/venv/bin/python" -m pip install --no-index -q "$T/src" > "$T/pip.log" 2>&1 \
  || { cat "$T/pip.log"; fail "pip install ./python failed"; }
inst=$(cd "$T" && CERBERE_LIB=$LIB "$T/venv/bin/python" -c "import cerbere; print(cerbere.__file__)") || fail "the installed package does not import"
case $inst in "$T"/venv/*) ;; *) fail "imported $inst, not the installed package";; esac
# the installed package with the installed library (`make install` into a
# staging root, found through LD_LIBRARY_PATH: no CERBERE_LIB, no build tree)
make --no-print-directory -s install B="$B" DESTDIR="$T/dest" PREFIX=/usr > "$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install failed"; }
found=$(cd "$T" && env -u CERBERE_LIB LD_LIBRARY_PATH="$T/dest/usr/lib" "$T/venv/bin/python" -c "import cerbere; print(cerbere.lib_path)") \
  || fail "the installed package does not find the installed library"
case $found in libcerbere.so*|"$T"/dest/*) ;; *) fail "the installed package loaded $found, not the installed library";; esac
(cd "$T" && env -u CERBERE_LIB LD_LIBRARY_PATH="$T/dest/usr/lib" "$T/venv/bin/python" "$OLDPWD/python/examples/certify_torch.py" --rows 4 \
  --json "$T/certs.json") > "$T/ex.log" 2>&1 || { cat "$T/ex.log"; fail "the example failed"; }
grep -q "^certified " "$T/ex.log" || { cat "$T/ex.log"; fail "the example printed no summary"; }
jq -e '.samples | length == 4' "$T/certs.json" > /dev/null 2>&1 || { command -v jq > /dev/null && fail "the example's certificates JSON has not 4 samples"; }
echo "ok   pip install ./python (offline, isolated build) into a venv; with the installed library ($found) the example runs: $(grep '^certified ' "$T/ex.log")"
