#!/usr/bin/python3
"""Generate tests/data/resize/: nets with a linear-mode Resize (bilinear
interpolation) exported by torch.onnx.export (issue 19).

Run with Debian's python (python3-torch 1.13, onnx 1.12):

    /usr/bin/python3 tests/data/gen_resize.py

For every net NAME it writes
    resize/NAME.onnx     the model (float64 weights)
    resize/NAME.in.csv   8 rows `0,x0,...` (label column = dummy 0)
    resize/NAME.out.csv  8 rows `0,y0,...`: float64 reference outputs
    resize/NAME.kinds    node kinds cerbere must load it into
and resize/refused/*.onnx (see refused()).
The torch-mode nets (F.interpolate / nn.Upsample, bilinear, align_corners
True -> ONNX "align_corners", False -> "pytorch_half_pixel") get torch's own
float64 outputs.  Two more modes torch does not export ("asymmetric",
"half_pixel") are made by changing the attribute of an exported Resize;
their reference outputs come from the same module with the interpolation
replaced by `resize_matrix` below, an independent float64 implementation of
onnx's reference (onnx/reference/ops/op_resize.py, exact rationals via
fractions), which this script first checks against torch's F.interpolate on
the torch modes (to 1e-12).  Deterministic (torch.manual_seed per net).
"""
import io
import os
from fractions import Fraction

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "resize")
NROWS = 8
nn = torch.nn
F = torch.nn.functional


def taps(mode, o, n, out, scale):
    """[(index, weight)] of output coordinate o on one axis (ONNX linear)."""
    s = Fraction(scale)
    if mode == "align_corners":
        x = Fraction(o * (n - 1), out - 1) if out > 1 else Fraction(0)
    elif mode == "asymmetric":
        x = o / s
    elif mode == "pytorch_half_pixel" and out == 1:
        x = Fraction(-1, 2)
    else:   # half_pixel, pytorch_half_pixel
        x = (o + Fraction(1, 2)) / s - Fraction(1, 2)
    i = x.numerator // x.denominator
    w = x - i
    clamp = lambda k: min(max(k, 0), n - 1)
    return [(clamp(i), 1 - w), (clamp(i + 1), w)]


def axis_matrix(mode, n, out, scale):
    m = np.zeros((out, n))
    for o in range(out):
        for i, w in taps(mode, o, n, out, scale):
            m[o, i] += float(w)
    return m


def resize_matrix(x, mode, size, scale):
    """Bilinear resize of x [B, C, H, W] to size (H', W') as two 1-D maps."""
    _, _, h, w = x.shape
    mh = torch.tensor(axis_matrix(mode, h, size[0], scale[0]), dtype=torch.float64)
    mw = torch.tensor(axis_matrix(mode, w, size[1], scale[1]), dtype=torch.float64)
    return torch.einsum("oh,bchw,pw->bcop", mh, x, mw)


class Interp(nn.Module):
    """F.interpolate bilinear (torch), or resize_matrix with `mode` (reference)."""

    def __init__(self, size=None, scale=None, align_corners=False):
        super().__init__()
        self.size, self.scale, self.ac = size, scale, align_corners
        self.ref_mode = None

    def forward(self, x):
        if self.ref_mode is None:
            return F.interpolate(x, size=self.size, scale_factor=self.scale, mode="bilinear", align_corners=self.ac)
        h, w = x.shape[2:]
        if self.size is not None:
            size, scale = self.size, (Fraction(self.size[0], h), Fraction(self.size[1], w))
        else:
            size = (int(h * self.scale), int(w * self.scale))
            scale = (self.scale, self.scale)
        return resize_matrix(x, self.ref_mode, size, scale)


