#!/usr/bin/python3
"""Reference Score-CAM and Opti-CAM maps for tests/test_attr_methods.c.

Run with /usr/bin/python3 (numpy, onnx, torch) from the repository root:
    /usr/bin/python3 tests/data/gen_cam_ref.py
It writes tests/data/cam/cam_ref.json.  The computation is independent of
cerbere's C code: the ONNX graph of nets/digits_cnn.onnx is run by torch
(float64, torch.nn.functional conv2d/linear/relu), upsampling is
torch.nn.functional.interpolate(bilinear, align_corners=False), and Opti-CAM's
gradient comes from torch autograd and its steps from torch.optim.Adam.
Definitions (certify/attr_cam.c):
  Score-CAM  U_k = up(A_k), M_k = (U_k - min) / (max - min),
             s_k = softmax(f(x * M_k))_c, a = softmax(s), cam = relu(sum a_k A_k),
             map = up(cam)
  Opti-CAM   w = 0 (K), a = softmax(w), S = sum a_k U_k, M = (S - min) / (max - min),
             STEPS Adam steps (lr LR) on -f_c(x * M); map = M after the last step.
"""
import json

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

NET, DATA, ROWS, STEPS, LR = "nets/digits_cnn.onnx", "nets/digits_test20.csv", [0, 1, 2, 5], 30, 0.1
NODES = ["/c1/Conv", "/c2/Conv"]

model = onnx.load(NET)
init = {t.name: torch.tensor(numpy_helper.to_array(t), dtype=torch.float64) for t in model.graph.initializer}


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def run(x, keep=None):
    """Logits (batch x 10) and, if keep names a node, that node's output."""
    env = {model.graph.input[0].name: x}
    kept = None
    for nd in model.graph.node:
        a = attrs(nd)
        ins = [env[i] if i in env else init[i] for i in nd.input]
        if nd.op_type == "Conv":
            p = a.get("pads", [0, 0, 0, 0])
            assert p[0] == p[2] and p[1] == p[3]
            y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", [1, 1]),
                         padding=(p[0], p[1]), dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
        elif nd.op_type == "Relu":
            y = F.relu(ins[0])
        elif nd.op_type == "Flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif nd.op_type == "Gemm":
            assert a.get("transB", 0) == 1 and a.get("transA", 0) == 0
            y = a.get("alpha", 1.0) * ins[0] @ ins[1].T + a.get("beta", 1.0) * ins[2]
        else:
            raise SystemExit("unsupported op " + nd.op_type)
        env[nd.output[0]] = y
        if nd.name == keep:
            kept = y
    return env[model.graph.output[0].name], kept


def up(a, H, W):
    return F.interpolate(a, size=(H, W), mode="bilinear", align_corners=False)


def norm(u):
    r = u.max() - u.min()
    return (u - u.min()) / r if r > 0 else torch.zeros_like(u)


rows = np.loadtxt(DATA, delimiter=",")
out = {"net": NET, "data": DATA, "steps": STEPS, "lr": LR, "cases": []}
for node in NODES:
    for r in ROWS:
        label, x = int(rows[r, 0]), torch.tensor(rows[r, 1:], dtype=torch.float64).reshape(1, 1, 8, 8)
        _, A = run(x, node)
        A = A.detach()[0]
        K = A.shape[0]
        U = up(A[None], 8, 8)[0]
        masks = torch.stack([norm(U[k]) for k in range(K)])
        logits, _ = run(x * masks[:, None])
        s = torch.softmax(logits, 1)[:, label]
        al = torch.softmax(s, 0)
        cam = torch.relu((al[:, None, None] * A).sum(0))
        score = up(cam[None, None], 8, 8)[0, 0]
        w = torch.zeros(K, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([w], lr=LR)
        for _ in range(STEPS):
            opt.zero_grad()
            M = norm((torch.softmax(w, 0)[:, None, None] * U).sum(0))
            loss = -run(x * M)[0][0, label]
            loss.backward()
            opt.step()
        M = norm((torch.softmax(w, 0)[:, None, None] * U).sum(0)).detach()
        out["cases"].append({"node": node, "row": r, "target": label, "scorecam": score.flatten().tolist(),
                             "opticam": M.flatten().tolist()})
with open("tests/data/cam/cam_ref.json", "w") as f:
    json.dump(out, f, indent=1)
print("wrote tests/data/cam/cam_ref.json:", len(out["cases"]), "cases")
