#!/usr/bin/python3
"""Independent replay of `cerbere verify` witnesses on collins_rul_cnn.

usage: bench/collins_replay.py NET.onnx PROP.vnnlib VERIFY.json

Reads the VNNLIB box and output band with a regular expression, evaluates the
ONNX net (Conv/Relu/Dropout/Flatten only, as these nets are) in float64 with
torch, and prints whether the witness in VERIFY.json lies in the box and puts
Y_0 in the band.  It shares no code with cerbere.  Exit 0 when it does.
"""
import json, re, sys
import numpy as np, onnx, torch
import torch.nn.functional as F
from onnx import numpy_helper

net, prop, js = sys.argv[1:4]
txt = open(prop).read()
lo, hi = {}, {}
for m in re.finditer(r'\(assert \((>=|<=) X_(\d+) ([-+0-9.eE]+)\)\)', txt):
    op, i, v = m.groups()
    (lo if op == '>=' else hi)[int(i)] = float(v)
band = re.search(r'\(>= Y_0 ([-+0-9.eE]+)\) \(<= Y_0 ([-+0-9.eE]+)\)', txt)
m = onnx.load(net)
W = {t.name: torch.tensor(numpy_helper.to_array(t).astype(np.float64))
     for t in m.graph.initializer}
inits = {t.name for t in m.graph.initializer}
inp = [i for i in m.graph.input if i.name not in inits][0]
shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
n = len(lo)
L = torch.tensor([lo[i] for i in range(n)], dtype=torch.float64)
H = torch.tensor([hi[i] for i in range(n)], dtype=torch.float64)
x = torch.tensor(json.load(open(js))['x'], dtype=torch.float64)
h = x.reshape(shape)
for node in m.graph.node:
    if node.op_type == 'Conv':
        a = {t.name: onnx.helper.get_attribute_value(t) for t in node.attribute}
        h = F.conv2d(h, W[node.input[1]], W[node.input[2]],
                     stride=a.get('strides', [1, 1]))
    elif node.op_type == 'Relu':
        h = torch.relu(h)
    elif node.op_type not in ('Dropout', 'Flatten'):
        sys.exit('unsupported op ' + node.op_type)
y = h.reshape(-1)[0].item()
inbox = bool(((x >= L) & (x <= H)).all())
ok = inbox and (band is None or float(band.group(1)) <= y <= float(band.group(2)))
print(f'in_box={inbox} y0={y!r} band={band.groups() if band else None} ok={ok}')
sys.exit(0 if ok else 1)
