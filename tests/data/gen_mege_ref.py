#!/usr/bin/python3
"""Reference MeGe / ReCo for tests/test_attr_methods.c (compare-models).

Run from the repository root after `make`:  /usr/bin/python3 tests/data/gen_mege_ref.py
The maps and predictions come from build/cerbere (`attribute --method saliency`
and `predict`, both tested elsewhere); the statistic is recomputed here
independently with scipy.stats.spearmanr and numpy, following Xplique's
metrics.MeGe (K-models / K-splits): pairs i < j, rows whose split is i or j
where one prediction is right, d = sqrt(1 - |rho|), S= when the predictions
agree else S!=, MeGe = 1 / (1 + mean S=), ReCo = max over sorted(S= u S!=)[::len // 20 + 1]
of TPR + TNR - 1 (rates as counts; both sets are non-empty here).
Splits: row r is in split r % 3.  Writes tests/data/mege/ref.json.
"""
import json
import subprocess
import tempfile

import numpy as np
from scipy.stats import spearmanr

NETS = ["nets/digits_mlp.onnx", "nets/digits_tanh.onnx", "nets/digits_orth.onnx"]
DATA, K = "nets/digits_test.csv", 3
out = {"models": NETS, "data": DATA, "splits": "row r in split r % 3", "method": "saliency"}
with tempfile.TemporaryDirectory() as d:
    E, P = [], []
    for k, net in enumerate(NETS):
        subprocess.run(["build/cerbere", "attribute", net, "--data", DATA, "--method", "saliency", "--quiet",
                        "--json", "%s/a%d.json" % (d, k)], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["build/cerbere", "predict", net, "--data", DATA, "--json", "%s/p%d.json" % (d, k)], check=True,
                       stdout=subprocess.DEVNULL)
        a = json.load(open("%s/a%d.json" % (d, k)))
        E.append(np.array([s["map"] for s in a["samples"]]))
        P.append(np.array([s["pred"] for s in json.load(open("%s/p%d.json" % (d, k)))["samples"]]))
        label = np.array([s["label"] for s in a["samples"]])
R = len(label)
split = np.arange(R) % K
s_eq, s_ne = [], []
for i in range(K):
    for j in range(i + 1, K):
        for n in range(R):
            if split[n] not in (i, j) or (P[i][n] != label[n] and P[j][n] != label[n]):
                continue
            rho, _ = spearmanr(E[i][n], E[j][n])
            (s_eq if P[i][n] == P[j][n] else s_ne).append(np.sqrt(1 - abs(rho)))
s_eq, s_ne = np.array(s_eq), np.array(s_ne)
s_all = np.sort(np.concatenate([s_eq, s_ne]))
reco = 0.0
for g in s_all[::len(s_all) // 20 + 1]:
    tp, fn, tn, fp = np.sum(s_eq < g), np.sum(s_eq > g), np.sum(s_ne > g), np.sum(s_ne < g)
    reco = max(reco, tp / (tp + fn) + tn / (tn + fp) - 1)
out.update({"mege": float(1 / (1 + s_eq.mean())), "reco": float(reco), "n_eq": int(len(s_eq)), "n_ne": int(len(s_ne))})
with open("tests/data/mege/ref.json", "w") as f:
    json.dump(out, f, indent=1)
print(out)
