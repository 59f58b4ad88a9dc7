"""cerbere: sound certificates for neural networks, from Python.

A thin ctypes layer over libcerbere.so (include/cerbere.h): every number
comes from the C library, so the bounds are the ones `cerbere bounds`
prints, bit for bit.  Arrays go in and come out as NumPy float64 arrays
(C order; a sample of any shape is flattened to the network's input size).
Any failure raises CerbereError with the library's one-line message.

    import numpy as np, cerbere
    net = cerbere.Network("nets/digits_mlp.onnx")
    lo, hi = net.bounds(x, eps=0.01, norm="inf", method="crown")
    cert = net.certify(x, label=3, eps=0.01)
    print(cert.answer, cert.method, cert.reason)

Norms: "inf" (also "linf", np.inf), "2" ("l2", 2), "1" ("l1", 1).
Bound methods: "ibp", "crown", "crown-ibp", "alpha-crown".
A clip box is (lo, hi): two numbers, or two arrays of the input size.
Calls release the GIL (ctypes): one Network may be used by several threads.
"""
import ctypes
import math

import numpy as np

from ._lib import (AttrOpts, CerbereError, CertifyOpts, Error, Mege, RadiusOpts, Sanity, VerifyOpts, c_double_p, check,
                   lib, lib_path)

__all__ = ["Network", "Certificate", "Verification", "CerbereError", "verify", "write_certificates_json", "compare_models",
           "version", "lib_path", "ATTRIBUTION_METHODS", "BOUND_METHODS"]

BOUND_METHODS = {"ibp": 0, "crown": 1, "crown-ibp": 2, "alpha-crown": 3}
ATTRIBUTION_METHODS = {"saliency": 0, "gradxinput": 1, "ig": 2, "smoothgrad": 3, "vargrad": 4, "squaregrad": 5,
                       "occlusion": 6, "rise": 7, "gradcam": 8, "gradcampp": 9, "eva": 10,
                       "lrp": 11, "deeplift": 12, "guidedbackprop": 13, "deconvnet": 14, "kernelshap": 15,
                       "scorecam": 16, "opticam": 17, "lime": 18, "sobol": 19, "hsic": 20, "rollout": 21}
_ATTENTION = {"rollout": 0, "raw": 1}
_HEAD_FUSION = {"mean": 0, "max": 1, "min": 2}
_NORMS = {"inf": 0, "linf": 0, "2": 1, "l2": 1, "1": 2, "l1": 2}
_RADIUS_METHODS = {"cascade": 0, "local-lipschitz": 1}


def version():
    """The loaded library's version (cb_version)."""
    return lib.cb_version().decode()


def _norm(norm):
    if isinstance(norm, (int, float)) and not isinstance(norm, bool):
        norm = "inf" if math.isinf(norm) else str(int(norm)) if float(norm) == int(norm) else str(norm)
    key = str(norm).lower()
    if key not in _NORMS:
        raise CerbereError(-1, "usage error", "norm must be inf, 2 or 1 (or linf, l2, l1), not %r" % (norm,))
    return _NORMS[key]


def _choice(table, value, what):
    if value not in table:
        raise CerbereError(-1, "usage error", "unknown %s %r (%s)" % (what, value, ", ".join(table)))
    return table[value]


def _vec(x, n=None, what="x"):
    """x as a contiguous float64 vector (of n values when n is given)."""
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))
    if n is not None and a.size != n:
        raise CerbereError(-5, "shape error", "%s has %d values, the network takes %d" % (what, a.size, n))
    return a


def _ptr(a):
    return a.ctypes.data_as(c_double_p)


def _text(b):
    return b.decode(errors="replace") if b is not None else ""


class _Handle:
    """An owned C handle freed with its *_free function."""

    def __init__(self, ptr, free):
        self.ptr, self._free = ptr, free

    def __del__(self):
        if getattr(self, "ptr", None):
            self._free(self.ptr)
            self.ptr = None


