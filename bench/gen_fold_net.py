#!/usr/bin/python3
"""A ~10 MB ONNX export whose weights are computed in the graph (issue 19's
performance line: "loading a 10 MB ONNX file with folded subgraphs takes
under 0.2 s"; bench/load.c times it).

    /usr/bin/python3 bench/gen_fold_net.py OUT.onnx

An MLP 784-1024-1024-512-256-10 (2.5M float32 parameters, 10 MB) exported by
torch.onnx.export with do_constant_folding=False and a dynamic batch, so
every parametrisation stays in the graph as a weight-only subgraph that
cerbere folds at load:
  - weight normalisation W = g V / ||V||_row (ReduceL2, Div, Mul) on layers
    1 and 3;
  - spectral normalisation by one power iteration (u, v initializers:
    MatMul of matrix and vector, ReduceL2, Div, then W / sigma) on layer 2;
  - one Bjorck orthonormalisation step W = 1.5 V - 0.5 V V^T V (Transpose,
    two MatMuls of matrices, Mul, Sub) on layer 4;
  - x.view(x.size(0), -1) (Shape, Gather, Unsqueeze, Concat, Reshape).
Writes OUT.in.csv / OUT.out.csv (4 rows, torch float64 outputs) beside it.
Deterministic (torch.manual_seed(0)).
"""
import io
import sys

import torch

nn = torch.nn


class WN(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.v = nn.Parameter(torch.randn(o, i) / i ** 0.5)
        self.g = nn.Parameter(torch.rand(o, 1) + 0.5)
        self.b = nn.Parameter(torch.randn(o) * 0.1)

    def forward(self, x):
        w = self.g * self.v / torch.norm(self.v, dim=1, keepdim=True)
        return x @ w.t() + self.b


class SN(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.w = nn.Parameter(torch.randn(o, i) / i ** 0.5)
        self.u = nn.Parameter(torch.randn(o))
        self.b = nn.Parameter(torch.randn(o) * 0.1)

    def forward(self, x):
        v = self.w.t() @ self.u
        v = v / torch.norm(v)
        u = self.w @ v
        u = u / torch.norm(u)
        sigma = torch.dot(u, self.w @ v)
        return x @ (self.w / sigma).t() + self.b


class BJ(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.v = nn.Parameter(torch.randn(o, i) / i ** 0.5 / 1.5)
        self.b = nn.Parameter(torch.randn(o) * 0.1)

    def forward(self, x):
        w = 1.5 * self.v - 0.5 * (self.v @ self.v.t() @ self.v)
        return x @ w.t() + self.b


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3, self.l4 = WN(784, 1024), SN(1024, 1024), WN(1024, 512), BJ(512, 256)
        self.l5 = nn.Linear(256, 10)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        for l in (self.l1, self.l2, self.l3, self.l4):
            x = torch.relu(l(x))
        return self.l5(x)


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    m = Net().eval()
    x = torch.rand(4, 1, 28, 28)
    buf = io.BytesIO()
    torch.onnx.export(m, x[:1], buf, opset_version=13, do_constant_folding=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    with open(out, "wb") as f:
        f.write(buf.getvalue())
    md = m.double()
    with torch.no_grad():
        y = md(x.double())
    base = out[:-5] if out.endswith(".onnx") else out
    for suf, t in ((".in.csv", x.double().reshape(4, -1)), (".out.csv", y)):
        with open(base + suf, "w") as f:
            for r in t.numpy():
                f.write("0," + ",".join("%.17g" % v for v in r) + "\n")
    print(out, len(buf.getvalue()), "bytes")


if __name__ == "__main__":
    main()
