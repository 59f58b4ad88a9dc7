#!/usr/bin/python3
"""Reference attention rollout / raw attention maps for tests/test_attr_methods.c.

Run with Debian's python (python3-torch 1.13, onnx 1.12) from the repository root:

    /usr/bin/python3 tests/data/gen_rollout_ref.py

It writes
    attn/rollout2.onnx       two attention blocks (T = 5 tokens, D = 8, H = 2 heads,
                             seeded random weights) exported by torch.onnx.export
                             (opset 13), as gen_attn.py does
    attn/rollout2.in.csv     6 rows `0,x0,...` (x in [-1, 1]^40)
    attn/rollout2.out.csv    torch's own float64 outputs of those rows, and
    attn/rollout2.kinds      the kinds it must load into (tests/test_torch_elem.c
                             checks every net of attn/ with them, as gen_attn.py's)
    attn/rollout_ref.json    maps of both nets (rollout2 and gen_attn.py's attn_block)
The reference is computed by torch from the module, independently of cerbere's
graph matching: the attention weights are the softmax tensors the module
builds (captured in forward), float64.  Definitions (certify/attr_attn.c,
Abnar & Zuidema 2020):
    F_l  = mean / max / min over heads of A_l (queries x keys)
    raw      map = row q of F_L (L the last layer), or the mean of its rows (q = -1)
    rollout  Abar_l = (F_l + I) / 2, rows renormalised; R = Abar_L ... Abar_1;
             map = row q of R, or the mean of its rows
"""
import io
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_attn  # noqa: E402

nn = torch.nn
OUT = os.path.join(HERE, "attn")
CAPTURE = []


class CapAttention(gen_attn.Attention):
    """gen_attn.Attention, also recording its softmax output."""

    def forward(self, x):
        T, D, H = self.T, self.D, self.H
        d = D // H
        q = self.q(x).view(1, T, H, d).transpose(1, 2)
        k = self.k(x).view(1, T, H, d).transpose(1, 2)
        v = self.v(x).view(1, T, H, d).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-2, -1) / d ** 0.5, dim=-1)
        CAPTURE.append(a.detach().clone())
        y = (a @ v).transpose(1, 2).reshape(1, T, D)
        return self.o(y)


class Two(nn.Module):
    """Two pre-norm-free attention blocks with residuals and a linear head."""

    def __init__(self, T=5, D=8, H=2, C=3):
        super().__init__()
        self.T, self.D = T, D
        self.a1, self.a2 = CapAttention(T, D, H), CapAttention(T, D, H)
        self.mlp = nn.Sequential(nn.Linear(D, D), nn.ReLU())
        self.head = nn.Linear(T * D, C)

    def forward(self, x):
        x = x.view(1, self.T, self.D)
        x = x + self.a1(x)
        x = x + self.mlp(x)
        x = x + self.a2(x)
        return self.head(x.reshape(1, self.T * self.D))


def fuse(a, how):
    a = a[0]
    return {"mean": a.mean(0), "max": a.max(0).values, "min": a.min(0).values}[how]


def row(m, q):
    return m.mean(0) if q < 0 else m[q]


def maps(layers, T):
    out = []
    for how in ("mean", "max", "min"):
        for q in (-1, 0, 2):
            F = [fuse(a, how) for a in layers]
            R = torch.eye(T, dtype=torch.float64)
            for f in F:
                ab = (f + torch.eye(T, dtype=torch.float64)) / 2
                ab = ab / ab.sum(-1, keepdim=True)
                R = ab @ R
            out.append({"attention": "rollout", "fusion": how, "query": q, "map": row(R, q).tolist()})
            out.append({"attention": "raw", "fusion": how, "query": q, "map": row(F[-1], q).tolist()})
    return out


def main():
    torch.manual_seed(21)
    two = Two().double().eval()
    torch.manual_seed(121)
    x = torch.rand((6, 40), dtype=torch.float64) * 2 - 1
    buf = io.BytesIO()
    torch.onnx.export(two, x[:1], buf, opset_version=13, input_names=["x"], output_names=["y"])
    with open(os.path.join(OUT, "rollout2.onnx"), "wb") as f:
        f.write(buf.getvalue())
    with open(os.path.join(OUT, "rollout2.in.csv"), "w") as f:
        for r in x.numpy():
            f.write("0," + ",".join("%.17g" % v for v in r) + "\n")
    with torch.no_grad():
        y = torch.cat([two(x[i:i + 1]) for i in range(x.shape[0])])
    with open(os.path.join(OUT, "rollout2.out.csv"), "w") as f:
        for r in y.numpy():
            f.write("0," + ",".join("%.17g" % v for v in r) + "\n")
    with open(os.path.join(OUT, "rollout2.kinds"), "w") as f:
        f.write("MUL EXP POW RELU\n")
    ref = {"generator": "tests/data/gen_rollout_ref.py", "nets": []}
    cases = []
    for i in range(x.shape[0]):
        CAPTURE.clear()
        with torch.no_grad():
            two(x[i:i + 1])
        cases.append({"row": i, "maps": maps(list(CAPTURE), 5)})
    ref["nets"].append({"net": "tests/data/attn/rollout2.onnx", "data": "tests/data/attn/rollout2.in.csv",
                        "tokens": 5, "layers": 2, "cases": cases})
    # gen_attn.py's attn_block (one layer): the same module class, re-made from its seed
    torch.manual_seed(11)
    block = gen_attn.Block().double().eval()
    block.att.__class__ = CapAttention
    rows = np.loadtxt(os.path.join(OUT, "attn_block.in.csv"), delimiter=",")[:, 1:]
    want = np.loadtxt(os.path.join(OUT, "attn_block.out.csv"), delimiter=",")[:, 1:]
    cases = []
    for i in range(4):
        CAPTURE.clear()
        with torch.no_grad():
            y = block(torch.tensor(rows[i:i + 1], dtype=torch.float64))
        assert np.allclose(y.numpy()[0], want[i], rtol=0, atol=1e-12), "attn_block weights differ from gen_attn.py's"
        cases.append({"row": i, "maps": maps(list(CAPTURE), 4)})
    ref["nets"].append({"net": "tests/data/attn/attn_block.onnx", "data": "tests/data/attn/attn_block.in.csv",
                        "tokens": 4, "layers": 1, "cases": cases})
    with open(os.path.join(OUT, "rollout_ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print("rollout2.onnx, rollout2.in.csv, rollout_ref.json written")


if __name__ == "__main__":
    main()
