#!/usr/bin/python3
"""Generate tests/data/attn/: small attention nets exported by torch.onnx.export
(issue 19: products of activations, Softmax inside the net).

Run with Debian's python (python3-torch 1.13, onnx 1.12):

    /usr/bin/python3 tests/data/gen_attn.py

For every net NAME it writes, as gen_torch_elem.py does,
    attn/NAME.onnx     the model as torch exports it (float64 weights, opset 13)
    attn/NAME.in.csv   8 rows `0,x0,...` (label column = dummy 0), x flattened
    attn/NAME.out.csv  8 rows `0,y0,...`: torch's own float64 outputs
    attn/NAME.kinds    the kinds cerbere must load it into
Weights are random (torch.manual_seed per net), not trained: the nets check
loading, the forward pass and the soundness of bounds, not accuracy.
"""
import io
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "attn")
NROWS = 8
nn = torch.nn


class Attention(nn.Module):
    """Multi-head self-attention on [1, T, D], heads of D / H, written out as
    torch users do (view, transpose, q @ k^T / sqrt(d), softmax, @ v)."""

    def __init__(self, T, D, H):
        super().__init__()
        self.T, self.D, self.H = T, D, H
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))

    def forward(self, x):
        T, D, H = self.T, self.D, self.H
        d = D // H
        q = self.q(x).view(1, T, H, d).transpose(1, 2)
        k = self.k(x).view(1, T, H, d).transpose(1, 2)
        v = self.v(x).view(1, T, H, d).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-2, -1) / d ** 0.5, dim=-1)
        y = (a @ v).transpose(1, 2).reshape(1, T, D)
        return self.o(y)


class Block(nn.Module):
    """A 2-layer attention block: x + attention(x), then + a ReLU MLP, then a
    linear read-out of the flattened tokens."""

    def __init__(self, T=4, D=8, H=2, C=3):
        super().__init__()
        self.T, self.D = T, D
        self.att = Attention(T, D, H)
        self.mlp = nn.Sequential(nn.Linear(D, 2 * D), nn.ReLU(), nn.Linear(2 * D, D))
        self.head = nn.Linear(T * D, C)

    def forward(self, x):
        x = x.view(1, self.T, self.D)
        x = x + self.att(x)
        x = x + self.mlp(x)
        return self.head(x.reshape(1, self.T * self.D))


class Gated(nn.Module):
    """Products and quotients of activations: a sigmoid gate times a branch,
    a division by a positive branch, and a LogSoftmax over the features."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(6, 8), nn.Linear(6, 8), nn.Linear(6, 8)
        self.d = nn.Linear(8, 3)

    def forward(self, x):
        g = torch.sigmoid(self.a(x)) * torch.tanh(self.b(x))
        g = g / (torch.exp(self.c(x) * 0.2) + 0.5)
        return self.d(torch.log_softmax(g, dim=-1))


def nets():
    torch.manual_seed(11)
    block = Block()
    torch.manual_seed(12)
    gated = Gated()
    return [
        ("attn_block", block, (32,), "MUL SOFTMAX_POW RELU"),
        ("gated", gated, (6,), "MUL SIGMOID TANH EXP POW LOG"),
    ]


def write_csv(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write("0," + ",".join("%.17g" % v for v in r) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, m, shape, kinds in nets():
        m = m.double().eval()
        torch.manual_seed(100)
        x = torch.rand((NROWS,) + shape, dtype=torch.float64) * 2 - 1
        with torch.no_grad():
            y = torch.cat([m(x[i:i + 1]) for i in range(NROWS)])
        buf = io.BytesIO()
        torch.onnx.export(m, x[:1], buf, opset_version=13, input_names=["x"], output_names=["y"])
        with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
            f.write(buf.getvalue())
        write_csv(os.path.join(OUT, name + ".in.csv"), x.reshape(NROWS, -1).numpy())
        write_csv(os.path.join(OUT, name + ".out.csv"), y.reshape(NROWS, -1).numpy())
        with open(os.path.join(OUT, name + ".kinds"), "w") as f:
            f.write(kinds.replace("SOFTMAX_POW", "EXP POW") + "\n")
        print(name, "written")


if __name__ == "__main__":
    main()
