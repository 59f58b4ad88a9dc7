"""CIFAR-style test nets for issue 20's acceptance 2 (normalisation is exact).

A small conv net on 3 x 8 x 8 images in [0, 1] is exported twice with
Debian's python3-torch (float64, opset 13):
  normalise/cifar_plain.onnx  the net alone: it reads normalised images;
  normalise/cifar_builtin.onnx the same weights behind (x - mean) / std per
                               channel (Sub and Div nodes in the ONNX file);
and normalise/raw.csv holds 30 raw images (label = the built-in net's class,
so every row is certified or refuted, not refused).  tests/run_normalise.sh
certifies cifar_plain with --mean/--std on raw.csv and cifar_builtin without,
and compares verdicts and radii.  Run from the repository root:
  /usr/bin/python3 tests/data/gen_cifar_norm.py   (Debian's python3 with torch and numpy)
"""
import numpy as np
import torch

MEAN = [0.4914, 0.4822, 0.4465]   # the usual CIFAR-10 statistics
STD = [0.2470, 0.2435, 0.2616]
OUT = "tests/data/normalise/"
torch.manual_seed(7)
torch.set_default_dtype(torch.float64)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 6, 3, padding=1)
        self.c2 = torch.nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.c2(x))
        return self.fc(x.flatten(1))


class Normalised(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


net = Net().eval()
full = Normalised(net).eval()
x0 = torch.zeros(1, 3, 8, 8)
torch.onnx.export(net, x0, OUT + "cifar_plain.onnx", opset_version=13, input_names=["x"], output_names=["y"])
torch.onnx.export(full, x0, OUT + "cifar_builtin.onnx", opset_version=13, input_names=["x"], output_names=["y"])
rng = np.random.default_rng(3)
X = rng.uniform(0, 1, size=(30, 3, 8, 8))
with torch.no_grad():
    y = full(torch.tensor(X)).argmax(1).numpy()
with open(OUT + "raw.csv", "w") as f:
    for k in range(len(X)):
        f.write(",".join([str(int(y[k]))] + ["%.17g" % v for v in X[k].ravel()]) + "\n")
with open(OUT + "mean_std.txt", "w") as f:
    f.write(",".join("%.17g" % v for v in MEAN) + "\n" + ",".join("%.17g" % v for v in STD) + "\n")
