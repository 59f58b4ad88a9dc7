#!/usr/bin/python3
"""Generate the ONNX op-coverage nets in tests/data/ops/.

Run with Debian's python (onnx 1.12, numpy 1.24):

    /usr/bin/python3 tests/data/gen_ops.py

For every net NAME it writes
    ops/NAME.onnx     the model (float32 weights unless stated otherwise)
    ops/NAME.in.csv   8 input rows   `0,x0,...,x(n-1)` (label column = dummy 0)
    ops/NAME.out.csv  8 output rows  `0,y0,...,y(m-1)`
and finally ops/README.md.  Tensors are flattened in C order; values are
printed with '%.17g' so they round-trip exactly to doubles.

The expected outputs come from the small float64 numpy interpreter below
(`Interp`), which evaluates the model AS RELOADED FROM DISK: every float32
weight is converted to float64 exactly, every float32 attribute (alpha,
epsilon, Clip bounds...) is used at its float32 value, and all arithmetic is
float64.  A net whose last node is a Softmax gets the Softmax's INPUT as its
expected output (cerbere drops a trailing Softmax with a warning).

Deterministic: each net draws from its own generator seeded with
(SEED, crc32(NAME)), so adding a net does not change the others.  Python is
only needed to regenerate these files; the product and its tests never run it.
"""
import math
import os
import sys
import zlib

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

SEED = 20240917
NROWS = 8
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ops")
PRODUCER = "cerbere tests/data/gen_ops.py"


# --------------------------------------------------------------------------
# float64 reference interpreter
# --------------------------------------------------------------------------

def tensor_value(t):
    """An initializer / Constant tensor as numpy: floats become float64 exactly."""
    a = numpy_helper.to_array(t)
    if a.dtype.kind == "f":
        a = a.astype(np.float64)
    return a


def attrs_of(node):
    d = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        d[a.name] = v
    return d


def window_out(n, k, s, p0, p1, d):
    eff = (k - 1) * d + 1
    o = (n + p0 + p1 - eff) // s + 1
    assert o >= 1, "window does not fit"
    return o


def conv2d(x, W, b, strides, pads, dil, group):
    N, C, H, Wd = x.shape
    M, cg, kh, kw = W.shape
    assert C == cg * group and M % group == 0
    sh, sw = strides
    pt, pl, pb, pr = pads
    dh, dw = dil
    Ho = window_out(H, kh, sh, pt, pb, dh)
    Wo = window_out(Wd, kw, sw, pl, pr, dw)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    y = np.zeros((N, M, Ho, Wo))
    mg = M // group
    for m in range(M):
        g = m // mg
        for i in range(Ho):
            for j in range(Wo):
                patch = xp[:, g * cg:(g + 1) * cg,
                           i * sh:i * sh + (kh - 1) * dh + 1:dh,
                           j * sw:j * sw + (kw - 1) * dw + 1:dw]
                y[:, m, i, j] = np.sum(patch * W[m], axis=(1, 2, 3))
        if b is not None:
            y[:, m] += b[m]
    return y


def pool2d(x, kind, kernel, strides, pads, dil=(1, 1), count_include_pad=0):
    N, C, H, Wd = x.shape
    kh, kw = kernel
    sh, sw = strides
    pt, pl, pb, pr = pads
    dh, dw = dil
    Ho = window_out(H, kh, sh, pt, pb, dh)
    Wo = window_out(Wd, kw, sw, pl, pr, dw)
    padw = ((0, 0), (0, 0), (pt, pb), (pl, pr))
    if kind == "max":
        xp = np.pad(x, padw, constant_values=-np.inf)
    else:
        xp = np.pad(x, padw)
        cnt = np.pad(np.ones_like(x), padw)
    y = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            sl = (slice(None), slice(None),
                  slice(i * sh, i * sh + (kh - 1) * dh + 1, dh),
                  slice(j * sw, j * sw + (kw - 1) * dw + 1, dw))
            if kind == "max":
                y[:, :, i, j] = np.max(xp[sl], axis=(2, 3))
            else:
                s = np.sum(xp[sl], axis=(2, 3))
                div = kh * kw if count_include_pad else np.sum(cnt[sl], axis=(2, 3))
                y[:, :, i, j] = s / div
    return y


def norm_axes(axes, rank):
    return sorted(a + rank if a < 0 else a for a in axes)


