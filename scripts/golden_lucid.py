#!/usr/bin/env python3
"""Goldens for Lucid's decorrelated Fourier parameterisation and diversity term: a Lucent-style
PyTorch loop on the shipped resnet_zoo (torchvision ResNet-18 layout, random weights, RGB 64²).

The parameterisation is Lucent's `fft_image` + `to_valid_rgb(decorrelate=True)` written out
(spectrum [B, 3, H, W/2+1, 2] scaled by 1/max(|f|, 1/max(H, W)), torch.fft.irfftn(norm="ortho"),
÷ 4, Lucid's colour matrix, sigmoid) mapped into the model's input range [-1, 1]; the diversity
term is Lucent's `diversity` (Gram matrices of a layer's activations normalised to unit Frobenius
norm, −Σ_b Σ_{b'≠b} ⟨Ĝ_b, Ĝ_b'⟩ / B). Per item, J_b = objective_b − λ2 Σx_b² − λd · d_b with
d_b = Σ_{b'≠b} ⟨Ĝ_b, Ĝ_b'⟩ / B; torch.optim.Adam maximises Σ_b J_b.

Writes assets/golden/lucid/*.npy and manifest.json: per case the start image x0 (what glimpse's
Init::Batch takes; the spectrum start is Lucent's randn·0.01 and x0 its image), the images after
10 steps and after the last, the curve (objective and J every 10 steps), and per item how far a
float32 run of the same loop drifts from this float64 one (max |x32 − x64| ÷ max |x64|).

    python3 scripts/golden_lucid.py     # ~1 min on 2 CPU threads
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F

import golden_common as gc
from golden_zennit_zoo import with_onnx_parameters

OUT = os.path.join(gc.GOLDEN, "lucid")
RESNET = "assets/models/resnet_zoo.onnx"
LO, HI = -1.0, 1.0
SIZE = 64
EVERY = 10
ADAM = dict(betas=(0.9, 0.999), eps=1e-8)
# ONNX node → torchvision module whose output it is (BasicBlock's second ReLU is its output).
LAYERS = {"/layer2/layer2.1/relu_1/Relu": "layer2.1", "/layer3/layer3.1/relu_1/Relu": "layer3.1"}
# `spread`: the start's standard deviation (Fourier: of the spectrum, Lucent's 0.01) or half
# width (pixels: uniform noise). Diversity's repulsion amplifies the small differences between
# copies, so most settings are chaotic: float32 and float64 PyTorch part ways within 10 steps.
# These are settings where they do not (drift ≤ 1e-5 per item; see the manifest).
CASES = {
    "fourier_class": dict(fourier=True, targets=[("class", 0), ("class", 3), ("class", 6), ("class", 9)],
                          steps=100, lr=0.05, l2=1e-3, diversity=None, spread=0.01),
    "diversity_channel": dict(fourier=False, targets=[("channel", "/layer3/layer3.1/relu_1/Relu", 5)] * 3,
                              steps=100, lr=0.01, l2=1e-3, spread=0.5,
                              diversity=("/layer2/layer2.1/relu_1/Relu", 4.0)),
    "fourier_diversity": dict(fourier=True, targets=[("class", 2)] * 3, steps=60, lr=0.02, l2=0.0,
                              spread=0.01, diversity=("/layer2/layer2.1/relu_1/Relu", 1.0)),
}

COLOR = np.asarray([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOR = COLOR / np.max(np.linalg.norm(COLOR, axis=0))


def freqs(h, w):
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[: w // 2 + 1] if w % 2 == 0 else np.fft.fftfreq(w)[: w // 2 + 2]
    return np.sqrt(fx * fx + fy * fy)


def fourier_image(theta, h, w):
    """Lucent's fft_image → to_valid_rgb(decorrelate=True), then into [LO, HI]."""
    scale = 1.0 / np.maximum(freqs(h, w), 1.0 / max(h, w))
    scale = torch.tensor(scale, dtype=theta.dtype)[None, None, ..., None]
    spectrum = torch.view_as_complex((scale * theta).contiguous())
    image = torch.fft.irfftn(spectrum, s=(h, w), norm="ortho") / 4.0
    color = torch.tensor(COLOR.T, dtype=theta.dtype)
    image = torch.matmul(image.permute(0, 2, 3, 1), color).permute(0, 3, 1, 2)
    return LO + (HI - LO) * torch.sigmoid(image)


