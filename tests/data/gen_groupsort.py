#!/usr/bin/python3
"""Generate the 1-Lipschitz (GroupSort / MaxMin) test nets in tests/data/groupsort/.

Run with Debian's python3-torch (torch 1.13, onnx 1.12):

    /usr/bin/python3 tests/data/gen_groupsort.py

One orthogonal GroupSort2 network (deel-lip / deel-torchlip / orthogonium
style: Linear 64-32-32-10 with orthogonal weights, GroupSort2 on pairs of
neighbours, smallest first) is trained briefly on nets/digits_test.csv (the
8x8 digits; this is a test net, so the test split is the training data), in
float64, with torch's orthogonal parametrisation.  Its weights are then baked
and the SAME network is exported with its activation written three ways:
    gs2_topk     Reshape, TopK(largest=0), Reshape          (torch.topk / sort)
    gs2_reduce   Reshape, ReduceMin, ReduceMax, Concat       (amin / amax)
    gs2_split    Reshape, Split, Min, Max, Concat            (split, minimum, maximum)
Other 1-Lipschitz activations, each its own small net (weights orthogonal):
    maxmin_lnets  MaxMin as LNets writes it: [max of pairs; min of pairs] along
                  the channels (ReduceMax/ReduceMin keepdims=0, Concat)
    gs4_topk      GroupSort-4 (TopK over groups of 4)
    fullsort      FullSort (TopK over the whole layer)
    crelu_maxmin  deel-torchlip-style MaxMin [relu(x); relu(-x)]  (Relu, Neg, Relu, Concat)
    conv_gs2_topk, conv_gs2_split  a small conv net (not orthogonal) with
                  deel-torchlip's channel GroupSort2 on [N, C, H, W] feature
                  maps (pairs of channels), exported with TopK and with
                  Split/Min/Max/Concat
    max_branches  general ops: Max and Min of two computed branches (two Gemms)
    reduce_spatial  general ops: ReduceMax and ReduceMin over H, W of a conv map
Refused on purpose (tests/test_groupsort.c checks the one-line message):
    bad_topk_indices  TopK whose Indices output is read (an ArgMax-like use)
    bad_max_const     Max(x, 0.5): a constant operand
For every net NAME: groupsort/NAME.onnx (float64 weights, opset 13) and
groupsort/NAME.out.csv, torch's float64 outputs on the 20 rows of
nets/digits_test20.csv (`label,y0..y9`, '%.17g').  Deterministic (seeded).
Python is only needed to regenerate these files; the tests never run it.
"""
import os

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "groupsort")
ROOT = os.path.dirname(os.path.dirname(HERE))
torch.set_default_dtype(torch.float64)


def load(path):
    a = np.loadtxt(path, delimiter=",")
    return torch.tensor(a[:, 1:]), torch.tensor(a[:, 0]).long()


