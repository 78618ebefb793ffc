"""Shared helpers of the golden scripts: paths, the Zennit/Captum cases, the manifest."""

import hashlib
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import glimpse_models as gm  # noqa: E402

ASSETS = os.path.join(ROOT, "assets")
GOLDEN = os.path.join(ASSETS, "golden")
MANIFEST = os.path.join(GOLDEN, "manifest.json")
N_GOLD = 8

MODELS = {
    # name: (onnx file the weights come from, inputs, labels, reference logits, ctor)
    "lenet_mnist": ("assets/models/lenet_mnist.onnx", "assets/data/mnist_test_x.npy",
                    "assets/data/mnist_test_y.npy", "assets/reference/lenet_mnist_logits.npy",
                    gm.lenet_from_onnx),
    "resnet_fashion": ("assets/models/resnet_fashion.onnx", "assets/data/fashion_test_x.npy",
                       "assets/data/fashion_test_y.npy", "assets/reference/resnet_fashion_logits.npy",
                       gm.resnet_from_onnx),
}


def setup():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    np.random.seed(0)
    os.makedirs(GOLDEN, exist_ok=True)


def p(rel):
    return os.path.join(ROOT, rel)


def load_case(name, dtype=torch.float64):
    """Returns (model in `dtype`, x (8,1,28,28) tensor in dtype, targets (8,) int64 tensor, info dict).

    Targets: predicted class (argmax of the onnxruntime reference logits) for inputs 0-3,
    (label + 1) % 10 for inputs 4-7."""
    onnx_path, xp, yp, refp, ctor = MODELS[name]
    model32 = ctor(p(onnx_path))
    x32 = np.load(p(xp))[:N_GOLD]
    y = np.load(p(yp))[:N_GOLD]
    ref = np.load(p(refp))[:N_GOLD]
    with torch.no_grad():
        out32 = model32(torch.from_numpy(x32)).numpy()
    d32 = float(np.abs(out32 - ref).max())
    assert d32 < 1e-5, f"{name}: float32 PyTorch logits differ from onnxruntime by {d32}"
    model = ctor(p(onnx_path)).to(dtype)
    x = torch.from_numpy(x32).to(dtype)
    with torch.no_grad():
        out = model(x).numpy()
    d64 = float(np.abs(out - ref).max())
    assert d64 < 1e-5, f"{name}: {dtype} PyTorch logits differ from onnxruntime by {d64}"
    pred = ref.argmax(1)
    targets = np.concatenate([pred[:4], (y[4:] + 1) % 10]).astype(np.int64)
    info = {"model": name, "onnx": onnx_path, "inputs": f"{xp}[0:{N_GOLD}]", "labels": y.tolist(),
            "predicted": pred.tolist(), "targets": targets.tolist(),
            "target_rule": "inputs 0-3: predicted class (argmax of reference logits); inputs 4-7: (label+1)%10",
            "max_abs_logit_diff_vs_onnxruntime": {"float32": d32, str(dtype).replace("torch.", ""): d64}}
    return model, x, torch.from_numpy(targets), info


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def save_npy(path, arr, dtype, script, **fields):
    """np.save `arr` as `dtype` at `path`; returns its manifest entry (fields, stats, sha256)."""
    arr = np.ascontiguousarray(np.asarray(arr, dtype=dtype))
    np.save(path, arr)
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr[None]
    return {"script": script, "shape": list(arr.shape), "dtype": np.dtype(dtype).name, **fields,
            "stats": {"max_abs": float(np.abs(arr).max()),
                      "sum_per_item": [float(v) for v in flat.astype(np.float64).sum(1)]},
            "sha256": sha256(path)}


class Manifest:
    """assets/golden/manifest.json: {"files": {relpath: entry}, ...}. Each script replaces its own entries."""

    def __init__(self, script, rerun=None):
        """`rerun`: the models this run remakes (their entries are replaced); all of the script's when None."""
        self.script = script
        self.data = {"files": {}}
        if os.path.exists(MANIFEST):
            with open(MANIFEST) as f:
                self.data = json.load(f)
        self.data["files"] = {k: v for k, v in self.data.get("files", {}).items()
                              if v.get("script") != script or (rerun is not None and v.get("model") not in rerun)}
        self.new = []

    def save_array(self, rel, arr, **fields):
        path = os.path.join(GOLDEN, rel)
        arr = np.ascontiguousarray(np.asarray(arr, dtype=np.float32))
        np.save(path, arr)
        flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr[None]
        entry = {"script": self.script, "shape": list(arr.shape), "dtype": "float32"}
        entry.update(fields)
        entry["stats"] = {"max_abs": float(np.abs(arr).max()),
                          "sum_per_item": [float(v) for v in flat.astype(np.float64).sum(1)]}
        entry["sha256"] = sha256(path)
        self.data["files"][f"assets/golden/{rel}"] = entry
        self.new.append(path)
        print(f"  wrote assets/golden/{rel} {arr.shape} {os.path.getsize(path)} B sha256={entry['sha256'][:16]}")
        return entry

    def write(self, meta=None):
        if meta:
            self.data.setdefault("meta", {}).update(meta)
        self.data["files"] = dict(sorted(self.data["files"].items()))
        with open(MANIFEST, "w") as f:
            json.dump(self.data, f, indent=1)
        total = sum(os.path.getsize(os.path.join(ROOT, k)) for k in self.data["files"] if os.path.exists(os.path.join(ROOT, k)))
        print(f"  manifest: {len(self.data['files'])} files, {total / 1e6:.2f} MB of goldens")
