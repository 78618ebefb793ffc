"""Quantus 0.6.0's faithfulness quirks, each reproduced on a toy model: configs.json's peer_quirks.

golden_faithfulness.py passes in what its lenet_mnist run measured (ROAD's first-batch-only
result); the rest is measured here. Semantics: assets/golden/README.md, "Faithfulness correlations".
"""

import os
import traceback
import warnings

import numpy as np
import torch

from golden_faithfulness_reference import forward

warnings.filterwarnings("ignore")  # Quantus's import-time and per-call warnings
import quantus  # noqa: E402
from quantus.functions import perturb_func as qpf  # noqa: E402


def error_text(fn):
    """fn()'s result, or the exception it raised and the function that raised it."""
    try:
        return {"result": fn()}
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return {"exception": f"{type(e).__name__}: {e}", "raised_in": f"{tb.name} ({os.path.basename(tb.filename)})"}


def peer_quirks(road_first_batch):
    """The records; road_first_batch: ROAD's returned curve at batch_size 8 and 4 on lenet_mnist /
    saliency, with the means over inputs 0-3 and over all 8 it is compared with."""
    q = {"road_returns_first_batch_only": dict(
        text="ROAD.evaluate_batch returns [results] and custom_postprocess averages evaluation_scores[0]: with "
             "batch_size < N the returned {percentage: mean} covers the first batch only (lenet_mnist/saliency)",
        **road_first_batch)}
    # ROAD on 3 channels: a_size = a_batch[0, :, :].size, and flat C*H*W indices go into an H*W mask.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
    rs = np.random.RandomState(0)
    x = rs.rand(1, 3, 16, 16).astype(np.float32)
    y = forward(net, x).argmax(1)
    rgb = {"model": "Conv2d(3,4,3,pad 1)-ReLU-GAP-Linear(4,3), torch.manual_seed(0)",
           "x": "np.random.RandomState(0).rand(1,3,16,16); a: then .randn(1,3,16,16) / .randn(1,1,16,16)",
           "call": "quantus.ROAD(noise=0.01, percentages=[1, 10, 50]), batch_size=1"}
    for label, a in (("a_3_channels", rs.randn(1, 3, 16, 16).astype(np.float32)),
                     ("a_1_channel", rs.randn(1, 1, 16, 16).astype(np.float32))):
        m = quantus.ROAD(noise=0.01, percentages=[1, 10, 50], disable_warnings=True, display_progressbar=False)
        rgb[label] = error_text(lambda: {str(k): float(v) for k, v in m(model=net, x_batch=x, y_batch=y, a_batch=a,
                                                                        device="cpu", batch_size=1).items()})
        rgb[label]["a_size"] = m.a_size
    out = qpf.noisy_linear_imputation(x[0], np.array([17, 100]), noise=0.0)
    rgb["direct_call_pixel_indices_17_100_changed_per_channel"] = [int(v) for v in (out != x[0]).reshape(3, -1).sum(1)]
    rgb["direct_call_index_700"] = error_text(lambda: qpf.noisy_linear_imputation(x[0], np.array([700]), 0.0).shape)
    rgb["glimpse"] = "ranks pixels by the map summed over channels (f64), imputes all channels of each (src/evaluate/road.rs)"
    q["road_rgb"] = rgb
    # MonotonicityCorrelation: inv_pred[|y_pred| >= eps] = 1.0 / np.abs(y_pred) assigns N values to the masked subset.
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2, bias=False)).eval()
    with torch.no_grad():
        lin[1].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
    xm = np.array([[[[0.0, 1.0], [1.0, 1.0]]], [[[1.0, 0.5], [0.2, 0.3]]]], np.float32)
    mcm = quantus.MonotonicityCorrelation(nr_samples=2, features_in_step=1, disable_warnings=True)
    q["monotonicity_inv_pred_mask"] = dict(
        text="softmax=False, target logit |f(x_0)| = 0 < eps, |f(x_1)| = 1: Linear(4,2) picking pixel 0 / 1",
        **error_text(lambda: mcm(model=lin, x_batch=xm, y_batch=np.array([0, 0]), a_batch=xm + 0.1, device="cpu",
                                 softmax=False, batch_size=2)))
    return q