class Certificate:
    """One sample's verdict from Network.certify.

    answer: "verified", "falsified" or "unknown"; method: the deciding method
    ("crown", "attack", ... or "none"); reason: one line; label, predicted;
    margins: lower bounds of f_label - f_j (j != label, ascending) or None;
    counterexample: the checked input (falsified) or None; certified_radius
    and attack_radius: with radius=True, else None."""

    def __init__(self, handle):
        self._h = _Handle(handle, lib.cb_certificate_free)
        h = handle
        self.answer = _text(lib.cb_answer_name(lib.cb_certificate_answer(h)))
        self.method = _text(lib.cb_certificate_method(h))
        self.reason = _text(lib.cb_certificate_reason(h))
        self.label = lib.cb_certificate_label(h)
        self.predicted = lib.cb_certificate_predicted(h)
        n = ctypes.c_size_t()
        p = lib.cb_certificate_margins(h, ctypes.byref(n))
        self.margins = np.ctypeslib.as_array(p, (n.value,)).copy() if p and n.value else None
        p = lib.cb_certificate_counterexample(h, ctypes.byref(n))
        self.counterexample = np.ctypeslib.as_array(p, (n.value,)).copy() if p and n.value else None
        c, a = ctypes.c_double(), ctypes.c_double()
        has = lib.cb_certificate_radii(h, ctypes.byref(c), ctypes.byref(a))
        self.certified_radius = c.value if has else None
        self.attack_radius = a.value if has else None

    @property
    def verified(self):
        return self.answer == "verified"

    def __repr__(self):
        return "Certificate(answer=%r, method=%r, label=%d, predicted=%d)" % (self.answer, self.method, self.label,
                                                                               self.predicted)


class Verification:
    """The answer to a VNNLIB property (verify): answer is VNN-COMP's word
    ("unsat", "sat", "timeout", "unknown", "error"); verdict the certify word
    ("verified", "falsified", ...); reason one line; witness_x / witness_y
    the sat witness and its output (else None); rational: 1 when the witness
    is a rational point no double equals (checked exactly)."""

    def __init__(self, handle):
        h = _Handle(handle, lib.cb_verification_free)
        a = lib.cb_verification_answer(h.ptr)
        self.answer = _text(lib.cb_answer_vnnlib(a))
        self.verdict = _text(lib.cb_answer_name(a))
        self.reason = _text(lib.cb_verification_reason(h.ptr))
        nx, ny, y = ctypes.c_size_t(), ctypes.c_size_t(), c_double_p()
        x = lib.cb_verification_witness(h.ptr, ctypes.byref(nx), ctypes.byref(y), ctypes.byref(ny))
        self.witness_x = np.ctypeslib.as_array(x, (nx.value,)).copy() if x and nx.value else None
        self.witness_y = np.ctypeslib.as_array(y, (ny.value,)).copy() if y and ny.value else None
        self.rational = bool(lib.cb_verification_witness_rational(h.ptr))

    def __repr__(self):
        return "Verification(answer=%r, reason=%r)" % (self.answer, self.reason)