class Interp:
    """Evaluates a ModelProto on one sample (batch 1) in float64."""

    def __init__(self, model):
        self.model = model
        self.opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        self.inits = {t.name: tensor_value(t) for t in model.graph.initializer}

    def run(self, x):
        g = self.model.graph
        env = dict(self.inits)
        data_inputs = [i.name for i in g.input if i.name not in self.inits]
        assert len(data_inputs) == 1
        env[data_inputs[0]] = x
        for n in g.node:
            ins = [env[i] if i else None for i in n.input]
            outs = self.op(n, ins)
            for name, v in zip(n.output, outs):
                if name:
                    env[name] = v
        return env

    def expected(self, x):
        """The value cerbere must produce: the graph output, or the input of a trailing Softmax."""
        env = self.run(x)
        out = self.model.graph.output[0].name
        prod = [n for n in self.model.graph.node if out in n.output][0]
        if prod.op_type == "Softmax":
            return env[prod.input[0]]
        return env[out]

    def op(self, n, ins):
        a = attrs_of(n)
        t = n.op_type
        x = ins[0] if ins else None
        if t == "Gemm":
            A, B = ins[0], ins[1]
            C = ins[2] if len(ins) > 2 else None
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = a.get("alpha", 1.0) * (A @ B)
            if C is not None:
                y = y + a.get("beta", 1.0) * C
            return [y]
        if t == "MatMul":
            return [np.matmul(ins[0], ins[1])]
        if t == "Add":
            return [ins[0] + ins[1]]
        if t == "Sub":
            return [ins[0] - ins[1]]
        if t == "Mul":
            return [ins[0] * ins[1]]
        if t == "Div":
            return [ins[0] / ins[1]]
        if t == "Relu":
            return [np.maximum(x, 0.0)]
        if t == "Sigmoid":
            return [1.0 / (1.0 + np.exp(-x))]
        if t == "Tanh":
            return [np.tanh(x)]
        if t == "LeakyRelu":
            al = a.get("alpha", 0.01)
            return [np.where(x >= 0, x, al * x)]
        if t == "Elu":
            al = a.get("alpha", 1.0)
            return [np.where(x > 0, x, al * np.expm1(np.minimum(x, 0.0)))]
        if t == "Softplus":
            return [np.logaddexp(0.0, x)]
        if t == "Exp":
            return [np.exp(x)]
        if t == "Selu":
            al = a.get("alpha", 1.67326319217681884765625)
            ga = a.get("gamma", 1.05070102214813232421875)
            return [ga * np.where(x > 0, x, al * np.expm1(np.minimum(x, 0.0)))]
        if t == "Softsign":
            return [x / (1.0 + np.abs(x))]
        if t == "Erf":
            return [np.vectorize(math.erf)(x)]
        if t == "HardSigmoid":
            return [np.clip(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0.0, 1.0)]
        if t == "Clip":
            if self.opset <= 10:
                lo = a.get("min", -np.inf)
                hi = a.get("max", np.inf)
            else:
                lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
                hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
            return [np.minimum(np.maximum(x, lo), hi)]
        if t == "Softmax":
            ax = a.get("axis", 1 if self.opset < 13 else -1)
            if self.opset < 13:  # coerced to 2-D at axis
                ax = ax + x.ndim if ax < 0 else ax
                x2 = x.reshape(int(np.prod(x.shape[:ax])), -1)
                e = np.exp(x2 - x2.max(axis=1, keepdims=True))
                return [(e / e.sum(axis=1, keepdims=True)).reshape(x.shape)]
            e = np.exp(x - x.max(axis=ax, keepdims=True))
            return [e / e.sum(axis=ax, keepdims=True)]
        if t == "Conv":
            assert a.get("auto_pad", "NOTSET") == "NOTSET"
            W = ins[1]
            b = ins[2] if len(ins) > 2 else None
            if "kernel_shape" in a:
                assert list(a["kernel_shape"]) == list(W.shape[2:])
            return [conv2d(x, W, b, a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]),
                           a.get("dilations", [1, 1]), a.get("group", 1))]
        if t in ("MaxPool", "AveragePool"):
            assert a.get("auto_pad", "NOTSET") == "NOTSET" and a.get("ceil_mode", 0) == 0
            k = a["kernel_shape"]
            kind = "max" if t == "MaxPool" else "avg"
            return [pool2d(x, kind, k, a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]),
                           a.get("dilations", [1, 1]), a.get("count_include_pad", 0))]
        if t == "GlobalAveragePool":
            return [np.mean(x, axis=(2, 3), keepdims=True)]
        if t == "BatchNormalization":
            sc, bi, mu, var = ins[1:5]
            eps = a.get("epsilon", 1e-5)
            shp = [1, -1] + [1] * (x.ndim - 2)
            y = (x - mu.reshape(shp)) / np.sqrt(var.reshape(shp) + eps) * sc.reshape(shp) + bi.reshape(shp)
            return [y]
        if t == "Flatten":
            ax = a.get("axis", 1)
            ax = ax + x.ndim if ax < 0 else ax
            return [x.reshape(int(np.prod(x.shape[:ax])), -1)]
        if t == "Reshape":
            shp = [int(s) for s in ins[1]]
            assert not a.get("allowzero", 0)
            shp = [x.shape[i] if s == 0 else s for i, s in enumerate(shp)]
            return [x.reshape(shp)]
        if t == "Transpose":
            perm = a.get("perm", list(range(x.ndim))[::-1])
            return [np.transpose(x, perm)]
        if t == "Squeeze":
            axes = a["axes"] if self.opset <= 12 else [int(v) for v in ins[1]]
            axes = norm_axes(axes, x.ndim)
            assert all(x.shape[i] == 1 for i in axes)
            return [np.squeeze(x, axis=tuple(axes))]
        if t == "Unsqueeze":
            axes = a["axes"] if self.opset <= 12 else [int(v) for v in ins[1]]
            axes = norm_axes(axes, x.ndim + len(axes))
            y = x
            for ax in axes:
                y = np.expand_dims(y, ax)
            return [y]
        if t == "Concat":
            return [np.concatenate(ins, axis=a["axis"])]
        if t == "Pad":
            if self.opset <= 10:
                pads = a["pads"]
                val = a.get("value", 0.0)
            else:
                pads = [int(v) for v in ins[1]]
                val = float(ins[2]) if len(ins) > 2 and ins[2] is not None else 0.0
            assert a.get("mode", "constant") == "constant"
            r = x.ndim
            assert min(pads) >= 0
            pw = [(pads[i], pads[i + r]) for i in range(r)]
            return [np.pad(x, pw, constant_values=val)]
        if t == "Dropout":
            return [x, np.ones(x.shape, dtype=bool)]
        if t == "Shape":
            return [np.array(x.shape, dtype=np.int64)]
        if t == "Gather":
            return [np.take(x, ins[1].astype(np.int64), axis=a.get("axis", 0))]
        if t == "Cast":
            to = a["to"]
            return [x.astype(np.int64) if to == TP.INT64 else x.astype(np.float32).astype(np.float64)
                    if to == TP.FLOAT else x.astype(np.float64)]
        if t == "Range":
            return [np.arange(ins[0], ins[1], ins[2])]
        if t == "Slice":
            st, en = [int(v) for v in ins[1]], [int(v) for v in ins[2]]
            ax = [int(v) for v in ins[3]] if len(ins) > 3 else list(range(len(st)))
            sp = [int(v) for v in ins[4]] if len(ins) > 4 else [1] * len(st)
            sl = [slice(None)] * x.ndim
            for s0, e0, a0, p0 in zip(st, en, ax, sp):
                sl[a0] = slice(s0, e0, p0)
            return [x[tuple(sl)]]
        if t == "ConstantOfShape":
            v = tensor_value(a["value"]) if "value" in a else np.zeros(1)
            return [np.full([int(d) for d in x], v.ravel()[0], dtype=v.dtype)]
        if t == "Expand":
            return [x * np.ones([int(d) for d in ins[1]], dtype=x.dtype)]
        if t == "ReduceL2":
            axes = tuple(a["axes"]) if "axes" in a else None
            return [np.sqrt(np.sum(x * x, axis=axes, keepdims=bool(a.get("keepdims", 1))))]
        if t == "Identity":
            return [x]
        if t == "Constant":
            return [tensor_value(a["value"])]
        raise NotImplementedError(t)


