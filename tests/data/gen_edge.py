#!/usr/bin/python3
"""Boundary instances for verify's ReLU search (review12, issue 18).

Each instance is a small random ReLU net (NNet, 2-5 inputs, 2-3 hidden
layers of 5-12) and a property satisfiable only on a tiny set: scipy's MILP
finds a maximiser x* of Y_0 (or of min_j Y_0 - Y_j), the last bias of
output 0 is shifted by that maximum (computed exactly at x*, with
fractions) less 1e-9 (1 + |max|), and the instance is kept only when x* is
a real counterexample in exact arithmetic (Y_0 >= 0, or Y_0 >= Y_j for all
j, at x*).  verify may say sat, unknown or timeout, never unsat.  The box
bounds and x* are written as the exact decimals of their doubles (VNNLIB
numbers are read as exact decimals).  eNN_pin.vnnlib pins the box to x* itself
(a point of doubles), where verify must say sat (exact replay).

Usage: /usr/bin/python3 tests/data/gen_edge.py  (writes tests/data/edge/)
       /usr/bin/python3 tests/data/gen_edge.py --at-max DIR SEED...: the shift
       is the maximum itself (no 1e-9), written to DIR (not test data: at
       seeds 5010 5011 5021 x* is a real counterexample by ~1e-16 that the
       double forward pass misses, and verify answers unknown on eN_pin)
Every instance also gets eN_uns.nnet: the same net with the shift 1e-6 (1 +
|max|) above the maximum (eN.vnnlib is unsat there), for the proofs of
tests/data/gen_edge_proofs.sh.
Needs numpy and scipy (>= 1.9, scipy.optimize.milp).
"""
import os
import sys
from decimal import Decimal
import numpy as np
from fractions import Fraction as F
from scipy.optimize import milp, LinearConstraint, Bounds

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'edge')
# seeds whose instance needs the ReLU search to be right: with the second
# child of a ReLU split started from the first child's boxes (a mutant of
# certify/vfy_relu.c rs_children), verify answers unsat on each of these
SEEDS = [5007, 5018, 5031, 5032, 5038, 5042, 5049, 5058, 5059, 5074, 5079, 5080, 5092, 5103, 5104, 5113]


def gen(rng):
    nin = rng.integers(2, 6)
    hid = [int(rng.integers(5, 13)) for _ in range(rng.integers(2, 4))]
    nout = int(rng.integers(2, 4))
    sizes = [int(nin)] + hid + [nout]
    Ws, bs = [], []
    for a, b in zip(sizes[:-1], sizes[1:]):
        Ws.append(np.round(rng.normal(size=(b, a)), 3))
        bs.append(np.round(rng.normal(size=b) * 0.5, 3))
    lo = np.round(rng.uniform(-1, 0, size=nin), 2)
    hi = np.round(lo + rng.uniform(0.1, 1.5, size=nin), 2)
    return sizes, Ws, bs, lo, hi


def ibp(Ws, bs, lo, hi):
    L, U, l, u = [], [], lo.copy(), hi.copy()
    for k, (W, b) in enumerate(zip(Ws, bs)):
        Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
        nl, nu = Wp @ l + Wn @ u + b, Wp @ u + Wn @ l + b
        L.append(nl)
        U.append(nu)
        if k < len(Ws) - 1:
            l, u = np.maximum(nl, 0), np.maximum(nu, 0)
    return L, U


def maximise(Ws, bs, lo, hi, rows):
    """max t s.t. t <= row . y over the box (big-M MILP); returns x*."""
    L, U = ibp(Ws, bs, lo, hi)
    nv = 0

    def alloc(n):
        nonlocal nv
        r = list(range(nv, nv + n))
        nv += n
        return r
    x = alloc(len(lo))
    layers = [(alloc(len(bs[k])), alloc(len(bs[k])), alloc(len(bs[k]))) for k in range(len(Ws) - 1)]
    y = alloc(len(bs[-1]))
    t = alloc(1)[0]
    A, bl, bu = [], [], []
    lb, ub, integ = np.full(nv, -np.inf), np.full(nv, np.inf), np.zeros(nv)
    lb[x], ub[x] = lo, hi
    prev = x
    for k in range(len(Ws)):
        W, b = Ws[k], bs[k]
        tgt = layers[k][0] if k < len(Ws) - 1 else y
        for i in range(len(b)):
            r = np.zeros(nv)
            r[tgt[i]] = 1
            r[prev] -= W[i]
            A.append(r); bl.append(b[i]); bu.append(b[i])
        if k < len(Ws) - 1:
            z, h, d = layers[k]
            l, u = L[k] - 1e-6, U[k] + 1e-6
            lb[z], ub[z], lb[h], ub[h], lb[d], ub[d], integ[d] = l, u, 0, np.maximum(u, 0), 0, 1, 1
            for i in range(len(b)):
                r = np.zeros(nv); r[h[i]] = 1; r[z[i]] = -1
                A.append(r); bl.append(0); bu.append(np.inf)
                r = np.zeros(nv); r[h[i]] = 1; r[d[i]] = -max(u[i], 0)
                A.append(r); bl.append(-np.inf); bu.append(0)
                r = np.zeros(nv); r[h[i]] = 1; r[z[i]] = -1; r[d[i]] = -min(l[i], 0)
                A.append(r); bl.append(-np.inf); bu.append(-min(l[i], 0))
            prev = h
    for rw in rows:
        r = np.zeros(nv); r[t] = 1; r[y] -= rw
        A.append(r); bl.append(-np.inf); bu.append(0)
    c = np.zeros(nv)
    c[t] = -1
    res = milp(c, constraints=LinearConstraint(np.array(A), bl, bu), integrality=integ, bounds=Bounds(lb, ub),
               options={'mip_rel_gap': 1e-12})
    return np.clip(res.x[x], lo, hi)