def diversity(a):
    """d_b = Σ_{b'≠b} ⟨Ĝ_b, Ĝ_b'⟩ / B for one group (Lucent's term is −Σ_b d_b)."""
    b, c = a.shape[:2]
    flat = a.reshape(b, c, -1)
    grams = F.normalize(torch.matmul(flat, flat.transpose(1, 2)), p=2, dim=(1, 2))
    sims = (grams[:, None] * grams[None, :]).sum(dim=(2, 3))
    return (sims.sum(dim=1) - torch.diagonal(sims)) / b


def terms(model, acts, x, case):
    """Each item's (objective, J)."""
    logits = model(x)
    objs = []
    for b, t in enumerate(case["targets"]):
        if t[0] == "class":
            objs.append(F.log_softmax(logits, dim=1)[b, t[1]])
        else:
            objs.append(acts[LAYERS[t[1]]][b, t[2]].mean())
    obj = torch.stack(objs)
    j = obj - case["l2"] * (x * x).sum(dim=(1, 2, 3))
    if case["diversity"]:
        node, weight = case["diversity"]
        j = j - weight * diversity(acts[LAYERS[node]])
    return obj, j


def run(model, acts, case, start, dtype):
    var = start.to(dtype).clone().requires_grad_(True)
    opt = torch.optim.Adam([var], lr=case["lr"], **ADAM)
    image = (lambda v: fourier_image(v, SIZE, SIZE)) if case["fourier"] else (lambda v: v)
    curve, at10 = [], None
    for step in range(case["steps"] + 1):
        x = image(var)
        obj, j = terms(model, acts, x, case)
        if step % EVERY == 0 or step == case["steps"]:
            curve.append(torch.stack([obj, j]).detach().double().numpy())
        if step == 10:
            at10 = x.detach().double().clone().numpy()  # var itself in pixel space: copy
        if step == case["steps"]:
            return x.detach().double().numpy(), at10, np.stack(curve)
        opt.zero_grad()
        (-j.sum()).backward()
        opt.step()
        if not case["fourier"]:
            with torch.no_grad():
                var.clamp_(LO, HI)


def main():
    gc.setup()
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    gman = gc.Manifest("scripts/golden_lucid.py")
    models = {}
    for dtype in (torch.float64, torch.float32):
        m = with_onnx_parameters("resnet_zoo", gc.p(RESNET)).to(dtype).eval()
        acts = {}
        mods = dict(m.named_modules())
        for name in LAYERS.values():
            mods[name].register_forward_hook(lambda _m, _i, o, name=name, acts=acts: acts.__setitem__(name, o))
        models[dtype] = (m, acts)
    manifest = {"model": RESNET, "range": [LO, HI], "every": EVERY, "adam": ADAM, "cases": {}}
    for i, (name, case) in enumerate(CASES.items()):
        n = len(case["targets"])
        g = torch.Generator().manual_seed(700 + i)
        if case["fourier"]:
            start = torch.randn((n, 3, SIZE, SIZE // 2 + 1, 2), generator=g, dtype=torch.float64) * case["spread"]
            x0 = fourier_image(start, SIZE, SIZE).numpy()
        else:
            start = (torch.rand((n, 3, SIZE, SIZE), generator=g, dtype=torch.float64) * 2 - 1) * case["spread"]
            x0 = start.numpy()
        x64, at10, curve = run(*models[torch.float64], case, start, torch.float64)
        x32, _, _ = run(*models[torch.float32], case, start, torch.float32)
        drift = [float(np.abs(x32[b] - x64[b]).max() / np.abs(x64[b]).max()) for b in range(n)]
        files = {}
        for key, arr in [("x0", x0), ("x10", at10), ("x", x64), ("curve", curve)]:
            fname = f"{name}_{key}.npy"
            gman.save_array(f"lucid/{fname}", arr)
            files[key] = fname
        manifest["cases"][name] = dict(
            case, files=files, float32_vs_float64_rel_diff_per_item=drift,
            final_objective=curve[-1][0].tolist(), start_objective=curve[0][0].tolist())
        print(f"{name}: objective {curve[0][0].round(3)} → {curve[-1][0].round(3)}; f32 drift "
              + " ".join(f"{d:.1e}" for d in drift))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    gman.write()


if __name__ == "__main__":
    main()
