#!/usr/bin/python3
"""Reference attention rollout / raw attention maps of the tiny ViT
(tests/data/vit/vit_digits.onnx) for tests/test_attr_rollout.c.

Run with Debian's python (python3-torch 1.13) from the repository root:

    /usr/bin/python3 tests/data/gen_vit_rollout_ref.py

It rebuilds gen_vit.py's ViT from vit/vit_digits.pt (the trained state_dict),
with every LayerNorm's epsilon set to float32(1e-5), the value the ONNX file
holds (so the module is the function cerbere loads, not 5e-10 away from it),
checks its float64 outputs on the 8 rows of vit/vit_digits.in.csv against
vit/vit_digits.out.csv (to 1e-8: torch's own outputs, eps 1e-5 in double),
and writes vit/rollout_ref.json: for each row, the raw attention and the
rollout (mean / max / min over heads; query: the mean of the rows, the CLS
token 0, token 2) computed from the softmax tensors the module builds
(captured in forward), with gen_rollout_ref.py's definitions.  The
reference is torch's, independent of cerbere's graph matching.
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_rollout_ref  # noqa: E402
import gen_vit  # noqa: E402

OUT = os.path.join(HERE, "vit")
CAPTURE = []


def cap_forward(self, x):
    """gen_vit.Attention.forward, also recording its softmax output."""
    T, D, H, B = self.T, self.D, self.H, x.shape[0]
    d = D // H
    q = self.q(x).view(B, T, H, d).transpose(1, 2)
    k = self.k(x).view(B, T, H, d).transpose(1, 2)
    v = self.v(x).view(B, T, H, d).transpose(1, 2)
    a = torch.softmax(q @ k.transpose(-2, -1) / d ** 0.5, dim=-1)
    CAPTURE.append(a.detach().clone())
    y = (a @ v).transpose(1, 2).reshape(B, T, D)
    return self.o(y)


def main():
    m = gen_vit.ViT().double()
    m.load_state_dict(torch.load(os.path.join(OUT, "vit_digits.pt")))
    m.eval()
    for mod in m.modules():
        if isinstance(mod, torch.nn.LayerNorm):
            mod.eps = float(np.float32(1e-5))
    gen_vit.Attention.forward = cap_forward
    rows = np.loadtxt(os.path.join(OUT, "vit_digits.in.csv"), delimiter=",")[:, 1:]
    want = np.loadtxt(os.path.join(OUT, "vit_digits.out.csv"), delimiter=",")[:, 1:]
    cases = []
    for i in range(rows.shape[0]):
        CAPTURE.clear()
        with torch.no_grad():
            y = m(torch.tensor(rows[i:i + 1], dtype=torch.float64))
        assert np.allclose(y.numpy()[0], want[i], rtol=0, atol=1e-8), "vit_digits.pt differs from the ONNX file's torch outputs"
        assert len(CAPTURE) == 2
        cases.append({"row": i, "maps": gen_rollout_ref.maps(list(CAPTURE), 5)})
    ref = {"generator": "tests/data/gen_vit_rollout_ref.py",
           "nets": [{"net": "tests/data/vit/vit_digits.onnx", "data": "tests/data/vit/vit_digits.in.csv",
                     "tokens": 5, "layers": 2, "cases": cases}]}
    with open(os.path.join(OUT, "rollout_ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print("vit/rollout_ref.json written: %d rows x %d maps" % (len(cases), len(cases[0]["maps"])))


if __name__ == "__main__":
    main()
