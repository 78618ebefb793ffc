#!/usr/bin/env python3
"""LRP goldens from Zennit on small configurations of torchvision's ResNet and MobileNetV2.

Writes
  assets/models/{resnet_zoo,mobilenet_v2_zoo}.onnx   random weights, BatchNorm statistics
      recalibrated on random inputs, exported by torch.onnx (TorchScript exporter, opset 17,
      do_constant_folding=True: the exporter folds every BatchNorm into its Conv);
  assets/data/zoo_x.npy              (8,3,64,64) float32, default_rng(SEED).uniform(-1, 1);
  assets/reference/<model>_logits.npy  onnxruntime (CPU, graph optimisations off) logits;
  assets/golden/zennit_<model>_{epsilon_plus_flat,epsilon_gamma_box}.npy (+ manifest entries).

Models (torchvision's own classes):
  * resnet_zoo: torchvision.models.resnet.ResNet's own _make_layer and _forward_impl with
    torchvision's BasicBlock, layers [2, 2, 2, 2] as resnet18, at widths 8/16/32/64 instead of
    64/128/256/512 (torchvision's BasicBlock accepts any `planes`; only ResNet.__init__ fixes the
    widths, so `NarrowResNet.__init__` re-does it with a width argument): stem Conv 7×7/2 pad 3 +
    BN + ReLU + MaxPool 3×3/2 pad 1, BasicBlocks with 1×1/2 Conv + BN downsample, AdaptiveAvgPool,
    Linear. Zennit canonizer: ResNetCanonizer's parts (SequentialMergeBatchNorm + Sum for the
    residual addition).
  * mobilenet_v2_zoo: torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=10). Zennit
    has no MobileNet canonizer; `MobileNetV2Canonizer` does for InvertedResidual what
    ResNetBasicBlockCanonizer does for BasicBlock (x + conv(x) -> zennit.layer.Sum) and replaces
    the functional adaptive_avg_pool2d by an nn.AdaptiveAvgPool2d module, so Norm applies to
    both, as glimpse does for ONNX Add and GlobalAveragePool. ReLU6 is an Activation: Pass.

The goldens are Zennit on exactly the exported function: the torchvision module is rebuilt with
the ONNX's folded Conv/Gemm parameters and every BatchNorm set to the identity (mean 0, var 1,
weight 1, bias 0, eps 0), which Zennit's SequentialMergeBatchNorm then merges exactly. Two
effects that are not in the goldens are measured and written to the manifest:
  * `stock_merge_quirk_effect_per_item`: Zennit's stock SequentialMergeBatchNorm on the module
    with its real BatchNorms. It resets each merged BN to mean 0/var 1/weight 1/bias 0 but keeps
    eps = 1e-5 (zennit/canonizers.py, MergeBatchNorm.merge_batch_norm), so every merged BN still
    scales by 1/sqrt(1 + 1e-5): Zennit then explains a slightly different function, and the
    residual sums' kinks amplify that (ZENNIT_ZOO_REPORT.md). This is the 1e-3 gap of the
    full-size resnet18 / mobilenet_v2.
  * `exact_merge_vs_onnx_fold_per_item`: the eps-free merge done by Zennit in float64 on the
    real BatchNorms, vs the exporter's float32 fold (weight rounding, amplified at kinks).
"""

import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from onnx import numpy_helper
from torchvision.models.mobilenetv2 import InvertedResidual, MobileNetV2
from torchvision.models.resnet import BasicBlock, ResNet
from zennit.attribution import Gradient
from zennit.canonizers import AttributeCanonizer, CompositeCanonizer, SequentialMergeBatchNorm
from zennit.composites import EpsilonGammaBox, EpsilonPlusFlat
from zennit.layer import Sum
from zennit.torchvision import ResNetBasicBlockCanonizer

import golden_common as gc
from golden_zennit import ExactSequentialMergeBatchNorm, per_item_rel

