#!/usr/bin/python3
"""Generate tests/data/upsample/: nets with the ONNX `Upsample` op (opsets
7-9, deprecated from 10; issue 19), exported by torch.onnx.export.

Run with Debian's python (python3-torch 1.13, onnx 1.12):

    /usr/bin/python3 tests/data/gen_upsample.py

torch exports F.interpolate / nn.Upsample at opsets 7 and 8 as Upsample
with a `scales` attribute, at opset 9 with a constant scales input.  For
every net NAME it writes
    upsample/NAME.onnx     the model (float64 weights)
    upsample/NAME.in.csv   8 rows `0,x0,...` (label column = dummy 0)
    upsample/NAME.out.csv  8 rows `0,y0,...`: float64 reference outputs
    upsample/NAME.kinds    node kinds cerbere must load it into
The ONNX meaning of Upsample is Resize-10's: asymmetric coordinates
x = o / scale, nearest index floor(x), linear weights from x.  Nearest with
integer scales is what torch computes (its own float64 outputs are the
reference).  Torch's bilinear is half-pixel, not asymmetric (the exporter
warns): for the linear nets the reference replaces the interpolation by
gen_resize.py's `resize_matrix` in mode "asymmetric" (onnx's reference
rule in exact rationals, checked there against torch).  The script asserts
that every exported graph holds exactly one Upsample node and the opset
asked for.  Deterministic (torch.manual_seed per net).
"""
import io
import os
import sys

import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_resize import check_reference, resize_matrix, write_csv  # noqa: E402

OUT = os.path.join(HERE, "upsample")
NROWS = 8
nn = torch.nn
F = torch.nn.functional


class Up(nn.Module):
    """F.interpolate (exported), or the ONNX-asymmetric reference for linear."""

    def __init__(self, scale, mode, hw):
        super().__init__()
        self.scale, self.mode, self.size = scale, mode, (hw * scale, hw * scale)   # a constant size: opsets 7, 8 need it
        self.reference = False

    def forward(self, x):
        if not self.reference or self.mode == "nearest":
            return F.interpolate(x, size=self.size, mode=self.mode)
        return resize_matrix(x, "asymmetric", self.size, (self.scale, self.scale))


def cnn(seed, cin, hw, up, k_out=3):
    torch.manual_seed(seed)
    hw_up = int(hw * up.scale)
    h2 = (hw_up - 3) // 2 + 1
    return nn.Sequential(nn.Conv2d(cin, 2, 3, padding=1), nn.ReLU(), up, nn.Conv2d(2, 2, 3, stride=2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(2 * h2 * h2, k_out))


def nets():
    """(name, module, input shape, kinds, opset)."""
    return [
        ("up7_nearest", cnn(21, 1, 4, Up(2, "nearest", 4)), (1, 4, 4), "RELU", 7),
        ("up8_nearest3", cnn(22, 2, 3, Up(3, "nearest", 3)), (2, 3, 3), "RELU", 8),
        ("up9_nearest", cnn(23, 1, 4, Up(2, "nearest", 4)), (1, 4, 4), "RELU", 9),
        ("up7_linear", cnn(24, 1, 4, Up(2, "bilinear", 4)), (1, 4, 4), "RELU", 7),
        ("up9_linear", cnn(25, 2, 3, Up(2, "bilinear", 3)), (2, 3, 3), "RELU", 9),
    ]


def refused():
    """upsample/refused/up_down.onnx: an opset-9 Upsample with scales 0.5 (the
    spec requires >= 1), which cerbere refuses by name (tests/cli/cases.txt)."""
    from onnx import TensorProto, helper
    d = os.path.join(OUT, "refused")
    os.makedirs(d, exist_ok=True)
    sc = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 0.5, 0.5])
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], mode="nearest")
    g = helper.make_graph([node], "up_down", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 2])], [sc])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 9)], producer_name="gen_upsample.py")
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "up_down.onnx"))
    print("refused/up_down written")


def main():
    check_reference()
    os.makedirs(OUT, exist_ok=True)
    refused()
    for name, m, shape, kinds, opset in nets():
        m = m.double().eval()
        torch.manual_seed(100)
        x = torch.rand((NROWS,) + shape, dtype=torch.float64) * 2 - 1
        buf = io.BytesIO()
        torch.onnx.export(m, x[:1], buf, opset_version=opset, input_names=["x"], output_names=["y"])
        model = onnx.load_from_string(buf.getvalue())
        ops = [n.op_type for n in model.graph.node]
        assert ops.count("Upsample") == 1 and "Resize" not in ops, (name, ops)
        assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [opset], name
        m[2].reference = True
        with torch.no_grad():
            y = m(x)
        onnx.save(model, os.path.join(OUT, name + ".onnx"))
        write_csv(os.path.join(OUT, name + ".in.csv"), x.reshape(NROWS, -1).numpy())
        write_csv(os.path.join(OUT, name + ".out.csv"), y.reshape(NROWS, -1).numpy())
        with open(os.path.join(OUT, name + ".kinds"), "w") as f:
            f.write(kinds + "\n")
        print(name, "written:", " ".join(ops))


if __name__ == "__main__":
    main()
