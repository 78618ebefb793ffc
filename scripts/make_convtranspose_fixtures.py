#!/usr/bin/env python3
"""Writes the ConvTranspose fixtures (seeded, rerunnable; CPU only, a few seconds):

  * assets/models/convtranspose_generator.onnx: a small generator exported from PyTorch,
    Gemm -> Reshape -> ConvTranspose(stride 2) -> Relu -> ConvTranspose(stride 2,
    output_padding 1) -> Sigmoid, random weights;
  * assets/models/convtranspose_attrs.onnx: ConvTranspose attributes written with
    onnx.helper (group 2 with dilation, asymmetric pads and output_padding; depthwise with
    auto_pad SAME_UPPER; output_shape with an odd total padding; SAME_LOWER; no bias);
  * their inputs (assets/data/convtranspose_*_x.npy) and onnxruntime's outputs
    (assets/reference/convtranspose_*_out.npy), checked here against torch's
    ConvTranspose2d (generator) and against the spec's pads (attributes, via torch).

Run from the repository root: python3 scripts/make_convtranspose_fixtures.py
"""

import hashlib
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(os.path.dirname(HERE), "assets")


def write_npy(rel, a):
    path = os.path.join(ASSETS, rel)
    np.save(path, np.ascontiguousarray(a, dtype="<f4"))
    report(path)


def report(path):
    with open(path, "rb") as f:
        print(hashlib.sha256(f.read()).hexdigest()[:16], os.path.relpath(path, ASSETS))


def ort_run(model_bytes, x):
    s = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 6 * 3 * 3)
        self.up1 = nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1)  # 3 -> 6
        self.up2 = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)  # 6 -> 12

    def forward(self, z):
        h = self.fc(z).reshape(-1, 6, 3, 3)
        return torch.sigmoid(self.up2(torch.relu(self.up1(h))))


def generator():
    torch.manual_seed(0)
    g = Generator().eval()
    z = torch.randn(4, 8)
    path = os.path.join(ASSETS, "models", "convtranspose_generator.onnx")
    torch.onnx.export(g, (z,), path, input_names=["z"], output_names=["image"],
                      dynamic_axes={"z": {0: "n"}, "image": {0: "n"}}, opset_version=17,
                      dynamo=False)
    report(path)
    ops = [n.op_type for n in onnx.load(path).graph.node]
    print("  ops:", ops)
    assert "ConvTranspose" in ops and "Gemm" in ops, ops
    with open(path, "rb") as f:
        y = ort_run(f.read(), z.numpy())
    with torch.no_grad():
        want = g(z).numpy()
    print("  max |onnxruntime - torch| = %.2e" % np.abs(y - want).max())
    assert np.allclose(y, want, atol=1e-5)
    write_npy("data/convtranspose_generator_x.npy", z.numpy())
    write_npy("reference/convtranspose_generator_out.npy", y)


def attrs():
    rng = np.random.default_rng(1)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.5  # noqa: E731
    w1, b1 = f32(4, 3, 3, 2), f32(6)  # group 2: 4 in, 6 out, 3x2 kernel
    w2, b2 = f32(6, 1, 3, 3), f32(6)  # depthwise
    w3 = f32(6, 3, 2, 3)  # no bias
    w4, b4 = f32(3, 2, 3, 3), f32(2)
    nodes = [
        # [4,5,5] -> [(5-1)*2-3+2*2+1+1 = 11, (5-1)*1-1+1*1+0+1 = 5] = [6, 11, 5]
        helper.make_node("ConvTranspose", ["x", "w1", "b1"], ["a"], name="grouped",
                         group=2, strides=[2, 1], dilations=[2, 1], pads=[1, 0, 2, 1],
                         output_padding=[1, 0], kernel_shape=[3, 2]),
        # SAME_UPPER, stride 2: [6, 22, 10] (total pads 1 each axis)
        helper.make_node("ConvTranspose", ["a", "w2", "b2"], ["b"], name="depthwise_same_upper",
                         group=6, strides=[2, 2], auto_pad="SAME_UPPER"),
        # output_shape [22, 13] from [22, 10] (full [23, 14]): total pads 1, 1
        helper.make_node("ConvTranspose", ["b", "w3"], ["c"], name="output_shape",
                         strides=[1, 1], dilations=[1, 2], output_shape=[22, 13]),
        # SAME_LOWER stride 2 on [3, 22, 13] -> [2, 44, 26]
        helper.make_node("ConvTranspose", ["c", "w4", "b4"], ["y"], name="same_lower",
                         strides=[2, 2], auto_pad="SAME_LOWER"),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (w3, "w3"), (w4, "w4"), (b4, "b4")]]
    graph = helper.make_graph(
        nodes, "convtranspose_attrs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2, 44, 26])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(ASSETS, "models", "convtranspose_attrs.onnx")
    onnx.save(model, path)
    report(path)
    x = rng.standard_normal((3, 4, 5, 5)).astype(np.float32)
    y = ort_run(model.SerializeToString(), x)
    assert y.shape == (3, 2, 44, 26), y.shape

    # The same chain in torch, pads as the spec derives them (cropping the full output).
    def ct(t, w, b, stride, dil, groups, crop, op=(0, 0)):
        full = F.conv_transpose2d(t, torch.from_numpy(w), None if b is None else torch.from_numpy(b),
                                  stride=stride, dilation=dil, groups=groups, output_padding=op)
        top, left, bottom, right = crop
        return full[:, :, top:full.shape[2] - bottom, left:full.shape[3] - right]

    t = torch.from_numpy(x)
    # output_padding needs stride or dilation above it in torch; pad the full output instead.
    a = F.conv_transpose2d(t, torch.from_numpy(w1), torch.from_numpy(b1), stride=(2, 1),
                           dilation=(2, 1), groups=2)
    a = F.pad(a, (0, 0, 0, 1))  # output_padding [1, 0]: one more row (bias only, taps none)
    a[:, :, -1, :] = torch.from_numpy(b1)[None, :, None]
    a = a[:, :, 1:a.shape[2] - 2, 0:a.shape[3] - 1]
    b = ct(a, w2, b2, 2, 1, 6, (0, 0, 1, 1))  # SAME_UPPER: total 1, smaller half first
    c = ct(b, w3, None, 1, (1, 2), 1, (1, 1, 0, 0))  # full [23, 14] -> [22, 13]: larger half first
    want = ct(c, w4, b4, 2, 1, 1, (1, 1, 0, 0)).numpy()  # SAME_LOWER: larger half first
    print("  max |onnxruntime - torch (spec pads)| = %.2e" % np.abs(y - want).max())
    assert np.allclose(y, want, atol=1e-4)
    write_npy("data/convtranspose_attrs_x.npy", x)
    write_npy("reference/convtranspose_attrs_out.npy", y)


if __name__ == "__main__":
    torch.set_num_threads(2)
    generator()
    attrs()
