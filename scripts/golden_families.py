#!/usr/bin/env python3
"""Goldens on small configurations of torchvision's squeeze-excitation families and ShuffleNetV2:
LRP from Zennit (the gates held constant, CP-LRP), and Saliency / InputXGradient /
IntegratedGradients from Captum on the true function.

Writes
  assets/models/{efficientnet_b0_zoo,mobilenet_v3_zoo,regnet_y_zoo,shufflenet_v2_zoo}.onnx   random weights,
      BatchNorm statistics recalibrated on random inputs, exported by torch.onnx (TorchScript
      exporter, opset 17, do_constant_folding=True: BatchNorms folded into their Convs);
  assets/models/shufflenet_v2_zoo_dynamo.onnx   the same ShuffleNetV2 by the dynamo exporter
      (opset 18): Split where TorchScript writes Shape / Gather / Div / Slice;
  assets/reference/<model>_logits.npy       onnxruntime (CPU, optimisations off) on zoo_x;
  assets/golden/zennit_<model>_{epsilon_plus_flat,epsilon_gamma_box}.npy;
  assets/golden/captum_<model>_{saliency,input_x_gradient,ig_trapezoid}.npy (+ manifest entries).
The inputs are assets/data/zoo_x.npy of scripts/golden_zennit_zoo.py (8, 3, 64, 64).

Models (torchvision's own classes, small configurations):
  * efficientnet_b0_zoo: EfficientNet(_efficientnet_conf("efficientnet_b0", width_mult=0.25,
    depth_mult=0.34)): MBConv with SiLU, squeeze-excitation (SiLU, Sigmoid), residual sums.
  * mobilenet_v3_zoo: MobileNetV3(_mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.5)):
    HardSwish, squeeze-excitation (ReLU, HardSigmoid), a Linear-HardSwish-Linear head.
  * regnet_y_zoo: RegNet(BlockParams.from_init_params(depth=5, w_0=16, w_a=8, w_m=2,
    group_width=8, se_ratio=0.25)): grouped bottlenecks, squeeze-excitation (ReLU, Sigmoid),
    residual sums with and without a 1x1 projection.
  * shufflenet_v2_zoo: ShuffleNetV2(stages_repeats=[2, 2, 2], stages_out_channels=[12, 24, 48, 96,
    256]): channel shuffles (Reshape, Transpose, Reshape), chunk (TorchScript: Slice on folded
    shape arithmetic), Concat. `ShuffleNetCanonizer` turns the functional `x.mean([2, 3])` into
    an AdaptiveAvgPool2d module (Norm), as glimpse treats ONNX ReduceMean over H, W.

The gate held constant. Zennit propagates relevance between the modules it hooks, and an
operation it does not hook is crossed by its gradient. `scale.detach() * x` would therefore send
`scale * R` to x, not R: relevance is lost in every gate (measured below as
`detach_lost_relevance`). CP-LRP, the gate as a constant of a linear map, sends all of R to x,
so `GateCanonizer` writes the product as `ConstantGate.apply(x, scale)`, whose backward returns
R to x and nothing to the scale. Residual sums become zennit.layer.Sum (Norm), as the zoo
script's canonizers do; every activation is a Zennit Activation (Pass); the average pools are
AdaptiveAvgPool2d modules (Norm).

Captum's goldens run on the unmodified module with the ONNX's parameters (the gradient reaches
the gate too). Every golden is computed in float64; its float32 run gives the per-item
conditioning in the manifest.
"""

import os
import time

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn
import torchvision
from captum.attr import InputXGradient, IntegratedGradients, Saliency
from functools import partial
from torchvision.models.efficientnet import EfficientNet, MBConv, _efficientnet_conf
from torchvision.models.mobilenetv3 import InvertedResidual, MobileNetV3, _mobilenet_v3_conf
from torchvision.models.regnet import BlockParams, RegNet, ResBottleneckBlock
from torchvision.models.shufflenetv2 import ShuffleNetV2
from torchvision.ops.misc import SqueezeExcitation
from zennit.canonizers import AttributeCanonizer, CompositeCanonizer
from zennit.layer import Sum

