#!/bin/sh
# Bad-input corpus: every file in tests/bad/ must make the CLI exit with the
# expected code, print exactly one line on stderr containing the expected
# text, and write no output file.  Expectations: tests/bad/EXPECT_* lines
# "file|exit code|substring" (several lines per file: all must hold).
# CSV files are run through `predict tests/data/tiny.nnet --data FILE`,
# NPY/NPZ files through the same predict (an X .npy with the labels
# tests/data/npy/tiny_y.npy; a bad_npy_labels_* file as the labels of
# tests/data/npy/tiny_x.npy; an .npz alone: it holds both),
# PNG folders (bad_pngdir_*) through predict --data DIR --labels
# DIR/labels.csv, --box files (bad_box_*) as the LO of `bounds ... --box
# FILE tests/data/threat/hi2.txt`, --eps-per-feature files (bad_epsw_*)
# through `certify ... --eps-per-feature FILE`, bad_meanstd_*.args as
# predict's arguments (tests/bad/gen_threat_bad.py makes these),
# VNNLIB files through `verify tests/data/tiny.nnet FILE`, everything else
# through `info FILE` (all with --json, to check that no
# partial output is written).  $1 is the cerbere binary.
CB=${1:-build/cerbere}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0; files=0
cat tests/bad/EXPECT_* > "$tmp/expect"
for f in tests/bad/*; do
  b=$(basename "$f")
  case "$b" in EXPECT_*|*.py|README*) continue;; esac
  files=$((files+1))
  grep -q "^$b|" "$tmp/expect" || { echo "FAIL $b: no line in tests/bad/EXPECT_*"; fail=$((fail+1)); }
done
while IFS='|' read -r b code sub; do
  [ -z "$b" ] && continue
  f=tests/bad/$b
  [ -e "$f" ] || { echo "FAIL $b: file missing"; fail=$((fail+1)); continue; }
  rm -f "$tmp/out.json"
  case "$b" in
    bad_pngdir_*) $CB_VG "$CB" predict tests/data/tiny.nnet --data "$f" --labels "$f/labels.csv" --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr";;
    bad_box_*) $CB_VG "$CB" bounds tests/data/tiny.nnet --data tests/data/npy/tiny_x.npy --labels tests/data/npy/tiny_y.npy --norm inf --eps 0.1 \
                 --box "$f" tests/data/threat/hi2.txt --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr";;
    bad_epsw_*) $CB_VG "$CB" certify tests/data/tiny.nnet --data tests/data/npy/tiny_x.npy --labels tests/data/npy/tiny_y.npy --norm inf --eps 1 \
                 --eps-per-feature "$f" --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr";;
    # shellcheck disable=SC2046
    bad_meanstd_*) $CB_VG "$CB" predict tests/data/tiny.nnet --data tests/data/npy/tiny_x.npy --labels tests/data/npy/tiny_y.npy $(cat "$f") \
                 --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr";;
    *.vnnlib) $CB_VG "$CB" verify tests/data/tiny.nnet "$f" --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr";;
    bad_npy_labels_*.npy) $CB_VG "$CB" predict tests/data/tiny.nnet --data tests/data/npy/tiny_x.npy --labels "$f" --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr";;
    *.npy) $CB_VG "$CB" predict tests/data/tiny.nnet --data "$f" --labels tests/data/npy/tiny_y.npy --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr";;
    *.csv|*.npz) $CB_VG "$CB" predict tests/data/tiny.nnet --data "$f" --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr";;
    *) $CB_VG "$CB" info "$f" --json "$tmp/out.json" >"$tmp/stdout" 2>"$tmp/stderr";;
  esac
  rc=$?
  lines=$(wc -l < "$tmp/stderr")
  why=""
  [ "$rc" = "$code" ] || why="exit $rc, expected $code"
  [ "$lines" = 1 ] || why="$why; $lines stderr lines, expected 1"
  grep -qF -- "$sub" "$tmp/stderr" || why="$why; message lacks '$sub'"
  [ -e "$tmp/out.json" ] && why="$why; output file written"
  if [ -z "$why" ]; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL $b: $why"; sed 's/^/    stderr: /' "$tmp/stderr" | head -3
  fi
done < "$tmp/expect"
echo "bad-input corpus: $files files, $pass checks passed, $fail failed"
[ "$files" -ge 25 ] || { echo "FAIL: corpus has $files files, at least 25 expected"; exit 1; }
[ "$fail" = 0 ]
