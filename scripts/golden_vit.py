#!/usr/bin/env python3
"""Goldens on a small torchvision VisionTransformer: LRP from LXT (CP-LRP, and AttnLRP's uniform
rule through LXT's own gradient rules) and Saliency / InputXGradient / IntegratedGradients from
Captum on the true function.

Writes
  assets/models/vit_zoo.onnx          VisionTransformer(image_size=64, patch_size=8, num_layers=4,
      num_heads=4, hidden_dim=64, mlp_dim=128, num_classes=10), seeded random weights (the head
      and class token, which torchvision initialises to zero, drawn too), TorchScript exporter,
      opset 17, dynamic batch: Shape / Gather / Where / Expand arithmetic for the class token;
  assets/models/vit_zoo_dynamo.onnx   the same by the dynamo exporter (opset 18, batch 1 baked
      into every reshape: the batch moves to axis 1 and merges with the heads);
  assets/reference/vit_zoo_logits.npy onnxruntime (CPU, optimisations off) on zoo_x;
  assets/golden/lxt_vit_zoo_{cp_lrp,attn_lrp}.npy and captum_vit_zoo_{saliency,input_x_gradient,
      ig_trapezoid}.npy (+ manifest entries). Inputs: assets/data/zoo_x.npy (8, 3, 64, 64).

LXT (lxt 2.1, `lxt.efficient`) computes LRP as gradient × input with its modules patched:
  * cp_lrp: LXT's own map for torchvision's ViT (`lxt.efficient.models.vit_torch.cp_LRP`):
    query and key detached in every MultiheadAttention (the attention weights constants: CP-LRP),
    LayerNorm's identity rule (the standard deviation detached), GELU's identity rule (Pass).
  * attn_lrp: AttnLRP (uniform rule on both attention matmuls, the softmax by its gradient × input)
    written with LXT's `divide_gradient` on query (1/4), key (1/4) and value (1/2), as LXT's
    `wrap_attention_forward` does for Hugging Face models; LayerNorm and GELU as above.
  LXT hooks Zennit's rules on modules only: the attention's in- and out-projections run as F.linear
  inside it and are crossed by their gradient, which in gradient × input is LRP-0. Every linear
  layer here is therefore LRP-0 (Zennit's Epsilon(epsilon=0) on the Conv2d and Linear modules),
  the one composite in which LXT's ViT gives all linear layers the same rule. Residual sums: the gradient (relevance in proportion, ε = 0); the class
  token and the position embedding absorb their share.
Every golden is computed in float64; its float32 run gives the per-item conditioning.
"""

import math
import time

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
import torchvision
from captum.attr import InputXGradient, IntegratedGradients, Saliency

import golden_common as gc
from golden_families import captum_maps
from golden_zennit import per_item_rel
from golden_zennit_zoo import N, STABLE, X_PATH, export_torchscript

NAME = "vit_zoo"
STRUCTURE = ("VisionTransformer(image_size=64, patch_size=8, num_layers=4, num_heads=4, hidden_dim=64, "
             "mlp_dim=128, num_classes=10)")


def build():
    torch.manual_seed(20261203)
    m = torchvision.models.VisionTransformer(image_size=64, patch_size=8, num_layers=4, num_heads=4,
                                             hidden_dim=64, mlp_dim=128, num_classes=10).eval()
    with torch.no_grad():
        m.heads.head.weight.normal_(0, 0.3)
        m.heads.head.bias.normal_(0, 0.1)
        m.class_token.normal_(0, 0.5)
        m.encoder.pos_embedding.normal_(0, 0.2)
    return m