import golden_common as gc
from golden_zennit import per_item_rel
from golden_zennit_zoo import (COMPOSITES, N, STABLE, X_PATH, attribute, build, export_torchscript,
                               with_onnx_parameters)
from zennit_canonizers import ExactSequentialMergeBatchNorm

IG_STEPS = 64


def regnet_y():
    params = BlockParams.from_init_params(depth=5, w_0=16, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25)
    return RegNet(params, num_classes=10, norm_layer=partial(nn.BatchNorm2d, eps=1e-5, momentum=0.1))


def efficientnet_b0():
    setting, last = _efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.34)
    return EfficientNet(setting, 0.2, num_classes=10, last_channel=last)


def mobilenet_v3():
    setting, last = _mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.5)
    return MobileNetV3(setting, last, num_classes=10)


def shufflenet_v2():
    return ShuffleNetV2(stages_repeats=[2, 2, 2], stages_out_channels=[12, 24, 48, 96, 256], num_classes=10)


MODELS = {
    "efficientnet_b0_zoo": dict(
        ctor=efficientnet_b0,
        structure="EfficientNet(_efficientnet_conf('efficientnet_b0', width_mult=0.25, depth_mult=0.34), num_classes=10)",
        ops={"Conv": 51, "Sigmoid": 41, "Mul": 41, "GlobalAveragePool": 11, "Add": 4, "Flatten": 1, "Gemm": 1}),
    "mobilenet_v3_zoo": dict(
        ctor=mobilenet_v3,
        structure="MobileNetV3(_mobilenet_v3_conf('mobilenet_v3_small', width_mult=0.5), num_classes=10)",
        ops={"Conv": 52, "HardSwish": 19, "Relu": 14, "GlobalAveragePool": 10, "HardSigmoid": 9, "Mul": 9,
             "Add": 7, "Flatten": 1, "Gemm": 2}),
    "regnet_y_zoo": dict(
        ctor=regnet_y,
        structure="RegNet(BlockParams.from_init_params(depth=5, w_0=16, w_a=8, w_m=2, group_width=8, se_ratio=0.25))",
        ops={"Conv": 29, "Relu": 21, "GlobalAveragePool": 6, "Sigmoid": 5, "Mul": 5, "Add": 5, "Flatten": 1,
             "Gemm": 1}),
    "shufflenet_v2_zoo": dict(
        ctor=shufflenet_v2,
        structure="ShuffleNetV2(stages_repeats=[2, 2, 2], stages_out_channels=[12, 24, 48, 96, 256], num_classes=10)",
        ops={"Conv": 26, "Relu": 17, "MaxPool": 1, "Concat": 18, "Shape": 27, "Gather": 27, "Div": 9, "Cast": 12,
             "Unsqueeze": 48, "Reshape": 12, "Transpose": 6, "Add": 3, "Mul": 6, "Slice": 6, "ReduceMean": 1,
             "Gemm": 1},
        dynamo=True),
}


class ConstantGate(torch.autograd.Function):
    """x · scale with the scale a constant: relevance R at the product goes to x whole."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(scale)
        return x * scale

    @staticmethod
    def backward(ctx, r):
        # Zeros, not None: Zennit's hooks on the scale's branch are still called, and need a tensor.
        return r, torch.zeros_like(ctx.saved_tensors[0])


class DetachedGate(torch.autograd.Function):
    """x · scale.detach(): the gradient, scale · R, goes to x (what detaching alone gives)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(scale)
        return x * scale

    @staticmethod
    def backward(ctx, r):
        (scale,) = ctx.saved_tensors
        return r * scale, torch.zeros_like(scale)


