#!/usr/bin/env python3
"""Quantus 0.6.0 vs `glimpse evaluate`: wall time of the same faithfulness curves on the same
machine. Rows: LeNet (assets/models/lenet_mnist.onnx, the first --n-mnist inputs of
assets/data/mnist_test_x.npy) and EfficientNet-Lite0 (assets/models/efficientnet_lite0.onnx, the
4 photographs assets/data/photos_x.npy), each with RegionPerturbation (morf, black) and
PixelFlipping (black). Labels = the predicted class (int64 .npy). Maps = saliency
|d logit_y / dx|, computed once in float32 with PyTorch (scripts/glimpse_models.lenet_from_onnx,
scripts/golden_zennit_lite0.OnnxNet) and saved to a temporary .npy that both tools read, so
only the metric is timed, not the explanation.

Quantus: metric(model, x, y, a_batch=maps, softmax=True, device="cpu", batch_size=N) (one
batch), torch.set_num_threads(2); the call is timed, best of --reps runs (all run times are
reported). glimpse: `./target/release/glimpse evaluate ... --maps MAPS.npy --labels Y.npy`
(--batch 64 for LeNet, 16 for Lite0), whole-process wall time, best of --reps runs, and
`seconds` from the run's summary.json (the evaluation alone: no process start, model load or
shader compile). Ratio = glimpse ÷ Quantus (< 1: glimpse is faster).

Curve agreement: glimpse's curves.npy is [N, K+1] with the unperturbed point first (softmax
probability; region perturbation stores f(x) − f(x_k), so its first point is 0; pixel flipping
stores f(x_k)); Quantus returns [N, K] without it, in the same convention (RegionPerturbation
f(x) − f(x_k), PixelFlipping f(x_k)). Compared as glimpse[:, 1:] vs Quantus, reported as
max |difference| / (max − min of Quantus's curves).

Prints a Markdown table and a JSON line.

    python3 benches/peers/quantus_bench.py [--n-mnist 200] [--reps 2] [--rows lenet,lite0]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
os.chdir(ROOT)  # golden_* helpers resolve repository-relative paths
import glimpse_models as gm  # noqa: E402
from golden_zennit_lite0 import OnnxNet  # noqa: E402

warnings.filterwarnings("ignore")  # Quantus's "perturbation caused no change" and friends
import quantus  # noqa: E402

torch.set_num_threads(2)
GLIMPSE = ROOT / "target/release/glimpse"

# row: (model file, inputs file, torch constructor, glimpse --batch, metrics)
# metric: (label, Quantus class, Quantus kwargs, glimpse flags)
ROWS = {
    "lenet": ("assets/models/lenet_mnist.onnx", "assets/data/mnist_test_x.npy",
              gm.lenet_from_onnx, 64, [
                  ("RegionPerturbation (patch 4, 49 regions, morf, black)", "RegionPerturbation",
                   dict(patch_size=4, regions_evaluation=49, order="morf", perturb_baseline="black"),
                   ["--metric", "region-perturbation", "--patch-size", "4", "--regions", "49"]),
                  ("PixelFlipping (16 features/step, black)", "PixelFlipping",
                   dict(features_in_step=16, perturb_baseline="black"),
                   ["--metric", "pixel-flipping", "--features-in-step", "16"]),
              ]),
    "lite0": ("assets/models/efficientnet_lite0.onnx", "assets/data/photos_x.npy",
              lambda p: OnnxNet(p), 16, [
                  ("RegionPerturbation (patch 8, 100 regions, morf, black)", "RegionPerturbation",
                   dict(patch_size=8, regions_evaluation=100, order="morf", perturb_baseline="black"),
                   ["--metric", "region-perturbation", "--patch-size", "8", "--regions", "100"]),
                  ("PixelFlipping (1568 features/step, black)", "PixelFlipping",
                   dict(features_in_step=1568, perturb_baseline="black"),
                   ["--metric", "pixel-flipping", "--features-in-step", "1568"]),
              ]),
}
MODEL_NAME = {"lenet": "LeNet (MNIST)", "lite0": "EfficientNet-Lite0 (ImageNet)"}


def environment():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"quantus {quantus.__version__}, torch {torch.__version__}, {torch.get_num_threads()} "
            f"threads, {os.cpu_count()} cores, {cpu}")


def saliency(model, x, y):
    xt = torch.from_numpy(x).clone().requires_grad_(True)
    logits = model(xt)
    logits[torch.arange(len(y)), torch.from_numpy(y)].sum().backward()
    sal = xt.grad.detach().abs().numpy()
    assert sal.dtype == np.float32
    return np.ascontiguousarray(sal)


def run_quantus(cls_name, params, model, x, y, maps):
    metric = getattr(quantus, cls_name)(**params, disable_warnings=True, display_progressbar=False)
    t = time.perf_counter()
    scores = metric(model=model, x_batch=x, y_batch=y, a_batch=maps, device="cpu", softmax=True,
                    batch_size=len(x))
    dt = time.perf_counter() - t
    return np.array(scores, dtype=np.float64), dt


def run_glimpse(model_path, flags, batch, x_path, maps_path, y_path, out_dir):
    cmd = [str(GLIMPSE), "evaluate", "--model", model_path, *flags, "--maps", maps_path,
           "--labels", y_path, "--batch", str(batch), "--out", out_dir, "--overwrite", x_path]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"glimpse failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    summary = json.load(open(os.path.join(out_dir, "summary.json")))
    curves = np.load(os.path.join(out_dir, "curves.npy")).astype(np.float64)
    return curves, dt, float(summary["seconds"]), cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-mnist", type=int, default=200)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--rows", default="lenet,lite0")
    args = ap.parse_args()
    if not GLIMPSE.exists():
        raise SystemExit(f"{GLIMPSE} not found: build it first (cargo build --release)")
    env = environment()
    tmp = tempfile.mkdtemp(prefix="quantus_bench_")
    results = []
    lines = []
    for row in args.rows.split(","):
        onnx_path, x_file, ctor, batch, metrics = ROWS[row]
        model = ctor(onnx_path).eval()
        for prm in model.parameters():
            prm.requires_grad_(False)
        x = np.load(x_file).astype(np.float32)
        if row == "lenet":
            x = x[:args.n_mnist]
        x = np.ascontiguousarray(x)
        with torch.no_grad():
            y = model(torch.from_numpy(x)).numpy().argmax(1).astype(np.int64)
        maps = saliency(model, x, y)
        x_path, y_path, maps_path = (os.path.join(tmp, f"{row}_{k}.npy") for k in ("x", "y", "maps"))
        np.save(x_path, x)
        np.save(y_path, y)
        np.save(maps_path, maps)
        n = len(x)
        for label, cls_name, params, flags in metrics:
            q_times, g_times, g_evals = [], [], []
            for _ in range(args.reps):
                q_curves, dt = run_quantus(cls_name, params, model, x, y, maps)
                q_times.append(dt)
            out_dir = os.path.join(tmp, f"{row}_{cls_name}")
            for _ in range(args.reps):
                g_curves, dt, ev, cmd = run_glimpse(onnx_path, flags, batch, x_path, maps_path, y_path,
                                                    out_dir)
                g_times.append(dt)
                g_evals.append(ev)
            k = q_curves.shape[1]
            assert g_curves.shape == (n, k + 1), (g_curves.shape, q_curves.shape)
            # glimpse's region-perturbation curve is already f(x) − f(x_k) (first point 0), as Quantus's.
            if cls_name == "RegionPerturbation":
                assert np.all(g_curves[:, 0] == 0), g_curves[:, 0]
            g_cmp = g_curves[:, 1:]
            span = float(q_curves.max() - q_curves.min())
            rel = float(np.abs(g_cmp - q_curves).max() / max(span, 1e-300))
            q, gp, ge = min(q_times), min(g_times), min(g_evals)
            r = {"model": row, "onnx": onnx_path, "metric": cls_name, "params": params, "n": n, "K": k,
                 "forward_passes": n * (k + 1), "quantus_s": q, "quantus_runs_s": q_times,
                 "glimpse_process_s": gp, "glimpse_process_runs_s": g_times,
                 "glimpse_eval_s": ge, "glimpse_eval_runs_s": g_evals,
                 "ratio_process": gp / q, "ratio_eval": ge / q,
                 "max_abs_diff_over_range": rel, "curve_range": span, "glimpse_cmd": cmd}
            results.append(r)
            line = (f"| {MODEL_NAME[row]} | {label} | {n} × {k + 1} = {n * (k + 1)} | {q:.2f} "
                    f"({', '.join(f'{t:.2f}' for t in q_times)}) | {gp:.2f} "
                    f"({', '.join(f'{t:.2f}' for t in g_times)}) | {ge:.2f} | {gp / q:.2f} | "
                    f"{ge / q:.2f} | {rel:.1e} |")
            lines.append(line)
            print(line, file=sys.stderr, flush=True)
    print(f"Quantus vs glimpse evaluate, wall seconds, best of {args.reps} ({env})\n")
    print("| model | metric | N × (K+1) forward passes | Quantus s (runs) | glimpse process s (runs) "
          "| glimpse evaluation s | process ÷ Quantus | evaluation ÷ Quantus | max abs diff ÷ range |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(lines))
    print()
    print(json.dumps({"bench": "quantus_vs_glimpse_evaluate", "environment": env, "reps": args.reps,
                      "tmp": tmp, "results": results}))


if __name__ == "__main__":
    main()
