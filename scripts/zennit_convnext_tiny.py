#!/usr/bin/env python3
"""glimpse against Zennit on the full torchvision ConvNeXt-Tiny (224×224, random weights), a
measurement beside the small golden of scripts/golden_convnext_swin.py (whose model is too
small to stand for the real one, and whose export fits the 2 MB asset limit; this one is
110 MB, so it is measured here rather than kept as a golden).

Random weights as in scripts/zoo.py (the zero-initialised head drawn), the per-channel layer
scales drawn from N(0.1, 0.05²) (torchvision's 1e-6 leaves the blocks silent), exported by
TorchScript at opset 17 into --workdir. Zennit (float64, and float32 to measure how well each
item is conditioned) with ConvNeXtCanonizer and LayerNorm Pass, EpsilonPlusFlat and
EpsilonGammaBox; glimpse's `explain` (the GPU, float32) with the same composite and `pass` on
every LayerNorm node, and glimpse's f64 CPU reference (examples/reference_lrp.rs). Prints
max |glimpse − Zennit f64| ÷ max |R| per item for both, beside Zennit's own float32 run.

    cargo build --release --bin glimpse && cargo build --release -p glimpse --example reference_lrp
    python3 scripts/zennit_convnext_tiny.py
"""

import argparse
import os
import subprocess
import time

import numpy as np
import onnx
import torch
from torchvision.models.convnext import CNBlock

import golden_common as gc
from golden_convnext_swin import zennit_composite
from golden_zennit import per_item_rel
from golden_zennit_zoo import attribute
from zoo import build
from zoo_common import ROOT, SEED


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/glimpse-convnext-tiny")
    args = ap.parse_args()
    gc.setup()
    os.makedirs(args.workdir, exist_ok=True)
    model = build("convnext_tiny", 224)
    with torch.no_grad():
        g = torch.Generator().manual_seed(SEED)
        for b in model.modules():
            if isinstance(b, CNBlock):
                b.layer_scale.copy_(0.1 + 0.05 * torch.randn(b.layer_scale.shape, generator=g))
    model.eval()
    x32 = np.random.default_rng(SEED).uniform(-1, 1, (args.items, 3, 224, 224)).astype(np.float32)
    x = torch.from_numpy(x32)
    onnx_path = os.path.join(args.workdir, "convnext_tiny.onnx")
    torch.onnx.export(model, x[:1], onnx_path, opset_version=17, dynamo=False, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}})
    norms = [n.name for n in onnx.load(onnx_path).graph.node if n.op_type == "LayerNormalization"]
    np.save(os.path.join(args.workdir, "x.npy"), x32)
    with torch.no_grad():
        targets = model(x).argmax(1)
    model64 = build("convnext_tiny", 224).double()
    model64.load_state_dict(model.state_dict())
    model64.eval()
    glimpse = os.path.join(ROOT, "target/release/glimpse")
    reference = os.path.join(ROOT, "target/release/examples/reference_lrp")
    for key in ("epsilon_plus_flat", "epsilon_gamma_box"):
        t = time.time()
        c64, _ = zennit_composite(key)
        out, rel = attribute(model64, c64, x.double(), targets)
        c32, _ = zennit_composite(key)
        _, rel32 = attribute(model, c32, x, targets)
        zennit_s = time.time() - t
        cond = per_item_rel(rel, rel32)
        errs, ref_errs, glimpse_s = [], [], 0.0
        for i in range(args.items):
            out_dir = os.path.join(args.workdir, f"{key}_{i}")
            cmd = [glimpse, "explain", "--overwrite", "--model", onnx_path, "--composite",
                   key.replace("_", "-"), "--batch", "1",
                   "--target", str(int(targets[i])), "--out", out_dir]
            if "box" in key:
                cmd += ["--low=-1", "--high=1"]
            cmd += [a for n in norms for a in ("--layer-rule", f"{n}=pass")]
            np.save(os.path.join(args.workdir, f"x{i}.npy"), x32[i:i + 1])
            t = time.time()
            subprocess.run(cmd + [os.path.join(args.workdir, f"x{i}.npy")], check=True,
                           stdout=subprocess.DEVNULL)
            glimpse_s += time.time() - t
            got = np.load(os.path.join(out_dir, f"x{i}.npy_0.npy")).reshape(3, 224, 224)
            want = rel[i].numpy()
            errs.append(float(np.abs(got - want).max() / np.abs(want).max()))
            ref_out = os.path.join(args.workdir, f"{key}_{i}_reference.npy")
            subprocess.run([reference, onnx_path, os.path.join(args.workdir, f"x{i}.npy"), str(int(targets[i])),
                            key.replace("_", "-"), ref_out, "--layer-norm", "pass", "--bounds", "-1,1"], check=True)
            ref = np.load(ref_out).reshape(3, 224, 224)
            ref_errs.append(float(np.abs(ref - want).max() / np.abs(want).max()))
        sums = rel.flatten(1).sum(1) / out[torch.arange(args.items), targets]
        print(f"{key}: max |Δ| ÷ max |R| against Zennit f64: glimpse's f64 reference "
              + " ".join(f"{e:.1e}" for e in ref_errs) + "; glimpse on the GPU " + " ".join(f"{e:.1e}" for e in errs)
              + "; Zennit f32 vs f64 " + " ".join(f"{c:.1e}" for c in cond)
              + "; ΣR ÷ logit " + " ".join(f"{float(s):.3f}" for s in sums)
              + f"; wall: Zennit f64+f32 {zennit_s:.0f} s, glimpse {glimpse_s:.0f} s ({len(norms)} LayerNorms)")


if __name__ == "__main__":
    main()
