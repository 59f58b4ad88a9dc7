#!/usr/bin/python3
"""Tightness of the new elementwise relaxations (issue 19) against auto_LiRPA
0.5.0 (/work/shared/peers), side by side on the same nets and balls.

For each activation A that auto_LiRPA bounds (Sqrt, Reciprocal, Log, Pow 2,
Pow 3, Abs, and SiLU / GELU as torch writes them), a net
    Linear(4, 8) -> [Exp, when A needs x > 0] -> A -> Linear(8, 3)
(float64, seeded) is exported to ONNX (opset 14), and both tools bound its 3
logits with CROWN and alpha-CROWN over L-inf balls (eps 0.05, 0.2) around 4
seeded points.  Printed per activation and method: the mean width of the
logit intervals (lower is tighter) for cerbere and auto_LiRPA, and their
ratio; "n/a" where auto_LiRPA refuses the net.

    /usr/bin/python3 bench/elem_vs_alirpa.py [build/cerbere]

Needs python3-torch, python3-onnx and the peer source tree; nothing is
installed.  Widths only: timing is not the point here (see bench/RESULTS.md).
"""
import io
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

PEER = "/work/shared/peers/auto_LiRPA_bfb7997"
sys.path.insert(0, PEER)
from auto_LiRPA import BoundedModule, BoundedTensor, PerturbationLpNorm  # noqa: E402

nn = torch.nn
CERBERE = sys.argv[1] if len(sys.argv) > 1 else "build/cerbere"


class Net(nn.Module):
    def __init__(self, act, positive):
        super().__init__()
        self.a, self.b, self.act, self.positive = nn.Linear(4, 8), nn.Linear(8, 3), act, positive

    def forward(self, x):
        y = self.a(x)
        if self.positive:
            y = torch.exp(y)
        return self.b(self.act(y))


ACTS = [
    ("sqrt", torch.sqrt, True), ("reciprocal", torch.reciprocal, True), ("log", torch.log, True),
    ("pow2", lambda y: y.pow(2), False), ("pow3", lambda y: y.pow(3), False), ("abs", torch.abs, False),
    ("silu", lambda y: y * torch.sigmoid(y), False), ("gelu", nn.functional.gelu, False),
]


def cerbere_widths(onnx_path, x, eps, method):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        for r in x:
            f.write("0," + ",".join("%.17g" % v for v in r) + "\n")
        csv = f.name
    out = csv + ".json"
    subprocess.run([CERBERE, "bounds", onnx_path, "--data", csv, "--norm", "inf", "--eps", str(eps), "--method", method,
                    "--json", out, "--quiet"], check=True, capture_output=True)
    with open(out) as fh:
        d = json.load(fh)
    os.unlink(csv); os.unlink(out)
    return [np.array(s["logit_ub"]) - np.array(s["logit_lb"]) for s in d["samples"]]


def alirpa_widths(model, x, eps, method):
    res = []
    for r in x:
        xt = torch.tensor(r[None, :], dtype=torch.float64)
        bm = BoundedModule(model, torch.zeros_like(xt), device="cpu", verbose=0)
        bx = BoundedTensor(xt, PerturbationLpNorm(norm=np.inf, eps=eps))
        lb, ub = bm.compute_bounds(x=(bx,), method="backward" if method == "crown" else "CROWN-Optimized")
        res.append((ub - lb).detach().numpy()[0])
    return res


def main():
    torch.set_default_dtype(torch.float64)
    print("%-11s %-12s %5s %12s %12s %8s" % ("activation", "method", "eps", "cerbere", "auto_LiRPA", "ratio"))
    for k, (name, f, pos) in enumerate(ACTS):
        torch.manual_seed(10 + k)
        model = Net(f, pos).double().eval()
        x = (torch.rand(4, 4, dtype=torch.float64) * 2 - 1).numpy()
        path = tempfile.mktemp(suffix=".onnx")
        buf = io.BytesIO()
        torch.onnx.export(model, torch.tensor(x[:1]), buf, opset_version=14)
        with open(path, "wb") as fh:
            fh.write(buf.getvalue())
        for eps in (0.05, 0.2):
            for method in ("crown", "alpha-crown"):
                try:
                    c = float(np.mean(cerbere_widths(path, x, eps, method)))
                except subprocess.CalledProcessError as e:
                    c = float("nan")
                    print("   cerbere refused:", e.stderr.decode().strip()[:200])
                try:
                    a = float(np.mean(alirpa_widths(model, x, eps, method)))
                except Exception as e:  # auto_LiRPA refuses the op
                    a = float("nan")
                    print("   auto_LiRPA refused:", str(e).splitlines()[0][:200] if str(e) else type(e).__name__)
                print("%-11s %-12s %5.2f %12.6g %12.6g %8.4f" % (name, method, eps, c, a, c / a if a == a else float("nan")))
        os.unlink(path)


if __name__ == "__main__":
    main()
