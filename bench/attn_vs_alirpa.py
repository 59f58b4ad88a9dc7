#!/usr/bin/python3
"""CROWN and alpha-CROWN margin lower bounds of the attention nets of
tests/data/attn/ (gen_attn.py: the same seeded torch modules) against
auto_LiRPA 0.5.0 (/work/shared/peers), side by side, one thread each.

For NET in attn_block, gated, the 8 rows of tests/data/attn/NET.in.csv,
labelled by the net's own prediction, L-inf balls of eps 0.01 and 0.03:
auto_LiRPA bounds C f with C the margins f_label - f_j (j != label, in
ascending j) by 'backward' (CROWN) and 'CROWN-Optimized' (alpha-CROWN, its
defaults); cerbere runs `bounds --method crown|alpha-crown` on the same rows.

    /usr/bin/python3 bench/attn_vs_alirpa.py [build/cerbere] [--write-ref]

Prints per net, eps and method: the mean margin lower bound of each tool,
the largest amount by which cerbere's is below auto_LiRPA's (> 0: looser),
and the median CPU ms per row of each (auto_LiRPA: the bound call only,
after one warm-up row; cerbere: its own per-sample cpu_ms (time_ms is wall) with
OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1).  --write-ref writes
tests/data/attn/NET.alirpa.json: auto_LiRPA's margin lower bounds per
(eps, method, row), read by tests/test_torch_elem.c.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

PEER = "/work/shared/peers/auto_LiRPA_bfb7997"
sys.path.insert(0, PEER)
from auto_LiRPA import BoundedModule, BoundedTensor, PerturbationLpNorm  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
args = [a for a in sys.argv[1:] if not a.startswith("--")]
CERBERE = args[0] if args else os.path.join(ROOT, "build/cerbere")
WRITE = "--write-ref" in sys.argv
ONLY = [a[7:] for a in sys.argv[1:] if a.startswith("--only=")]
EPS = (0.01, 0.03)
METHODS = (("crown", "backward"), ("alpha-crown", "CROWN-Optimized"))

# auto_LiRPA 0.5.0 bounds torch.softmax as exp(x - max x) / sum (its 'complex'
# softmax), and its backward pass refuses the perturbed max ("bound_backward for
# BoundReduceMax with perturbed maximum indexes is not implemented"); its
# 'simple' softmax has IBP only.  So auto_LiRPA gets the same function without
# the max shift, as its transformer examples write it: exp, a sum, a division
# (its BoundDiv: a product by a reciprocal, McCormick).  Same values, same file.
def _softmax(x, dim):
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)


def _log_softmax(x, dim):
    return x - torch.log(torch.exp(x).sum(dim=dim, keepdim=True))


spec = importlib.util.spec_from_file_location("gen_attn", os.path.join(ROOT, "tests/data/gen_attn.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)
gen.torch = type("torch_for_alirpa", (), {"softmax": staticmethod(_softmax), "log_softmax": staticmethod(_log_softmax),
                                          "sigmoid": torch.sigmoid, "tanh": torch.tanh, "exp": torch.exp,
                                          "cat": torch.cat, "manual_seed": torch.manual_seed})
gen.nn = torch.nn


def read_rows(path):
    with open(path) as fh:
        return np.array([[float(v) for v in line.split(",")[1:]] for line in fh if line.strip()])


def cerbere_run(onnx_path, x, labels, eps, method):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        for lab, r in zip(labels, x):
            f.write("%d," % lab + ",".join("%.17g" % v for v in r) + "\n")
        csv = f.name
    out = csv + ".json"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    subprocess.run([CERBERE, "bounds", onnx_path, "--data", csv, "--norm", "inf", "--eps", str(eps), "--method", method,
                    "--json", out, "--quiet"], check=True, capture_output=True, env=env)
    with open(out) as fh:
        d = json.load(fh)
    os.unlink(csv)
    os.unlink(out)
    return [s["margin_lb"] for s in d["samples"]], [s.get("cpu_ms", float("nan")) for s in d["samples"]]


# alpha-CROWN on these nets stops at an assertion of auto_LiRPA's sparse alpha
# shapes ("assert not sparse_intermediate_bounds or use_sparse_conv is not
# False", backward_bound.py:1029) unless the sparse variants are off; they
# change shapes and speed, not the bounds' definition.
OPTS = {"sparse_intermediate_bounds": False, "sparse_conv_intermediate_bounds": False, "sparse_features_alpha": False,
        "sparse_spec_alpha": False}


def alirpa_run(model, x, labels, eps, method):
    lbs, ms = [], []
    for k, (lab, r) in enumerate(zip(labels, x)):
        xt = torch.tensor(r[None, :], dtype=torch.float64)
        no = model(xt).shape[1]
        C = torch.zeros(1, no - 1, no, dtype=torch.float64)
        for i, j in enumerate([j for j in range(no) if j != lab]):
            C[0, i, lab] = 1
            C[0, i, j] = -1
        bm = BoundedModule(model, torch.zeros_like(xt), device="cpu", verbose=0, bound_opts=OPTS if method != "backward" else {})
        bx = BoundedTensor(xt, PerturbationLpNorm(norm=np.inf, eps=eps))
        bm(bx)   # a forward pass first: compute_bounds with C on a fresh module fails (output_shape unset)
        if k == 0:   # warm-up, untimed
            bm.compute_bounds(x=(bx,), C=C, method=method, bound_upper=False)
        t = time.process_time()
        lb, _ = bm.compute_bounds(x=(bx,), C=C, method=method, bound_upper=False)
        ms.append(1000 * (time.process_time() - t))
        lbs.append([float(v) for v in lb.detach().numpy()[0]])
    return lbs, ms


def main():
    torch.set_num_threads(1)
    built = gen.nets()   # with the float32 default dtype: the weights drawn as gen_attn.py drew them
    torch.set_default_dtype(torch.float64)   # auto_LiRPA's own tensors then match the float64 modules
    print("load average: %.2f %.2f %.2f" % os.getloadavg())
    print("%-11s %5s %-12s %12s %12s %12s %10s %10s" % ("net", "eps", "method", "cerbere", "auto_LiRPA", "worst gap",
                                                        "cb ms", "aL ms"))
    for name, model, shape, _ in built:
        if ONLY and name not in ONLY:
            continue
        model = model.double().eval()
        x = read_rows(os.path.join(ROOT, "tests/data/attn", name + ".in.csv"))
        with torch.no_grad():
            labels = [int(model(torch.tensor(r[None, :])).argmax()) for r in x]
        path = os.path.join(ROOT, "tests/data/attn", name + ".onnx")
        ref = {"net": name, "onnx": name + ".onnx", "labels": labels, "norm": "inf",
               "generator": {"tool": "auto_LiRPA", "version": "0.5.0", "commit": "bfb7997", "torch": torch.__version__,
                             "script": "bench/attn_vs_alirpa.py", "threads": 1,
                             "model": "tests/data/gen_attn.py nets() (the module the ONNX file was exported from)"},
               "bounds": []}
        for eps in EPS:
            for cm, am in METHODS:
                c, cms = cerbere_run(path, x, labels, eps, cm)
                try:
                    a, ams = alirpa_run(model, x, labels, eps, am)
                except Exception as e:   # auto_LiRPA fails on the net: say so, keep going
                    print("%-11s %5.2f %-12s %12.6g %12s   auto_LiRPA failed: %s" % (
                        name, eps, cm, np.mean(c), "-", (str(e).splitlines() or [type(e).__name__])[0][:120]))
                    continue
                gap = max(max(aa - cc for aa, cc in zip(ar, cr)) for ar, cr in zip(a, c))
                print("%-11s %5.2f %-12s %12.6g %12.6g %12.3g %10.2f %10.2f" % (
                    name, eps, cm, np.mean(c), np.mean(a), gap, np.median(cms), np.median(ams)))
                ref["bounds"].append({"eps": eps, "method": cm, "alirpa_method": am, "margin_lb": a,
                                      "alirpa_cpu_ms_median": float(np.median(ams))})
        if WRITE:
            with open(os.path.join(ROOT, "tests/data/attn", name + ".alirpa.json"), "w") as fh:
                json.dump(ref, fh, indent=1)
                fh.write("\n")


if __name__ == "__main__":
    main()
