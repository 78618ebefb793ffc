#!/usr/bin/env python3
"""LRP goldens from Zennit on the shipped ImageNet model (EfficientNet-Lite0) and photographs.

Writes assets/golden/zennit_efficientnet_lite0_<composite>.npy (+ manifest entries): the input
relevance of the four 224² photographs (assets/data/photos_x.npy), each explained for its
predicted class, under Zennit's EpsilonPlusFlat and EpsilonGammaBox (box = the input range of
EfficientNet-Lite's (pixel − 127) / 128: [−0.9921875, 1]).

The PyTorch module is rebuilt from the ONNX initializers, node by node, so it is the shipped
model exactly (logits checked against onnxruntime). How each part maps to Zennit:
  * Conv with TensorFlow-style asymmetric pads: an nn.Conv2d subclass that zero-pads inside its
    own forward, so Zennit's rules (which rerun the module's forward on modified inputs) see the
    padding as padding — ones for Flat and the box bounds for ZBox stay zero there, as in a
    convolution's implicit padding;
  * BatchNormalization: nn.BatchNorm2d registered right after its conv, merged by
    SequentialMergeBatchNorm (eps zeroed while merged, see golden_zennit.py);
  * Clip(0, 6): nn.ReLU6 (Pass); Add: zennit.layer.Sum (Norm); GlobalAveragePool:
    AdaptiveAvgPool2d (Norm); Gemm: nn.Linear (Epsilon).
"""

import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper
from zennit.attribution import Gradient
from zennit.composites import EpsilonGammaBox, EpsilonPlusFlat
from zennit.layer import Sum

import golden_common as gc
from golden_zennit import ExactSequentialMergeBatchNorm, per_item_rel

ONNX = "assets/models/efficientnet_lite0.onnx"
INPUTS = "assets/data/photos_x.npy"
LOGITS = "assets/reference/efficientnet_lite0_logits.npy"
LOW, HIGH = -0.9921875, 1.0
COMPOSITES = {
    "epsilon_plus_flat": (lambda c: EpsilonPlusFlat(canonizers=c),
                          {"first Conv": "Flat", "other Conv (incl. depthwise)": "ZPlus",
                           "Gemm/Linear": "Epsilon(epsilon=1e-6)"}),
    "epsilon_gamma_box": (lambda c: EpsilonGammaBox(low=LOW, high=HIGH, canonizers=c),
                          {"first Conv": f"ZBox(low={LOW}, high={HIGH})",
                           "other Conv (incl. depthwise)": "Gamma(gamma=0.25)",
                           "Gemm/Linear": "Epsilon(epsilon=1e-6)"}),
}


class PaddedConv(nn.Conv2d):
    """A convolution whose (possibly asymmetric) zero padding happens inside its forward."""

    def __init__(self, weight, stride, groups, pads):
        cout, cin_g, kh, kw = weight.shape
        super().__init__(cin_g * groups, cout, (kh, kw), stride=stride, groups=groups, bias=False)
        self.weight.data.copy_(torch.from_numpy(weight))
        top, left, bottom, right = pads
        self.pad = (left, right, top, bottom)

    def forward(self, x):
        return F.conv2d(F.pad(x, self.pad), self.weight, self.bias, self.stride, 0, 1, self.groups)


