#!/usr/bin/python3
"""Generate tests/data/heldout/: ordinary torch.onnx.export models written
after the loader's features, not used to develop them (issue 19 acceptance
1, "a held-out set of ordinary exports"): one CNN with BatchNorm, a residual
block and a Softmax head, taking NHWC input (a permute in the model),
exported with a dynamic batch (dynamic_axes) at every opset from 11 to 17
(even opsets with torch's constant folding, odd ones without; torch 1.13
fuses eval-mode BatchNorms into the convs either way), and the same model
at opsets 9 and 15 with training=TrainingMode.PRESERVE, which keeps its two
BatchNormalization nodes (cnn_bn_kept_op*: the script asserts they are there).

Run with Debian's python (python3-torch 1.13, onnx 1.12):

    /usr/bin/python3 tests/data/gen_heldout.py

For every net NAME it writes heldout/NAME.onnx, NAME.in.csv (8 rows, NHWC
order, label column 0), NAME.out.csv (torch's float64 logits: cerbere drops
the trailing Softmax, certificates being about logits) and NAME.kinds.
Deterministic (torch.manual_seed).
"""
import io
import os

import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "heldout")
NROWS = 8
nn = torch.nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.b1 = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.b2 = nn.BatchNorm2d(4)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * 3 * 3, 5)
        self.softmax = True

    def forward(self, x):                     # x: [B, 6, 6, 3] (NHWC)
        x = x.permute(0, 3, 1, 2)
        h = torch.relu(self.b1(self.c1(x)))
        h = torch.relu(h + self.b2(self.c2(h)))   # residual
        h = self.pool(h)
        y = self.fc(h.reshape(h.size(0), -1))
        return torch.softmax(y, dim=1) if self.softmax else y


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(19)
    m = Net()
    with torch.no_grad():   # non-trivial running statistics
        for b in (m.b1, m.b2):
            b.running_mean.uniform_(-0.5, 0.5)
            b.running_var.uniform_(0.5, 2.0)
            b.weight.uniform_(0.5, 1.5)
            b.bias.uniform_(-0.3, 0.3)
    m = m.double().eval()
    x = torch.rand((NROWS, 6, 6, 3), dtype=torch.float64) * 2 - 1
    m.softmax = False
    with torch.no_grad():
        y = m(x)
    m.softmax = True
    for opset in range(11, 18):
        name = "cnn_bn_res_nhwc_op%d" % opset
        buf = io.BytesIO()
        torch.onnx.export(m, x[:2], buf, opset_version=opset, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                          do_constant_folding=opset % 2 == 0)
        with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
            f.write(buf.getvalue())
        for suf, t in ((".in.csv", x.reshape(NROWS, -1)), (".out.csv", y)):
            with open(os.path.join(OUT, name + suf), "w") as f:
                for r in t.numpy():
                    f.write("0," + ",".join("%.17g" % v for v in r) + "\n")
        with open(os.path.join(OUT, name + ".kinds"), "w") as f:
            f.write("RELU\n")
        print(name, "written")
    # The same model with its BatchNormalization nodes kept: training=PRESERVE
    # skips the eval-mode peephole that fuses them into the convs (the model is
    # in eval mode, so they are exported as inference-mode BatchNormalization).
    for opset in (9, 15):
        name = "cnn_bn_kept_op%d" % opset
        buf = io.BytesIO()
        torch.onnx.export(m, x[:2], buf, opset_version=opset, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        ops = [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
        assert ops.count("BatchNormalization") == 2, ops
        with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
            f.write(buf.getvalue())
        for suf, t in ((".in.csv", x.reshape(NROWS, -1)), (".out.csv", y)):
            with open(os.path.join(OUT, name + suf), "w") as f:
                for r in t.numpy():
                    f.write("0," + ",".join("%.17g" % v for v in r) + "\n")
        with open(os.path.join(OUT, name + ".kinds"), "w") as f:
            f.write("RELU\n")
        print(name, "written:", " ".join(ops))


if __name__ == "__main__":
    main()
