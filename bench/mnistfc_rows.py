#!/usr/bin/python3
"""Builds the 50 MNIST rows of issue 18's acceptance 3 from VNNLIB files:
each row is `label,x0..x783`, x = the centre of the file's input box (the
midpoint of each X_i's bounds, printed with repr so it reads back to the
same double) and label = the class every output disjunct protects (the Y_L
of `(>= Y_j Y_L)`).  Rows: the 15 mnistfc images (prop_K_0.03.vnnlib,
K = 0..14), then the first 35 eran2021 MNIST files in instances.csv order,
so every row is a different image.
Usage: /usr/bin/python3 bench/mnistfc_rows.py [BENCHMARKS_DIR] > rows.csv"""
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/benchmarks"
XB = re.compile(r"\(assert \((<=|>=) X_(\d+) ([-+0-9.eE]+)\)\)")
YL = re.compile(r"\(>= Y_(\d+) Y_(\d+)\)")


def row(path):
    lo, hi = {}, {}
    labels = set()
    text = open(path).read()
    for op, i, v in XB.findall(text):
        (hi if op == "<=" else lo)[int(i)] = float(v)
    for _, l in YL.findall(text):
        labels.add(int(l))
    n = len(lo)
    if len(labels) != 1 or n != len(hi) or sorted(lo) != list(range(n)):
        sys.exit("%s: not a single-box robustness property" % path)
    return [labels.pop()] + [0.5 * (lo[i] + hi[i]) for i in range(n)]


files = ["%s/mnistfc/vnnlib/prop_%d_0.03.vnnlib" % (root, k) for k in range(15)]
for line in open("%s/eran2021/instances.csv" % root):
    if "mnist_relu" in line and len(files) < 50:
        files.append("%s/eran2021/%s" % (root, line.split(",")[1]))
for f in files:
    r = row(f)
    print(",".join([str(r[0])] + [repr(v) for v in r[1:]]))