class OnnxNet(nn.Module):
    """The ONNX graph as PyTorch modules, run in node order."""

    def __init__(self, path):
        super().__init__()
        model = onnx.load(path)
        init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.steps = []  # (module name or op, input names, output name)
        self.layers = nn.ModuleDict()
        for k, node in enumerate(model.graph.node):
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            key = f"n{k:03d}"
            ins = [i for i in node.input if i not in init]
            if node.op_type == "Conv":
                assert len(node.input) == 2 and attrs.get("dilations", [1, 1]) == [1, 1], node.name
                m = PaddedConv(init[node.input[1]], attrs["strides"], attrs["group"], attrs["pads"])
            elif node.op_type == "BatchNormalization":
                # SequentialMergeBatchNorm merges a BN into the module registered just before it.
                assert model.graph.node[k - 1].op_type == "Conv" and ins == [model.graph.node[k - 1].output[0]], node.name
                w, b, mean, var = (torch.from_numpy(init[n].copy()) for n in node.input[1:])
                m = nn.BatchNorm2d(len(w), eps=attrs["epsilon"]).eval()
                m.weight.data, m.bias.data, m.running_mean.data, m.running_var.data = w, b, mean, var
            elif node.op_type == "Clip":
                assert (init[node.input[1]], init[node.input[2]]) == (0.0, 6.0), node.name
                m = nn.ReLU6()
            elif node.op_type == "Add":
                m = Sum(dim=-1)
            elif node.op_type == "GlobalAveragePool":
                m = nn.AdaptiveAvgPool2d(1)
            elif node.op_type == "Flatten":
                m = nn.Flatten()
            elif node.op_type == "Gemm":
                assert attrs.get("transB") == 1 and attrs.get("transA", 0) == 0, node.name
                assert attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0, node.name
                w, b = init[node.input[1]], init[node.input[2]]
                m = nn.Linear(w.shape[1], w.shape[0])
                m.weight.data, m.bias.data = torch.from_numpy(w.copy()), torch.from_numpy(b.copy())
            else:
                raise ValueError(f"no mapping for {node.op_type}")
            self.layers[key] = m
            self.steps.append((key, ins, node.output[0]))
        self.input_name = model.graph.input[0].name
        self.output_name = model.graph.output[0].name

    def forward(self, x):
        values = {self.input_name: x}
        for key, ins, out in self.steps:
            m = self.layers[key]
            args = [values[i] for i in ins]
            values[out] = m(torch.stack(args, dim=-1)) if isinstance(m, Sum) else m(*args)
        return values[self.output_name]


def attribute(model, composite, x, targets):
    x = x.clone().requires_grad_(True)
    with Gradient(model=model, composite=composite) as attributor:
        out, rel = attributor(x, lambda o: F.one_hot(targets, o.shape[1]).to(o) * o)
    return out.detach(), rel.detach()


def main():
    t0 = time.time()
    gc.setup()
    man = gc.Manifest("scripts/golden_zennit_lite0.py")
    x32 = torch.from_numpy(np.load(gc.p(INPUTS)))
    ref = np.load(gc.p(LOGITS))
    model64, model32 = OnnxNet(gc.p(ONNX)).double().eval(), OnnxNet(gc.p(ONNX)).eval()
    with torch.no_grad():
        d64 = float(np.abs(model64(x32.double()).numpy() - ref).max())
        d32 = float(np.abs(model32(x32).numpy() - ref).max())
    print(f"module tree vs onnxruntime: max |Δlogit| f64 {d64:.2e}, f32 {d32:.2e}")
    assert d64 < 1e-4 and d32 < 1e-4, (d64, d32)
    targets = torch.from_numpy(ref.argmax(1).astype(np.int64))

    for key, (factory, rules) in COMPOSITES.items():
        out, rel = attribute(model64, factory([ExactSequentialMergeBatchNorm()]), x32.double(), targets)
        _, rel32 = attribute(model32, factory([ExactSequentialMergeBatchNorm()]), x32, targets)
        cond = per_item_rel(rel, rel32)
        print(f"  {key:20s} max|R| {float(rel.abs().max()):.4g}  f32-vs-f64 per item "
              + " ".join(f"{c:.1e}" for c in cond))
        man.save_array(
            f"zennit_efficientnet_lite0_{key}.npy", rel.numpy(),
            method="LRP (zennit)", library="zennit 0.5.1", torch=torch.__version__,
            computed_in="float64 (stored as float32)", model="efficientnet_lite0", onnx=ONNX,
            inputs=INPUTS, targets=targets.tolist(), target_rule="predicted class (argmax of the reference logits)",
            composite=key, layer_rules=rules,
            rules_for_other_layers={"Clip(0,6) = ReLU6": "Pass", "Add = zennit.layer.Sum": "Norm",
                                    "GlobalAveragePool": "Norm", "Flatten": "gradient (reshape)"},
            canonizers="SequentialMergeBatchNorm with eps zeroed while merged: every BatchNorm follows its Conv",
            target_logits=[float(v) for v in out[torch.arange(len(targets)), targets]],
            max_abs_logit_diff_vs_onnxruntime={"float32": d32, "float64": d64},
            float32_vs_float64_rel_diff_per_item=cond, well_conditioned=max(cond) < 1e-5)
    man.write()
    print(f"golden_zennit_lite0.py done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
