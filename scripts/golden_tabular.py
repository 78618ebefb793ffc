#!/usr/bin/env python3
"""Goldens for the tabular fixture (scripts/make_tabular_fixture.py): per-feature relevance of
the MLP on the 114 held-out breast-cancer patients, each explained for its predicted class, from
Zennit (EpsilonPlus: every Linear layer Epsilon(1e-6); and Epsilon(0.25) on every layer) and
Captum (InputXGradient), and their per-group sums over assets/data/breast_cancer_groups.json.

Writes assets/golden/tabular_<method>.npy [114, 30] and tabular_<method>_groups.npy [114, 10]
(groups in the file's order) + manifest entries. Computed in float64, stored as float32.
"""

import json

import numpy as np
import onnx
import torch
import torch.nn as nn
from captum.attr import InputXGradient
from onnx import numpy_helper
from zennit.attribution import Gradient
from zennit.composites import EpsilonPlus, LayerMapComposite
from zennit.rules import Epsilon

import golden_common as gc

ONNX = "assets/models/mlp_breast_cancer.onnx"
INPUTS = "assets/data/breast_cancer_x.npy"
GROUPS = "assets/data/breast_cancer_groups.json"
LOGITS = "assets/reference/mlp_breast_cancer_logits.npy"


def mlp(dtype):
    """The ONNX MLP (Gemm, Relu, Gemm, Relu, Gemm) as nn.Sequential."""
    model = onnx.load(gc.p(ONNX))
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers = []
    for node in model.graph.node:
        if node.op_type == "Gemm":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            assert attrs.get("transB") == 1, node.name
            w, b = init[node.input[1]], init[node.input[2]]
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data, lin.bias.data = torch.from_numpy(w.copy()), torch.from_numpy(b.copy())
            layers.append(lin)
        elif node.op_type == "Relu":
            layers.append(nn.ReLU())
        else:
            raise ValueError(node.op_type)
    return nn.Sequential(*layers).to(dtype).eval()


def zennit(model, composite, x, targets):
    x = x.clone().requires_grad_(True)
    with Gradient(model=model, composite=composite) as attributor:
        _, rel = attributor(x, lambda o: nn.functional.one_hot(targets, o.shape[1]).to(o) * o)
    return rel.detach()


def main():
    gc.setup()
    man = gc.Manifest("scripts/golden_tabular.py")
    ref = np.load(gc.p(LOGITS))
    with open(gc.p(GROUPS)) as f:
        groups = json.load(f)
    results = {}
    for dtype in (torch.float64, torch.float32):
        model = mlp(dtype)
        x = torch.from_numpy(np.load(gc.p(INPUTS))).to(dtype)
        with torch.no_grad():
            d = float(np.abs(model(x).numpy() - ref).max())
        assert d < 1e-5, d
        targets = torch.from_numpy(ref.argmax(1).astype(np.int64))
        results[dtype] = {
            "epsilon_plus": zennit(model, EpsilonPlus(), x, targets),
            "epsilon_0.25": zennit(model, LayerMapComposite([(nn.Linear, Epsilon(epsilon=0.25))]), x, targets),
            "input_x_gradient": InputXGradient(model).attribute(x, target=targets).detach(),
        }
    for key, a in results[torch.float64].items():
        a32 = results[torch.float32][key].double()
        cond = [float((a[i] - a32[i]).abs().max() / a[i].abs().max().clamp(min=1e-30)) for i in range(len(a))]
        pooled = torch.stack([a[:, idx].sum(1) for idx in groups.values()], 1)
        library = "captum" if key == "input_x_gradient" else "zennit 0.5.1"
        common = dict(library=library, torch=torch.__version__, computed_in="float64 (stored as float32)",
                      model="mlp_breast_cancer", onnx=ONNX, inputs=INPUTS, targets=ref.argmax(1).tolist(),
                      target_rule="predicted class (argmax of the reference logits)",
                      float32_vs_float64_rel_diff_per_item=cond)
        man.save_array(f"tabular_{key}.npy", a.numpy(), method=key, **common)
        man.save_array(f"tabular_{key}_groups.npy", pooled.numpy(), method=f"{key}, summed per group",
                       groups=list(groups), group_file=GROUPS, **common)
        print(f"  {key:18s} max|R| {float(a.abs().max()):.4g} f32-vs-f64 worst {max(cond):.1e}")
    man.write()


if __name__ == "__main__":
    main()