class GS2(nn.Module):
    """GroupSort2 on neighbour pairs, smallest first, written `how`."""

    def __init__(self, how):
        super().__init__()
        self.how = how

    def forward(self, x):
        c = x.shape[1]
        y = x.view(-1, c // 2, 2)
        if self.how == "topk":
            y = torch.topk(y, 2, dim=2, largest=False).values
        elif self.how == "reduce":
            y = torch.cat((torch.amin(y, dim=2, keepdim=True), torch.amax(y, dim=2, keepdim=True)), dim=2)
        else:
            a, b = y.split(1, dim=2)
            y = torch.cat((torch.minimum(a, b), torch.maximum(a, b)), dim=2)
        return y.reshape(-1, c)


class ChannelGS2(nn.Module):
    """GroupSort2 on pairs of channels of [N, C, H, W] (deel-torchlip's GroupSort on dim 1)."""

    def __init__(self, how):
        super().__init__()
        self.how = how

    def forward(self, x):
        n, c, h, w = x.shape
        y = x.view(-1, c // 2, 2, h, w)
        if self.how == "topk":
            y = torch.topk(y, 2, dim=2, largest=False).values
        else:
            a, b = y.split(1, dim=2)
            y = torch.cat((torch.minimum(a, b), torch.maximum(a, b)), dim=2)
        return y.reshape(-1, c, h, w)


class ConvGS(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.a1 = ChannelGS2(how)
        self.c2 = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.a2 = ChannelGS2(how)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.a1(self.c1(x.view(-1, 1, 8, 8)))
        x = self.a2(self.c2(x))
        return self.fc(x.reshape(-1, 64))


class MaxBranches(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(64, 16)
        self.b = nn.Linear(64, 16)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        return self.fc(torch.cat((torch.maximum(a, b), torch.minimum(a, b)), dim=1))


class ReduceSpatial(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 6, 3, padding=1)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        y = self.c(x.view(-1, 1, 8, 8))
        return self.fc(torch.cat((torch.amax(y, dim=(2, 3)), torch.amin(y, dim=(2, 3))), dim=1))


class MaxMinLNets(nn.Module):
    def forward(self, x):
        c = x.shape[1]
        y = x.view(-1, c // 2, 2)
        return torch.cat((torch.amax(y, dim=2), torch.amin(y, dim=2)), dim=1)


class GSk(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        c = x.shape[1]
        k = self.k or c
        return torch.topk(x.view(-1, c // k, k), k, dim=2, largest=False).values.reshape(-1, c)


class CReLU(nn.Module):
    def forward(self, x):
        return torch.cat((torch.relu(x), torch.relu(-x)), dim=1)


def orth_net(widths, act, seed, crelu=False):
    torch.manual_seed(seed)
    layers = []
    for i in range(len(widths) - 1):
        inn = widths[i] * (2 if crelu and i > 0 else 1)
        lin = nn.Linear(inn, widths[i + 1])
        nn.utils.parametrizations.orthogonal(lin)
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def train(net, x, y, steps):
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(8 * net(x), y)   # temperature: 1-Lipschitz logits are small
        loss.backward()
        opt.step()
    acc = (net(x).argmax(1) == y).double().mean().item()
    return acc


def baked(net, act_for):
    """A plain Sequential with the orthogonal weights as fixed float64 tensors."""
    layers = []
    for m in net:
        if isinstance(m, nn.Linear):
            lin = nn.Linear(m.in_features, m.out_features)
            with torch.no_grad():
                lin.weight.copy_(m.weight.detach())
                lin.bias.copy_(m.bias.detach())
            layers.append(lin)
        else:
            layers.append(act_for())
    return nn.Sequential(*layers).eval()


def export(model, name, xt):
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(model, xt[:1], path, opset_version=13, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    with torch.no_grad():
        y = model(xt).numpy()
    with open(os.path.join(OUT, name + ".out.csv"), "w") as f:
        for r in range(y.shape[0]):
            f.write("0," + ",".join("%.17g" % v for v in y[r]) + "\n")
    w = [m.weight.detach().numpy() for m in model.modules() if isinstance(m, nn.Linear)]
    dev = max(np.linalg.norm(a, 2) for a in w) - 1
    print("%-14s max ||W||_2 - 1 = %.2e" % (name, dev))


def bad_nets():
    import onnx
    from onnx import TensorProto as TP, helper, numpy_helper
    x = helper.make_tensor_value_info("x", TP.DOUBLE, [1, 4])
    y = helper.make_tensor_value_info("y", TP.DOUBLE, [1, 2])
    k = numpy_helper.from_array(np.array([2], dtype=np.int64), "k")
    nodes = [helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk_used_indices", axis=1),
             helper.make_node("Cast", ["i"], ["f"], name="cast", to=TP.DOUBLE),
             helper.make_node("Add", ["v", "f"], ["y"], name="add")]
    g = helper.make_graph(nodes, "bad", [x], [y], [k])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(OUT, "bad_topk_indices.onnx"))
    y4 = helper.make_tensor_value_info("y", TP.DOUBLE, [1, 4])
    c = numpy_helper.from_array(np.array([0.5]), "c")
    g = helper.make_graph([helper.make_node("Max", ["x", "c"], ["y"], name="max_with_constant")], "bad", [x], [y4], [c])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(OUT, "bad_max_const.onnx"))


def main():
    os.makedirs(OUT, exist_ok=True)
    x, y = load(os.path.join(ROOT, "nets", "digits_test.csv"))
    xt, _ = load(os.path.join(ROOT, "nets", "digits_test20.csv"))
    net = orth_net([64, 32, 32, 10], lambda: GS2("topk"), 1)
    print("gs2 training accuracy %.3f" % train(net, x, y, 150))
    for how in ("topk", "reduce", "split"):
        export(baked(net, lambda: GS2(how)), "gs2_" + how, xt)
    for name, act, seed, crelu in (("maxmin_lnets", MaxMinLNets, 2, False), ("gs4_topk", lambda: GSk(4), 3, False),
                                   ("fullsort", lambda: GSk(0), 4, False)):
        n = orth_net([64, 16, 16, 10], act, seed)
        print("%s training accuracy %.3f" % (name, train(n, x, y, 100)))
        export(baked(n, act), name, xt)
    n = orth_net([64, 16, 16, 10], CReLU, 5, crelu=True)
    print("crelu_maxmin training accuracy %.3f" % train(n, x, y, 100))
    export(baked(n, CReLU), "crelu_maxmin", xt)
    torch.manual_seed(6)
    conv = ConvGS("topk")
    print("conv_gs2 training accuracy %.3f" % train(conv, x, y, 60))
    for how in ("topk", "split"):
        m = ConvGS(how).eval()
        m.load_state_dict(conv.state_dict())
        export(m, "conv_gs2_" + how, xt)
    for name, cls, seed in (("max_branches", MaxBranches, 7), ("reduce_spatial", ReduceSpatial, 8)):
        torch.manual_seed(seed)
        m = cls()
        print("%s training accuracy %.3f" % (name, train(m, x, y, 60)))
        export(m.eval(), name, xt)
    bad_nets()


if __name__ == "__main__":
    main()