class Network:
    """A network loaded from an ONNX or NNet file (cb_net_load)."""

    def __init__(self, path):
        err = Error()
        h = ctypes.c_void_p()
        check(lib.cb_net_load(str(path).encode(), ctypes.byref(h), ctypes.byref(err)), err)
        self._h = _Handle(h.value, lib.cb_net_free)
        self.path = str(path)
        self.n_inputs = lib.cb_net_input_size(self._h.ptr)
        self.n_outputs = lib.cb_net_output_size(self._h.ptr)

    def __repr__(self):
        return "Network(%r, inputs=%d, outputs=%d)" % (self.path, self.n_inputs, self.n_outputs)

    # ---- regions
    def _region(self, x, eps, norm, clip=None):
        err = Error()
        c = _vec(x, self.n_inputs)
        h = ctypes.c_void_p()
        e = float(eps)
        check(lib.cb_region_ball(self._h.ptr, _norm(norm), e, _ptr(c), c.size, ctypes.byref(h), ctypes.byref(err)), err)
        r = _Handle(h.value, lib.cb_region_free)
        if clip is not None:
            lo, hi = clip
            lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (self.n_inputs,)).copy()
            hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (self.n_inputs,)).copy()
            check(lib.cb_region_clip(r.ptr, _ptr(lo), _ptr(hi), self.n_inputs, ctypes.byref(err)), err)
        return r

    def _label(self, label, what="label"):
        if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
            raise CerbereError(-1, "usage error", "%s must be an integer class index, not %r" % (what, label))
        return int(label)

    # ---- forward
    def forward(self, x):
        """f(x) for one sample (any shape with n_inputs values: returns
        n_outputs values) or a batch (2-D [batch, n_inputs]: [batch, n_outputs])."""
        a = np.asarray(x, dtype=np.float64)
        batched = a.ndim == 2 and a.shape[1] == self.n_inputs
        if not batched:
            a = _vec(a, self.n_inputs).reshape(1, -1)
        a = np.ascontiguousarray(a)
        y = np.empty((a.shape[0], self.n_outputs))
        err = Error()
        check(lib.cb_net_forward(self._h.ptr, _ptr(a), a.shape[0], _ptr(y), ctypes.byref(err)), err)
        return y if batched else y[0]

    # ---- bounds
    def bounds(self, x, eps, norm="inf", method="crown", clip=None):
        """(lo, hi): certified bounds of every logit over the ball
        {y : ||y - x||_norm <= eps} (cut by clip), lo[k] <= f_k(y) <= hi[k]."""
        m = _choice(BOUND_METHODS, method, "bounding method")
        r = self._region(x, eps, norm, clip)
        lo, hi = np.empty(self.n_outputs), np.empty(self.n_outputs)
        err = Error()
        check(lib.cb_bounds_logits(self._h.ptr, r.ptr, m, _ptr(lo), _ptr(hi), self.n_outputs, ctypes.byref(err)), err)
        return lo, hi

    def margin_bounds(self, x, label, eps, norm="inf", method="crown", clip=None):
        """Lower bounds of f_label - f_j over the ball, j != label ascending
        (n_outputs - 1 values): all > 0 proves the label is kept."""
        m = _choice(BOUND_METHODS, method, "bounding method")
        r = self._region(x, eps, norm, clip)
        lo = np.empty(max(self.n_outputs - 1, 0))
        err = Error()
        check(lib.cb_bounds_margins(self._h.ptr, r.ptr, m, self._label(label), _ptr(lo), lo.size, ctypes.byref(err)),
              err)
        return lo

    # ---- certify, radius
    def certify(self, x, label, eps, norm="inf", clip=None, timeout=0.0, bab_timeout=10.0, radius=False):
        """The certify cascade on one sample (`cerbere certify`): a Certificate."""
        o = CertifyOpts()
        lib.cb_certify_opts_init(ctypes.byref(o), ctypes.sizeof(o))
        o.timeout, o.bab_timeout, o.radius = float(timeout), float(bab_timeout), int(bool(radius))
        r = self._region(x, eps, norm, clip)
        h = ctypes.c_void_p()
        err = Error()
        check(lib.cb_certify(self._h.ptr, r.ptr, self._label(label), ctypes.byref(o), ctypes.byref(h),
                             ctypes.byref(err)), err)
        return Certificate(h.value)

    def radius(self, x, label, norm="inf", eps=0.0, method="cascade", clip=None, timeout=0.0, bab_timeout=10.0,
               bounds="crown", steps=16):
        """(certified, attacked): the largest radius proved and the smallest
        with a counterexample (inf if none).  method "cascade" is `certify
        --radius` started at eps; "local-lipschitz" is `jacobian`'s
        certified_radius_local (bounds crown or ibp, steps balls)."""
        o = RadiusOpts()
        lib.cb_radius_opts_init(ctypes.byref(o), ctypes.sizeof(o))
        o.method = _choice(_RADIUS_METHODS, method, "radius method")
        o.timeout, o.bab_timeout, o.steps = float(timeout), float(bab_timeout), int(steps)
        o.bounds = _choice(BOUND_METHODS, bounds, "bounding method")
        r = self._region(x, eps, norm, clip)
        c, a = ctypes.c_double(), ctypes.c_double()
        err = Error()
        check(lib.cb_radius(self._h.ptr, r.ptr, self._label(label), ctypes.byref(o), ctypes.byref(c), ctypes.byref(a),
                            ctypes.byref(err)), err)
        return c.value, a.value

    # ---- Lipschitz, gradients
    def lipschitz(self, norm="2"):
        """An upper bound of the global Lipschitz constant in the norm."""
        k = ctypes.c_double()
        err = Error()
        check(lib.cb_lipschitz_upper(self._h.ptr, _norm(norm), ctypes.byref(k), ctypes.byref(err)), err)
        return k.value

    def _rows(self, C):
        if C is None:
            return None, self.n_outputs
        c = np.ascontiguousarray(np.asarray(C, dtype=np.float64))
        if c.ndim == 1:
            c = c.reshape(1, -1)
        if c.ndim != 2 or c.shape[1] != self.n_outputs:
            raise CerbereError(-5, "shape error", "C must be [q, %d] (one row per output combination), not %s"
                               % (self.n_outputs, c.shape))
        return c, c.shape[0]

    def gradient(self, x, C=None):
        """C df/dx at x, [q, n_inputs] (C: [q, n_outputs]; None: the full
        Jacobian, [n_outputs, n_inputs])."""
        c, q = self._rows(C)
        a = _vec(x, self.n_inputs)
        g = np.empty((q, self.n_inputs))
        err = Error()
        check(lib.cb_gradient(self._h.ptr, _ptr(a), a.size, _ptr(c) if c is not None else None, q, _ptr(g), g.size,
                              ctypes.byref(err)), err)
        return g

    def jacobian_bounds(self, x, eps, norm="inf", C=None, method="crown", clip=None):
        """(lo, hi), each [q, n_inputs]: lo <= C df/dy(y) <= hi for every y of
        the ball (the interval Jacobian; method: crown or ibp pre-activation
        bounds)."""
        c, q = self._rows(C)
        m = _choice(BOUND_METHODS, method, "bounding method")
        r = self._region(x, eps, norm, clip)
        lo, hi = np.empty((q, self.n_inputs)), np.empty((q, self.n_inputs))
        err = Error()
        check(lib.cb_jacobian_bounds(self._h.ptr, r.ptr, m, _ptr(c) if c is not None else None, q, _ptr(lo), _ptr(hi),
                                     lo.size, ctypes.byref(err)), err)
        return lo, hi

    # ---- attributions
    def _attr_opts(self, method, kw):
        o = AttrOpts()
        lib.cb_attr_opts_init(ctypes.byref(o), ctypes.sizeof(o))
        o.method = _choice(ATTRIBUTION_METHODS, method, "attribution method")
        keep = []
        for k, v in kw.items():
            if k == "baseline" and np.ndim(v) > 0:
                b = _vec(v, self.n_inputs, "baseline")
                keep.append(b)
                o.baseline_vec = _ptr(b)
            elif k in ("node", "lrp_rule"):
                setattr(o, k, None if v is None else str(v).encode())
            elif k == "norm":
                o.norm = _norm(v)
            elif k == "reduce":
                o.reduce = int(bool(v))
            elif k == "attention":
                o.attention_raw = _choice(_ATTENTION, v, "attention")
            elif k == "head_fusion":
                o.head_fusion = _choice(_HEAD_FUSION, v, "head fusion")
            elif k == "query":
                o.query = -1 if v is None else int(v)
            elif k in ("steps", "n_baselines", "samples", "seed", "patch", "stride", "rise_cells", "baseline", "sigma",
                       "rise_p", "eps", "lrp_eps", "lrp_gamma", "lrp_alpha", "lr", "grid", "kernel_width", "ridge"):
                setattr(o, k, v)
            else:
                raise CerbereError(-1, "usage error", "unknown attribution option %r" % (k,))
        return o, keep

    def attribute(self, x, target, method="saliency", **options):
        """The attribution map of class target at x (`cerbere attribute`):
        one value per input feature, or per pixel for a multi-channel image
        (reduce=False keeps every feature).  options: steps, baseline (a
        number or an array), n_baselines, samples, sigma, seed, patch,
        stride, rise_p, rise_cells, node, reduce, norm, eps, lrp_rule (as
        `--rule`), lrp_eps, lrp_gamma, lrp_alpha, lr (opticam), grid (sobol,
        hsic), kernel_width and ridge (lime); rollout (attention nets: one
        value per token, any target): attention ("rollout" or "raw"),
        head_fusion ("mean", "max", "min"), query (a token, None: the mean
        of the rows), node (the attention map's Softmax node)."""
        o, keep = self._attr_opts(method, options)
        a = _vec(x, self.n_inputs)
        nm = lib.cb_attr_map_size(self._h.ptr, ctypes.byref(o))
        out = np.empty(nm)
        err = Error()
        check(lib.cb_attribute(self._h.ptr, _ptr(a), a.size, self._label(target, "target"), ctypes.byref(o), _ptr(out),
                               nm, ctypes.byref(err)), err)
        del keep
        return out

    def sanity(self, x, target, method="saliency", layers=0, row=0, **options):
        """The randomisation sanity checks (`cerbere attribute --sanity`): a
        dict of model_spearman and model_change (the map against the map of
        a copy of the net whose last `layers` (0: all) AFFINE/CONV layers
        are re-initialised from the seed option), logit_class (a random
        other class; row is mixed into its seed as for the CLI's data row),
        logit_spearman and logit_change.  The network is not changed."""
        o, keep = self._attr_opts(method, options)
        a = _vec(x, self.n_inputs)
        r = Sanity()
        err = Error()
        check(lib.cb_attr_sanity(self._h.ptr, _ptr(a), a.size, self._label(target, "target"), ctypes.byref(o), int(layers),
                                 int(row), ctypes.byref(r), ctypes.byref(err)), err)
        del keep
        return {k: getattr(r, k) for k, _ in Sanity._fields_}

    def attribute_bounds(self, x, target, eps, norm="inf", method="saliency", clip=None, **options):
        """(lb, ub): certified bounds of the map over the ball, for saliency,
        gradxinput, ig (also random baselines), smoothgrad, vargrad,
        squaregrad, occlusion, rise, gradcam and gradcampp (`cerbere audit`)."""
        o, keep = self._attr_opts(method, options)
        r = self._region(x, eps, norm, clip)
        nm = lib.cb_attr_map_size(self._h.ptr, ctypes.byref(o))
        lb, ub = np.empty(nm), np.empty(nm)
        err = Error()
        check(lib.cb_attribute_bounds(self._h.ptr, r.ptr, self._label(target, "target"), ctypes.byref(o), _ptr(lb),
                                      _ptr(ub), nm, ctypes.byref(err)), err)
        del keep
        return lb, ub


