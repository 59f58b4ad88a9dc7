#!/usr/bin/python3
"""Layer by layer: cerbere's intermediate boxes on the tiny ViT against
auto_LiRPA 0.5.0's (issue 19 acceptance 3: where are we looser?).

    make build/bench/node_bounds
    /usr/bin/python3 bench/vit_layers.py EPS ROW

auto_LiRPA bounds the module of bench/vit_vs_alirpa.py (CROWN, 'backward')
and keeps a box on every node whose bound it needs; cerbere's boxes come
from build/bench/node_bounds.  The two graphs differ (auto_LiRPA: softmax
as exp * reciprocal(sum exp), LayerNorm as sqrt and reciprocal; cerbere:
1 / sum_j exp(x_j - x_i), (var + eps)^-0.5), so nodes are matched by their
values at the centre (same size, sorted values equal to 1e-6 relative; the
last cerbere node that matches), entries by the order of those values.
Prints per matched node the mean widths and how many box ends of cerbere's
are looser than auto_LiRPA's, with the worst amount.
"""
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EPS, ROW = float(sys.argv[1]), int(sys.argv[2])
sys.argv = sys.argv[:1]
sys.path.insert(0, HERE)
import vit_vs_alirpa as V  # noqa: E402


def alirpa_nodes():
    torch.set_default_dtype(torch.float64)
    model = V.ViTA(LN=V.gen.LayerNormDecomposed).double()
    model.load_state_dict(torch.load(os.path.join(ROOT, "tests/data/vit/vit_digits.pt")))
    model.eval()
    x = V.read_rows(os.path.join(ROOT, "tests/data/vit/vit_digits.in.csv"))[ROW]
    xt = torch.tensor(x[None, :])
    bm = V.BoundedModule(model, torch.zeros_like(xt), device="cpu", verbose=0)
    bx = V.BoundedTensor(xt, V.PerturbationLpNorm(norm=np.inf, eps=EPS))
    bm(bx)
    bm.compute_bounds(x=(bx,), method="backward")
    out = []
    for n in bm.nodes():
        fv = getattr(n, "forward_value", None)
        lo = getattr(n, "lower", None)
        if (not isinstance(fv, torch.Tensor) or fv.numel() < 2 or not isinstance(lo, torch.Tensor)
                or type(n).__name__ in ("BoundParams", "BoundConstant", "BoundBuffers")):
            continue
        out.append({"h": "%s %s" % (n.name, type(n).__name__), "C": fv.detach().flatten().numpy(),
                    "L": n.lower.detach().flatten().numpy(), "U": n.upper.detach().flatten().numpy()})
    return out


def cerbere_nodes():
    txt = subprocess.run([os.path.join(ROOT, "build/bench/node_bounds"), os.path.join(ROOT, "tests/data/vit/vit_digits.onnx"),
                          os.path.join(ROOT, "tests/data/vit/vit_digits.in.csv"), str(EPS), str(ROW)],
                         check=True, capture_output=True, text=True).stdout
    out, cur = [], None
    for line in txt.splitlines():
        t = line.split()
        if t[0] == "N":
            cur = {"h": " ".join(t[1:])}
            out.append(cur)
        else:
            cur[t[0]] = np.array([float(v) for v in t[1:]])
    return out


def main():
    A, B = alirpa_nodes(), cerbere_nodes()
    for a in A:
        n, sa = len(a["C"]), np.argsort(a["C"])
        best = None
        for b in B:
            if len(b["C"]) == n and np.max(np.abs(a["C"][sa] - np.sort(b["C"]))) <= 1e-6 * (1e-9 + np.max(np.abs(a["C"]))):
                best = b
        if best is None:
            print("%-32s (no cerbere node with these values)" % a["h"])
            continue
        sb = np.argsort(best["C"])
        dl, du = a["L"][sa] - best["L"][sb], best["U"][sb] - a["U"][sa]
        wa, wb = np.mean(a["U"] - a["L"]), np.mean(best["U"] - best["L"])
        print("%-32s %-48s width auto_LiRPA %.4g cerbere %.4g; cerbere looser: %d of %d lower ends (worst %.2g), "
              "%d of %d upper (worst %.2g)" % (a["h"], best["h"][:48], wa, wb, np.sum(dl > 1e-9), n, dl.max(),
                                              np.sum(du > 1e-9), n, du.max()))


if __name__ == "__main__":
    main()
