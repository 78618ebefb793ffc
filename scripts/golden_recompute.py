#!/usr/bin/env python3
"""Selectivity with re-explanation (`glimpse evaluate --metric selectivity --recompute`) as a
plain PyTorch loop: Montavon's tutorial procedure (Understanding-NN notebooks, §5.2).

At every step the current input is explained (gradient × input, torch autograd, float32), the
4×4 patch with the largest map sum (float64 sums of the float32 map; equal sums: the lower
index) among those still present is set to the input's minimum (Quantus's "black"), and the
class's softmax probability is recorded; K = 20 steps, so 21 points with the unperturbed
input first. Case: LeNet (assets/models/lenet_mnist.onnx) on the first 16 test digits, class =
the prediction at x.

The margin report gives, per input and step, the gap between the chosen patch's sum and the
runner-up's relative to the largest |sum|: a choice that a 1e-5 difference between two maps
could flip shows up as a gap below 1e-5 (glimpse's GPU maps equal torch's to about 1e-6).

Writes assets/golden/recompute/{lenet_mnist_gxi_curves.npy, lenet_mnist_gxi_order.npy,
configs.json} and their manifest entries.

    python3 scripts/golden_recompute.py     # ~5 s
"""

import json
import os
import sys

import numpy as np
import torch

import golden_common as gc
import glimpse_models as gm

SCRIPT = "scripts/golden_recompute.py"
OUT = os.path.join(gc.GOLDEN, "recompute")
N, PATCH, STEPS = 16, 4, 20


def gxi(model, x, y):
    xt = torch.from_numpy(x).clone().requires_grad_(True)
    logits = model(xt)
    logits[torch.arange(len(y)), torch.from_numpy(y)].sum().backward()
    return (xt.detach() * xt.grad).numpy(), torch.softmax(logits.detach().double(), 1).numpy()


def patch_sums(a):
    """[N, 49] float64 sums of 4×4 patches over the channels (28 is a multiple of 4: no padding)."""
    n, c, h, w = a.shape
    b = a.astype(np.float64).reshape(n, c, h // PATCH, PATCH, w // PATCH, PATCH)
    return b.sum(axis=(1, 3, 5)).reshape(n, -1)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    model = gm.lenet_from_onnx(gc.p("assets/models/lenet_mnist.onnx"))
    for prm in model.parameters():
        prm.requires_grad_(False)
    x = np.ascontiguousarray(np.load(gc.p("assets/data/mnist_test_x.npy"))[:N].astype(np.float32))
    with torch.no_grad():
        y = model(torch.from_numpy(x)).argmax(1).numpy().astype(np.int64)
    blocks = (x.shape[2] // PATCH) * (x.shape[3] // PATCH)
    fill = x.reshape(N, -1).min(1)
    cur = x.copy()
    removed = np.zeros((N, blocks), bool)
    curves = np.zeros((N, STEPS + 1))
    order = np.zeros((N, STEPS), np.int64)
    margins = np.full((N, STEPS), np.inf)
    for k in range(STEPS + 1):
        a, p = gxi(model, cur, y)
        curves[:, k] = p[np.arange(N), y]
        if k == STEPS:
            break
        s = patch_sums(a)
        for i in range(N):
            live = np.flatnonzero(~removed[i])
            vals = s[i, live]
            best = live[np.argmax(vals)]  # argmax: the first (lowest index) of equal maxima
            rest = np.sort(vals)[::-1]
            margins[i, k] = (rest[0] - rest[1]) / max(np.abs(vals).max(), 1e-30) if len(rest) > 1 else np.inf
            order[i, k] = best
            removed[i, best] = True
            r, q = divmod(best, x.shape[3] // PATCH)
            cur[i, :, r * PATCH:(r + 1) * PATCH, q * PATCH:(q + 1) * PATCH] = fill[i]
    man = gc.Manifest(SCRIPT)
    man.save_array("recompute/lenet_mnist_gxi_curves.npy", curves,
                   case="lenet_mnist", note="[N, K+1] softmax probability of the class, x first")
    path = os.path.join(OUT, "lenet_mnist_gxi_order.npy")
    np.save(path, order)
    man.data["files"]["assets/golden/recompute/lenet_mnist_gxi_order.npy"] = {
        "script": SCRIPT, "shape": list(order.shape), "dtype": "int64", "sha256": gc.sha256(path),
        "note": "[N, K] patch removed at each step (row-major over the 7×7 grid)"}
    # Exact ties (equal sums, mostly patches of zeros) are broken by index by both tools.
    exact = int((margins == 0).sum())
    small = int(((margins > 0) & (margins < 1e-5)).sum())
    configs = {
        "script": SCRIPT, "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "case": {"onnx": "assets/models/lenet_mnist.onnx", "inputs": f"assets/data/mnist_test_x.npy[0:{N}]",
                 "y": y.tolist()},
        "params": {"patch_size": PATCH, "steps": STEPS, "baseline": "black (min x per input)",
                   "maps": "gxi", "score": "softmax probability", "ties": "lowest patch index"},
        "files": {"curves": "assets/golden/recompute/lenet_mnist_gxi_curves.npy",
                  "order": "assets/golden/recompute/lenet_mnist_gxi_order.npy"},
        "margin_report": {"min_nonzero_relative_gap": float(margins[margins > 0].min()),
                          "exact_ties_broken_by_index": exact,
                          "choices_with_nonzero_gap_below_1e-5": small},
    }
    with open(os.path.join(OUT, "configs.json"), "w") as f:
        json.dump(configs, f, indent=1)
    man.write()
    print(f"smallest non-zero relative gap between the chosen patch and the runner-up: "
          f"{margins[margins > 0].min():.3e}; {small} such gaps below 1e-5; {exact} exact ties")


if __name__ == "__main__":
    sys.exit(main())
