#!/usr/bin/python3
"""Generate tests/data/torch_elem/: small nets exported by torch.onnx.export
with the elementwise activations of the activation table (issue 19).

Run with Debian's python (python3-torch 1.13, onnx 1.12):

    /usr/bin/python3 tests/data/gen_torch_elem.py

For every net NAME it writes
    torch_elem/NAME.onnx     the model as torch exports it (float64 weights)
    torch_elem/NAME.in.csv   8 rows `0,x0,...` (label column = dummy 0)
    torch_elem/NAME.out.csv  8 rows `0,y0,...`: torch's own float64 outputs
    torch_elem/NAME.kinds    the activation kinds cerbere must load it into
Nets whose op torch 1.13 cannot export (the opset-20 Gelu op) are built
with onnx.helper from the same torch module's weights; their outputs still
come from torch.  Deterministic (torch.manual_seed per net).
"""
import io
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torch_elem")
NROWS = 8
nn = torch.nn


class Misc(nn.Module):
    """HardSwish, PReLU (per channel), Abs, Pow 2, Sqrt, Log, Reciprocal, Neg."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(5, 8)
        self.b = nn.Linear(8, 8)
        self.c = nn.Linear(8, 6)
        self.d = nn.Linear(6, 3)
        self.p = nn.PReLU(8)
        with torch.no_grad():
            self.p.weight.copy_(torch.linspace(-0.3, 0.6, 8))

    def forward(self, x):
        y = nn.functional.hardswish(self.a(x))
        y = self.p(self.b(y))
        y = self.c(y)
        z = torch.sqrt(y.pow(2) + 1.0) + torch.log(torch.abs(y) + 0.5)
        return self.d(torch.reciprocal(z + 1.5) + torch.neg(y))


def nets():
    torch.manual_seed(1)
    gelu_mlp = nn.Sequential(nn.Linear(6, 10), nn.GELU(), nn.Linear(10, 8), nn.GELU(), nn.Linear(8, 3))
    torch.manual_seed(2)
    silu_cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.SiLU(), nn.Conv2d(4, 4, 3, stride=2), nn.SiLU(),
                             nn.Flatten(), nn.Linear(36, 3))
    torch.manual_seed(3)
    misc = Misc()
    torch.manual_seed(4)
    gelu20 = nn.Sequential(nn.Linear(6, 10), nn.GELU(), nn.Linear(10, 3))
    torch.manual_seed(5)
    gelu20t = nn.Sequential(nn.Linear(6, 10), nn.GELU(approximate="tanh"), nn.Linear(10, 3))
    torch.manual_seed(6)
    conv1d = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.SiLU(), nn.MaxPool1d(2),
                           nn.Conv1d(4, 4, 3, stride=2, dilation=2, padding=2), nn.ReLU(), nn.AvgPool1d(2),
                           nn.Flatten(), nn.Linear(8, 3))
    torch.manual_seed(7)
    gelut = nn.Sequential(nn.Linear(6, 10), nn.GELU(approximate="tanh"), nn.Linear(10, 3))
    torch.manual_seed(8)
    resize = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
                           nn.Conv2d(2, 2, 3, stride=2), nn.Hardswish(), nn.Flatten(), nn.Linear(50, 3))
    return [
        ("conv1d", conv1d, (2, 16), "SILU RELU"),
        ("resize_nearest", resize, (1, 6, 6), "RELU HARD_SWISH"),
        ("gelu_tanh_mlp", gelut, (6,), "GELU_TANH"),
        ("gelu_mlp", gelu_mlp, (6,), "GELU"),
        ("silu_cnn", silu_cnn, (1, 8, 8), "SILU"),
        ("misc_elem", misc, (5,), "HARD_SWISH RELU ABS POW LOG"),
        ("gelu20_mlp", gelu20, (6,), "GELU"),
        ("gelu20_tanh_mlp", gelu20t, (6,), "GELU_TANH"),
    ]


def gelu20_model(m, approx):
    """Linear, Gelu (opset 20), Linear as an ONNX graph with m's weights."""
    l1, l2 = m[0], m[2]
    inits = [numpy_helper.from_array(t.detach().numpy().astype(np.float64), name=n) for n, t in
             (("W1", l1.weight), ("b1", l1.bias), ("W2", l2.weight), ("b2", l2.bias))]
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1, name="fc1"),
             helper.make_node("Gelu", ["h"], ["g"], approximate=approx, name="gelu"),
             helper.make_node("Gemm", ["g", "W2", "b2"], ["y"], transB=1, name="fc2")]
    g = helper.make_graph(nodes, "gelu20", [helper.make_tensor_value_info("x", TP.DOUBLE, [1, 6])],
                          [helper.make_tensor_value_info("y", TP.DOUBLE, [1, 3])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)], producer_name="gen_torch_elem.py")


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
            y = m(x)
        path = os.path.join(OUT, name + ".onnx")
        if name.startswith("gelu20"):
            onnx.save(gelu20_model(m, "tanh" if "tanh" in name else "none"), path)
        else:
            buf = io.BytesIO()
            torch.onnx.export(m, x[:1], buf, opset_version=14 if name in ("misc_elem", "resize_nearest") else 13,   # 14: HardSwish
                              input_names=["x"], output_names=["y"])
            with open(path, "wb") as f:
                f.write(buf.getvalue())
        write_csv(os.path.join(OUT, name + ".in.csv"), x.reshape(NROWS, -1).numpy())
        write_csv(os.path.join(OUT, name + ".out.csv"), y.reshape(NROWS, -1).numpy())
        with open(os.path.join(OUT, name + ".kinds"), "w") as f:
            f.write(kinds + "\n")
        print(name, "written")


if __name__ == "__main__":
    main()