class GateCanonizer(AttributeCanonizer):
    """Squeeze-excitation: x · scale -> `gate.apply(x, scale)`; residual blocks: the sum ->
    zennit.layer.Sum (Norm)."""

    def __init__(self, gate=ConstantGate):
        self.gate = gate
        super().__init__(self._attribute_map)

    def _attribute_map(self, name, module):
        if isinstance(module, SqueezeExcitation):
            gate = self.gate
            return {"forward": (lambda m: lambda x: gate.apply(x, m._scale(x)))(module)}
        if isinstance(module, (MBConv, InvertedResidual)) and module.use_res_connect:
            return {"forward": self.block_forward.__get__(module), "canonizer_sum": Sum()}
        if isinstance(module, ShuffleNetV2):
            return {"forward": self.shufflenet_forward.__get__(module), "canonizer_pool": nn.AdaptiveAvgPool2d(1)}
        if isinstance(module, ResBottleneckBlock):
            return {"forward": self.bottleneck_forward.__get__(module), "canonizer_sum": Sum()}
        return None

    @staticmethod
    def block_forward(self, x):
        return self.canonizer_sum(torch.stack([self.block(x), x], dim=-1))

    @staticmethod
    def shufflenet_forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(torch.flatten(self.canonizer_pool(x), 1))

    @staticmethod
    def bottleneck_forward(self, x):
        skip = x if self.proj is None else self.proj(x)
        return self.activation(self.canonizer_sum(torch.stack([skip, self.f(x)], dim=-1)))


def captum_maps(model64, model32, x, targets):
    """Saliency, InputXGradient and IG (trapezoid, 64 steps, zero baseline) in f64, and each one's
    per-item f32-vs-f64 difference."""
    methods = {
        "saliency": ("Saliency(abs=True)", lambda m, xx: Saliency(m).attribute(xx, target=targets, abs=True)),
        "input_x_gradient": ("InputXGradient", lambda m, xx: InputXGradient(m).attribute(xx, target=targets)),
        "ig_trapezoid": (f"IntegratedGradients(n_steps={IG_STEPS}, method='riemann_trapezoid', baselines=0)",
                         lambda m, xx: IntegratedGradients(m).attribute(
                             xx, baselines=torch.zeros_like(xx), target=targets, n_steps=IG_STEPS,
                             method="riemann_trapezoid")),
    }
    out = {}
    for key, (desc, f) in methods.items():
        a64 = f(model64, x.double().requires_grad_(True)).detach()
        a32 = f(model32, x.clone().requires_grad_(True)).detach()
        out[key] = (desc, a64, per_item_rel(a64, a32))
    return out