def uniform_attention(self, query, key, value, need_weights=False, **kwargs):
    """torchvision's self-attention (batch first, no mask, no dropout) with AttnLRP's uniform rule
    in LXT's gradient × input form."""
    from lxt.efficient.rules import divide_gradient
    n, t, d = query.shape
    h = self.num_heads
    q, k, v = F.linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
    heads = lambda z: z.reshape(n, t, h, d // h).transpose(1, 2)
    q, k, v = heads(q), heads(k), heads(v)
    q, k, v = divide_gradient(q, 4), divide_gradient(k, 4), divide_gradient(v, 2)
    attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(n, t, d)
    return F.linear(out, self.out_proj.weight, self.out_proj.bias), None


def lxt_relevance(model, x, targets, uniform):
    """Gradient × input with LXT's patches and Zennit's LRP-0 on every Linear / Conv2d module."""
    from zennit.composites import LayerMapComposite
    from zennit.rules import Epsilon
    if uniform:
        for blk in model.encoder.layers:
            blk.self_attention.forward = uniform_attention.__get__(blk.self_attention)
    composite = LayerMapComposite([(torch.nn.Conv2d, Epsilon(epsilon=0.0)),
                                   (torch.nn.Linear, Epsilon(epsilon=0.0))])
    x = x.clone().requires_grad_(True)
    with composite.context(model):
        out = model(x)
        score = out[torch.arange(x.shape[0]), targets]
        score.sum().backward()
    if uniform:
        for blk in model.encoder.layers:
            del blk.self_attention.forward
    return out.detach(), (x * x.grad).detach()


def main():
    t0 = time.time()
    gc.setup()
    man = gc.Manifest("scripts/golden_vit.py")
    x32 = np.load(gc.p(X_PATH))
    x = torch.from_numpy(x32)
    model = build()
    onnx_rel = f"assets/models/{NAME}.onnx"
    ops, size = export_torchscript(model, x[:2], onnx_rel, skip=("Constant", "Identity"))
    assert size < 2_000_000, size
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    run = lambda rel: ort.InferenceSession(gc.p(rel), so, providers=["CPUExecutionProvider"]).run(
        None, {"input": x32})[0]
    ref = run(onnx_rel)
    ref_rel = f"assets/reference/{NAME}_logits.npy"
    np.save(gc.p(ref_rel), ref)
    print(f"wrote {ref_rel} sha256={gc.sha256(gc.p(ref_rel))[:16]}")
    dyn_rel = f"assets/models/{NAME}_dynamo.onnx"
    torch.onnx.export(model, (x[:1],), gc.p(dyn_rel), opset_version=18, dynamo=True, input_names=["input"],
                      output_names=["logits"], external_data=False)
    dyn = np.concatenate([ort.InferenceSession(gc.p(dyn_rel), so, providers=["CPUExecutionProvider"]).run(
        None, {"input": x32[i:i + 1]})[0] for i in range(N)])
    print(f"wrote {dyn_rel}; logits vs the TorchScript export {np.abs(dyn - ref).max():.2e}")
    assert np.abs(dyn - ref).max() < 1e-5 * max(1.0, float(np.abs(ref).max()))
    pred = ref.argmax(1)
    targets = torch.from_numpy(np.concatenate([pred[:4], (pred[4:] + 1) % 10]).astype(np.int64))
    model64 = build().double()
    with torch.no_grad():
        d = {"float32": float(np.abs(model(x).numpy() - ref).max()),
             "float64": float(np.abs(model64(x.double()).numpy() - ref).max())}
    print(f"  logits vs onnxruntime {d} (max |logit| {np.abs(ref).max():.3f})")
    assert max(d.values()) < 1e-5 * max(1.0, float(np.abs(ref).max())), d
    common = dict(torch=torch.__version__, torchvision=torchvision.__version__,
                  computed_in="float64 (stored as float32)", model=NAME, structure=STRUCTURE,
                  onnx=onnx_rel, onnx_dynamo=dyn_rel, inputs=X_PATH, targets=targets.tolist(),
                  target_rule="inputs 0-3: predicted class (argmax of the onnxruntime logits); "
                              "inputs 4-7: (predicted + 1) % 10",
                  max_abs_logit_diff_vs_onnxruntime=d)
    # Captum first: LXT's patches change torch.nn classes for the rest of the process.
    for key, (desc, a, cond) in captum_maps(model64, model, x, targets).items():
        print(f"  {key:18s} f32 vs f64 " + " ".join(f"{c:.1e}" for c in cond))
        man.save_array(f"captum_{NAME}_{key}.npy", a.numpy(), method=desc, library="captum 0.9.0",
                       float32_vs_float64_rel_diff_per_item=cond, **common)
    from lxt.efficient import monkey_patch, monkey_patch_zennit
    from torchvision.models import vision_transformer
    monkey_patch(vision_transformer)
    monkey_patch_zennit()
    for key, uniform, desc in [
        ("cp_lrp", False, "CP-LRP (LXT's cp_LRP map for torchvision's ViT): query and key detached"),
        ("attn_lrp", True, "AttnLRP: uniform rule on both attention matmuls via LXT's divide_gradient "
                           "(query, key 1/4, value 1/2), the softmax by gradient x input"),
    ]:
        out, rel = lxt_relevance(model64, x.double(), targets, uniform)
        _, rel32 = lxt_relevance(model, x, targets, uniform)
        cond = per_item_rel(rel, rel32)
        stable = [i for i, c in enumerate(cond) if c <= STABLE]
        score = out[torch.arange(N), targets]
        sums = rel.flatten(1).sum(1)
        print(f"  lxt {key:10s} max|R| {float(rel.abs().max()):.3g}\n"
              f"    f32 vs f64  " + " ".join(f"{c:.1e}" for c in cond) + f"  stable {stable}\n"
              f"    ΣR / f(x)   " + " ".join(f"{float(s / f):.3f}" for s, f in zip(sums, score)))
        man.save_array(
            f"lxt_{NAME}_{key}.npy", rel.numpy(), method="LRP (lxt.efficient, gradient x input)",
            library="lxt 2.1 with zennit 0.5.1", attention=desc,
            rules={"Conv2d, Linear (zennit hooks) and the attention's F.linear projections": "LRP-0",
                   "LayerNorm": "identity rule (std detached)", "GELU": "identity rule (Pass)",
                   "residual sums, position embedding": "gradient (in proportion, eps 0)",
                   "class token": "absorbs its share"},
            target_logits=[float(v) for v in score],
            relevance_sum_over_logit=[float(s / f) for s, f in zip(sums, score)],
            float32_vs_float64_rel_diff_per_item=cond, stable_items=stable, **common)
    man.write()
    print(f"golden_vit.py done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
