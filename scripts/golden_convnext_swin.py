#!/usr/bin/env python3
"""Goldens on small configurations of torchvision's ConvNeXt, Swin Transformer (V1 and V2) and
MaxViT: LRP from Zennit on ConvNeXt, Saliency / InputXGradient / IntegratedGradients from Captum
on all four, and both exporters' graphs against onnxruntime.

Writes
  assets/models/{convnext_zoo,swin_zoo,swin_v2_zoo,maxvit_zoo}.onnx and *_dynamo.onnx   seeded random
      weights, TorchScript (opset 17, dynamic batch) and dynamo (opset 18, batch 1) exports;
  assets/reference/{model}_logits.npy   onnxruntime (CPU, optimisations off) on zoo_x;
  assets/golden/zennit_convnext_zoo_{epsilon_plus_flat,epsilon_gamma_box}.npy,
  assets/golden/captum_{model}_{saliency,input_x_gradient,ig_trapezoid}.npy.
Inputs: assets/data/zoo_x.npy (8, 3, 64, 64).

Models (torchvision's own classes):
  * convnext_zoo: ConvNeXt([CNBlockConfig(16, 32, 2), CNBlockConfig(32, None, 2)],
    num_classes=10): 4×4 patchify stem, depthwise 7×7 convolutions, channels-last LayerNorm and
    MLP (Linear, GELU, Linear), a per-channel layer scale (drawn around 0.5: the default 1e-6
    would leave the blocks all but silent), LayerNorm2d and a 2×2 downsampling convolution.
  * swin_zoo: SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2, 2], num_heads=[2, 4],
    window_size=[4, 4], num_classes=10): windows, shifted windows (roll as Slice + Concat, the
    attention mask as ScatterND / Where on constants), relative position bias, patch merging.
  * swin_v2_zoo: the same with SwinTransformerBlockV2 and PatchMergingV2 (torchvision's
    swin_v2_t recipe): cosine attention (F.normalize of queries and keys: ReduceL2, Clip,
    Expand, Div), a clamped learnt logit scale, the continuous position bias MLP on constant
    tables (folded at import; GatherND in the dynamo export), post-normalisation.
  * maxvit_zoo: MaxVit(input_size=(64, 64), stem_channels=16, partition_size=4,
    block_channels=[16, 32], block_layers=[1, 1], head_dim=8, num_classes=10): MBConv with
    squeeze-excitation (SiLU, Sigmoid gate), block and grid attention (Einsum, relative
    position bias), BatchNorm statistics drawn so that they do something.

Zennit on ConvNeXt: `ConvNeXtCanonizer` writes each block's `layer_scale * block(x)` as
`PassScale` (relevance passes the constant scale unchanged, as through a BatchNorm) and its
in-place residual sum as zennit.layer.Sum (Norm); LayerNorm (and LayerNorm2d) get Zennit's Pass
(glimpse: `pass` on class LayerNorm), GELU is a Zennit Activation (Pass). Without the canonizer
Zennit would cross the unhooked product by its gradient, scaling relevance by the layer scale,
and hand the whole of R to both summands. Computed in float64.
"""

import argparse
import time

import numpy as np
import onnxruntime as ort
import torch
import torchvision
from torchvision.models.convnext import CNBlock, CNBlockConfig, ConvNeXt
from torchvision.models.maxvit import MaxVit
from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformer, SwinTransformerBlockV2
from zennit.canonizers import AttributeCanonizer
from zennit.layer import Sum
from zennit.rules import Pass

import golden_common as gc
from golden_families import captum_maps
from golden_zennit import per_item_rel
from golden_zennit_zoo import COMPOSITES, N, STABLE, X_PATH, attribute, export_torchscript


def convnext():
    torch.manual_seed(20261204)
    m = ConvNeXt([CNBlockConfig(16, 32, 2), CNBlockConfig(32, None, 2)], stochastic_depth_prob=0.0,
                 layer_scale=0.5, num_classes=10).eval()
    with torch.no_grad():
        for b in m.modules():
            if isinstance(b, CNBlock):
                b.layer_scale.normal_(0.5, 0.2)
    return m


def swin():
    torch.manual_seed(20261205)
    return SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2, 2], num_heads=[2, 4],
                           window_size=[4, 4], num_classes=10).eval()


def swin_v2():
    torch.manual_seed(20261206)
    return SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2, 2], num_heads=[2, 4],
                           window_size=[4, 4], num_classes=10, block=SwinTransformerBlockV2,
                           downsample_layer=PatchMergingV2).eval()


def maxvit():
    torch.manual_seed(20261207)
    m = MaxVit(input_size=(64, 64), stem_channels=16, partition_size=4, block_channels=[16, 32],
               block_layers=[1, 1], head_dim=8, stochastic_depth_prob=0.0, num_classes=10).eval()
    with torch.no_grad():
        for b in m.modules():
            if isinstance(b, torch.nn.BatchNorm2d):
                b.running_mean.normal_(0, 0.1)
                b.running_var.uniform_(0.5, 1.5)
    return m


MODELS = {"convnext_zoo": convnext, "swin_zoo": swin, "swin_v2_zoo": swin_v2, "maxvit_zoo": maxvit}


class PassScale(torch.autograd.Function):
    """scale · x with the scale a constant per channel: relevance passes to x unchanged."""

    @staticmethod
    def forward(ctx, x, scale):
        return x * scale

    @staticmethod
    def backward(ctx, r):
        return r, None


