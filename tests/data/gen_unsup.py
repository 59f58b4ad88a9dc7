#!/usr/bin/python3
"""Write tests/data/eight_unsupported.onnx: 8 unsupported ops on parallel
branches of one input (x -> Sin, Cos, Tan, Atan, Asinh, Cosh, Sign, Round),
summed, then a Gemm.  `cerbere info --check` must list all 8 (issue 19).
Run with Debian's python: /usr/bin/python3 tests/data/gen_unsup.py"""
import os
import numpy as np
import onnx
from onnx import TensorProto as TP, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ops = ["Sin", "Cos", "Tan", "Atan", "Asinh", "Cosh", "Sign", "Round"]
nodes, outs = [], []
for i, op in enumerate(ops):
    nodes.append(helper.make_node(op, ["x"], ["b%d" % i], name="branch_%d_%s" % (i, op.lower())))
    outs.append("b%d" % i)
acc = outs[0]
for i in range(1, len(outs)):
    nodes.append(helper.make_node("Add", [acc, outs[i]], ["s%d" % i], name="sum_%d" % i))
    acc = "s%d" % i
W = numpy_helper.from_array(np.ones((4, 2), dtype=np.float32), "W")
nodes.append(helper.make_node("Gemm", [acc, "W"], ["y"], name="head"))
g = helper.make_graph(nodes, "eight_unsupported", [helper.make_tensor_value_info("x", TP.FLOAT, [1, 4])],
                      [helper.make_tensor_value_info("y", TP.FLOAT, [1, 2])], initializer=[W])
m = helper.make_model(g, producer_name="cerbere tests/data/gen_unsup.py", opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(m, full_check=True)
onnx.save(m, os.path.join(HERE, "eight_unsupported.onnx"))
