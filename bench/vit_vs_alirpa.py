#!/usr/bin/python3
"""CROWN (and with --alpha, alpha-CROWN) margin lower bounds of the tiny ViT
(tests/data/vit/vit_digits.onnx, tests/data/gen_vit.py) against auto_LiRPA
0.5.0 (/work/shared/peers), side by side, one thread each, interleaved per
row (cerbere, auto_LiRPA, auto_LiRPA, cerbere, ...).

auto_LiRPA gets the same function as a torch module: gen_vit.ViT with the
trained state_dict (tests/data/vit/vit_digits.pt), its LayerNorm written out
(mean, sub, pow, mean, add, sqrt, div: auto_LiRPA 0.5 has no LayerNorm
operator), its GELU auto_LiRPA's own GELU module (it refuses torch's Erf),
and softmax as exp / sum (as bench/attn_vs_alirpa.py explains).

    /usr/bin/python3 bench/vit_vs_alirpa.py [build/cerbere] [--alpha] [--write-ref] [--rows=N]
    /usr/bin/python3 bench/vit_vs_alirpa.py --alpha-only --merge-ref [--rows=N] [--start=S]

Prints per eps and method: mean margin lower bound of each tool, the worst
amount by which cerbere's is below auto_LiRPA's (> 0: looser), the median
CPU ms per row of each (auto_LiRPA: the compute_bounds call after one
untimed warm-up; cerbere: its per-sample cpu_ms (thread CPU time; time_ms is wall), OMP/OpenBLAS 1 thread),
their ratio, and the load average.  --write-ref writes
tests/data/vit/vit_digits.alirpa.json (read by tests/test_torch_elem.c).
--alpha-only runs auto_LiRPA's alpha-CROWN alone (no cerbere runs: 20
iterations cost about a minute of CPU per row, so no untimed warm-up: the
first call's one-time costs are small against that) and --merge-ref puts its cells into the existing JSON after
every row (a cell holds the rows done so far), replacing cells of the same
eps and method and keeping the others (the CROWN cells); --start=S keeps the
recorded cell's rows 0..S-1 and records rows S..N-1 after them.  --eps=E1,E2
chooses the radii (so two processes can record one radius each).
Every cell records each row's auto_LiRPA CPU ms (alirpa_cpu_ms) and their
median.
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
from auto_LiRPA.operators.gelu import GELU as AlirpaGELU  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
args = [a for a in sys.argv[1:] if not a.startswith("--")]
CERBERE = args[0] if args else os.path.join(ROOT, "build/cerbere")
WRITE = "--write-ref" in sys.argv
ALPHA = "--alpha" in sys.argv
ALPHA_ONLY = "--alpha-only" in sys.argv
MERGE = "--merge-ref" in sys.argv
NROWS = int(([a[7:] for a in sys.argv[1:] if a.startswith("--rows=")] or ["8"])[0])
START = int(([a[8:] for a in sys.argv[1:] if a.startswith("--start=")] or ["0"])[0])
EPS = tuple(float(e) for e in ([a[6:] for a in sys.argv[1:] if a.startswith("--eps=")] or ["0.001,0.003"])[0].split(","))
REF = os.path.join(ROOT, "tests/data/vit/vit_digits.alirpa.json")
METHODS = (("crown", "backward"),) + ((("alpha-crown", "CROWN-Optimized"),) if ALPHA else ())
if ALPHA_ONLY:
    METHODS = (("alpha-crown", "CROWN-Optimized"),)
OPTS = {"sparse_intermediate_bounds": False, "sparse_conv_intermediate_bounds": False, "sparse_features_alpha": False,
        "sparse_spec_alpha": False}


def _softmax(x, dim):
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)


class _TorchShim:
    softmax = staticmethod(_softmax)

    def __getattr__(self, k):
        return getattr(torch, k)


spec = importlib.util.spec_from_file_location("gen_vit", os.path.join(ROOT, "tests/data/gen_vit.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)
gen.torch = _TorchShim()
gen.GELU = AlirpaGELU


class ViTA(gen.ViT):
    """gen_vit.ViT with the position embedding added as a [5, D] tensor (the same
    sums): auto_LiRPA 0.5's BoundAdd fails its broadcast assertion on a [1, 5, D] constant."""

    def forward(self, x):
        p = self.patch(x.view(-1, 1, 8, 8)).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(p.shape[0], 1, self.D), p], dim=1) + self.pos[0]
        x = self.ln(self.blocks(x))
        return self.head(x[:, 0])


def read_rows(path):
    with open(path) as fh:
        return np.array([[float(v) for v in line.split(",")[1:]] for line in fh if line.strip()])


def cerbere_row(x, lab, eps, method):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("%d," % lab + ",".join("%.17g" % v for v in x) + "\n")
        csv = f.name
    out = csv + ".json"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    subprocess.run([CERBERE, "bounds", os.path.join(ROOT, "tests/data/vit/vit_digits.onnx"), "--data", csv, "--norm", "inf",
                    "--eps", str(eps), "--method", method, "--json", out, "--quiet"], check=True, capture_output=True, env=env)
    with open(out) as fh:
        d = json.load(fh)["samples"][0]
    os.unlink(csv)
    os.unlink(out)
    return d["margin_lb"], d.get("cpu_ms", float("nan"))   # CPU, as auto_LiRPA's process_time (time_ms is wall)