SEED = 20240
N, SIZE = 8, 64
LOW, HIGH = -1.0, 1.0
STABLE = 1e-5  # an item is "stable" when Zennit's own f32 run is within this of its f64 run
X_PATH = "assets/data/zoo_x.npy"
COMPOSITES = {
    "epsilon_plus_flat": (lambda c: EpsilonPlusFlat(canonizers=c),
                          {"first Conv": "Flat", "other Conv (incl. depthwise)": "ZPlus",
                           "Gemm/Linear": "Epsilon(epsilon=1e-6)"}),
    "epsilon_gamma_box": (lambda c: EpsilonGammaBox(low=LOW, high=HIGH, canonizers=c),
                          {"first Conv": f"ZBox(low={LOW}, high={HIGH})",
                           "other Conv (incl. depthwise)": "Gamma(gamma=0.25)",
                           "Gemm/Linear": "Epsilon(epsilon=1e-6)"}),
}


class NarrowResNet(ResNet):
    """torchvision's ResNet with the stage widths (64, 128, 256, 512) scaled to `width`·(1, 2, 4, 8).
    Same code as ResNet.__init__ otherwise (and ResNet's own _make_layer and forward)."""

    def __init__(self, layers, width, num_classes):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(BasicBlock, width, layers[0])
        self.layer2 = self._make_layer(BasicBlock, 2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(BasicBlock, 4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(BasicBlock, 8 * width, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, num_classes)
        for m in self.modules():  # ResNet.__init__'s initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


class MobileNetV2Canonizer(AttributeCanonizer):
    """InvertedResidual with a residual connection: x + conv(x) -> zennit.layer.Sum (Norm), as
    ResNetBasicBlockCanonizer does for BasicBlock; MobileNetV2: the functional
    adaptive_avg_pool2d -> an nn.AdaptiveAvgPool2d module (Norm)."""

    def __init__(self):
        super().__init__(self._attribute_map)

    @classmethod
    def _attribute_map(cls, name, module):
        if isinstance(module, InvertedResidual) and module.use_res_connect:
            return {"forward": cls.ir_forward.__get__(module), "canonizer_sum": Sum()}
        if isinstance(module, MobileNetV2):
            return {"forward": cls.net_forward.__get__(module), "canonizer_pool": nn.AdaptiveAvgPool2d(1)}
        return None

    @staticmethod
    def ir_forward(self, x):
        return self.canonizer_sum(torch.stack([x, self.conv(x)], dim=-1))

    @staticmethod
    def net_forward(self, x):
        x = self.features(x)
        x = self.canonizer_pool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


MODELS = {
    "resnet_zoo": dict(
        ctor=lambda: NarrowResNet([2, 2, 2, 2], width=8, num_classes=10),
        residual=ResNetBasicBlockCanonizer,
        structure="torchvision ResNet (BasicBlock, [2, 2, 2, 2] = resnet18's) at widths 8/16/32/64",
        ops={"Conv": 20, "Relu": 17, "Add": 8, "MaxPool": 1, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}),
    "mobilenet_v2_zoo": dict(
        ctor=lambda: torchvision.models.mobilenet_v2(weights=None, width_mult=0.25, num_classes=10),
        residual=MobileNetV2Canonizer,
        structure="torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=10)",
        ops={"Conv": 52, "Clip": 35, "Add": 11, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}),
}


def build(name, models=MODELS):
    """The model with seeded random weights and BatchNorm statistics that are the exact mean and
    (biased→running) variance over 8 batches of 32 uniform(-1, 1) inputs (momentum None)."""
    torch.manual_seed(SEED)
    m = models[name]["ctor"]()
    g = torch.Generator().manual_seed(SEED + 1)
    for bn in m.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.reset_running_stats()
            bn.momentum = None
    m.train()
    with torch.no_grad():
        for _ in range(8):
            m(torch.rand((32, 3, SIZE, SIZE), generator=g) * 2 - 1)
    return m.eval()


def onnx_module_path(node_name):
    """'/layer2/layer2.0/downsample/downsample.0/Conv' -> 'layer2.0.downsample.0'
    (the exporter's scopes: each child of a container is named '<container scope>.<attr>')."""
    path, prev = "", None
    for s in node_name.strip("/").split("/")[:-1]:
        if prev is not None and s.startswith(prev + "."):
            path = path[:len(path) - len(prev)] + s
        else:
            path = s if not path else f"{path}.{s}"
        prev = s
    return path


def with_onnx_parameters(name, onnx_path, models=MODELS):
    """The torchvision module computing exactly the ONNX graph: the exporter-folded Conv/Gemm
    parameters, every BatchNorm the identity (mean 0, var 1, weight 1, bias 0, eps 0)."""
    m = build(name, models)
    g = onnx.load(onnx_path).graph
    init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    # The exporter shares equal initializers (zero biases) through Identity nodes.
    init.update({n.output[0]: init[n.input[0]] for n in g.node if n.op_type == "Identity" and n.input[0] in init})
    mods = dict(m.named_modules())
    loaded = 0
    for node in g.node:
        if node.op_type in ("Conv", "Gemm"):
            mod = mods[onnx_module_path(node.name)]
            w = torch.from_numpy(init[node.input[1]].copy())
            assert tuple(mod.weight.shape) == tuple(w.shape), node.name
            mod.weight = nn.Parameter(w)
            mod.bias = nn.Parameter(torch.from_numpy(init[node.input[2]].copy()))
            loaded += 1
    assert loaded == sum(isinstance(v, (nn.Conv2d, nn.Linear)) for v in m.modules()), loaded
    for bn in m.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.running_mean.zero_(); bn.running_var.fill_(1.0)
            bn.weight.data.fill_(1.0); bn.bias.data.zero_()
            bn.eps = 0.0
    return m.eval()


def export_torchscript(model, x, onnx_rel, skip=("Constant",)):
    """The TorchScript exporter at opset 17 with folding (BatchNorms into Convs) and a dynamic
    batch; returns the graph's operator counts (without `skip`) and the file's size."""
    torch.onnx.export(model, x, gc.p(onnx_rel), opset_version=17, do_constant_folding=True, dynamo=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}})
    size = os.path.getsize(gc.p(onnx_rel))
    ops = {}
    for node in onnx.load(gc.p(onnx_rel)).graph.node:
        if node.op_type not in skip:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
    print(f"wrote {onnx_rel} {size} B sha256={gc.sha256(gc.p(onnx_rel))[:16]} ops {ops}")
    return ops, size


