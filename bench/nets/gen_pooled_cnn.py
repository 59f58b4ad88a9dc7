"""Pooled conv net for bench/ (issue 24: receptive-field pass through MaxPool).
MNIST-shaped 1x28x28: conv3x3(8) relu maxpool2 conv3x3(16) relu maxpool2
conv3x3(16) relu avgpool2 flatten linear(10).  Weights: torch.manual_seed(0),
default init (untrained: a timing net, not an accuracy one).  Also writes
pooled_cnn.csv: 5 rows label,x (seeded uniform [0,1] pixels, label = argmax).
Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx)."""
import os, torch, torch.nn as nn
torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
    nn.Flatten(), nn.Linear(16 * 3 * 3, 10))
d = os.path.dirname(os.path.abspath(__file__))
x = torch.zeros(1, 1, 28, 28)
torch.onnx.export(net, x, os.path.join(d, "pooled_cnn.onnx"), opset_version=11, input_names=["input"], output_names=["output"])
g = torch.Generator().manual_seed(1)
with open(os.path.join(d, "pooled_cnn.csv"), "w") as f:
    for _ in range(5):
        xi = torch.rand(1, 1, 28, 28, generator=g)
        y = int(net(xi).argmax())
        f.write(",".join([str(y)] + ["%.6f" % v for v in xi.flatten().tolist()]) + "\n")
