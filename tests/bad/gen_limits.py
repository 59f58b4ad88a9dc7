#!/usr/bin/env python3
"""Writes the tiny ONNX files of tests/bad/ that claim huge sizes (allocation
caps; run tests/run_limits.sh).  Plain protobuf encoding, no onnx package
needed: field numbers from onnx.proto (ModelProto, GraphProto, NodeProto,
TensorProto, ValueInfoProto, AttributeProto).  Usage: gen_limits.py OUTDIR"""
import struct, sys

def varint(v):
    v &= (1 << 64) - 1
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v: out += bytes([b | 0x80])
        else: return out + bytes([b])

def key(field, wire): return varint(field << 3 | wire)
def vint(field, v): return key(field, 0) + varint(v)
def ld(field, data):
    if isinstance(data, str): data = data.encode()
    return key(field, 2) + varint(len(data)) + data

def value_info(name, dims):
    shape = b"".join(ld(1, vint(1, d)) for d in dims)
    tensor_type = vint(1, 1) + ld(2, shape)          # elem_type FLOAT, shape
    return ld(1, name) + ld(2, ld(1, tensor_type))

def attr_ints(name, vals): return ld(1, name) + b"".join(vint(8, v) for v in vals) + vint(20, 7)
def node(op, ins, outs, attrs=()):
    return b"".join(ld(1, i) for i in ins) + b"".join(ld(2, o) for o in outs) + ld(4, op) + \
           b"".join(ld(5, a) for a in attrs)
def tensor(name, dims, data_type=1, raw=b""):
    return b"".join(vint(1, d) for d in dims) + vint(2, data_type) + ld(8, name) + (ld(9, raw) if raw else b"")

def model(nodes, inits, ins, outs):
    g = b"".join(ld(1, n) for n in nodes) + ld(2, "g") + b"".join(ld(5, t) for t in inits) + \
        b"".join(ld(11, i) for i in ins) + b"".join(ld(12, o) for o in outs)
    return vint(1, 7) + ld(7, g) + ld(8, vint(2, 13))

files = {
    # 10^12-element initializer with no data, in about 100 bytes
    "tera_tensor.onnx": model([node("MatMul", ["x", "tera_W"], ["y"])], [tensor("tera_W", [10**6, 10**6])],
                              [value_info("x", [1, 10**6])], [value_info("y", [1, 10**6])]),
    # AveragePool kernel 40000x40000 on a 1.6e9-value input: a 12.8 GB conv kernel from nothing
    "avgpool_huge_kernel.onnx": model([node("AveragePool", ["x"], ["y"], [attr_ints("kernel_shape", [40000, 40000])])], [],
                                      [value_info("x", [1, 1, 40000, 40000])], [value_info("y", [1, 1, 1, 1])]),
}
for name, data in files.items():
    open(f"{sys.argv[1]}/{name}", "wb").write(data)
    print(name, len(data), "bytes")
