#!/usr/bin/python3
"""Generate the corpus of bad ONNX files in tests/bad/ and tests/bad/EXPECT_onnx.

Run with Debian's python (onnx 1.12, numpy 1.24):

    /usr/bin/python3 tests/bad/gen_bad.py

`cerbere info FILE` must reject every file with exit code 3 (input error) and a
one-line message on stderr.  EXPECT_onnx has one line per requirement:

    <file>|<exit code>|<substring>

A file may have several lines; ALL of them must hold (its message must contain
every listed substring).  The substring is what any precise message must name:
the offending node, op, tensor or initializer.  Node and initializer names
share a distinctive prefix (node `nan_gemm_13`, weight `nan_gemm_13_W`) so the
message may name either.  For file-level damage (truncated, random, empty,
text, no nodes) nothing inside the file can be named, and the substring is the
file's base name: the message must say which file it is about.

Deterministic (fixed seed).  Models the onnx checker would refuse are saved
without checking; README_onnx.md records which files the checker accepts.
"""
import os
import sys
import warnings

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

SEED = 20240918
HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(SEED)

FILES = []   # (file, [substrings], description)


def w(shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def vi(name, shape, et=TP.FLOAT):
    return helper.make_tensor_value_info(name, et, shape)


def model(nodes, inits, inputs, outputs, opset=13, name="bad"):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    ops = [helper.make_opsetid("", opset)]
    m = helper.make_model(g, producer_name="cerbere tests/bad/gen_bad.py", opset_imports=ops)
    m.ir_version = max(4, helper.find_min_ir_version_for(ops))
    return m


def gemm(name, x, nin, nout, W=None, b=None):
    """A Gemm node `name` with initializers name_W [nin,nout], name_b [nout]."""
    W = w((nin, nout)) if W is None else W
    b = w(nout) if b is None else b
    return (helper.make_node("Gemm", [x, name + "_W", name + "_b"], [name + "_out"], name=name),
            [init(name + "_W", W), init(name + "_b", b)])


def save(fname, m, subs, desc):
    onnx.save(m, os.path.join(HERE, fname))
    FILES.append((fname, subs, desc))


def save_bytes(fname, data, subs, desc):
    with open(os.path.join(HERE, fname), "wb") as f:
        f.write(data)
    FILES.append((fname, subs, desc))


def good_mlp():
    n0, i0 = gemm("ok_gemm_0", "input", 5, 8)
    n1 = helper.make_node("Relu", ["ok_gemm_0_out"], ["r0"], name="ok_relu_0")
    n2, i2 = gemm("ok_gemm_1", "r0", 8, 3)
    return model([n0, n1, n2], i0 + i2, [vi("input", [1, 5])], [vi("ok_gemm_1_out", [1, 3])])


# ---------------------------------------------------------------- file level

def file_level():
    good = good_mlp().SerializeToString()
    cut = good[:len(good) // 2]
    save_bytes("truncated.onnx", cut, ["truncated.onnx"],
               "a valid 3-layer MLP cut in half (the graph field overruns the file)")
    r = np.random.default_rng([SEED, 1])
    data = r.integers(0, 256, 512, dtype=np.uint8).tobytes()
    save_bytes("random_bytes.onnx", data, ["random_bytes.onnx"], "512 random bytes")
    save_bytes("empty.onnx", b"", ["empty.onnx"],
               "empty file (decodes as an empty ModelProto: no graph)")
    save_bytes("text_file.onnx", b"This is not an ONNX model.\nJust some text, 1 2 3.\n",
               ["text_file.onnx"], "a text file")
    m = model([], [], [vi("empty_io", [1, 5])], [vi("empty_io", [1, 5])], name="no_nodes_graph")
    save("no_nodes.onnx", m, ["no_nodes.onnx"],
         "a graph with no nodes (its output is its input); valid ONNX, nothing to verify")


# ---------------------------------------------------------------- ops

def ops():
    # unknown op
    n0, i0 = gemm("uk_gemm", "input", 5, 4)
    n1 = helper.make_node("FooBar", ["uk_gemm_out"], ["foo_out"], name="mystery_node")
    save("unknown_op.onnx", model([n0, n1], i0, [vi("input", [1, 5])], [vi("foo_out", [1, 4])]),
         ["mystery_node", "FooBar"], "unknown op FooBar in node mystery_node")

    # two unsupported (real) ops on independent branches, each fed by a supported
    # Gemm (neither is downstream of the other): both must be reported
    n0, i0 = gemm("tu_gemm_0", "input", 5, 4)
    n1 = helper.make_node("Sin", ["tu_gemm_0_out"], ["s"], name="bad_sin_3")
    n2, i2 = gemm("tu_gemm_1", "input", 5, 4)
    n3 = helper.make_node("Cos", ["tu_gemm_1_out"], ["c"], name="bad_cos_4")
    n4 = helper.make_node("Add", ["s", "c"], ["y"], name="tu_add")
    save("two_unsupported_ops.onnx",
         model([n0, n1, n2, n3, n4], i0 + i2, [vi("input", [1, 5])], [vi("y", [1, 4])]),
         ["bad_sin_3", "bad_cos_4"], "two unsupported ops on parallel branches (Sin node bad_sin_3, "
         "Cos node bad_cos_4, joined by an Add): the message must name both")

    # Softmax not last, over an axis the tensor does not have (a Softmax in the middle is supported since
    # the attention kinds; before, this file had axis=1 and was refused for its place)
    n0, i0 = gemm("sm_gemm_0", "input", 5, 4)
    n1 = helper.make_node("Softmax", ["sm_gemm_0_out"], ["sm"], name="mid_softmax_31", axis=5)
    n2, i2 = gemm("sm_gemm_1", "sm", 4, 3)
    save("softmax_middle.onnx",
         model([n0, n1, n2], i0 + i2, [vi("input", [1, 5])], [vi("sm_gemm_1_out", [1, 3])]),
         ["mid_softmax_31"], "Softmax mid_softmax_31 in the middle of the graph over axis 5 of a 2-D tensor")

    # product of two computed tensors whose shapes do not broadcast (a product of two computed tensors is
    # supported since the attention kinds; before, both were [1,4] and the file was refused for the product)
    na, ia = gemm("bl_gemm_a", "input", 5, 4)
    nb, ib = gemm("bl_gemm_b", "input", 5, 3)
    n1 = helper.make_node("Mul", ["bl_gemm_a_out", "bl_gemm_b_out"], ["prod"], name="bilinear_mul_34")
    save("bilinear_mul.onnx", model([na, nb, n1], ia + ib, [vi("input", [1, 5])], [vi("prod", [1, 4])]),
         ["bilinear_mul_34"], "Mul bilinear_mul_34 of two computed tensors [1,4] and [1,3]")

    # Dropout in training mode (opset 13: training_mode input = true)
    n0, i0 = gemm("td_gemm", "input", 5, 4)
    n1 = helper.make_node("Dropout", ["td_gemm_out", "train_dropout_36_ratio", "train_dropout_36_mode"],
                          ["dr"], name="train_dropout_36")
    inits = i0 + [init("train_dropout_36_ratio", np.array(0.5, dtype=np.float32)),
                  init("train_dropout_36_mode", np.array(True))]
    save("dropout_training.onnx", model([n0, n1], inits, [vi("input", [1, 5])], [vi("dr", [1, 4])]),
         ["train_dropout_36"], "Dropout with training_mode=true (random, not an inference net)")


# ---------------------------------------------------------------- graph structure

def structure():
    # weight name defined nowhere
    n0 = helper.make_node("Gemm", ["input", "ghost_weight", "bad_gemm_7_b"], ["y"], name="bad_gemm_7")
    save("missing_initializer.onnx",
         model([n0], [init("bad_gemm_7_b", w(4))], [vi("input", [1, 5])], [vi("y", [1, 4])]),
         ["ghost_weight"], "Gemm bad_gemm_7 uses weight ghost_weight, which is defined nowhere")

    # data input produced by nothing
    n0, i0 = gemm("dg_gemm", "input", 5, 4)
    n1 = helper.make_node("Relu", ["nowhere_tensor"], ["y"], name="lost_relu_8")
    save("dangling_input.onnx", model([n0, n1], i0, [vi("input", [1, 5])], [vi("y", [1, 4])]),
         ["nowhere_tensor"], "Relu lost_relu_8 reads nowhere_tensor, produced by no node")

    # graph output produced by nothing
    n0, i0 = gemm("do_gemm", "input", 5, 4)
    save("dangling_output.onnx", model([n0], i0, [vi("input", [1, 5])], [vi("phantom_out_33", [1, 4])]),
         ["phantom_out_33"], "the graph output phantom_out_33 is produced by no node")

    # cycle
    n0 = helper.make_node("Add", ["input", "t_b"], ["t_a"], name="cyc_node_a")
    n1 = helper.make_node("Relu", ["t_a"], ["t_b"], name="cyc_node_b")
    save("cycle.onnx", model([n0, n1], [], [vi("input", [1, 5])], [vi("t_a", [1, 5])]),
         ["cyc_node_"], "cyc_node_a and cyc_node_b feed each other")

    # same tensor produced twice
    n0 = helper.make_node("Relu", ["input"], ["dup_tensor_35"], name="dup_a")
    n1 = helper.make_node("Sigmoid", ["input"], ["dup_tensor_35"], name="dup_b")
    save("duplicate_output.onnx", model([n0, n1], [], [vi("input", [1, 5])], [vi("dup_tensor_35", [1, 5])]),
         ["dup_tensor_35"], "two nodes both produce dup_tensor_35")

    # two data inputs
    n0 = helper.make_node("Add", ["twin_in_a", "twin_in_b"], ["y"], name="twin_add")
    save("two_inputs.onnx",
         model([n0], [], [vi("twin_in_a", [1, 4]), vi("twin_in_b", [1, 4])], [vi("y", [1, 4])]),
         ["twin_in_"], "two non-initializer graph inputs twin_in_a, twin_in_b")


# ---------------------------------------------------------------- shapes

def shapes():
    n0, i0 = gemm("bad_gemm_10", "input", 10, 7)
    save("gemm_shape_mismatch.onnx", model([n0], i0, [vi("input", [1, 5])], [vi("bad_gemm_10_out", [1, 7])]),
         ["bad_gemm_10"], "Gemm bad_gemm_10 weight [10,7] on an input of size 5")

    n0 = helper.make_node("MatMul", ["input", "bad_matmul_11_W"], ["y"], name="bad_matmul_11")
    save("matmul_shape_mismatch.onnx",
         model([n0], [init("bad_matmul_11_W", w((6, 3)))], [vi("input", [1, 5])], [vi("y", [1, 3])]),
         ["bad_matmul_11"], "MatMul bad_matmul_11 weight [6,3] on an input of size 5")

    n0, i0 = gemm("badbias_gemm_38", "input", 5, 3, b=w(4))
    save("gemm_bias_mismatch.onnx", model([n0], i0, [vi("input", [1, 5])], [vi("badbias_gemm_38_out", [1, 3])]),
         ["badbias_gemm_38"], "Gemm badbias_gemm_38 with 3 outputs and a bias of length 4")

    n0 = helper.make_node("Conv", ["input", "bad_conv_12_W", "bad_conv_12_b"], ["y"], name="bad_conv_12")
    save("conv_channel_mismatch.onnx",
         model([n0], [init("bad_conv_12_W", w((4, 2, 3, 3))), init("bad_conv_12_b", w(4))],
               [vi("input", [1, 3, 6, 6])], [vi("y", [1, 4, 4, 4])]),
         ["bad_conv_12"], "Conv bad_conv_12 kernel [4,2,3,3] (2 input channels) on a 3-channel input")

    n0 = helper.make_node("Conv", ["input", "badbias_conv_39_W", "badbias_conv_39_b"], ["y"],
                          name="badbias_conv_39")
    save("conv_bias_mismatch.onnx",
         model([n0], [init("badbias_conv_39_W", w((4, 3, 3, 3))), init("badbias_conv_39_b", w(5))],
               [vi("input", [1, 3, 6, 6])], [vi("y", [1, 4, 4, 4])]),
         ["badbias_conv_39"], "Conv badbias_conv_39 with 4 output channels and a bias of length 5")

    n0 = helper.make_node("Conv", ["input", "bigk_conv_40_W"], ["y"], name="bigk_conv_40")
    save("conv_kernel_too_big.onnx",
         model([n0], [init("bigk_conv_40_W", w((2, 1, 5, 5)))], [vi("input", [1, 1, 3, 3])],
               [vi("y", [1, 2, 1, 1])]),
         ["bigk_conv_40"], "Conv bigk_conv_40: 5x5 kernel, no pads, on a 3x3 input (no output)")

    n0 = helper.make_node("Conv", ["input", "conv1d_21_W"], ["y"], name="conv1d_21")
    save("conv1d_kernel_too_big.onnx",
         model([n0], [init("conv1d_21_W", w((3, 2, 9)))], [vi("input", [1, 2, 8])], [vi("y", [1, 3, 1])]),
         ["conv1d_21"], "1-D Conv conv1d_21: kernel of 9 on an input of 8, no pads (no output)")

    n0 = helper.make_node("Conv", ["input", "conv3d_22_W"], ["y"], name="conv3d_22")
    save("conv3d.onnx",
         model([n0], [init("conv3d_22_W", w((2, 1, 2, 2, 2)))], [vi("input", [1, 1, 4, 4, 4])],
               [vi("y", [1, 2, 3, 3, 3])]),
         ["conv3d_22"], "3-D Conv conv3d_22: only 2-D is supported")

    ca = helper.make_node("Conv", ["input", "cc_a_W"], ["ca"], name="cc_conv_a")
    cb = helper.make_node("Conv", ["input", "cc_b_W"], ["cb"], name="cc_conv_b", pads=[1, 1, 1, 1])
    cc = helper.make_node("Concat", ["ca", "cb"], ["y"], name="bad_concat_23", axis=1)
    save("concat_mismatch.onnx",
         model([ca, cb, cc], [init("cc_a_W", w((2, 2, 2, 2))), init("cc_b_W", w((2, 2, 3, 3)))],
               [vi("input", [1, 2, 4, 4])], [vi("y", [1, 4, 4, 4])]),
         ["bad_concat_23"], "Concat bad_concat_23 along channels of [1,2,3,3] and [1,2,4,4]")

    n0 = helper.make_node("Reshape", ["input", "bad_reshape_24_shape"], ["y"], name="bad_reshape_24")
    save("reshape_incompatible.onnx",
         model([n0], [init("bad_reshape_24_shape", np.array([1, 7], dtype=np.int64))],
               [vi("input", [1, 6])], [vi("y", [1, 7])]),
         ["bad_reshape_24"], "Reshape bad_reshape_24 of 6 elements to [1,7]")

    n0 = helper.make_node("Reshape", ["input", "twoneg_reshape_42_shape"], ["y"], name="twoneg_reshape_42")
    save("reshape_two_minus_one.onnx",
         model([n0], [init("twoneg_reshape_42_shape", np.array([-1, -1], dtype=np.int64))],
               [vi("input", [1, 6])], [vi("y", [1, 6])]),
         ["twoneg_reshape_42"], "Reshape twoneg_reshape_42 with shape [-1,-1]")

    n0 = helper.make_node("Squeeze", ["input", "badsqueeze_43_axes"], ["y"], name="badsqueeze_43")
    save("squeeze_non_one.onnx",
         model([n0], [init("badsqueeze_43_axes", np.array([1], dtype=np.int64))],
               [vi("input", [1, 6])], [vi("y", [1])]),
         ["badsqueeze_43"], "Squeeze badsqueeze_43 of axis 1 whose size is 6")

    n0 = helper.make_node("Transpose", ["input"], ["y"], name="badperm_41", perm=[0, 2, 2, 1])
    save("transpose_bad_perm.onnx",
         model([n0], [], [vi("input", [1, 2, 3, 4])], [vi("y", [1, 3, 3, 2])]),
         ["badperm_41"], "Transpose badperm_41 with perm [0,2,2,1] (not a permutation)")

    na, ia = gemm("am_gemm_a", "input", 5, 4)
    nb, ib = gemm("am_gemm_b", "input", 5, 3)
    n1 = helper.make_node("Add", ["am_gemm_a_out", "am_gemm_b_out"], ["y"], name="bad_add_25")
    save("add_shape_mismatch.onnx", model([na, nb, n1], ia + ib, [vi("input", [1, 5])], [vi("y", [1, 4])]),
         ["bad_add_25"], "Add bad_add_25 of two computed tensors [1,4] and [1,3]")

    n0 = helper.make_node("Conv", ["input", "bn_bad_44_conv_W"], ["c"], name="bn_bad_44_conv")
    n1 = helper.make_node("BatchNormalization", ["c", "bn_bad_44_scale", "bn_bad_44_bias",
                                                 "bn_bad_44_mean", "bn_bad_44_var"], ["y"], name="bn_bad_44")
    inits = [init("bn_bad_44_conv_W", w((3, 2, 3, 3))), init("bn_bad_44_scale", w(3)),
             init("bn_bad_44_bias", w(3)), init("bn_bad_44_mean", w(2)),
             init("bn_bad_44_var", np.ones(3, dtype=np.float32))]
    save("batchnorm_param_mismatch.onnx",
         model([n0, n1], inits, [vi("input", [1, 2, 5, 5])], [vi("y", [1, 3, 3, 3])]),
         ["bn_bad_44"], "BatchNormalization bn_bad_44 on 3 channels with a mean of length 2")


# ---------------------------------------------------------------- values and storage

def values():
    W = w((5, 4))
    W[2, 1] = np.nan
    n0, i0 = gemm("nan_gemm_13", "input", 5, 4, W=W)
    save("nan_weight.onnx", model([n0], i0, [vi("input", [1, 5])], [vi("nan_gemm_13_out", [1, 4])]),
         ["nan_gemm_13"], "NaN in the weight nan_gemm_13_W of Gemm nan_gemm_13")

    n0, i0 = gemm("inf_ok_gemm", "input", 5, 4)
    n1 = helper.make_node("Relu", ["inf_ok_gemm_out"], ["r"], name="inf_ok_relu")
    b = w(3)
    b[1] = -np.inf
    n2, i2 = gemm("inf_gemm_14", "r", 4, 3, b=b)
    save("inf_weight.onnx", model([n0, n1, n2], i0 + i2, [vi("input", [1, 5])], [vi("inf_gemm_14_out", [1, 3])]),
         ["inf_gemm_14"], "-Inf in the bias inf_gemm_14_b of the second Gemm inf_gemm_14")

    c = helper.make_node("Constant", [], ["nan_const_15"], name="nan_const_15_node",
                         value=numpy_helper.from_array(np.array([0.5, np.nan, 1.0, 0.0, 2.0], dtype=np.float32),
                                                       "nan_const_15_value"))
    n0 = helper.make_node("Sub", ["input", "nan_const_15"], ["s"], name="nan_const_15_sub")
    n1, i1 = gemm("nc_gemm", "s", 5, 3)
    save("nan_constant.onnx", model([c, n0, n1], i1, [vi("input", [1, 5])], [vi("nc_gemm_out", [1, 3])]),
         ["nan_const_15"], "NaN in a Constant node (nan_const_15_node, output nan_const_15) used by Sub")

    # absurd initializer dims with tiny data
    t = onnx.TensorProto()
    t.name = "huge_16_W"
    t.data_type = TP.FLOAT
    t.dims.extend([1 << 20, 1 << 20])
    t.raw_data = np.zeros(4, dtype=np.float32).tobytes()
    n0 = helper.make_node("MatMul", ["input", "huge_16_W"], ["y"], name="huge_16_matmul")
    save("huge_init_dims.onnx",
         model([n0], [t], [vi("input", [1, 1 << 20])], [vi("y", [1, 1 << 20])]),
         ["huge_16"], "initializer huge_16_W declared [2^20,2^20] with 16 bytes of data (MatMul huge_16_matmul)")

    n0 = helper.make_node("Relu", ["bigin_17"], ["y"], name="bigin_17_relu")
    save("huge_input_dim.onnx", model([n0], [], [vi("bigin_17", [1, 1 << 40])], [vi("y", [1, 1 << 40])]),
         ["bigin_17"], "graph input bigin_17 of shape [1,2^40]")

    # raw_data length does not match dims
    t = onnx.TensorProto()
    t.name = "rawlen_30_W"
    t.data_type = TP.FLOAT
    t.dims.extend([5, 3])
    t.raw_data = w(14).tobytes()
    n0 = helper.make_node("Gemm", ["input", "rawlen_30_W", "rawlen_30_b"], ["y"], name="rawlen_30_gemm")
    save("raw_data_length.onnx",
         model([n0], [t, init("rawlen_30_b", w(3))], [vi("input", [1, 5])], [vi("y", [1, 3])]),
         ["rawlen_30"], "initializer rawlen_30_W dims [5,3] but raw_data holds 14 floats")

    # float_data count does not match dims
    t = onnx.TensorProto()
    t.name = "fdlen_37_W"
    t.data_type = TP.FLOAT
    t.dims.extend([5, 3])
    t.float_data.extend(w(16).tolist())
    n0 = helper.make_node("Gemm", ["input", "fdlen_37_W", "fdlen_37_b"], ["y"], name="fdlen_37_gemm")
    save("float_data_length.onnx",
         model([n0], [t, init("fdlen_37_b", w(3))], [vi("input", [1, 5])], [vi("y", [1, 3])]),
         ["fdlen_37"], "initializer fdlen_37_W dims [5,3] but float_data holds 16 values")

    # float16 everywhere
    n0 = helper.make_node("Gemm", ["half_28_in", "half_28_W", "half_28_b"], ["y"], name="half_28_gemm")
    save("float16_init.onnx",
         model([n0], [init("half_28_W", w((5, 3)).astype(np.float16)), init("half_28_b", w(3).astype(np.float16))],
               [vi("half_28_in", [1, 5], TP.FLOAT16)], [vi("y", [1, 3], TP.FLOAT16)]),
         ["half_28"], "float16 input half_28_in and initializers half_28_W/_b (unsupported data type)")

    # external data
    t = onnx.TensorProto()
    t.name = "ext_29_W"
    t.data_type = TP.FLOAT
    t.dims.extend([5, 3])
    t.data_location = TP.EXTERNAL
    for k, v in (("location", "ext_29_W.bin"), ("offset", "0"), ("length", "60")):
        e = t.external_data.add()
        e.key, e.value = k, v
    n0 = helper.make_node("Gemm", ["input", "ext_29_W", "ext_29_b"], ["y"], name="ext_29_gemm")
    save("external_data.onnx",
         model([n0], [t, init("ext_29_b", w(3))], [vi("input", [1, 5])], [vi("y", [1, 3])]),
         ["ext_29"], "initializer ext_29_W stored as external data (file ext_29_W.bin, absent)")


# ---------------------------------------------------------------- attributes

def attributes():
    n0 = helper.make_node("Conv", ["input", "negpad_conv_18_W"], ["y"], name="negpad_conv_18",
                          pads=[-1, 0, 0, 0])
    save("conv_negative_pads.onnx",
         model([n0], [init("negpad_conv_18_W", w((2, 2, 3, 3)))], [vi("input", [1, 2, 6, 6])],
               [vi("y", [1, 2, 3, 4])]),
         ["negpad_conv_18"], "Conv negpad_conv_18 with pads [-1,0,0,0]")

    n0 = helper.make_node("Conv", ["input", "samelow_conv_19_W"], ["y"], name="samelow_conv_19",
                          auto_pad="SAME_LOWER", kernel_shape=[2, 2])
    save("conv_same_lower.onnx",
         model([n0], [init("samelow_conv_19_W", w((2, 2, 2, 2)))], [vi("input", [1, 2, 5, 5])],
               [vi("y", [1, 2, 5, 5])]),
         ["samelow_conv_19"], "Conv samelow_conv_19 with auto_pad=SAME_LOWER")

    n0 = helper.make_node("MaxPool", ["input"], ["y"], name="ceil_pool_20", kernel_shape=[2, 2],
                          strides=[2, 2], ceil_mode=1)
    save("maxpool_ceil_mode.onnx",
         model([n0], [], [vi("input", [1, 1, 5, 5])], [vi("y", [1, 1, 3, 3])], opset=11),
         ["ceil_pool_20"], "MaxPool ceil_pool_20 with ceil_mode=1 on 5x5, k2 s2 (3x3 instead of 2x2)")

    n0 = helper.make_node("Pad", ["input", "reflect_pad_32_pads"], ["p"], name="reflect_pad_32", mode="reflect")
    n1 = helper.make_node("Conv", ["p", "rp_conv_W"], ["y"], name="rp_conv")
    save("pad_reflect.onnx",
         model([n0, n1], [init("reflect_pad_32_pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64)),
                          init("rp_conv_W", w((2, 2, 3, 3)))],
               [vi("input", [1, 2, 4, 4])], [vi("y", [1, 2, 4, 4])], opset=11),
         ["reflect_pad_32"], "Pad reflect_pad_32 with mode=reflect")

    # found by the ONNX fuzzer: a shape entry outside int64 (UB when cast)
    n0 = helper.make_node("Reshape", ["input", "hugeshape_45_shape"], ["y"], name="hugeshape_45")
    save("reshape_huge_entry.onnx",
         model([n0], [init("hugeshape_45_shape", np.array([1, 1e30], dtype=np.float32))],
               [vi("input", [1, 6])], [vi("y", [1, 6])]),
         ["hugeshape_45"], "Reshape hugeshape_45 with a float shape entry 1e30")

    n0 = helper.make_node("Reshape", ["input", "manydims_46_shape"], ["y"], name="manydims_46")
    save("reshape_product_overflow.onnx",
         model([n0], [init("manydims_46_shape", np.array([6 ** 8] * 8, dtype=np.int64))],
               [vi("input", [6] * 8)], [vi("y", [6 ** 8] * 8)]),
         ["manydims_46"], "Reshape manydims_46 of 6^8 elements to [6^8]*8 (the product overflows int64)")


# ---------------------------------------------------------------- driver

def checker_verdict(path):
    try:
        m = onnx.load(path, load_external_data=False)
    except Exception:
        return "does not parse"
    try:
        onnx.checker.check_model(m)
        return "accepted"
    except Exception as e:
        return "rejected (%s)" % str(e).strip().splitlines()[0][:70].replace("|", "/")


def main():
    # python-protobuf warns (then raises) on the text file's end-group tag
    warnings.filterwarnings("ignore", message="Unexpected end-group tag")
    file_level()
    ops()
    structure()
    shapes()
    values()
    attributes()
    # the damaged files really are undecodable
    for f in ("truncated.onnx", "random_bytes.onnx", "text_file.onnx"):
        try:
            onnx.load(os.path.join(HERE, f))
        except Exception:
            continue
        raise SystemExit("%s decodes; make it worse" % f)
    FILES.sort(key=lambda t: t[0])
    with open(os.path.join(HERE, "EXPECT_onnx"), "w") as fh:
        for fname, subs, _ in FILES:
            for s in subs:
                fh.write("%s|3|%s\n" % (fname, s))
    L = ["# tests/bad/*.onnx: ONNX files cerbere must reject", "",
         "Generated by `tests/bad/gen_bad.py` (seed %d, `/usr/bin/python3`, onnx 1.12); "
         "do not edit by hand." % SEED, "",
         "`cerbere info FILE` must exit with code 3 (input error) and print a one-line",
         "message on stderr, without crashing, leaking or reading out of bounds.",
         "`EXPECT_onnx` has lines `<file>|<exit code>|<substring>`; a file may have",
         "several lines and its message must contain ALL of their substrings.  The",
         "substrings are names (node, op, tensor, initializer), never wording; node and",
         "initializer names share a prefix so either may be named.  For file-level damage",
         "the substring is the file's base name.", "",
         "The `checker` column is what `onnx.checker.check_model` (no full check) says:",
         "files it accepts are valid ONNX that cerbere does not support.", "",
         "| file | must name | what is wrong | checker |", "|---|---|---|---|"]
    for fname, subs, desc in FILES:
        L.append("| %s | %s | %s | %s |" % (fname, ", ".join("`%s`" % s for s in subs), desc,
                                            checker_verdict(os.path.join(HERE, fname))))
    with open(os.path.join(HERE, "README_onnx.md"), "w") as fh:
        fh.write("\n".join(L) + "\n")
    print("%d files, %d EXPECT lines" % (len(FILES), sum(len(s) for _, s, _ in FILES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