class ConvNeXtCanonizer(AttributeCanonizer):
    def __init__(self):
        super().__init__(self._attribute_map)

    @staticmethod
    def _attribute_map(name, module):
        if isinstance(module, CNBlock):
            return {"forward": ConvNeXtCanonizer.block_forward.__get__(module), "canonizer_sum": Sum()}
        return None

    @staticmethod
    def block_forward(self, x):
        scaled = PassScale.apply(self.block(x), self.layer_scale)
        return self.canonizer_sum(torch.stack([scaled, x], dim=-1))


def zennit_composite(key):
    factory, rules = COMPOSITES[key]
    c = factory([ConvNeXtCanonizer()])
    c.layer_map = [(torch.nn.LayerNorm, Pass())] + c.layer_map
    return c, dict(rules, LayerNorm="Pass", GELU="Pass (Activation)", layer_scale="PassScale",
                   residual_sum="Norm (zennit.layer.Sum)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated, of " + ", ".join(MODELS))
    args = ap.parse_args()
    t0 = time.time()
    gc.setup()
    man = gc.Manifest("scripts/golden_convnext_swin.py", rerun=args.models.split(","))
    x32 = np.load(gc.p(X_PATH))
    x = torch.from_numpy(x32)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    for name in args.models.split(","):
        build = MODELS[name]
        model = build()
        onnx_rel = f"assets/models/{name}.onnx"
        ops, size = export_torchscript(model, x[:2], onnx_rel, skip=("Constant", "Identity"))
        assert size < 2_000_000, size
        ref = ort.InferenceSession(gc.p(onnx_rel), so, providers=["CPUExecutionProvider"]).run(
            None, {"input": x32})[0]
        ref_rel = f"assets/reference/{name}_logits.npy"
        np.save(gc.p(ref_rel), ref)
        dyn_rel = f"assets/models/{name}_dynamo.onnx"
        torch.onnx.export(model, (x[:1],), gc.p(dyn_rel), opset_version=18, dynamo=True,
                          input_names=["input"], output_names=["logits"], external_data=False)
        sess = ort.InferenceSession(gc.p(dyn_rel), so, providers=["CPUExecutionProvider"])
        dyn = np.concatenate([sess.run(None, {"input": x32[i:i + 1]})[0] for i in range(N)])
        print(f"wrote {ref_rel}; dynamo vs TorchScript logits {np.abs(dyn - ref).max():.2e}")
        assert np.abs(dyn - ref).max() < 1e-5 * max(1.0, float(np.abs(ref).max()))
        pred = ref.argmax(1)
        targets = torch.from_numpy(np.concatenate([pred[:4], (pred[4:] + 1) % 10]).astype(np.int64))
        model64 = build().double()
        with torch.no_grad():
            d = {"float32": float(np.abs(model(x).numpy() - ref).max()),
                 "float64": float(np.abs(model64(x.double()).numpy() - ref).max())}
        print(f"  {name} logits vs onnxruntime {d} (max |logit| {np.abs(ref).max():.3f})")
        assert max(d.values()) < 1e-5 * max(1.0, float(np.abs(ref).max())), d
        common = dict(torch=torch.__version__, torchvision=torchvision.__version__,
                      computed_in="float64 (stored as float32)", model=name, onnx=onnx_rel,
                      onnx_dynamo=dyn_rel, inputs=X_PATH, targets=targets.tolist(),
                      target_rule="inputs 0-3: predicted class (argmax of the onnxruntime logits); "
                                  "inputs 4-7: (predicted + 1) % 10",
                      max_abs_logit_diff_vs_onnxruntime=d)
        for key, (desc, a, cond) in captum_maps(model64, model, x, targets).items():
            print(f"  {name} {key:18s} f32 vs f64 " + " ".join(f"{c:.1e}" for c in cond))
            man.save_array(f"captum_{name}_{key}.npy", a.numpy(), method=desc, library="captum 0.9.0",
                           float32_vs_float64_rel_diff_per_item=cond, **common)
        if name != "convnext_zoo":
            continue
        for key in COMPOSITES:
            c64, rules = zennit_composite(key)
            out, rel = attribute(model64, c64, x.double(), targets)
            c32, _ = zennit_composite(key)
            _, rel32 = attribute(model, c32, x, targets)
            cond = per_item_rel(rel, rel32)
            stable = [i for i, c in enumerate(cond) if c <= STABLE]
            score = out[torch.arange(N), targets]
            sums = rel.flatten(1).sum(1)
            print(f"  {name} {key:18s} max|R| {float(rel.abs().max()):.3g}  f32 vs f64 "
                  + " ".join(f"{c:.1e}" for c in cond) + f"  stable {stable}\n"
                  f"    ΣR / f(x) " + " ".join(f"{float(s / f):.3f}" for s, f in zip(sums, score)))
            man.save_array(f"zennit_{name}_{key}.npy", rel.numpy(), method="LRP (zennit)",
                           library="zennit 0.5.1", composite=key, layer_rules=rules,
                           canonizers="ConvNeXtCanonizer (PassScale, Sum)",
                           target_logits=[float(v) for v in score],
                           relevance_sum_over_logit=[float(s / f) for s, f in zip(sums, score)],
                           float32_vs_float64_rel_diff_per_item=cond, well_conditioned=max(cond) < STABLE,
                           stable_items=stable, **common)
    man.write()
    print(f"golden_convnext_swin.py done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