# --------------------------------------------------------------------------
# net building
# --------------------------------------------------------------------------

ELEM = {np.dtype(np.float32): TP.FLOAT, np.dtype(np.float64): TP.DOUBLE}


class Net:
    def __init__(self, name, opset, in_shape, desc, in_range=(-1.0, 1.0),
                 dtype=np.float32, ir_version=None):
        self.name = name
        self.opset = opset
        self.in_shape = list(in_shape)
        self.desc = desc
        self.in_range = in_range
        self.dtype = np.dtype(dtype)
        self.ir_version = ir_version
        self.rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
        self.nodes = []
        self.inits = []
        self.cur = "input"
        self.count = {}
        self.init_in_inputs = False

    # parameters ----------------------------------------------------------
    def rand(self, shape, fan_in, gain=1.5):
        w = self.rng.standard_normal(shape) * (gain / math.sqrt(fan_in))
        return w.astype(self.dtype)

    def bias(self, n, scale=0.5):
        return (self.rng.standard_normal(n) * scale).astype(self.dtype)

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def init_tensor(self, t):
        self.inits.append(t)
        return t.name

    def const_node(self, name, arr):
        """A Constant node producing `arr`; returns the output name."""
        out = name
        self.nodes.append(helper.make_node("Constant", [], [out], name=name + "_node",
                                           value=numpy_helper.from_array(np.asarray(arr), name + "_value")))
        return out

    # nodes ---------------------------------------------------------------
    def add(self, op, inputs, name=None, **attrs):
        i = self.count.get(op, 0)
        self.count[op] = i + 1
        name = name or "%s_%d" % (op.lower(), i)
        out = name + "_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        self.cur = out
        return out

    def gemm(self, x, nin, nout, trans_b=False, bias="1d", **attrs):
        W = self.rand((nout, nin) if trans_b else (nin, nout), nin)
        i = self.count.get("Gemm", 0)
        ins = [x, self.init("gemm_%d_W" % i, W)]
        if bias == "1d":
            ins.append(self.init("gemm_%d_b" % i, self.bias(nout)))
        elif bias == "2d":
            ins.append(self.init("gemm_%d_b" % i, self.bias(nout).reshape(1, nout)))
        elif bias == "scalar1":
            ins.append(self.init("gemm_%d_b" % i, self.bias(1)))
        if trans_b:
            attrs["transB"] = 1
        return self.add("Gemm", ins, **attrs)

    def conv(self, x, cin, cout, k, bias=True, group=1, **attrs):
        kh, kw = (k, k) if isinstance(k, int) else k
        i = self.count.get("Conv", 0)
        W = self.rand((cout, cin // group, kh, kw), cin // group * kh * kw)
        ins = [x, self.init("conv_%d_W" % i, W)]
        if bias:
            ins.append(self.init("conv_%d_b" % i, self.bias(cout)))
        if group != 1:
            attrs["group"] = group
        return self.add("Conv", ins, **attrs)

    # model ---------------------------------------------------------------
    def model(self, out_shape):
        et = ELEM[self.dtype]
        inputs = [helper.make_tensor_value_info("input", et, self.in_shape)]
        if self.init_in_inputs:
            for t in self.inits:
                inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        outs = [helper.make_tensor_value_info(self.cur, et, out_shape)]
        g = helper.make_graph(self.nodes, self.name, inputs, outs, initializer=self.inits)
        ops = [helper.make_opsetid("", self.opset)]
        m = helper.make_model(g, producer_name=PRODUCER, opset_imports=ops)
        m.ir_version = self.ir_version or max(4, helper.find_min_ir_version_for(ops))
        return m


NETS = []


def net(fn):
    NETS.append(fn)
    return fn


# --------------------------------------------------------------------------
# the nets
# --------------------------------------------------------------------------

@net
def gemm_variants():
    n = Net("gemm_variants", 11, [1, 5],
            "Gemm forms: transA=0/transB=0 with 1-D bias [N]; transB=1 with 2-D bias [1,N]; "
            "alpha=0.5, beta=2 (transB=1); bias of shape [1] broadcast to all outputs; "
            "no C input (optional since opset 11). Relu between.")
    x = n.gemm("input", 5, 7, bias="1d")
    x = n.add("Relu", [x])
    x = n.gemm(x, 7, 6, trans_b=True, bias="2d")
    x = n.add("Relu", [x])
    x = n.gemm(x, 6, 6, trans_b=True, bias="1d", alpha=0.5, beta=2.0)
    x = n.add("Relu", [x])
    x = n.gemm(x, 6, 5, bias="scalar1")
    x = n.add("Relu", [x])
    x = n.gemm(x, 5, 3, bias=None)
    return n


@net
def gemm_transA():
    n = Net("gemm_transA", 9, [1, 5],
            "Gemm with transA=1: input [1,5] -> Reshape [5,1] -> Gemm(transA=1, B [5,4], C [4]) "
            "-> Relu -> Gemm.")
    s = n.init("shape_col", np.array([5, 1], dtype=np.int64))
    x = n.add("Reshape", ["input", s])
    W = n.rand((5, 4), 5)
    x = n.add("Gemm", [x, n.init("gemmT_W", W), n.init("gemmT_b", n.bias(4))], transA=1)
    x = n.add("Relu", [x])
    x = n.gemm(x, 4, 3)
    return n


@net
def matmul_add():
    n = Net("matmul_add", 10, [1, 5],
            "ACAS-Xu style: MatMul by an [in,out] initializer + Add bias, Relu, three layers; the "
            "second Add has the bias as its FIRST operand.")
    x = n.add("MatMul", ["input", n.init("mm0_W", n.rand((5, 8), 5))])
    x = n.add("Add", [x, n.init("mm0_b", n.bias(8))])
    x = n.add("Relu", [x])
    x = n.add("MatMul", [x, n.init("mm1_W", n.rand((8, 8), 8))])
    x = n.add("Add", [n.init("mm1_b", n.bias(8)), x])
    x = n.add("Relu", [x])
    x = n.add("MatMul", [x, n.init("mm2_W", n.rand((8, 3), 8))])
    x = n.add("Add", [x, n.init("mm2_b", n.bias(3))])
    return n


@net
def matmul_rank1():
    n = Net("matmul_rank1", 12, [1],
            "VNN-COMP test_nano style: rank-1 input of shape [1] (no batch dim); MatMul [1] x [1,1] "
            "-> Relu -> MatMul [1,3] -> Add [3] -> Relu -> MatMul [3,1]; output shape [1].",
            in_range=(-2.0, 2.0))
    x = n.add("MatMul", ["input", n.init("nano_W0", n.rand((1, 1), 1))])
    x = n.add("Relu", [x])
    x = n.add("MatMul", [x, n.init("nano_W1", n.rand((1, 3), 1))])
    x = n.add("Add", [x, n.init("nano_b1", n.bias(3))])
    x = n.add("Relu", [x])
    x = n.add("MatMul", [x, n.init("nano_W2", n.rand((3, 1), 3))])
    return n


@net
def sub_div_mul():
    n = Net("sub_div_mul", 13, [1, 4],
            "Elementwise constants on [1,4]: Sub scalar initializer (shape []), Div by a Constant "
            "node scalar 0.3081, Mul by a per-feature [4] initializer given as the FIRST operand, "
            "Add a per-feature [1,4] Constant node; then Gemm.")
    x = n.add("Sub", ["input", n.init("sub_c", np.array(0.1307, dtype=np.float32))])
    x = n.add("Div", [x, n.const_node("div_c", np.array(0.3081, dtype=np.float32))])
    x = n.add("Mul", [n.init("mul_c", (n.rng.uniform(0.5, 2.0, 4) * n.rng.choice([-1, 1], 4)).astype(np.float32)), x])
    x = n.add("Add", [x, n.const_node("add_c", n.bias(4).reshape(1, 4))])
    x = n.gemm(x, 4, 3)
    return n


@net
def sub_div_mul_nchw():
    n = Net("sub_div_mul_nchw", 8, [1, 2, 3, 3],
            "Image normalisation: Sub per-channel mean [1,2,1,1], Div per-channel std [1,2,1,1] "
            "(initializers), Mul by a scalar [1] Constant node, Add scalar initializer [] ; "
            "Flatten; Gemm.")
    x = n.add("Sub", ["input", n.init("mean", np.array([0.485, 0.456], dtype=np.float32).reshape(1, 2, 1, 1))])
    x = n.add("Div", [x, n.init("std", np.array([0.229, 0.224], dtype=np.float32).reshape(1, 2, 1, 1))])
    x = n.add("Mul", [x, n.const_node("mul_s", np.array([0.75], dtype=np.float32))])
    x = n.add("Add", [x, n.init("add_s", np.array(-0.25, dtype=np.float32))])
    x = n.add("Flatten", [x])
    x = n.gemm(x, 18, 3)
    return n


def _activations(n, clip_inputs, gain):
    x = n.gemm("input", 6, 8)
    x = n.add("Sigmoid", [x])
    x = n.gemm(x, 8, 8)
    x = n.add("Tanh", [x])
    x = n.gemm(x, 8, 8)
    x = n.add("LeakyRelu", [x], alpha=0.1)
    x = n.gemm(x, 8, 8)
    # scale up so Clip(0,6) saturates on both sides for some rows
    x = n.add("Mul", [x, n.init("pre_clip_gain", np.array(gain, dtype=np.float32))])
    if clip_inputs:
        x = n.add("Clip", [x, n.init("clip_lo", np.array(0.0, dtype=np.float32)),
                           n.const_node("clip_hi", np.array(6.0, dtype=np.float32))])
    else:
        x = n.add("Clip", [x], min=0.0, max=6.0)
    x = n.gemm(x, 8, 8)
    x = n.add("Relu", [x])
    x = n.gemm(x, 8, 6)
    if clip_inputs:
        # Clip with only a min (max input omitted)
        x = n.add("Clip", [x, n.init("clip_lo_only", np.array(-0.5, dtype=np.float32))])
    else:
        x = n.add("Clip", [x], min=-0.5)
    x = n.gemm(x, 6, 3)
    return n


@net
def activations():
    n = Net("activations", 13, [1, 6],
            "Gemm then Sigmoid, Tanh, LeakyRelu(alpha=0.1 as float32), Mul by 4, Clip(0,6) with "
            "min/max as INPUTS (min an initializer, max a Constant node), Relu, Clip with only "
            "min=-0.5 (max input omitted), Gemms interleaved.", in_range=(-2.0, 2.0))
    return _activations(n, True, 4.0)


@net
def activations_op10():
    n = Net("activations_op10", 10, [1, 6],
            "Same structure as `activations` at opset 10 (Mul by 12): Clip min/max as ATTRIBUTES "
            "(Clip(0,6), then Clip(min=-0.5) with the default max).", in_range=(-2.0, 2.0))
    return _activations(n, False, 12.0)


@net
def elu():
    n = Net("elu", 13, [1, 6],
            "Gemm, Elu with the default alpha (1), Gemm, Elu(alpha=0.3 as float32), Gemm.",
            in_range=(-2.0, 2.0))
    x = n.gemm("input", 6, 8)
    x = n.add("Elu", [x])
    x = n.gemm(x, 8, 8)
    x = n.add("Elu", [x], alpha=0.3)
    x = n.gemm(x, 8, 3)
    return n


@net
def softplus():
    n = Net("softplus", 13, [1, 6],
            "Gemm, Softplus, Gemm, Mul by 4 (reaches the saturated ends), "
            "Softplus, Gemm.", in_range=(-2.0, 2.0))
    x = n.gemm("input", 6, 8)
    x = n.add("Softplus", [x])
    x = n.gemm(x, 8, 8)
    x = n.add("Mul", [x, n.init("sp_gain", np.array([4.0], dtype=np.float32))])
    x = n.add("Softplus", [x])
    x = n.gemm(x, 8, 3)
    return n


@net
def exp():
    n = Net("exp", 13, [1, 6], "Gemm, Exp, Gemm, Exp, Gemm (pre-activations of a few units).",
            in_range=(-1.0, 1.0))
    x = n.gemm("input", 6, 8)
    x = n.add("Exp", [x])
    x = n.gemm(x, 8, 8)
    x = n.add("Exp", [x])
    x = n.gemm(x, 8, 3)
    return n


@net
def hard_sigmoid():
    n = Net("hard_sigmoid", 13, [1, 6],
            "Gemm, HardSigmoid with the defaults (alpha 0.2, beta 0.5), Gemm, "
            "HardSigmoid(alpha=0.25, beta=0.375: dyadic as float32), Gemm; both kinks reached.",
            in_range=(-3.0, 3.0))
    x = n.gemm("input", 6, 8)
    x = n.add("HardSigmoid", [x])
    x = n.gemm(x, 8, 8)
    x = n.add("Mul", [x, n.init("hs_gain", np.array([6.0], dtype=np.float32))])
    x = n.add("HardSigmoid", [x], alpha=0.25, beta=0.375)
    x = n.gemm(x, 8, 3)
    return n


@net
def erf():
    n = Net("erf", 13, [1, 6],
            "Gemm, Erf, Gemm, Div by sqrt 2 (float32), Erf, Add 1, Mul 0.5 (GELU's factor "
            "0.5 (1 + erf(x / sqrt 2)) without the product by x), Gemm.",
            in_range=(-2.0, 2.0))
    x = n.gemm("input", 6, 8)
    x = n.add("Erf", [x])
    x = n.gemm(x, 8, 8)
    x = n.add("Div", [x, n.init("erf_sqrt2", np.array([1.4142135], dtype=np.float32))])
    x = n.add("Erf", [x])
    x = n.add("Add", [x, n.init("erf_one", np.array([1.0], dtype=np.float32))])
    x = n.add("Mul", [x, n.init("erf_half", np.array([0.5], dtype=np.float32))])
    x = n.gemm(x, 8, 3)
    return n


@net
def softsign():
    n = Net("softsign", 13, [1, 6], "Gemm, Softsign, Gemm, Softsign, Gemm.", in_range=(-2.0, 2.0))
    x = n.gemm("input", 6, 8)
    x = n.add("Softsign", [x])
    x = n.gemm(x, 8, 8)
    x = n.add("Softsign", [x])
    x = n.gemm(x, 8, 3)
    return n


@net
def selu():
    n = Net("selu", 13, [1, 6],
            "Gemm, Selu with the defaults (alpha 1.6733, gamma 1.0507), Gemm, "
            "Selu(alpha=0.5, gamma=2 as float32), Gemm.", in_range=(-2.0, 2.0))
    x = n.gemm("input", 6, 8)
    x = n.add("Selu", [x])
    x = n.gemm(x, 8, 8)
    x = n.add("Selu", [x], alpha=0.5, gamma=2.0)
    x = n.gemm(x, 8, 3)
    return n


@net
def conv_basic():
    n = Net("conv_basic", 11, [1, 3, 8, 8],
            "Conv 3x3 stride 2 pads 1 with bias (no kernel_shape attribute) -> Relu -> Flatten -> Gemm.")
    x = n.conv("input", 3, 4, 3, strides=[2, 2], pads=[1, 1, 1, 1])
    x = n.add("Relu", [x])
    x = n.add("Flatten", [x])
    x = n.gemm(x, 64, 5)
    return n


@net
def conv_dilation_groups():
    n = Net("conv_dilation_groups", 17, [1, 4, 7, 7],
            "Conv cin 4 -> cout 6, group=2, non-square kernel 3x2 (kernel_shape given), "
            "dilations 2x2, strides (1,2), asymmetric pads (top 0, left 1, bottom 1, right 2), "
            "no bias -> [1,6,4,4]; Relu; Flatten; Gemm.")
    x = n.conv("input", 4, 6, (3, 2), bias=False, group=2, kernel_shape=[3, 2],
               dilations=[2, 2], strides=[1, 2], pads=[0, 1, 1, 2])
    x = n.add("Relu", [x])
    x = n.add("Flatten", [x])
    x = n.gemm(x, 96, 4)
    return n


@net
def pools():
    n = Net("pools", 12, [1, 2, 8, 8],
            "Conv 3x3 pads 1 -> MaxPool(k2,s2) -> AveragePool(k3,s1,pads 1,count_include_pad=1) "
            "-> MaxPool(k3,s2,pads 1; pads are -inf, inputs may be negative) -> Flatten -> Gemm.")
    x = n.conv("input", 2, 3, 3, pads=[1, 1, 1, 1])
    x = n.add("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = n.add("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
              count_include_pad=1)
    x = n.add("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = n.add("Flatten", [x])
    x = n.gemm(x, 12, 3)
    return n


@net
def avgpool_nopad():
    n = Net("avgpool_nopad", 10, [1, 2, 6, 6],
            "Conv 3x3 -> AveragePool(k2,s2, no pads, default count_include_pad) -> "
            "GlobalAveragePool -> Flatten -> Gemm.")
    x = n.conv("input", 2, 3, 3)
    x = n.add("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = n.add("GlobalAveragePool", [x])
    x = n.add("Flatten", [x])
    x = n.gemm(x, 3, 2)
    return n


@net
def batchnorm():
    n = Net("batchnorm", 15, [1, 2, 5, 5],
            "Conv -> BatchNormalization(epsilon=1e-3 as float32, non-trivial scale/bias/mean/var) "
            "-> Relu -> Flatten -> Gemm -> BatchNormalization on a [1,C] tensor (valid ONNX: "
            "N x C) -> Relu -> Gemm.")
    x = n.conv("input", 2, 3, 3, pads=[1, 1, 1, 1])
    r = n.rng
    x = n.add("BatchNormalization", [x,
              n.init("bn0_scale", r.uniform(0.5, 1.5, 3).astype(np.float32)),
              n.init("bn0_bias", n.bias(3)),
              n.init("bn0_mean", n.bias(3)),
              n.init("bn0_var", r.uniform(0.3, 2.0, 3).astype(np.float32))], epsilon=1e-3)
    x = n.add("Relu", [x])
    x = n.add("Flatten", [x])
    x = n.gemm(x, 75, 6)
    x = n.add("BatchNormalization", [x,
              n.init("bn1_scale", (r.uniform(0.5, 1.5, 6) * r.choice([-1, 1], 6)).astype(np.float32)),
              n.init("bn1_bias", n.bias(6)),
              n.init("bn1_mean", n.bias(6)),
              n.init("bn1_var", r.uniform(0.3, 2.0, 6).astype(np.float32))], epsilon=1e-3)
    x = n.add("Relu", [x])
    x = n.gemm(x, 6, 3)
    return n


@net
def reshape_transpose():
    n = Net("reshape_transpose", 11, [1, 4, 4, 2],
            "marabou-cifar10 style: NHWC input [1,4,4,2] -> Transpose(0,3,1,2) -> Conv 3x3 pads 1 "
            "-> Relu -> Transpose(0,2,3,1) -> Reshape to INT64 initializer [-1,48] -> MatMul [48,5] "
            "-> Add.")
    x = n.add("Transpose", ["input"], perm=[0, 3, 1, 2])
    x = n.conv(x, 2, 3, 3, pads=[1, 1, 1, 1])
    x = n.add("Relu", [x])
    x = n.add("Transpose", [x], perm=[0, 2, 3, 1])
    x = n.add("Reshape", [x, n.init("flat_shape", np.array([-1, 48], dtype=np.int64))])
    x = n.add("MatMul", [x, n.init("fc_W", n.rand((48, 5), 48))])
    x = n.add("Add", [x, n.init("fc_b", n.bias(5))])
    return n


@net
def reshape_transpose_zero():
    n = Net("reshape_transpose_zero", 14, [1, 4, 4, 2],
            "Reshape with 0 entries (copy that dim) from Constant nodes, and a rank-3 Transpose: "
            "Transpose(0,3,1,2) -> Conv -> Relu -> Reshape [0,0,-1] -> [1,3,16] -> "
            "Transpose(0,2,1) -> [1,16,3] -> Reshape [0,-1] -> [1,48] -> MatMul -> Add.")
    x = n.add("Transpose", ["input"], perm=[0, 3, 1, 2])
    x = n.conv(x, 2, 3, 3, pads=[1, 1, 1, 1])
    x = n.add("Relu", [x])
    x = n.add("Reshape", [x, n.const_node("shape_a", np.array([0, 0, -1], dtype=np.int64))])
    x = n.add("Transpose", [x], perm=[0, 2, 1])
    x = n.add("Reshape", [x, n.const_node("shape_b", np.array([0, -1], dtype=np.int64))])
    x = n.add("MatMul", [x, n.init("fc_W", n.rand((48, 5), 48))])
    x = n.add("Add", [x, n.init("fc_b", n.bias(5))])
    return n


@net
def residual_concat():
    n = Net("residual_concat", 16, [1, 2, 5, 5],
            "Conv A (2->3, pads 1) -> Relu -> Conv B (3->3, pads 1); Add(B, relu(A)) residual of two "
            "computed tensors -> Relu; Concat(relu2, A) along channels (axis 1) -> [1,6,5,5]; "
            "Flatten; Gemm.")
    a = n.conv("input", 2, 3, 3, pads=[1, 1, 1, 1])
    ra = n.add("Relu", [a])
    b = n.conv(ra, 3, 3, 3, pads=[1, 1, 1, 1])
    s = n.add("Add", [b, ra])
    r2 = n.add("Relu", [s])
    x = n.add("Concat", [r2, a], axis=1)
    x = n.add("Flatten", [x], axis=1)
    x = n.gemm(x, 150, 3)
    return n


def _squeeze(n, axes_inputs):
    if axes_inputs:
        x = n.add("Squeeze", ["input", n.init("sq_axes", np.array([-1], dtype=np.int64))])
    else:
        x = n.add("Squeeze", ["input"], axes=[2])
    x = n.gemm(x, 6, 5)
    if axes_inputs:
        x = n.add("Dropout", [x, n.init("dropout_ratio", np.array(0.5, dtype=np.float32))])
    else:
        x = n.add("Dropout", [x], ratio=0.5)
    x = n.add("Identity", [x])
    if axes_inputs:
        x = n.add("Unsqueeze", [x, n.const_node("unsq_axes", np.array([-2], dtype=np.int64))])
    else:
        x = n.add("Unsqueeze", [x], axes=[1])
    x = n.add("Flatten", [x])
    x = n.gemm(x, 5, 3)
    return n


@net
def squeeze_unsqueeze_identity_dropout():
    n = Net("squeeze_unsqueeze_identity_dropout", 13, [1, 6, 1],
            "Opset-13 forms: Squeeze with axes INPUT [-1] ([1,6,1] -> [1,6]) -> Gemm -> Dropout with "
            "ratio INPUT 0.5 (inference: identity) -> Identity -> Unsqueeze with axes INPUT [-2] "
            "from a Constant node ([1,5] -> [1,1,5]) -> Flatten -> Gemm.")
    return _squeeze(n, True)


@net
def squeeze_unsqueeze_identity_dropout_op11():
    n = Net("squeeze_unsqueeze_identity_dropout_op11", 11, [1, 6, 1],
            "Opset-11 forms: Squeeze axes=[2] attribute -> Gemm -> Dropout ratio=0.5 attribute -> "
            "Identity -> Unsqueeze axes=[1] attribute -> Flatten -> Gemm.")
    return _squeeze(n, False)


@net
def pad_conv():
    n = Net("pad_conv", 11, [1, 2, 5, 5],
            "Pad with pads as an INT64 INPUT [0,0,1,2, 0,0,2,1] (H: 1 before 2 after, W: 2 before "
            "1 after; N/C unpadded) and explicit constant_value input 0 -> [1,2,8,8] -> Conv 3x3 "
            "-> Relu -> Flatten -> Gemm.")
    x = n.add("Pad", ["input", n.init("pads", np.array([0, 0, 1, 2, 0, 0, 2, 1], dtype=np.int64)),
                      n.init("pad_value", np.array(0.0, dtype=np.float32))], mode="constant")
    x = n.conv(x, 2, 3, 3)
    x = n.add("Relu", [x])
    x = n.add("Flatten", [x])
    x = n.gemm(x, 108, 3)
    return n


@net
def pad_conv_op10():
    n = Net("pad_conv_op10", 10, [1, 2, 5, 5],
            "Same as pad_conv at opset 10: pads as an ATTRIBUTE [0,0,1,2,0,0,2,1], mode and value "
            "left at their defaults (constant, 0).")
    x = n.add("Pad", ["input"], pads=[0, 0, 1, 2, 0, 0, 2, 1])
    x = n.conv(x, 2, 3, 3)
    x = n.add("Relu", [x])
    x = n.add("Flatten", [x])
    x = n.gemm(x, 108, 3)
    return n


@net
def pad_zero_avgpool():
    n = Net("pad_zero_avgpool", 9, [1, 2, 6, 6],
            "verivital style: Conv -> Relu -> all-zero Pad (attribute pads [0]*8, mode constant, "
            "value 0) -> AveragePool(k2,s2) -> Flatten -> Gemm.")
    x = n.conv("input", 2, 3, 3, pads=[1, 1, 1, 1])
    x = n.add("Relu", [x])
    x = n.add("Pad", [x], pads=[0] * 8, mode="constant", value=0.0)
    x = n.add("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = n.add("Flatten", [x])
    x = n.gemm(x, 27, 3)
    return n


@net
def softmax_tail():
    n = Net("softmax_tail", 12, [1, 5],
            "Gemm -> Relu -> Gemm -> Softmax(axis=1). The expected output is the LOGITS (the "
            "Softmax input): cerbere drops a trailing Softmax with a warning.")
    x = n.gemm("input", 5, 6)
    x = n.add("Relu", [x])
    x = n.gemm(x, 6, 4)
    x = n.add("Softmax", [x], axis=1)
    return n


@net
def ir3_init_as_input():
    n = Net("ir3_init_as_input", 8, [1, 1, 1, 5],
            "ACAS-Xu style, IR version 3 / opset 8, every initializer ALSO listed in graph.input: "
            "input [1,1,1,5] -> Sub(input, zeros [1,1,1,5]) -> Flatten -> MatMul -> Add -> Relu "
            "-> MatMul -> Add.", ir_version=3)
    n.init_in_inputs = True
    x = n.add("Sub", ["input", n.init("sub_zeros", np.zeros((1, 1, 1, 5), dtype=np.float32))])
    x = n.add("Flatten", [x])
    x = n.add("MatMul", [x, n.init("W0", n.rand((5, 8), 5))])
    x = n.add("Add", [x, n.init("b0", n.bias(8))])
    x = n.add("Relu", [x])
    x = n.add("MatMul", [x, n.init("W1", n.rand((8, 5), 8))])
    x = n.add("Add", [x, n.init("b1", n.bias(5))])
    return n


def _storage_net(n, how):
    """Gemm -> Relu -> Gemm with initializers stored as `how`."""
    def put(name, arr):
        arr = np.asarray(arr, dtype=n.dtype)
        if how == "raw":
            t = numpy_helper.from_array(arr, name)
            assert t.HasField("raw_data")
        else:
            t = helper.make_tensor(name, ELEM[n.dtype], list(arr.shape), arr.flatten().tolist())
            assert not t.HasField("raw_data")
        return n.init_tensor(t)
    x = n.add("Gemm", ["input", put("g0_W", n.rand((5, 6), 5)), put("g0_b", n.bias(6))])
    x = n.add("Relu", [x])
    x = n.add("Gemm", [x, put("g1_W", n.rand((3, 6), 6)), put("g1_b", n.bias(3))], transB=1)
    return n


@net
def double_weights():
    n = Net("double_weights", 13, [1, 5],
            "All-DOUBLE Gemm net (input, output and initializers elem_type DOUBLE); weights are full "
            "float64 values (NOT float32-representable) stored in raw_data.", dtype=np.float64)
    return _storage_net(n, "raw")


@net
def double_weights_double_data():
    n = Net("double_weights_double_data", 9, [1, 5],
            "All-DOUBLE Gemm net with initializers in the double_data field (not raw_data).",
            dtype=np.float64)
    return _storage_net(n, "typed")


@net
def float_data():
    n = Net("float_data", 11, [1, 5],
            "float32 Gemm net with initializers in the float_data field (not raw_data).")
    return _storage_net(n, "typed")


@net
def symbolic_batch():
    n = Net("symbolic_batch", 17, ["N", 5],
            "Input shape ['N',5] with a symbolic batch dim (output ['N',3]): Gemm -> Relu -> Gemm.")
    x = n.gemm("input", 5, 7)
    x = n.add("Relu", [x])
    x = n.gemm(x, 7, 3)
    return n


@net
def dynamic_view():
    n = Net("dynamic_view", 13, ["N", 1, 4, 4],
            "torch's x.view(x.size(0), -1) with a dynamic batch: Conv -> Relu -> Shape -> Gather(0) -> "
            "Unsqueeze -> Concat with [-1] -> Reshape -> Gemm (the shape subgraph is folded at load).")
    x = n.conv("input", 1, 3, 3, pads=[1, 1, 1, 1])
    x = n.add("Relu", [x])
    sh = n.add("Shape", [x])
    b = n.add("Gather", [sh, n.init("zero_idx", np.array(0, dtype=np.int64))], axis=0)
    b = n.add("Unsqueeze", [b, n.init("unsq_axes0", np.array([0], dtype=np.int64))])
    t = n.add("Concat", [b, n.init("minus_one", np.array([-1], dtype=np.int64))], axis=0)
    x = n.add("Reshape", [x, t])
    x = n.gemm(x, 48, 5)
    return n


@net
def dropout_mask_declared():
    n = Net("dropout_mask_declared", 13, [1, 6],
            "Gemm -> Dropout declaring its (unused) mask output, as a training-mode export does -> Gemm.")
    x = n.gemm("input", 6, 7)
    n.nodes.append(helper.make_node("Dropout", [x], ["drop_out", "drop_mask"], name="dropout_0"))
    n.cur = "drop_out"
    x = n.gemm("drop_out", 7, 3)
    return n


@net
def const_weight_subgraph():
    n = Net("const_weight_subgraph", 13, [1, 4],
            "Weights computed in the graph from initializers (a normalised parametrisation): "
            "W = Transpose(W0 / ReduceL2(W0)); b = Slice(Cast(Range(0, 6, 1)) * 0.1) + "
            "Expand(ConstantOfShape(0.5)); y = Relu(MatMul(x, W) + b) -> Gemm.  All folded at load.")
    w0 = n.init("w0", n.rand((5, 4), 4))
    nrm = n.add("ReduceL2", [w0], axes=[0, 1], keepdims=1)
    wn = n.add("Div", [w0, nrm])
    wt = n.add("Transpose", [wn], perm=[1, 0])
    r = n.add("Range", [n.init("r0", np.array(0, dtype=np.int64)), n.init("r1", np.array(6, dtype=np.int64)),
                        n.init("r2", np.array(1, dtype=np.int64))])
    r = n.add("Cast", [r], to=TP.FLOAT)
    r = n.add("Mul", [r, n.init("tenth", np.array(0.1, dtype=np.float32))])
    r = n.add("Slice", [r, n.init("s0", np.array([1], dtype=np.int64)), n.init("s1", np.array([6], dtype=np.int64))])
    c = n.add("ConstantOfShape", [n.init("cshape", np.array([1], dtype=np.int64))],
              value=numpy_helper.from_array(np.array([0.5], dtype=np.float32), "half"))
    c = n.add("Expand", [c, n.init("eshape", np.array([5], dtype=np.int64))])
    bias = n.add("Add", [r, c])
    x = n.add("MatMul", ["input", wt])
    x = n.add("Add", [x, bias])
    x = n.add("Relu", [x])
    x = n.gemm(x, 5, 3)
    return n


@net
def regression_head():
    n = Net("regression_head", 13, [1, 6],
            "A single-output (regression) net: Gemm -> Relu -> Gemm to 1 output; bounds gives its output interval.")
    x = n.gemm("input", 6, 8)
    x = n.add("Relu", [x])
    x = n.gemm(x, 8, 1)
    return n


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------

def fmt_row(v):
    return "0," + ",".join("%.17g" % float(t) for t in np.asarray(v).ravel(order="C"))


def concrete(shape):
    return [1 if isinstance(d, str) else d for d in shape]


def build(fn):
    n = fn()
    # provisional model: find the output shape with the interpreter
    shp = concrete(n.in_shape)
    lo, hi = n.in_range
    xs = [n.rng.uniform(lo, hi, shp).astype(np.float32).astype(n.dtype).astype(np.float64)
          for _ in range(NROWS)]
    m0 = n.model(None)
    y0 = Interp(m0).run(xs[0])[n.cur]
    out_shape = list(y0.shape)
    if isinstance(n.in_shape[0], str):
        out_shape[0] = n.in_shape[0]
    m = n.model(out_shape)
    onnx.checker.check_model(m, full_check=True)
    # shape inference must agree with the interpreter on the output
    inf = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    dims = [d.dim_param or d.dim_value for d in inf.graph.output[0].type.tensor_type.shape.dim]
    assert dims == out_shape, (n.name, dims, out_shape)
    path = os.path.join(OUT, n.name + ".onnx")
    onnx.save(m, path)
    # expected outputs from the model as reloaded from disk
    mr = onnx.load(path)
    it = Interp(mr)
    ys = [it.expected(x) for x in xs]
    for x, y in zip(xs, ys):
        assert np.all(np.isfinite(y))
    with open(os.path.join(OUT, n.name + ".in.csv"), "w") as f:
        f.write("".join(fmt_row(x) + "\n" for x in xs))
    with open(os.path.join(OUT, n.name + ".out.csv"), "w") as f:
        f.write("".join(fmt_row(y) + "\n" for y in ys))
    ops = []
    for nd in m.graph.node:
        if nd.op_type not in ops:
            ops.append(nd.op_type)
    flat_out = int(np.prod(ys[0].shape))
    spread = float(np.std(np.array([y.ravel() for y in ys]), axis=0).mean())
    return dict(name=n.name, opset=n.opset, ir=m.ir_version, in_shape=n.in_shape,
                out_shape=out_shape,
                n_in=int(np.prod(shp)), n_out=flat_out, ops=ops, desc=n.desc,
                size=os.path.getsize(path), spread=spread)


README_HEAD = """\
# tests/data/ops: ONNX op-coverage nets

Generated by `tests/data/gen_ops.py` (run with `/usr/bin/python3`, onnx 1.12,
numpy 1.24); do not edit by hand, rerun the script.  Each net `NAME` has:

- `NAME.onnx`: the model, float32 weights unless stated otherwise, every one
  accepted by `onnx.checker.check_model(full_check=True)`;
- `NAME.in.csv`: 8 input rows `0,x0,...,x(n-1)` (first column a dummy label 0),
  the input of ONE sample (batch 1) flattened in C order;
- `NAME.out.csv`: the 8 matching expected outputs `0,y0,...,y(m-1)`, flattened
  in C order.

Values are printed with `%.17g` (exact round trip to double).  Inputs are
float32-representable.  The expected outputs are computed by the float64
numpy reference interpreter in gen_ops.py on the model as reloaded from disk:
float32 weights are widened to float64 exactly, float32 attributes (LeakyRelu
alpha 0.1, BatchNormalization epsilon 1e-3, Clip bounds...) are used at their
float32 values (e.g. alpha = 0.100000001490116...), all arithmetic is float64.
A loader that keeps these exact should match to ~1e-12 relative; a tolerance
of 1e-9 (absolute + relative) is ample.

`softmax_tail` is special: its expected output is the Softmax INPUT (logits),
since cerbere drops a trailing Softmax with a warning.

"""

PROVENANCE = """
## PROVENANCE

All files here were generated by `tests/data/gen_ops.py` with SEED = {seed};
each net uses its own numpy `default_rng([SEED, crc32(NAME)])`, so nets are
independent of each other and of the order they are built in.  Weights are
N(0,1) * 1.5/sqrt(fan_in) (float32), biases 0.5 * N(0,1), inputs uniform in
[-1,1] ([-2,2] for activations*, matmul_rank1), rounded to float32 (also for
the DOUBLE nets, whose weights are full float64 values).  The generator was
checked against a second, scalar-loop implementation of Conv/MaxPool/
AveragePool (agreement within 1e-15), the Clip(0,6) of both activation nets
saturates on both sides for some rows, and in `pools` the -inf padding of
the last MaxPool changes 21 of the 96 outputs compared with zero padding.  The
expected outputs come from the script's own numpy float64 reference
implementation of each op (no onnxruntime, no onnx.reference).  No external
data or third-party model is involved.
"""


def write_readme(rows):
    L = [README_HEAD, "| net | opset | IR | input | output | ops | bytes |",
         "|---|---|---|---|---|---|---|"]
    for r in rows:
        L.append("| %s | %d | %d | %s | %s | %s | %d |" % (
            r["name"], r["opset"], r["ir"], r["in_shape"], r["out_shape"], " ".join(r["ops"]), r["size"]))
    L.append("")
    L.append("## What each net exercises")
    L.append("")
    for r in rows:
        L.append("- **%s** (opset %d): %s" % (r["name"], r["opset"], r["desc"]))
    L.append(PROVENANCE.format(seed=SEED))
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("\n".join(L))


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = []
    for fn in NETS:
        r = build(fn)
        rows.append(r)
        print("%-42s opset %2d  in %-14s out %-12s %5d B  spread %.3g" % (
            r["name"], r["opset"], r["in_shape"], r["out_shape"], r["size"], r["spread"]))
    write_readme(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
