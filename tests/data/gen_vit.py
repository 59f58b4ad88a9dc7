#!/usr/bin/python3
"""Generate tests/data/vit/ (issue 19): a tiny vision transformer trained on
the 8x8 digits, and small nets exercising LayerNorm (opset 17 and the
decomposed export), reductions and selections on computed tensors.

Run with Debian's python (python3-torch 1.13, onnx 1.12):

    /usr/bin/python3 tests/data/gen_vit.py

For every net NAME it writes, as gen_attn.py does,
    vit/NAME.onnx     the model as torch.onnx.export writes it (float64 weights)
    vit/NAME.in.csv   8 rows `0,x0,...` (label column = dummy 0), x flattened
    vit/NAME.out.csv  8 rows `0,y0,...`: torch's own float64 outputs
    vit/NAME.kinds    the kinds cerbere must load it into
    vit/vit_digits.pt the trained ViT's state_dict (torch.save), read by
                      bench/vit_vs_alirpa.py to build the same module for auto_LiRPA

vit_digits: 4x4 patches (a Conv 4x4 stride 4, 16 channels), a CLS token
(Concat of a parameter), learned position embeddings, 2 pre-LN blocks of
2-head self-attention and a GELU MLP (16 -> 32 -> 16), a final LayerNorm and
a linear head on the CLS token (Gather).  nn.LayerNorm, opset 17: the
LayerNormalization op.  Trained (Adam, seeded, float64) on the first 300
rows of nets/digits_test.csv (the 8x8 digits, pixels / 16; sklearn is not
available, and this is a test net); accuracy on the last 60 rows is printed
and recorded in vit/PROVENANCE.  Its in.csv rows are the first 8 digits.
ln17: opset-17 LayerNormalization, Add of two activations, Concat with a
constant (`--only ln17` writes it alone, without training the ViT).
ln_ops: LayerNorm written out (mean, sub, pow, mean, add, sqrt, div: the
decomposed export) and ReduceSum / ReduceMean over two axes, ReduceL2,
Slice, Gather, Expand, Where with a constant mask, Sub of broadcast
computed tensors, Concat with a constant (opset 13, random weights).
"""
import io
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "vit")
NROWS = 8
# --only ln17 writes ln17 alone (the others need the ViT's 400 epochs of training)
ONLY = sys.argv[sys.argv.index("--only") + 1:] if "--only" in sys.argv else None
nn = torch.nn
GELU = nn.GELU   # bench/vit_vs_alirpa.py swaps in auto_LiRPA's GELU module (the same function)


class LayerNormDecomposed(nn.Module):
    """LayerNorm over the last axis written with elementary ops (what older
    exporters and auto_LiRPA's transformer examples produce)."""

    def __init__(self, D, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(D))
        self.bias = nn.Parameter(torch.zeros(D))
        self.eps = eps

    def forward(self, x):
        c = x - x.mean(dim=-1, keepdim=True)
        v = (c ** 2).mean(dim=-1, keepdim=True)
        return c / torch.sqrt(v + self.eps) * self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, T, D, H):
        super().__init__()
        self.T, self.D, self.H = T, D, H
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))

    def forward(self, x):
        T, D, H, B = self.T, self.D, self.H, x.shape[0]
        d = D // H
        q = self.q(x).view(B, T, H, d).transpose(1, 2)
        k = self.k(x).view(B, T, H, d).transpose(1, 2)
        v = self.v(x).view(B, T, H, d).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-2, -1) / d ** 0.5, dim=-1)
        y = (a @ v).transpose(1, 2).reshape(B, T, D)
        return self.o(y)


