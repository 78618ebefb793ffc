#!/usr/bin/env python3
"""PyTorch's cost of activation maximisation on CPU: a Lucent-style AM loop (pixel
parameterisation, no transforms) — forward, objective log-softmax of the target class − 1e-3·Σx²,
backward to the input, torch.optim.Adam (lr 0.05) step, clamp to [0,1] — for the shipped LeNet
(batch 10), the shipped ResNet of the fixtures (batch 10, input (N,1,28,28)) and torchvision's
VGG16 (random weights, 3×224², batch 1). 2 threads. Prints a Markdown table and a JSON line.

Each cell: median over --reps timed blocks (after one warm-up block) of a block of steps;
`step ÷ (fwd+grad)` = AM step time ÷ time of one forward + input-gradient (backward to x only,
no optimiser), both with the same objective.

    python3 benches/peers/am_bench.py [--models lenet,resnet,vgg16] [--reps 3]
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from peer_common import environment

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import glimpse_models as gm  # noqa: E402

torch.set_num_threads(2)
LR = 0.05
L2 = 1e-3
# model: (batch, steps per timed block)
SETUP = {"lenet": (10, 50), "resnet": (10, 10), "vgg16": (1, 2)}


def build(name):
    if name == "lenet":
        return gm.lenet_from_onnx(str(ROOT / "assets/models/lenet_mnist.onnx")), (1, 28, 28), 10
    if name == "resnet":
        return gm.resnet_from_onnx(str(ROOT / "assets/models/resnet_fashion.onnx")), (1, 28, 28), 10
    if name == "vgg16":
        import torchvision
        torch.manual_seed(16)
        return torchvision.models.vgg16(weights=None), (3, 224, 224), 1000
    raise SystemExit(f"unknown model {name}; use lenet, resnet, vgg16")


def objective(model, x, targets):
    logp = F.log_softmax(model(x), 1)[torch.arange(x.shape[0]), targets]
    return logp - L2 * (x * x).flatten(1).sum(1)


def timed_blocks(f, steps, reps):
    f(steps)  # warm-up block
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f(steps)
        times.append((time.perf_counter() - t) / steps)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet,resnet,vgg16")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    print(f"PyTorch AM loop on CPU ({environment()})\n")
    print("| model | batch | AM steps/s | step ms | fwd+grad ms | step ÷ (fwd+grad) |")
    print("|---|---:|---:|---:|---:|---:|")
    results = []
    for name in args.models.split(","):
        model, shape, classes = build(name)
        model.eval()
        for prm in model.parameters():
            prm.requires_grad_(False)
        batch, steps = SETUP[name]
        targets = torch.arange(batch) % classes
        gen = torch.Generator().manual_seed(0)
        x = (0.4 + 0.2 * torch.rand((batch,) + shape, generator=gen)).requires_grad_(True)
        opt = torch.optim.Adam([x], lr=LR)

        def am(k):
            for _ in range(k):
                opt.zero_grad()
                (-objective(model, x, targets).sum()).backward()
                opt.step()
                with torch.no_grad():
                    x.clamp_(0.0, 1.0)

        def fwd_grad(k):
            for _ in range(k):
                torch.autograd.grad(objective(model, x, targets).sum(), x)

        t_fg = timed_blocks(fwd_grad, steps, args.reps)
        t_am = timed_blocks(am, steps, args.reps)
        row = {"model": name, "batch": batch, "input": list(shape), "steps_per_s": 1.0 / t_am,
               "step_ms": t_am * 1e3, "fwd_grad_ms": t_fg * 1e3, "step_over_fwd_grad": t_am / t_fg}
        results.append(row)
        print(f"| {name} | {batch} | {row['steps_per_s']:.1f} | {row['step_ms']:.1f} | "
              f"{row['fwd_grad_ms']:.1f} | {row['step_over_fwd_grad']:.2f} |", flush=True)
    print()
    print(json.dumps({"bench": "am_pytorch", "environment": environment(), "lr": LR, "l2": L2,
                      "reps": args.reps, "results": results}))


if __name__ == "__main__":
    main()
