#!/usr/bin/env python3
"""The tabular fixture: an MLP on scikit-learn's breast cancer data set (Wisconsin diagnostic,
569 patients, 30 real-valued features of cell nuclei; shipped inside the scikit-learn package,
so no network is needed), for relevance pooling over features and feature groups.

Writes
  assets/models/mlp_breast_cancer.onnx        30 → 32 → 16 → 2, ReLU, logits (malignant, benign)
  assets/data/breast_cancer_x.npy             the 114 held-out patients, standardised, float32 [114, 30]
  assets/data/breast_cancer_y.npy             their labels (0 malignant, 1 benign), int64
  assets/data/breast_cancer_features.txt      the 30 feature names, one a line
  assets/data/breast_cancer_groups.json       the ten measurements, each its mean, error and worst
  assets/reference/mlp_breast_cancer_logits.npy  onnxruntime's logits of the held-out patients
Seeded; prints the test accuracy and every file's sha256.
"""

import hashlib
import json
import os

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn
from sklearn.datasets import load_breast_cancer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def p(rel):
    return os.path.join(ROOT, rel)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def main():
    torch.manual_seed(0)
    data = load_breast_cancer()
    x, y = data.data.astype(np.float64), data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    test, train = order[:114], order[114:]
    mean, std = x[train].mean(0), x[train].std(0)
    xs = ((x - mean) / std).astype(np.float32)
    model = nn.Sequential(nn.Linear(30, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    xt, yt = torch.from_numpy(xs[train]), torch.from_numpy(y[train])
    for _ in range(300):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(xs[test])).argmax(1).numpy() == y[test]).mean()
    print(f"MLP on breast cancer: train loss {loss.item():.4f}, test accuracy {acc:.4f} (114 patients)")
    onnx_path = p("assets/models/mlp_breast_cancer.onnx")
    torch.onnx.export(model, (torch.zeros(1, 30),), onnx_path, dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    np.save(p("assets/data/breast_cancer_x.npy"), xs[test])
    np.save(p("assets/data/breast_cancer_y.npy"), y[test])
    names = [str(n) for n in data.feature_names]
    with open(p("assets/data/breast_cancer_features.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    measures = [n.removeprefix("mean ") for n in names[:10]]
    groups = {m: [k for k, n in enumerate(names) if n in (f"mean {m}", f"{m} error", f"worst {m}")]
              for m in measures}
    assert all(len(v) == 3 for v in groups.values()), groups
    with open(p("assets/data/breast_cancer_groups.json"), "w") as f:
        json.dump(groups, f, indent=1)
    logits = ort.InferenceSession(onnx_path).run(None, {"input": xs[test]})[0]
    with torch.no_grad():
        d = float(np.abs(model(torch.from_numpy(xs[test])).numpy() - logits).max())
    assert d < 1e-5, d
    np.save(p("assets/reference/mlp_breast_cancer_logits.npy"), logits)
    for rel in ["assets/models/mlp_breast_cancer.onnx", "assets/data/breast_cancer_x.npy",
                "assets/data/breast_cancer_y.npy", "assets/data/breast_cancer_features.txt",
                "assets/data/breast_cancer_groups.json", "assets/reference/mlp_breast_cancer_logits.npy"]:
        print(f"  {rel} {os.path.getsize(p(rel))} B sha256={sha(p(rel))}")


if __name__ == "__main__":
    main()