class Block(nn.Module):
    def __init__(self, T, D, H, LN):
        super().__init__()
        self.ln1, self.ln2 = LN(D), LN(D)
        self.att = Attention(T, D, H)
        self.mlp = nn.Sequential(nn.Linear(D, 2 * D), GELU(), nn.Linear(2 * D, D))

    def forward(self, x):
        x = x + self.att(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    """8x8 image, 4x4 patches -> 4 tokens + CLS, dimension 16, 2 heads, 2 blocks."""

    def __init__(self, D=16, H=2, depth=2, C=10, LN=nn.LayerNorm):
        super().__init__()
        self.D = D
        self.patch = nn.Conv2d(1, D, 4, stride=4)
        self.cls = nn.Parameter(torch.randn(1, 1, D) * 0.1)
        self.pos = nn.Parameter(torch.randn(1, 5, D) * 0.1)
        self.blocks = nn.Sequential(*[Block(5, D, H, LN) for _ in range(depth)])
        self.ln = LN(D)
        self.head = nn.Linear(D, C)

    def forward(self, x):
        p = self.patch(x.view(-1, 1, 8, 8)).flatten(2).transpose(1, 2)   # [1, 4, D]
        x = torch.cat([self.cls.expand(p.shape[0], 1, self.D), p], dim=1) + self.pos
        x = self.ln(self.blocks(x))
        return self.head(x[:, 0])


class LnOps(nn.Module):
    """Decomposed LayerNorm, reductions and selections on computed tensors."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(12, 24)
        self.ln = LayerNormDecomposed(6)
        self.b = nn.Linear(6, 5)
        self.register_buffer("mask", torch.tensor([[True, False, True, True, False]]))
        self.c0 = nn.Parameter(torch.randn(1, 1, 6))
        self.d = nn.Linear(26, 3)
        with torch.no_grad():
            self.ln.weight.copy_(torch.linspace(0.5, 1.5, 6))
            self.ln.bias.copy_(torch.linspace(-0.2, 0.3, 6))

    def forward(self, x):
        h = torch.tanh(self.a(x)).view(1, 4, 6)
        h = torch.cat([self.c0, self.ln(h)], dim=1)                     # Concat with a constant: [1, 5, 6]
        s = h.sum(dim=(1, 2), keepdim=True)                              # ReduceSum over two axes
        m = h.mean(dim=1)                                                # ReduceMean: [1, 6]
        n = h.norm(p=2, dim=-1)                                          # ReduceL2: [1, 5]
        g = h[:, 2]                                                      # Gather (axis 1): [1, 6]
        sl = h[:, 1:4, 2:5].reshape(1, 9)                                # Slice
        e = m.unsqueeze(1).expand(1, 2, 6).reshape(1, 12)                # Expand
        w = torch.where(self.mask, torch.sigmoid(self.b(g)), n)         # Where, constant condition
        d = (h - m.unsqueeze(1))[:, :, 0]                                # Sub with broadcasting
        z = torch.cat([w, sl, e[:, :7], d], dim=1) * 0.5 + s.view(1, 1) * 0.01
        return self.d(z)


class Ln17(nn.Module):
    """Opset-17 LayerNormalization, Add of two activations (a residual over a
    sigmoid branch), Concat with a constant (tests/test_jacobian.c)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(10, 12)
        self.ln = nn.LayerNorm(6)
        self.b = nn.Linear(6, 6)
        self.c0 = nn.Parameter(torch.randn(1, 1, 6))
        self.d = nn.Linear(18, 4)
        with torch.no_grad():
            self.ln.weight.copy_(torch.linspace(1.5, 0.5, 6))
            self.ln.bias.copy_(torch.linspace(0.3, -0.2, 6))

    def forward(self, x):
        h = self.ln(torch.tanh(self.a(x)).view(1, 2, 6))
        h = h + torch.sigmoid(self.b(h))                                # Add of two activations
        h = torch.cat([self.c0, h], dim=1)                               # Concat with a constant: [1, 3, 6]
        return self.d(h.reshape(1, 18))


def load_digits():
    rows = [l.strip().split(",") for l in open(os.path.join(ROOT, "nets", "digits_test.csv")) if l.strip()]
    y = torch.tensor([int(r[0]) for r in rows])
    x = torch.tensor([[float(v) for v in r[1:]] for r in rows], dtype=torch.float64)
    return x, y


def train_vit(x, y):
    torch.manual_seed(19)
    m = ViT().double()
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    xs, ys = x[:300], y[:300]
    for ep in range(400):
        perm = torch.randperm(300)
        for i in range(0, 300, 50):
            idx = perm[i:i + 50]
            out = m(xs[idx])
            loss = nn.functional.cross_entropy(out, ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    m.eval()
    with torch.no_grad():
        pred = m(x).argmax(1)
    acc_tr = float((pred[:300] == y[:300]).double().mean())
    acc_te = float((pred[300:] == y[300:]).double().mean())
    print("vit_digits: train accuracy %.3f, held-out (last 60 rows) %.3f" % (acc_tr, acc_te))
    return m, acc_tr, acc_te


def ln17():
    torch.manual_seed(23)
    m = Ln17().double()
    torch.manual_seed(101)
    return ("ln17", m, torch.rand((NROWS, 10), dtype=torch.float64) * 2 - 1, 17, "MUL POW SIGMOID TANH CONCAT")


def nets():
    """(name, module, input rows, opset, kinds); the ViT is trained here."""
    if ONLY == ["ln17"]:
        return [ln17()], None
    x, y = load_digits()
    vit, acc_tr, acc_te = train_vit(x, y)
    torch.manual_seed(21)
    ops = LnOps().double()
    torch.manual_seed(100)
    xo = torch.rand((NROWS, 12), dtype=torch.float64) * 2 - 1
    return [
        ("vit_digits", vit, x[:NROWS], 17, "MUL EXP POW GELU CONCAT"),
        ("ln_ops", ops, xo, 13, "MUL POW SIGMOID TANH CONCAT"),
        ln17(),
    ], (acc_tr, acc_te)


def write_csv(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write("0," + ",".join("%.17g" % v for v in r) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    built, acc = nets()
    for name, m, x, opset, kinds in built:
        m = m.double().eval()
        with torch.no_grad():
            yv = torch.cat([m(x[i:i + 1]) for i in range(NROWS)])
        buf = io.BytesIO()
        torch.onnx.export(m, x[:1], buf, opset_version=opset, input_names=["x"], output_names=["y"])
        with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
            f.write(buf.getvalue())
        write_csv(os.path.join(OUT, name + ".in.csv"), x.reshape(NROWS, -1).numpy())
        write_csv(os.path.join(OUT, name + ".out.csv"), yv.reshape(NROWS, -1).numpy())
        with open(os.path.join(OUT, name + ".kinds"), "w") as f:
            f.write(kinds + "\n")
        print(name, "written")
    if acc is None:
        return
    torch.save(built[0][1].state_dict(), os.path.join(OUT, "vit_digits.pt"))
    with open(os.path.join(OUT, "accuracy.txt"), "w") as f:
        f.write("vit_digits train accuracy (rows 0-299 of nets/digits_test.csv) %.4f\n" % acc[0])
        f.write("vit_digits held-out accuracy (rows 300-359) %.4f\n" % acc[1])


if __name__ == "__main__":
    main()