def exact(Ws, bs, x):
    v = [F(float(a)) for a in x]
    for k, (W, b) in enumerate(zip(Ws, bs)):
        v = [sum((F(float(W[i, j])) * v[j] for j in range(len(v))), F(float(b[i]))) for i in range(len(b))]
        if k < len(Ws) - 1:
            v = [max(a, F(0)) for a in v]
    return v


def write_nnet(path, sizes, Ws, bs, lo, hi, seed):
    with open(path, 'w') as f:
        f.write('// tests/data/gen_edge.py seed %d: a random ReLU net; its property is satisfiable only near one point\n' % seed)
        f.write('%d,%d,%d,%d,\n' % (len(sizes) - 1, sizes[0], sizes[-1], max(sizes)))
        f.write(','.join(map(str, sizes)) + ',\n0,\n')
        f.write(','.join(repr(float(a)) for a in lo) + ',\n' + ','.join(repr(float(a)) for a in hi) + ',\n')
        f.write(','.join(['0.0'] * (sizes[0] + 1)) + ',\n' + ','.join(['1.0'] * (sizes[0] + 1)) + ',\n')
        for W, b in zip(Ws, bs):
            for r in W:
                f.write(','.join(repr(float(a)) for a in r) + ',\n')
            for a in b:
                f.write(repr(float(a)) + ',\n')


def dec(v):
    """The double v as its exact decimal (VNNLIB numbers are read as exact decimals)."""
    return '{:f}'.format(Decimal(float(v)))


def write_vnn(path, lo, hi, nout, kind, note):
    with open(path, 'w') as f:
        f.write('; %s\n' % note)
        for i in range(len(lo)):
            f.write('(declare-const X_%d Real)\n' % i)
        for i in range(nout):
            f.write('(declare-const Y_%d Real)\n' % i)
        for i in range(len(lo)):
            f.write('(assert (>= X_%d %s))\n(assert (<= X_%d %s))\n' % (i, dec(lo[i]), i, dec(hi[i])))
        if kind == 0:
            f.write('(assert (>= Y_0 0))\n')
        else:
            f.write('(assert (and ' + ' '.join('(>= Y_0 Y_%d)' % j for j in range(1, nout)) + '))\n')


def main():
    out, seeds, below = OUT, SEEDS, True
    if len(sys.argv) > 2 and sys.argv[1] == '--at-max':
        out, seeds, below = sys.argv[2], [int(a) for a in sys.argv[3:]], False
    os.makedirs(out, exist_ok=True)
    kept = 0
    for s in seeds:
        rng = np.random.default_rng(s)
        sizes, Ws, bs, lo, hi = gen(rng)
        nout = sizes[-1]
        kind = int(rng.integers(0, 2))
        eye = np.eye(nout)
        rows = [eye[0]] if kind == 0 else [eye[0] - eye[j] for j in range(1, nout)]
        xs = maximise(Ws, bs, lo, hi, rows)
        ye = exact(Ws, bs, xs)
        m = float(ye[0]) if kind == 0 else float(min(ye[0] - ye[j] for j in range(1, nout)))
        b2 = [b.copy() for b in bs]
        b2[-1][0] -= m - (1e-9 * (1 + abs(m)) if below else 0)   # 1e-9 below the maximum: a small satisfiable set around x*
        y2 = exact(Ws, b2, xs)
        if not (y2[0] >= 0 if kind == 0 else all(y2[0] >= y2[j] for j in range(1, nout))):
            continue   # the double shift lost the point
        name = 'e%d' % s
        if below:
            b3 = [b.copy() for b in bs]
            b3[-1][0] -= m + 1e-6 * (1 + abs(m))
            write_nnet(os.path.join(out, name + '_uns.nnet'), sizes, Ws, b3, lo, hi, s)
        write_nnet(os.path.join(out, name + '.nnet'), sizes, Ws, b2, lo, hi, s)
        write_vnn(os.path.join(out, name + '.vnnlib'), lo, hi, nout, kind,
                  'gen_edge.py seed %d: satisfiable near x* (eN_pin.vnnlib) only: never unsat' % s)
        write_vnn(os.path.join(out, name + '_pin.vnnlib'), xs, xs, nout, kind,
                  'gen_edge.py seed %d: the box pinned to x*, a real counterexample: sat' % s)
        kept += 1
    print('kept', kept, 'of', len(seeds))


if __name__ == '__main__':
    main()
