"""The Python binding (python/cerbere) against the CLI, on the same rows.

usage: python3 tests/python_binding.py CERBERE_BINARY
Run by tests/run_python.sh (which picks the library with CERBERE_LIB and the
package with PYTHONPATH or an installed copy).  Every comparison is exact
(==, as doubles) where the binding and the CLI run the same library code:
  - bounds: logit_lb, logit_ub, margin_lb of `cerbere bounds --json`, four
    methods, L-inf and L2, with and without --clip;
  - certify: verdict, decided_by, pred, margin_lb and the radii of `cerbere
    certify --radius --json`; the certificates JSON the binding writes;
  - verify: the answer and witness of `cerbere verify --json`;
  - lipschitz: min(K_layerwise, K_merged) of `cerbere lipschitz --json`;
  - gradient and local-Lipschitz radius of `cerbere jacobian --json`; the
    interval Jacobian encloses the gradient at the centre;
  - attribution maps of `cerbere attribute --json` (saliency, ig);
  - one Network shared by two threads gives the serial bounds;
  - errors raise CerbereError with the library's one-line message.
Prints one line per check and exits 1 on the first failure.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

import cerbere

CLI = sys.argv[1] if len(sys.argv) > 1 else "build/cerbere"
NET = "nets/digits_mlp.onnx"
CNN = "nets/digits_cnn.onnx"
CSV = "nets/digits_test20.csv"
ROWS = (0, 6)
TMP = tempfile.mkdtemp(prefix="cerbere_py_")
DATA = np.loadtxt(CSV, delimiter=",")


def cli_json(*args):
    out = os.path.join(TMP, "out.json")
    if os.path.exists(out):
        os.remove(out)
    r = subprocess.run([CLI] + list(args) + ["--json", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode not in (0, 10, 11):
        raise SystemExit("python_binding: %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    with open(out) as f:
        return json.load(f)


def same(a, b, what):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not np.array_equal(a, b):
        d = np.max(np.abs(a - b)) if a.shape == b.shape else "shapes %s %s" % (a.shape, b.shape)
        raise SystemExit("python_binding: FAIL %s: binding and CLI differ (max |diff| %s)" % (what, d))


def ok(what):
    print("ok   %s" % what)


def rows():
    for r in range(*ROWS):
        yield r, DATA[r, 1:], int(DATA[r, 0])


def check_bounds(net):
    cases = [("inf", 0.01, None), ("2", 0.1, None), ("inf", 0.02, (0.0, 1.0))]
    for norm, eps, clip in cases:
        for m in ("ibp", "crown", "crown-ibp", "alpha-crown"):
            args = ["bounds", NET, "--data", CSV, "--rows", "%d:%d" % ROWS, "--norm", norm, "--eps", repr(eps),
                    "--method", m, "--quiet"]
            if clip:
                args += ["--clip", "%r:%r" % clip]
            doc = cli_json(*args)
            for s, (r, x, y) in zip(doc["samples"], rows()):
                lo, hi = net.bounds(x, eps, norm, m, clip=clip)
                same(lo, s["logit_lb"], "bounds %s L%s row %d logit_lb" % (m, norm, r))
                same(hi, s["logit_ub"], "bounds %s L%s row %d logit_ub" % (m, norm, r))
                same(net.margin_bounds(x, y, eps, norm, m, clip=clip), s["margin_lb"],
                     "bounds %s L%s row %d margin_lb" % (m, norm, r))
            ok("bounds --method %s --norm %s --eps %g%s: %d rows bit for bit"
               % (m, norm, eps, " --clip %g:%g" % clip if clip else "", ROWS[1] - ROWS[0]))


def check_forward(net):
    doc = cli_json("bounds", NET, "--data", CSV, "--norm", "inf", "--eps", "0", "--method", "ibp", "--quiet")
    y = np.array([net.forward(x) for x in DATA[:, 1:]])
    same(y, [s["logits"] for s in doc["samples"]], "forward (row by row) vs the CLI's logits")
    same(net.forward(DATA[4, 1:].reshape(8, 8)), y[4], "forward of an 8x8 sample")
    yb = net.forward(DATA[:, 1:])   # one batched call: a matrix product, its own rounding
    assert yb.shape == y.shape and np.allclose(yb, y, rtol=1e-12, atol=1e-12)
    ok("forward: %d rows and a reshaped sample equal the CLI's logits; the batched call agrees to 1e-12" % len(y))


def check_certify(net, eps):
    doc = cli_json("certify", NET, "--data", CSV, "--rows", "%d:%d" % ROWS, "--norm", "inf", "--eps", repr(eps),
                   "--radius", "--quiet", "--threads", "1", "--bab-timeout", "0")
    certs = []
    for s, (r, x, y) in zip(doc["samples"], rows()):
        c = net.certify(x, y, eps, "inf", radius=True, bab_timeout=0)
        certs.append(c)
        want = (s["verdict"], s["decided_by"] or "none", s["pred"])
        if (c.answer, c.method, c.predicted) != want:
            raise SystemExit("python_binding: FAIL certify row %d: binding %s, CLI %s"
                             % (r, (c.answer, c.method, c.predicted), want))
        if s["margin_lb"] is None:
            assert c.margins is None
        else:
            same(c.margins, s["margin_lb"], "certify row %d margin_lb" % r)
        same([c.certified_radius, c.attack_radius],
             [s["certified_radius"], s["attack_radius"] if s["attack_radius"] is not None else np.inf],
             "certify row %d radii" % r)
        cr, ar = net.radius(x, y, "inf", eps, bab_timeout=0)
        same([cr, ar], [c.certified_radius, c.attack_radius], "radius row %d (cascade) vs certify --radius" % r)
        if c.answer == "falsified":
            same(c.counterexample, s["counterexample"], "certify row %d counterexample" % r)
            yy = net.forward(c.counterexample)
            assert int(np.argmax(yy)) != y and np.max(np.abs(c.counterexample - x)) <= eps
    ok("certify --radius --eps %g: %d rows, same verdicts, methods, margins and radii (%s)"
       % (eps, len(certs), ", ".join(sorted(set(c.answer for c in certs)))))
    path = os.path.join(TMP, "certs.json")
    cerbere.write_certificates_json(path, certs)
    with open(path) as f:
        mine = json.load(f)
    for a, b in zip(mine["samples"], doc["samples"]):
        for k in ("label", "pred", "verdict", "decided_by", "margin_lb", "certified_radius", "attack_radius"):
            if a[k] != b[k]:
                raise SystemExit("python_binding: FAIL certificates JSON key %s: %r vs CLI %r" % (k, a[k], b[k]))
    ok("write_certificates_json: the CLI's certificates.json keys, same values")


def check_verify():
    tiny = cerbere.Network("tests/data/tiny.nnet")
    for prop in ("tiny_sat", "tiny_unsat"):
        path = "tests/data/%s.vnnlib" % prop
        v = cerbere.verify(tiny, path, timeout=60)
        doc = cli_json("verify", "tests/data/tiny.nnet", path, "--timeout", "60")
        if v.answer != doc["answer"]:
            raise SystemExit("python_binding: FAIL verify %s: binding %s, CLI %s" % (prop, v.answer, doc["answer"]))
        if v.answer == "sat":
            assert v.witness_x is not None and v.witness_y is not None
            same(tiny.forward(v.witness_x), v.witness_y, "verify witness output")
        ok("verify %s: %s as the CLI" % (prop, v.answer))


def check_lipschitz(net):
    for norm in ("inf", "2", "1"):
        doc = cli_json("lipschitz", NET, "--norm", norm)
        same(net.lipschitz(norm), min(doc["K_layerwise"], doc["K_merged"]), "lipschitz L%s" % norm)
    ok("lipschitz inf/2/1: equal to min(K_layerwise, K_merged) of the CLI")


def margin_rows(no, y):
    C = np.zeros((no - 1, no))
    for k, j in enumerate(j for j in range(no) if j != y):
        C[k, y], C[k, j] = 1, -1
    return C


def check_jacobian(net):
    eps = 0.01
    doc = cli_json("jacobian", NET, "--data", CSV, "--rows", "0:3", "--norm", "inf", "--eps", repr(eps), "--quiet")
    for s, (r, x, y) in zip(doc["samples"], rows()):
        C = margin_rows(net.n_outputs, y)
        g = net.gradient(x, C)
        same(g, s["gradient"], "gradient row %d" % r)
        lo, hi = net.jacobian_bounds(x, eps, "inf", C)
        assert np.all(lo <= g) and np.all(g <= hi), "interval Jacobian misses the centre's gradient"
        assert np.all(lo <= np.asarray(s["jacobian_ub"])) and np.all(np.asarray(s["jacobian_lb"]) <= hi)
        cr, ar = net.radius(x, y, "inf", method="local-lipschitz")
        same(cr, s["certified_radius_local"], "local-Lipschitz radius row %d" % r)
        assert ar == np.inf
    x, y = DATA[0, 1:], int(DATA[0, 0])
    J = net.gradient(x)   # C = None: the full Jacobian
    assert J.shape == (net.n_outputs, net.n_inputs)
    assert np.allclose(margin_rows(10, y) @ J, net.gradient(x, margin_rows(10, y)), rtol=1e-12, atol=1e-12)
    ok("gradient and certified_radius_local equal `cerbere jacobian` on 3 rows; interval Jacobian encloses them")


def check_attribute(net):
    for m, extra, kw in (("lrp", ["--rule", "dense=zplus"], {"lrp_rule": "dense=zplus"}), ("deeplift", [], {})):
        doc = cli_json("attribute", NET, "--data", CSV, "--rows", "0:3", "--method", m, "--quiet", *extra)
        for s, (r, x, y) in zip(doc["samples"], rows()):
            same(net.attribute(x, s["target"], m, **kw), s["map"], "attribute %s row %d" % (m, r))
    for m, extra in (("saliency", []), ("ig", ["--steps", "8"])):
        doc = cli_json("attribute", NET, "--data", CSV, "--rows", "0:3", "--method", m, "--quiet", *extra)
        for s, (r, x, y) in zip(doc["samples"], rows()):
            kw = {"steps": 8} if m == "ig" else {}
            mp = net.attribute(x, s["target"], m, **kw)
            same(mp, s["map"], "attribute %s row %d" % (m, r))
            lb, ub = net.attribute_bounds(x, s["target"], 0.01, "inf", m, **kw)
            assert np.all(lb <= mp) and np.all(mp <= ub), "attribution bounds miss the centre's map"
    ok("attribute saliency/ig/lrp/deeplift equal `cerbere attribute` on 3 rows; certified bounds enclose them")
    cnn = cerbere.Network(CNN)
    mp = cnn.attribute(DATA[0, 1:], 0, "gradcam")
    assert mp.shape == (64,) and np.all(np.isfinite(mp))
    ok("attribute gradcam on %s: %d values" % (CNN, mp.size))
    for path, m, extra, kw in ((NET, "lime", ["--ridge", "0.5", "--kernel-width", "0.5", "--seed", "3"],
                                {"ridge": 0.5, "kernel_width": 0.5, "seed": 3}),
                               (NET, "sobol", ["--grid", "4", "--samples", "16"], {"grid": 4, "samples": 16}),
                               (CNN, "opticam", ["--steps", "5", "--lr", "0.2"], {"steps": 5, "lr": 0.2}),
                               (NET, "kernelshap", ["--patch", "2", "--samples", "100"], {"patch": 2, "samples": 100}),
                               (NET, "hsic", ["--grid", "4", "--samples", "64"], {"grid": 4, "samples": 64})):
        doc = cli_json("attribute", path, "--data", CSV, "--rows", "0:2", "--method", m, "--quiet", *extra)
        nw = cnn if path == CNN else net
        for s, (r, x, y) in zip(doc["samples"], rows()):
            same(nw.attribute(x, s["target"], m, **kw), s["map"], "attribute %s row %d" % (m, r))
    ok("attribute lime/sobol/opticam/kernelshap/hsic (their options through the API) equal `cerbere attribute`")
    att, acsv = "tests/data/attn/rollout2.onnx", "tests/data/attn/rollout2.in.csv"
    anet, adata = cerbere.Network(att), np.loadtxt(acsv, delimiter=",")
    for extra, kw in (([], {}), (["--attention", "raw", "--head-fusion", "max", "--query", "0"],
                                 {"attention": "raw", "head_fusion": "max", "query": 0})):
        doc = cli_json("attribute", att, "--data", acsv, "--rows", "0:2", "--method", "rollout", "--quiet", *extra)
        for r, s in enumerate(doc["samples"]):
            same(anet.attribute(adata[r, 1:], s["target"], "rollout", **kw), s["map"], "attribute rollout row %d" % r)
    ok("attribute rollout (rollout and raw attention) equals `cerbere attribute` on %s" % att)
    doc = cli_json("attribute", CNN, "--data", CSV, "--rows", "0:3", "--method", "saliency", "--sanity", "--quiet")
    for s in doc["samples"]:
        got = cnn.sanity(DATA[s["index"], 1:], s["target"], "saliency", row=s["index"])
        for k, v in s["sanity"].items():
            assert (v is None and math.isnan(got[k])) or got[k] == v, "sanity %s row %d: %r vs the CLI's %r" % (k, s["index"], got[k], v)
    ok("sanity (model randomisation, random logit) equals `cerbere attribute --sanity` on 3 rows")
    spl = np.loadtxt("tests/data/mege/splits20.csv", dtype=int)
    doc = cli_json("compare-models", "--models", NET, "nets/digits_tanh.onnx", "nets/digits_orth.onnx", "--data", CSV,
                   "--splits", "tests/data/mege/splits20.csv", "--method", "saliency", "--quiet")
    got = cerbere.compare_models([net, cerbere.Network("nets/digits_tanh.onnx"), cerbere.Network("nets/digits_orth.onnx")],
                                 DATA[:, 1:], DATA[:, 0].astype(int), spl, "saliency")
    for k in ("mege", "reco", "n_eq", "n_ne"):
        assert got[k] == doc[k], "compare_models %s: %r vs the CLI's %r" % (k, got[k], doc[k])
    ok("compare_models equals `cerbere compare-models` (MeGe %.4f, ReCo %.4f)" % (got["mege"], got["reco"]))


def check_threads(net):
    """One Network used by two threads at once: the same bounds as one by one."""
    from concurrent.futures import ThreadPoolExecutor

    xs = [DATA[r, 1:] for r in range(8)]
    serial = [net.bounds(x, 0.02, "inf", "crown") for x in xs]
    with ThreadPoolExecutor(2) as ex:
        par = list(ex.map(lambda x: net.bounds(x, 0.02, "inf", "crown"), xs))
    for k, (a, b) in enumerate(zip(serial, par)):
        same(a[0], b[0], "threads: row %d logit_lb" % k)
        same(a[1], b[1], "threads: row %d logit_ub" % k)
    ok("one Network shared by 2 threads: 8 rows of bounds equal the serial ones")


def expect_error(f, status, what):
    try:
        f()
    except cerbere.CerbereError as e:
        msg = str(e)
        if e.status != status or "\n" in msg or not msg:
            raise SystemExit("python_binding: FAIL %s: status %r message %r" % (what, e.status, msg))
        return msg
    raise SystemExit("python_binding: FAIL %s: no CerbereError" % what)


def check_errors(net):
    x = DATA[0, 1:]
    m = expect_error(lambda: cerbere.Network("tests/data/no_such.onnx"), "i/o error", "missing file")
    assert "no_such.onnx" in m
    expect_error(lambda: cerbere.Network(CSV), "format error", "a CSV as a network")
    expect_error(lambda: net.bounds(x[:10], 0.1), "shape error", "short sample")
    expect_error(lambda: net.bounds(x, -1.0), "bad value", "negative eps")
    expect_error(lambda: net.bounds(x, 0.1, norm="3"), "usage error", "norm 3")
    expect_error(lambda: net.bounds(x, 0.1, method="deeppoly"), "usage error", "unknown method")
    expect_error(lambda: net.certify(x, 10, 0.1), "usage error", "label out of range")
    expect_error(lambda: net.margin_bounds(x, 1.5, 0.1), "usage error", "float label")
    expect_error(lambda: net.attribute(x, 0, "saliency", bogus=1), "usage error", "unknown option")
    expect_error(lambda: net.attribute_bounds(x, 0, 0.1, method="kernelshap"), "unsupported", "kernelshap bounds")
    expect_error(lambda: net.jacobian_bounds(x, 0.1, method="alpha-crown"), "unsupported", "alpha Jacobian")
    expect_error(lambda: net.gradient(x, np.ones((2, 3))), "shape error", "C of the wrong width")
    expect_error(lambda: net.bounds(x, 0.1, clip=(5.0, 6.0)), "bad value", "clip box missing the ball")
    expect_error(lambda: cerbere.verify(net, "tests/data/tiny_sat.vnnlib"), "shape error", "VNNLIB of another net")
    ok("errors: CerbereError with one line (%s)" % m)


def main():
    print("cerbere %s from %s" % (cerbere.version(), cerbere.lib_path))
    net = cerbere.Network(NET)
    check_forward(net)
    check_bounds(net)
    check_certify(net, 0.06)
    check_certify(net, 0.1)
    check_verify()
    check_lipschitz(net)
    check_jacobian(net)
    check_attribute(net)
    check_threads(net)
    check_errors(net)
    print("python_binding: all checks passed")


if __name__ == "__main__":
    main()
