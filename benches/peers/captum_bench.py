#!/usr/bin/env python3
"""Captum's cost of gradient and CAM attributions on CPU (or CUDA, --device cuda), as ratios to the PyTorch forward
(no_grad): Saliency, IntegratedGradients (32 steps, the steps of each input batched), NoiseTunnel
SmoothGrad (16 noisy copies of each input batched), GuidedBackprop, LayerGradCam (last
convolution), for LeNet, the fixture ResNet and VGG16 at batch 1 and 16. Prints a Markdown table.

    python3 benches/peers/captum_bench.py [--models lenet,resnet,vgg16] [--batches 1,16] [--reps 3]
        [--device cpu|cuda]
"""

import argparse
import warnings

import torch
from captum.attr import (GuidedBackprop, IntegratedGradients, LayerGradCam, NoiseTunnel,
                         Saliency)

from peer_common import build, device_of, environment, forward_time, inputs, median_time

warnings.filterwarnings("ignore", message="Setting backward hooks")

IG_STEPS = 32
SG_SAMPLES = 16


# Forward + backward passes per input item of each method, to skip runs over --budget.
PASSES = {"Saliency": 1, f"IG ({IG_STEPS} steps)": IG_STEPS, f"SmoothGrad ({SG_SAMPLES})": SG_SAMPLES,
          "GuidedBackprop": 1, "LayerGradCam": 1}


def methods(model, conv):
    """name → f(x, target) computing the attribution."""
    return {
        "Saliency": lambda x, t: Saliency(model).attribute(x, target=t),
        f"IG ({IG_STEPS} steps)": lambda x, t: IntegratedGradients(model).attribute(
            x, baselines=torch.zeros_like(x), target=t, n_steps=IG_STEPS,
            internal_batch_size=IG_STEPS),
        f"SmoothGrad ({SG_SAMPLES})": lambda x, t: NoiseTunnel(Saliency(model)).attribute(
            x, nt_type="smoothgrad", nt_samples=SG_SAMPLES, nt_samples_batch_size=SG_SAMPLES,
            stdevs=0.1, target=t),
        "GuidedBackprop": lambda x, t: GuidedBackprop(model).attribute(x, target=t),
        "LayerGradCam": lambda x, t: LayerGradCam(model, conv).attribute(x, target=t),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet,resnet,vgg16")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--budget", type=float, default=60.0,
                    help="skip a method whose one run would take longer than this many seconds "
                         "(estimated as 3 forwards per forward + backward pass)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args()
    device = device_of(args.device)
    print(f"Captum on {args.device.upper()} ({environment(device)}); each cell: time ÷ forward time\n")
    names = list(methods(None, None))
    print("| model | batch | forward ms | " + " | ".join(names) + " |")
    print("|---|---:|---:|" + "---:|" * len(names))
    for name in args.models.split(","):
        model, shape, conv = build(name)
        model = model.to(device)
        for batch in map(int, args.batches.split(",")):
            x = inputs(shape, batch).to(device)
            with torch.no_grad():
                target = model(x).argmax(1)
            fwd = forward_time(model, x, args.reps)
            cells = []
            for method, f in methods(model, conv).items():
                if 3 * fwd * PASSES[method] > args.budget:
                    cells.append("skipped")
                    continue
                t = median_time(lambda: f(x.clone().requires_grad_(), target), args.reps)
                cells.append(f"{t / fwd:.2f}")
            print(f"| {name} | {batch} | {fwd * 1e3:.1f} | " + " | ".join(cells) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
