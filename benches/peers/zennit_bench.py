#!/usr/bin/env python3
"""Zennit's cost of LRP on CPU (or CUDA, --device cuda): PyTorch forward (no_grad) vs zennit.attribution.Gradient with the
EpsilonPlusFlat composite (forward + modified backward), for LeNet, the fixture ResNet and VGG16
at batch 1 and 16 — the peer of glimpse's `benches/lrp.rs`. Prints a Markdown table.

    python3 benches/peers/zennit_bench.py [--models lenet,resnet,vgg16] [--batches 1,16] [--reps 5]
        [--device cpu|cuda] [--strict-fp32]

On CUDA PyTorch runs cuDNN convolutions in TF32 by default (10-bit mantissas); `--strict-fp32`
turns that off, for the comparison at glimpse's own arithmetic.
"""

import argparse

import torch
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import EpsilonPlusFlat

from peer_common import build, device_of, environment, forward_time, inputs, median_time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet,resnet,vgg16")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--strict-fp32", action="store_true",
                    help="no TF32 in cuDNN convolutions or CUDA matmuls")
    args = ap.parse_args()
    if args.strict_fp32:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    device = device_of(args.device)
    print(f"Zennit EpsilonPlusFlat on {args.device.upper()} ({environment(device)})\n")
    print("| model | batch | forward ms | LRP ms | LRP ÷ forward |")
    print("|---|---:|---:|---:|---:|")
    for name in args.models.split(","):
        model, shape, _ = build(name)
        model = model.to(device)
        for batch in map(int, args.batches.split(",")):
            x = inputs(shape, batch).to(device)
            fwd = forward_time(model, x, args.reps)
            composite = EpsilonPlusFlat(canonizers=[SequentialMergeBatchNorm()])
            with Gradient(model=model, composite=composite) as attributor:
                def explain():
                    out, rel = attributor(x, lambda o: o * torch.nn.functional.one_hot(
                        o.argmax(1), o.shape[1]).to(o.dtype))
                    return rel
                lrp = median_time(explain, args.reps)
            print(f"| {name} | {batch} | {fwd * 1e3:.1f} | {lrp * 1e3:.1f} | {lrp / fwd:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