def main():
    t0 = time.time()
    gc.setup()
    man = gc.Manifest("scripts/golden_families.py")
    x32 = np.load(gc.p(X_PATH))
    x = torch.from_numpy(x32)
    for name, spec in MODELS.items():
        onnx_rel = f"assets/models/{name}.onnx"
        model = build(name, MODELS)
        ops, size = export_torchscript(model, x[:2], onnx_rel, skip=("Constant", "Identity"))
        assert size < 2_000_000, size
        assert ops == spec["ops"], ops
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        ref = ort.InferenceSession(gc.p(onnx_rel), so, providers=["CPUExecutionProvider"]).run(None, {"input": x32})[0]
        ref_rel = f"assets/reference/{name}_logits.npy"
        np.save(gc.p(ref_rel), ref)
        print(f"wrote {ref_rel} sha256={gc.sha256(gc.p(ref_rel))[:16]}")
        if spec.get("dynamo"):
            dyn_rel = f"assets/models/{name}_dynamo.onnx"
            torch.onnx.export(model, x[:2], gc.p(dyn_rel), opset_version=18, dynamo=True, input_names=["input"],
                              output_names=["logits"], dynamic_shapes={"x": {0: torch.export.Dim("n")}},
                              external_data=False)
            dyn = ort.InferenceSession(gc.p(dyn_rel), so, providers=["CPUExecutionProvider"]).run(None, {"input": x32})[0]
            print(f"wrote {dyn_rel} {os.path.getsize(gc.p(dyn_rel))} B; logits vs the TorchScript export "
                  f"{np.abs(dyn - ref).max():.2e}")
            assert np.abs(dyn - ref).max() < 1e-5 * max(1.0, float(np.abs(ref).max()))
        pred = ref.argmax(1)
        targets = torch.from_numpy(np.concatenate([pred[:4], (pred[4:] + 1) % 10]).astype(np.int64))

        exact32 = with_onnx_parameters(name, gc.p(onnx_rel), MODELS)
        exact64 = with_onnx_parameters(name, gc.p(onnx_rel), MODELS).double()
        with torch.no_grad():
            d = {"original_float32": float(np.abs(model(x).numpy() - ref).max()),
                 "onnx_parameters_float32": float(np.abs(exact32(x).numpy() - ref).max()),
                 "onnx_parameters_float64": float(np.abs(exact64(x.double()).numpy() - ref).max())}
        print(f"  logits vs onnxruntime {d} (max |logit| {np.abs(ref).max():.3f})")
        assert max(d.values()) < 1e-5 * max(1.0, float(np.abs(ref).max())), d
        common = dict(torch=torch.__version__, torchvision=torchvision.__version__,
                      computed_in="float64 (stored as float32)", model=name, structure=spec["structure"],
                      onnx=onnx_rel, inputs=X_PATH, targets=targets.tolist(),
                      target_rule="inputs 0-3: predicted class (argmax of the onnxruntime logits); "
                                  "inputs 4-7: (predicted + 1) % 10",
                      max_abs_logit_diff_vs_onnxruntime=d)

        def canon(gate=ConstantGate):
            return [CompositeCanonizer((ExactSequentialMergeBatchNorm(), GateCanonizer(gate)))]

        for key, (factory, rules) in COMPOSITES.items():
            out, rel = attribute(exact64, factory(canon()), x.double(), targets)
            _, rel32 = attribute(exact32, factory(canon()), x, targets)
            _, detached = attribute(exact64, factory(canon(DetachedGate)), x.double(), targets)
            cond = per_item_rel(rel, rel32)
            stable = [i for i, c in enumerate(cond) if c <= STABLE]
            score = out[torch.arange(N), targets]
            sums = rel.flatten(1).sum(1)
            lost = [float(1 - a / b) for a, b in zip(detached.flatten(1).sum(1), sums)]
            print(f"  {name} {key:18s} max|R| {float(rel.abs().max()):.3g}\n"
                  f"    zennit f32 vs f64   " + " ".join(f"{c:.1e}" for c in cond) + f"  stable items {stable}\n"
                  f"    ΣR / f(x)           " + " ".join(f"{float(s / f):.3f}" for s, f in zip(sums, score)) + "\n"
                  f"    detach loses        " + " ".join(f"{v:.3f}" for v in lost))
            man.save_array(
                f"zennit_{name}_{key}.npy", rel.numpy(), method="LRP (zennit), gates held constant (CP-LRP)",
                library="zennit 0.5.1", composite=key, layer_rules=rules,
                rules_for_other_layers={
                    "squeeze-excitation product x * scale": "ConstantGate: all relevance to x, none to the scale",
                    "SiLU / HardSwish / ReLU / Sigmoid / HardSigmoid": "Pass",
                    "residual Add = zennit.layer.Sum": "Norm",
                    "AdaptiveAvgPool2d (ONNX GlobalAveragePool)": "Norm", "Flatten": "gradient (reshape)"},
                canonizers="ExactSequentialMergeBatchNorm on the module rebuilt with the ONNX's folded parameters "
                           "(BatchNorms = identity), + GateCanonizer (ConstantGate, Sum)",
                target_logits=[float(v) for v in score],
                relevance_sum_over_logit=[float(s / f) for s, f in zip(sums, score)],
                detach_lost_relevance=lost,
                float32_vs_float64_rel_diff_per_item=cond, well_conditioned=max(cond) < STABLE,
                stable_items=stable, **common)
        for key, (desc, a, cond) in captum_maps(exact64, exact32, x, targets).items():
            print(f"  {name} {key:18s} f32 vs f64 " + " ".join(f"{c:.1e}" for c in cond))
            man.save_array(f"captum_{name}_{key}.npy", a.numpy(), method=desc, library="captum 0.9.0",
                           float32_vs_float64_rel_diff_per_item=cond, **common)
    man.write()
    print(f"golden_families.py done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