def alirpa_row(model, x, lab, eps, method, warm):
    xt = torch.tensor(x[None, :], dtype=torch.float64)
    no = 10
    C = torch.zeros(1, no - 1, no, dtype=torch.float64)
    for i, j in enumerate([j for j in range(no) if j != lab]):
        C[0, i, lab] = 1
        C[0, i, j] = -1
    bm = BoundedModule(model, torch.zeros_like(xt), device="cpu", verbose=0, bound_opts=OPTS if method != "backward" else {})
    bx = BoundedTensor(xt, PerturbationLpNorm(norm=np.inf, eps=eps))
    bm(bx)
    if warm:
        bm.compute_bounds(x=(bx,), C=C, method=method, bound_upper=False)
    t = time.process_time()
    lb, _ = bm.compute_bounds(x=(bx,), C=C, method=method, bound_upper=False)
    return [float(v) for v in lb.detach().numpy()[0]], 1000 * (time.process_time() - t)


def main():
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    model = ViTA(LN=gen.LayerNormDecomposed).double()
    model.load_state_dict(torch.load(os.path.join(ROOT, "tests/data/vit/vit_digits.pt")))
    model.eval()
    x = read_rows(os.path.join(ROOT, "tests/data/vit/vit_digits.in.csv"))[:NROWS]
    with torch.no_grad():
        labels = [int(model(torch.tensor(r[None, :])).argmax()) for r in x]
        want = read_rows(os.path.join(ROOT, "tests/data/vit/vit_digits.out.csv"))[:NROWS]
        got = np.array([model(torch.tensor(r[None, :]))[0].numpy() for r in x])
    print("auto_LiRPA's module vs the exported outputs: max abs difference %.3g" % np.abs(got - want).max())
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    print("%5s %-12s %12s %12s %12s %10s %10s %7s" % ("eps", "method", "cerbere", "auto_LiRPA", "worst gap", "cb ms",
                                                     "aL ms", "ratio"))
    ref = {"net": "vit_digits", "onnx": "vit_digits.onnx", "labels": labels, "norm": "inf",
           "generator": {"tool": "auto_LiRPA", "version": "0.5.0", "commit": "bfb7997", "torch": torch.__version__,
                         "script": "bench/vit_vs_alirpa.py", "threads": 1,
                         "model": "tests/data/gen_vit.py ViT, LayerNorm decomposed, auto_LiRPA GELU, softmax exp/sum, "
                                  "state_dict tests/data/vit/vit_digits.pt"},
           "bounds": []}
    for eps in EPS:
        for cm, am in METHODS:
            c, a, cms, ams = [], [], [], []
            if ALPHA_ONLY and START:   # --start=S: keep the recorded cell's rows 0..S-1, record from row S
                with open(REF) as fh:
                    old = [b for b in json.load(fh)["bounds"] if b["eps"] == eps and b["method"] == cm][0]
                assert len(old["margin_lb"]) >= START, "the recorded cell has fewer rows than --start"
                a, ams = old["margin_lb"][:START], old["alirpa_cpu_ms"][:START]
            for k, (r, lab) in enumerate(zip(x, labels)):
                if ALPHA_ONLY and k < START:
                    continue
                if ALPHA_ONLY:
                    al, at = alirpa_row(model, r, lab, eps, am, False)
                    cl, ct = [float("nan")] * len(al), float("nan")
                    print("  eps %g row %d: auto_LiRPA %s %.1f ms CPU, margin lb %s" % (eps, k, am, at, json.dumps(al)),
                          flush=True)
                    if MERGE:
                        merge_write(labels, [cell(eps, cm, am, a + [al], ams + [at])])
                elif k % 2 == 0:
                    cl, ct = cerbere_row(r, lab, eps, cm)
                    al, at = alirpa_row(model, r, lab, eps, am, k == 0)
                else:
                    al, at = alirpa_row(model, r, lab, eps, am, False)
                    cl, ct = cerbere_row(r, lab, eps, cm)
                c.append(cl); a.append(al); cms.append(ct); ams.append(at)
            gap = max(max(aa - cc for aa, cc in zip(ar, cr)) for ar, cr in zip(a, c))
            print("%5.3f %-12s %12.6g %12.6g %12.3g %10.2f %10.2f %7.1f" % (
                eps, cm, np.mean(c), np.mean(a), gap, np.median(cms), np.median(ams), np.median(ams) / np.median(cms)))
            ref["bounds"].append(cell(eps, cm, am, a, ams))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())
    if MERGE:
        merge_write(labels, ref["bounds"])
    elif WRITE:
        with open(REF, "w") as fh:
            json.dump(ref, fh, indent=1)
            fh.write("\n")


def cell(eps, cm, am, a, ams):
    return {"eps": eps, "method": cm, "alirpa_method": am, "rows": len(a), "margin_lb": a,
            "alirpa_cpu_ms_median": float(np.median(ams)), "alirpa_cpu_ms": ams, "load_avg": list(os.getloadavg())}


def merge_write(labels, cells):
    """Puts cells into REF, replacing those of the same (eps, method), atomically."""
    with open(REF) as fh:
        old = json.load(fh)
    assert old["labels"][:len(labels)] == labels, "labels differ from the recorded reference"
    new = {(c["eps"], c["method"]) for c in cells}
    keep = [c for c in old["bounds"] if (c["eps"], c["method"]) not in new]
    old["bounds"] = sorted(keep + cells, key=lambda c: (c["eps"], c["method"] != "crown"))
    old["generator"]["alpha"] = ("alpha-crown cells: bench/vit_vs_alirpa.py --alpha-only --merge-ref, "
                                 "'CROWN-Optimized' with auto_LiRPA's default optimize_bound_args (20 iterations), "
                                 "sparse alpha options off, 1 thread, nice 10, %s UTC" % time.strftime("%Y-%m-%d", time.gmtime()))
    tmp = REF + ".%d.tmp" % os.getpid()
    with open(tmp, "w") as fh:
        json.dump(old, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, REF)


if __name__ == "__main__":
    main()