def compare_models(nets, X, labels, splits, method="saliency", **options):
    """MeGe and ReCo of a method over K models (`cerbere compare-models`):
    nets K Networks, X (R rows of inputs), labels (R classes), splits (R
    indices in 0..K-1: model k did not see split k).  A dict of mege, reco
    (NaN when undefined), n_eq, n_ne, n_nan."""
    nets = list(nets)
    for m in nets:
        if not isinstance(m, Network):
            raise CerbereError(-1, "usage error", "compare_models wants cerbere.Networks, not %r" % (type(m).__name__,))
    if not nets:
        raise CerbereError(-1, "usage error", "compare_models wants at least two networks")
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    R = X.shape[0] if X.ndim > 1 else 1
    X = X.reshape(R, -1)
    lab = np.ascontiguousarray(np.asarray(labels, dtype=np.intc).reshape(-1))
    spl = np.ascontiguousarray(np.asarray(splits, dtype=np.intc).reshape(-1))
    if lab.size != R or spl.size != R:
        raise CerbereError(-5, "shape error", "%d rows, %d labels and %d splits: one label and one split per row"
                           % (R, lab.size, spl.size))
    o, keep = nets[0]._attr_opts(method, options)
    arr = (ctypes.c_void_p * len(nets))(*[m._h.ptr for m in nets])
    r = Mege()
    err = Error()
    ip = ctypes.POINTER(ctypes.c_int)
    check(lib.cb_compare_models(arr, len(nets), _ptr(X), lab.ctypes.data_as(ip), spl.ctypes.data_as(ip), R, X.shape[1],
                                ctypes.byref(o), ctypes.byref(r), ctypes.byref(err)), err)
    del keep
    return {"mege": r.mege, "reco": r.reco, "n_eq": r.n_eq, "n_ne": r.n_ne, "n_nan": r.n_nan}


