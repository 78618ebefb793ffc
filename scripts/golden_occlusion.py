#!/usr/bin/env python3
"""Occlusion goldens from Captum (`captum.attr.Occlusion`) on the shipped models.

Writes assets/golden/captum_<model>_occlusion_<config>.npy (+ manifest entries): LeNet (MNIST)
and the residual net (Fashion-MNIST) on their first 8 test inputs with the targets of the other
Captum goldens (golden_common.load_case), and EfficientNet-Lite0 on the first two photographs
for their predicted classes. Windows and strides cover all channels; some configurations
leave a last window cut at the edge ((D - w) / s not whole), and one fills with 0.5 instead of
0, so both of Captum's edge handling and its baselines are pinned.

Computed in float64 (stored as float32); the float32 run's per-item difference is recorded as
the golden's conditioning. Each golden is cross-checked against an explicit loop over the
windows (mean drop of the target logit over the windows covering each value) to 1e-6: Captum
sums in float64 but divides `total.float() / weights`, so its result is rounded to float32
(the loop agrees to ~3e-8, float32's resolution).
"""

import time

import numpy as np
import torch
from captum.attr import Occlusion

import golden_common as gc
from golden_zennit_lite0 import INPUTS as PHOTOS, LOGITS as PHOTO_LOGITS, ONNX as LITE0, OnnxNet

# (model, config name, window, strides, baseline)
CONFIGS = [
    ("lenet_mnist", "w4s2", (1, 4, 4), (1, 2, 2), 0.0),
    ("lenet_mnist", "w5s3_half", (1, 5, 5), (1, 3, 3), 0.5),
    ("resnet_fashion", "w6s4", (1, 6, 6), (1, 4, 4), 0.0),
    ("efficientnet_lite0", "w32s16", (3, 32, 32), (3, 16, 16), 0.0),
]
N_PHOTOS = 2


def explicit(model, x, targets, window, strides, baseline):
    """The definition, one window at a time: Σ_windows drop · mask ÷ Σ_windows mask."""
    shape = x.shape[1:]
    starts = [range(0, max(d - w, 0) + s, s) if (d - w) % s else range(0, d - w + 1, s)
              for d, w, s in zip(shape, window, strides)]
    total = torch.zeros_like(x)
    count = torch.zeros(shape, dtype=x.dtype)
    with torch.no_grad():
        f0 = model(x)[torch.arange(len(x)), targets]
        for c0 in starts[0]:
            for h0 in starts[1]:
                for w0 in starts[2]:
                    sl = (slice(c0, c0 + window[0]), slice(h0, h0 + window[1]), slice(w0, w0 + window[2]))
                    xo = x.clone()
                    xo[(slice(None),) + sl] = baseline
                    drop = f0 - model(xo)[torch.arange(len(x)), targets]
                    total[(slice(None),) + sl] += drop[:, None, None, None]
                    count[sl] += 1
    assert bool((count > 0).all())
    return total / count


def case(name, dtype):
    if name != "efficientnet_lite0":
        model, x, targets, info = gc.load_case(name, dtype)
        return model.eval(), x, targets, info
    x = torch.from_numpy(np.load(gc.p(PHOTOS))[:N_PHOTOS]).to(dtype)
    ref = np.load(gc.p(PHOTO_LOGITS))[:N_PHOTOS]
    model = OnnxNet(gc.p(LITE0)).to(dtype).eval()
    with torch.no_grad():
        d = float(np.abs(model(x).numpy() - ref).max())
    assert d < 1e-4, d
    targets = torch.from_numpy(ref.argmax(1).astype(np.int64))
    info = {"model": name, "onnx": LITE0, "inputs": f"{PHOTOS}[0:{N_PHOTOS}]", "targets": targets.tolist(),
            "target_rule": "predicted class (argmax of the reference logits)",
            "max_abs_logit_diff_vs_onnxruntime": d}
    return model, x, targets, info


def main():
    t0 = time.time()
    gc.setup()
    man = gc.Manifest("scripts/golden_occlusion.py")
    import captum
    for name, tag, window, strides, baseline in CONFIGS:
        maps = {}
        for dtype in (torch.float64, torch.float32):
            model, x, targets, info = case(name, dtype)
            maps[dtype] = Occlusion(model).attribute(x, sliding_window_shapes=window, strides=strides,
                                                     baselines=baseline, target=targets,
                                                     perturbations_per_eval=16).detach()
        a64, a32 = maps[torch.float64], maps[torch.float32]
        model, x, targets, info = case(name, torch.float64)
        if name != "efficientnet_lite0":
            ref = explicit(model, x, targets, window, strides, baseline)
            scale = float(a64.abs().max())
            err = float((a64 - ref).abs().max()) / scale
            assert err < 1e-6, (name, tag, err)
        else:
            err = None  # 169 windows of a 224² photo: the float32 run is the check
        cond = [float((a64[i] - a32[i].double()).abs().max() / a64[i].abs().max().clamp(min=1e-30))
                for i in range(len(x))]
        print(f"  {name:20s} {tag:10s} max|A| {float(a64.abs().max()):.4g}  explicit loop {err}  "
              f"f32-vs-f64 " + " ".join(f"{c:.1e}" for c in cond))
        man.save_array(f"captum_{name}_occlusion_{tag}.npy", a64.numpy(), method="Occlusion",
                       library=f"captum {captum.__version__}", torch=torch.__version__,
                       computed_in="float64 (stored as float32)", sliding_window_shapes=list(window),
                       strides=list(strides), baselines=baseline, score="the target's logit (the models end without softmax)",
                       **info, explicit_loop_rel_diff=err, float32_vs_float64_rel_diff_per_item=cond)
    man.write()
    print(f"golden_occlusion.py done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