def attribute(model, composite, x, targets):
    x = x.clone().requires_grad_(True)
    with Gradient(model=model, composite=composite) as attributor:
        out, rel = attributor(x, lambda o: F.one_hot(targets, o.shape[1]).to(o) * o)
    return out.detach(), rel.detach()


def main():
    t0 = time.time()
    gc.setup()
    man = gc.Manifest("scripts/golden_zennit_zoo.py")
    x32 = np.random.default_rng(SEED).uniform(LOW, HIGH, (N, 3, SIZE, SIZE)).astype(np.float32)
    np.save(gc.p(X_PATH), x32)
    print(f"wrote {X_PATH} {x32.shape} sha256={gc.sha256(gc.p(X_PATH))[:16]}")
    x = torch.from_numpy(x32)
    for name, spec in MODELS.items():
        onnx_rel = f"assets/models/{name}.onnx"
        model = build(name)
        ops, size = export_torchscript(model, x[:2], onnx_rel)
        assert size < 2_000_000, size
        assert ops == spec["ops"], ops  # BatchNorms folded by the exporter; the graph glimpse is tested on
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        ref = ort.InferenceSession(gc.p(onnx_rel), so, providers=["CPUExecutionProvider"]).run(None, {"input": x32})[0]
        ref_rel = f"assets/reference/{name}_logits.npy"
        np.save(gc.p(ref_rel), ref)
        print(f"wrote {ref_rel} sha256={gc.sha256(gc.p(ref_rel))[:16]}")
        pred = ref.argmax(1)
        targets = torch.from_numpy(np.concatenate([pred[:4], (pred[4:] + 1) % 10]).astype(np.int64))

        # The module computing the ONNX function (f32 and f64), and the original module.
        exact32 = with_onnx_parameters(name, gc.p(onnx_rel))
        exact64 = with_onnx_parameters(name, gc.p(onnx_rel)).double()
        with torch.no_grad():
            d = {"original_float32": float(np.abs(model(x).numpy() - ref).max()),
                 "onnx_parameters_float32": float(np.abs(exact32(x).numpy() - ref).max()),
                 "onnx_parameters_float64": float(np.abs(exact64(x.double()).numpy() - ref).max())}
        print(f"  logits vs onnxruntime {d} (max |logit| {np.abs(ref).max():.3f})")
        assert max(d.values()) < 1e-5 * max(1.0, float(np.abs(ref).max())), d

        def canon(merge):
            return [CompositeCanonizer((merge(), spec["residual"]()))]

        for key, (factory, rules) in COMPOSITES.items():
            out, rel = attribute(exact64, factory(canon(ExactSequentialMergeBatchNorm)), x.double(), targets)
            _, rel32 = attribute(exact32, factory(canon(ExactSequentialMergeBatchNorm)), x, targets)
            cond = per_item_rel(rel, rel32)
            # Effects that the golden does not contain: stock Zennit's merge (eps kept) on the
            # real BatchNorms, and the eps-free merge in f64 on the real BatchNorms.
            _, stock = attribute(build(name).double(), factory(canon(SequentialMergeBatchNorm)), x.double(), targets)
            _, merged = attribute(build(name).double(), factory(canon(ExactSequentialMergeBatchNorm)), x.double(), targets)
            quirk, fold = per_item_rel(rel, stock), per_item_rel(rel, merged)
            stable = [i for i, c in enumerate(cond) if c <= STABLE]
            print(f"  {name} {key:18s} max|R| {float(rel.abs().max()):.3g}\n"
                  f"    zennit f32 vs f64   " + " ".join(f"{c:.1e}" for c in cond) + f"  stable items {stable}\n"
                  f"    stock-merge quirk   " + " ".join(f"{c:.1e}" for c in quirk) + "\n"
                  f"    f64 merge vs fold   " + " ".join(f"{c:.1e}" for c in fold))
            man.save_array(
                f"zennit_{name}_{key}.npy", rel.numpy(),
                method="LRP (zennit)", library="zennit 0.5.1", torch=torch.__version__,
                torchvision=torchvision.__version__, computed_in="float64 (stored as float32)",
                model=name, structure=spec["structure"], onnx=onnx_rel, inputs=X_PATH,
                input_rule=f"numpy default_rng({SEED}).uniform({LOW}, {HIGH}, ({N}, 3, {SIZE}, {SIZE})) as float32",
                targets=targets.tolist(),
                target_rule="inputs 0-3: predicted class (argmax of the onnxruntime logits); inputs 4-7: (predicted + 1) % 10",
                composite=key, layer_rules=rules,
                rules_for_other_layers={"ReLU / ReLU6 (ONNX Relu / Clip(0,6))": "Pass",
                                        "residual Add = zennit.layer.Sum": "Norm",
                                        "MaxPool2d": "no rule: gradient (first maximum of each window)",
                                        "AdaptiveAvgPool2d (ONNX GlobalAveragePool)": "Norm", "Flatten": "gradient (reshape)"},
                canonizers=("SequentialMergeBatchNorm with eps zeroed while merged, on the module rebuilt with the ONNX's "
                            "folded parameters (BatchNorms = identity), + " + spec["residual"].__name__),
                target_logits=[float(v) for v in out[torch.arange(N), targets]],
                max_abs_logit_diff_vs_onnxruntime=d,
                float32_vs_float64_rel_diff_per_item=cond, well_conditioned=max(cond) < STABLE,
                stable_items=stable,
                stock_merge_quirk_effect_per_item=quirk,
                exact_merge_vs_onnx_fold_per_item=fold)
    man.write()
    print(f"golden_zennit_zoo.py done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