def verify(net, vnnlib, timeout=300.0, max_memory_mb=2048.0, threads=0):
    """Decide a VNNLIB property on net (`cerbere verify`): a Verification."""
    if not isinstance(net, Network):
        raise CerbereError(-1, "usage error", "verify wants a cerbere.Network, not %r" % (type(net).__name__,))
    o = VerifyOpts()
    lib.cb_verify_opts_init(ctypes.byref(o), ctypes.sizeof(o))
    o.timeout, o.max_memory_mb, o.threads = float(timeout), float(max_memory_mb), int(threads)
    h = ctypes.c_void_p()
    err = Error()
    check(lib.cb_verify_vnnlib(net._h.ptr, str(vnnlib).encode(), ctypes.byref(o), ctypes.byref(h), ctypes.byref(err)),
          err)
    return Verification(h.value)


def write_certificates_json(path, certificates):
    """Write Certificates as one JSON file (cb_certificates_write_json: the
    sample keys of `cerbere certify`'s certificates.json)."""
    certs = list(certificates)
    for c in certs:
        if not isinstance(c, Certificate):
            raise CerbereError(-1, "usage error", "write_certificates_json wants Certificates, not %r"
                               % (type(c).__name__,))
    arr = (ctypes.c_void_p * max(len(certs), 1))(*[c._h.ptr for c in certs])
    err = Error()
    check(lib.cb_certificates_write_json(str(path).encode(), arr, len(certs), ctypes.byref(err)), err)