def cnn(seed, cin, hw, interp, hw_up, k_out=3):
    torch.manual_seed(seed)
    h2 = (hw_up - 3) // 2 + 1
    return nn.Sequential(nn.Conv2d(cin, 2, 3, padding=1), nn.ReLU(), interp, nn.Conv2d(2, 2, 3, stride=2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(2 * h2 * h2, k_out))


def nets():
    """(name, module, input shape, kinds, opset, ONNX mode override or None)."""
    return [
        # scale 2, align_corners: weights k/9 (inexact: rel_err path)
        ("bilinear_ac", cnn(11, 1, 5, Interp(scale=2.0, align_corners=True), 10), (1, 5, 5), "RELU", 11, None),
        # sizes 4 -> 7, pytorch_half_pixel: weights multiples of 1/14
        ("bilinear_hp", cnn(12, 1, 4, Interp(size=(7, 7)), 7), (1, 4, 4), "RELU", 13, None),
        # nn.Upsample(scale_factor=2, bilinear): pytorch_half_pixel, weights 1/4, 3/4 (exact)
        ("upsample", cnn(13, 2, 4, nn.Upsample(scale_factor=2, mode="bilinear"), 8), (2, 4, 4), "RELU", 17, None),
        # scale 1.5 (sizes 6 from 4), align_corners False: weights thirds
        ("bilinear_s15", cnn(14, 1, 4, Interp(scale=1.5), 6), (1, 4, 4), "RELU", 11, None),
        # the same net with the attribute changed to asymmetric / half_pixel
        ("bilinear_asym", cnn(14, 1, 4, Interp(scale=1.5), 6), (1, 4, 4), "RELU", 11, "asymmetric"),
        ("bilinear_halfpix", cnn(12, 1, 4, Interp(size=(7, 7)), 7), (1, 4, 4), "RELU", 13, "half_pixel"),
        # the Resize alone (small enough for test_kinds' walk): 3x3 -> 5x4, both torch modes
        ("resize_ac_only", Interp(size=(5, 4), align_corners=True), (2, 3, 3), "", 11, None),
        ("resize_hp_only", Interp(size=(4, 6)), (2, 3, 3), "", 13, None),   # eighths, quarters: exact
    ]


def check_reference():
    """resize_matrix agrees with torch on the torch modes."""
    torch.manual_seed(0)
    x = torch.rand((2, 3, 4, 5), dtype=torch.float64)
    for ac, mode in ((True, "align_corners"), (False, "pytorch_half_pixel")):
        for size in ((7, 9), (8, 10), (3, 2), (2, 5), (4, 5)):   # not 1: ONNX says x = -0.5 there, torch differs
            a = F.interpolate(x, size=size, mode="bilinear", align_corners=ac)
            b = resize_matrix(x, mode, size, (Fraction(size[0], 4), Fraction(size[1], 5)))
            assert torch.allclose(a, b, rtol=0, atol=1e-12), (mode, size)
        if not ac:
            for s in (2.0, 1.5, 0.5):
                a = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
                size = a.shape[2:]
                b = resize_matrix(x, mode, size, (s, s))
                assert torch.allclose(a, b, rtol=0, atol=1e-12), (mode, s)


def set_mode(model, mode):
    n = 0
    for node in model.graph.node:
        if node.op_type == "Resize":
            for a in node.attribute:
                if a.name == "coordinate_transformation_mode":
                    a.s = mode.encode()
                    n += 1
    assert n == 1


def write_csv(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write("0," + ",".join("%.17g" % v for v in r) + "\n")


def interp_of(m):
    return m if isinstance(m, Interp) else m[2]


def refused():
    """resize/refused/: exports cerbere must refuse by name (tests/cli/cases.txt):
    bicubic (mode "cubic") and tf_crop_and_resize (the attribute changed)."""
    d = os.path.join(OUT, "refused")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    x = torch.rand((1, 1, 4, 4), dtype=torch.float64)
    for name, mode, ct in (("resize_cubic", "bicubic", None), ("resize_crop", "bilinear", "tf_crop_and_resize")):
        m = nn.Upsample(scale_factor=2, mode=mode).double().eval()
        buf = io.BytesIO()
        torch.onnx.export(m, x, buf, opset_version=13, input_names=["x"], output_names=["y"])
        model = onnx.load_from_string(buf.getvalue())
        if ct:
            set_mode(model, ct)
        onnx.save(model, os.path.join(d, name + ".onnx"))
        print("refused/" + name, "written")


def main():
    check_reference()
    os.makedirs(OUT, exist_ok=True)
    refused()
    for name, m, shape, kinds, opset, mode in nets():
        m = m.double().eval()
        torch.manual_seed(100)
        x = torch.rand((NROWS,) + shape, dtype=torch.float64) * 2 - 1
        buf = io.BytesIO()
        torch.onnx.export(m, x[:1], buf, opset_version=opset, input_names=["x"], output_names=["y"])
        model = onnx.load_from_string(buf.getvalue())
        with torch.no_grad():
            if mode is not None:
                set_mode(model, mode)
                interp_of(m).ref_mode = mode
            y = m(x)
        onnx.save(model, os.path.join(OUT, name + ".onnx"))
        write_csv(os.path.join(OUT, name + ".in.csv"), x.reshape(NROWS, -1).numpy())
        write_csv(os.path.join(OUT, name + ".out.csv"), y.reshape(NROWS, -1).numpy())
        with open(os.path.join(OUT, name + ".kinds"), "w") as f:
            f.write(kinds + "\n")
        print(name, "written")


if __name__ == "__main__":
    main()
