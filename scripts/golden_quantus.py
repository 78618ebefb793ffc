#!/usr/bin/env python3
"""Faithfulness-curve goldens from Quantus 0.6.0: PixelFlipping, RegionPerturbation, Selectivity.

Writes assets/golden/quantus/*.npy, assets/golden/quantus/configs.json (every config: case,
metric class, all parameters, maps, softmax, K, tie report, cross-check) and one entry per file
in assets/golden/manifest.json. Semantics: assets/golden/README.md, section "Quantus".

Cases (float32 models as shipped, rebuilt in PyTorch from the ONNX initializers; logits checked
against onnxruntime and the reference logits):
  lenet_mnist         assets/data/mnist_test_x.npy[0:16]    assets/models/lenet_mnist.onnx
  resnet_fashion      assets/data/fashion_test_x.npy[0:16]  assets/models/resnet_fashion.onnx
  efficientnet_lite0  assets/data/photos_x.npy (4 photos)   assets/models/efficientnet_lite0.onnx
Labels y = argmax of the model's logits. Maps (float32, torch autograd, one batched backward of
sum_i logit_{i, y_i}): saliency = |d logit_y / dx|, gxi = x * d logit_y / dx.

Every Quantus curve is recomputed by `reference_curve` below, a plain numpy re-implementation
(stable argsort on the raw map / its float64 patch sums; Quantus's padding; edge-padded x,
zero-padded maps; baseline from the current perturbed padded array before every step), and the
two are asserted equal to 1e-6 of the curve's range. The tie report says, per config, whether
the order Quantus actually used can differ from a stable order in a way that changes the curve.

    python3 scripts/golden_quantus.py     # ~70 s on 2 idle CPU threads
"""

import json
import os
import platform
import sys
import time
import warnings

import numpy as np
import onnxruntime
import skimage
import torch

import golden_common as gc
import glimpse_models as gm

warnings.filterwarnings("ignore")  # Quantus's "perturbation caused no change" and friends
import quantus  # noqa: E402
from quantus.functions.normalise_func import normalise_by_max  # noqa: E402
from quantus.helpers import utils as qutils  # noqa: E402

from golden_zennit_lite0 import LOGITS as LITE0_LOGITS, ONNX as LITE0_ONNX, INPUTS as PHOTOS, OnnxNet  # noqa: E402

SCRIPT = "scripts/golden_quantus.py"
OUT = os.path.join(gc.GOLDEN, "quantus")
CONFIGS_JSON = os.path.join(OUT, "configs.json")
TOL = 1e-6  # cross-check tolerance, relative to the curve's range

CASES = {
    "lenet_mnist": dict(onnx="assets/models/lenet_mnist.onnx", inputs="assets/data/mnist_test_x.npy", n=16,
                        ref="assets/reference/lenet_mnist_logits.npy", ctor=gm.lenet_from_onnx, save_x=True),
    "resnet_fashion": dict(onnx="assets/models/resnet_fashion.onnx", inputs="assets/data/fashion_test_x.npy", n=16,
                           ref="assets/reference/resnet_fashion_logits.npy", ctor=gm.resnet_from_onnx, save_x=True),
    # x is assets/data/photos_x.npy itself (2.4 MB); not copied (size budget).
    "efficientnet_lite0": dict(onnx=LITE0_ONNX, inputs=PHOTOS, n=4, ref=LITE0_LOGITS,
                               ctor=lambda path: OnnxNet(path).eval(), save_x=False),
}

# name, metric class, constructor arguments (besides disable_warnings / display_progressbar), maps, softmax
CONFIGS_28 = [
    ("pixel_flipping", "PixelFlipping", dict(features_in_step=28, perturb_baseline="black"), "saliency", True),
    ("pixel_flipping_mean_logit", "PixelFlipping", dict(features_in_step=28, perturb_baseline="mean"), "saliency", False),
    ("region_morf", "RegionPerturbation",
     dict(patch_size=4, regions_evaluation=49, order="morf", perturb_baseline="black"), "gxi", True),
    ("region_lerf_pad", "RegionPerturbation",
     dict(patch_size=8, regions_evaluation=16, order="lerf", perturb_baseline="white"), "saliency", True),
    ("region_mean", "RegionPerturbation",
     dict(patch_size=8, regions_evaluation=16, order="morf", perturb_baseline="mean"), "saliency", False),
    ("selectivity", "Selectivity", dict(patch_size=4, perturb_baseline="black"), "saliency", True),
]
CONFIGS_224 = [
    ("region_morf", "RegionPerturbation",
     dict(patch_size=8, regions_evaluation=100, order="morf", perturb_baseline="black"), "gxi", True),
    ("pixel_flipping", "PixelFlipping", dict(features_in_step=1568, perturb_baseline="black"), "saliency", True),
]
CASE_CONFIGS = {"lenet_mnist": CONFIGS_28, "resnet_fashion": CONFIGS_28, "efficientnet_lite0": CONFIGS_224}

# Quantus 0.6.0 defaults of the constructor arguments not listed above (recorded in configs.json).
DEFAULTS = {
    "PixelFlipping": dict(features_in_step=1, abs=False, normalise=True, normalise_func="normalise_by_max",
                          normalise_func_kwargs=None, perturb_func="batch_baseline_replacement_by_indices",
                          perturb_baseline="black", perturb_func_kwargs=None, return_aggregate=False,
                          aggregate_func=None, return_auc_per_sample=False),
    "RegionPerturbation": dict(patch_size=8, order="morf", regions_evaluation=100, abs=False, normalise=True,
                               normalise_func="normalise_by_max", normalise_func_kwargs=None,
                               perturb_func="batch_baseline_replacement_by_indices", perturb_baseline="black",
                               perturb_func_kwargs=None, return_aggregate=False, aggregate_func=None),
    "Selectivity": dict(patch_size=8, abs=False, normalise=True, normalise_func="normalise_by_max",
                        normalise_func_kwargs=None, perturb_func="batch_baseline_replacement_by_indices",
                        perturb_baseline="black", perturb_func_kwargs=None, return_aggregate=False,
                        aggregate_func=None),
}


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------

def save(man, rel, arr, dtype, **fields):
    """gc.Manifest.save_array for any dtype (float32 maps and x, int64 labels, float64 curves)."""
    path = os.path.join(OUT, rel)
    arr = np.ascontiguousarray(np.asarray(arr, dtype=dtype))
    np.save(path, arr)
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr[None]
    entry = {"script": SCRIPT, "shape": list(arr.shape), "dtype": np.dtype(dtype).name}
    entry.update(fields)
    entry["stats"] = {"max_abs": float(np.abs(arr).max()),
                      "sum_per_item": [float(v) for v in flat.astype(np.float64).sum(1)]}
    entry["sha256"] = gc.sha256(path)
    man.data["files"][f"assets/golden/quantus/{rel}"] = entry
    man.new.append(path)
    print(f"  wrote assets/golden/quantus/{rel} {arr.shape} {arr.dtype} {os.path.getsize(path)} B "
          f"sha256={entry['sha256'][:16]}")
    return entry


# ---------------------------------------------------------------------------
# models and maps
# ---------------------------------------------------------------------------

def load_case(name):
    c = CASES[name]
    model = c["ctor"](gc.p(c["onnx"]))
    for prm in model.parameters():
        prm.requires_grad_(False)
    x = np.ascontiguousarray(np.load(gc.p(c["inputs"]))[:c["n"]].astype(np.float32))
    ref = np.load(gc.p(c["ref"]))[:c["n"]]
    ort = gm.ort_run(gc.p(c["onnx"]), x)
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
    d_ort = float(np.abs(logits - ort).max())
    d_ref = float(np.abs(logits - ref).max())
    print(f"[{name}] PyTorch vs onnxruntime max |Δlogit| {d_ort:.2e}, vs reference logits {d_ref:.2e}")
    assert d_ort < 1e-4 and d_ref < 1e-4, (d_ort, d_ref)
    y = logits.argmax(1).astype(np.int64)
    assert (y == ort.argmax(1)).all() and (y == ref.argmax(1)).all()
    top2 = np.sort(logits, 1)[:, -2:]
    info = {"onnx": c["onnx"], "inputs": f"{c['inputs']}[0:{c['n']}]", "n": c["n"],
            "max_abs_logit_diff": {"vs_onnxruntime": d_ort, "vs_reference": d_ref},
            "y": y.tolist(), "top1_minus_top2_logit": [float(v) for v in top2[:, 1] - top2[:, 0]],
            "black_baseline_per_item = min x": [float(v) for v in x.reshape(len(x), -1).min(1)],
            "white_baseline_per_item = max x": [float(v) for v in x.reshape(len(x), -1).max(1)]}
    return model, x, y, info


def gradient_maps(model, x, y):
    xt = torch.from_numpy(x).clone().requires_grad_(True)
    logits = model(xt)
    logits[torch.arange(len(y)), torch.from_numpy(y)].sum().backward()
    g = xt.grad.detach()
    sal = g.abs().numpy()
    gxi = (xt.detach() * g).numpy()
    g = g.numpy()
    assert sal.dtype == gxi.dtype == np.float32
    assert np.array_equal(sal, np.abs(g)) and np.array_equal(gxi, x * g)
    return {"saliency": sal, "gxi": gxi}


# ---------------------------------------------------------------------------
# regions, ranking keys, ties
# ---------------------------------------------------------------------------

def geometry(kind, params, shape):
    """Per-input regions as arrays of flat indices into the (padded) [C, Hp, Wp] array."""
    c, h, w = shape
    if kind == "PixelFlipping":
        per_step = params["features_in_step"]
        n = c * h * w
        steps = -(-n // per_step)
        return dict(pad=((0, 0), (0, 0)), per_step=per_step, K=steps, R=n, padded_shape=(c, h, w))
    p = params["patch_size"]
    ph, pw = qutils.get_padding_size(h, p), qutils.get_padding_size(w, p)
    hp, wp = h + sum(ph), w + sum(pw)
    R = (hp // p) * (wp // p)
    K = min(params["regions_evaluation"], R) if kind == "RegionPerturbation" else R
    return dict(pad=(ph, pw), per_step=1, K=K, R=R, padded_shape=(c, hp, wp), patch=p)


def region_cells(geo):
    """[R, cells] flat indices into the padded [C, Hp, Wp] array, regions row-major over the grid."""
    c, hp, wp = geo["padded_shape"]
    if "patch" not in geo:
        return np.arange(c * hp * wp)[:, None]
    p = geo["patch"]
    idx = np.arange(c * hp * wp).reshape(c, hp // p, p, wp // p, p).transpose(1, 3, 0, 2, 4)
    return idx.reshape((hp // p) * (wp // p), c * p * p)


def pad_maps(a, geo):
    ph, pw = geo["pad"]
    return np.pad(a, ((0, 0), (0, 0), ph, pw), mode="constant")


def pad_x(x, geo):
    ph, pw = geo["pad"]
    return np.pad(x, ((0, 0), (0, 0), ph, pw), mode="edge")


def quantus_key_and_order(kind, params, maps, x, geo):
    """The ranking key exactly as Quantus computes it (normalise_by_max over the whole batch,
    float32; zero-padded patch sums via its own block indices) and its np.argsort order."""
    a = normalise_by_max(maps)
    a = np.broadcast_to(a, x.shape)
    n = len(x)
    if kind == "PixelFlipping":
        key = a.reshape(n, -1)
        return key, np.argsort(-key, axis=1)
    ph, pw = geo["pad"]
    a_pad = qutils._pad_array(a, ((0, 0), (0, 0), ph, pw), mode="constant", padded_axes=np.arange(4))
    x_pad = qutils._pad_array(x, ((0, 0), (0, 0), ph, pw), mode="constant", padded_axes=np.arange(4))
    sums, blocks = [], []
    for bi in qutils.get_block_indices(x_pad, geo["patch"]):
        sums.append(a_pad.reshape(n, -1)[np.arange(n)[:, None], bi].sum(axis=-1))
        blocks.append(bi)
    key = np.stack(sums, -1)
    # Quantus's block enumeration is our region_cells order (checked, per item).
    cells = region_cells(geo)
    blocks = np.stack(blocks, 1)
    assert all(np.array_equal(np.sort(blocks[i], -1), np.sort(cells, -1)) for i in range(n))
    if params.get("order", "morf") == "lerf":
        return key, np.argsort(key, -1)
    return key, np.argsort(-key, -1)


def engine_key(kind, maps, x, geo):
    """Our ranking key: the raw float32 maps (no normalisation), patch sums in float64."""
    a = np.broadcast_to(maps, x.shape).astype(np.float64)
    n = len(x)
    if kind == "PixelFlipping":
        return a.reshape(n, -1)
    a_pad = pad_maps(a, geo).reshape(n, -1)
    return a_pad[:, region_cells(geo)].sum(-1)


def stable_order(key, order_name):
    return np.argsort(key if order_name == "lerf" else -key, axis=1, kind="stable")


def effective_regions(x, geo, baseline):
    """[N, R] bool: replacing the region can change the model input. Black/white: the region
    holds an (unpadded) value that differs from the input's min/max (Quantus's baseline; patches
    do not overlap, so a region is untouched until it is removed). Mean: every region (its
    replacement also moves the mean used by later steps)."""
    n = len(x)
    cells = region_cells(geo)
    if baseline == "mean":
        return np.ones((n, len(cells)), bool)
    xp = pad_x(x, geo).reshape(n, -1)
    real = pad_maps(np.ones_like(x[:1]), geo).reshape(-1).astype(bool)  # interior cells of the padded grid
    b = xp.min(1) if baseline == "black" else xp.max(1)
    differs = (xp != b[:, None]) & real[None]
    return differs[:, cells].any(-1)


def chunk_of_position(geo):
    pos = np.arange(geo["R"])
    ch = pos // geo["per_step"]
    ch[ch >= geo["K"]] = geo["K"]  # never removed
    return ch


def same_curve_orders(o1, o2, eff, geo):
    """Per item: do the two orders remove the same effective regions at every step
    (so they give the same curve)?"""
    ch = chunk_of_position(geo)
    out = []
    for i in range(len(o1)):
        c1, c2 = np.empty(geo["R"], int), np.empty(geo["R"], int)
        c1[o1[i]], c2[o2[i]] = ch, ch
        out.append(bool(np.array_equal(c1[eff[i]], c2[eff[i]])))
    return out


def tie_report(key, q_order, eff, geo):
    """Exact ties of Quantus's key, per item: groups of equal values (size >= 2), those whose
    sorted positions straddle a step boundary (or the K-th region), and those of them that hold
    an effective region (only these can change the curve)."""
    ch = chunk_of_position(geo)
    items = []
    for i in range(len(key)):
        k = key[i][q_order[i]]
        e = eff[i][q_order[i]]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        ends = np.r_[starts[1:], len(k)]
        groups = [(s, t) for s, t in zip(starts, ends) if t - s > 1]
        straddle = [(s, t) for s, t in groups if ch[s] != ch[t - 1]]
        matter = [(s, t) for s, t in straddle if e[s:t].any()]
        items.append({
            "tie_groups": len(groups), "tied_values": int(sum(t - s for s, t in groups)),
            "groups_straddling_a_step": len(straddle), "groups_that_can_change_the_curve": len(matter),
            "largest_group": int(max([t - s for s, t in groups], default=0)),
            "tied_key_values_that_matter": sorted({float(k[s]) for s, t in matter})[:8],
            "groups": [[int(r) for r in q_order[i][s:t]] for s, t in matter],  # regions, in Quantus's order
        })
    return items


def tie_details(items, key, ekey, q_order, s_order, x, geo, q_curve, st_curve, tol):
    """For every tie group that can change the curve: its regions (flat index and c, h, w), the
    step each lands in under Quantus's order and under the stable order, and the curve cells
    (item, k) where the stable-tie curve differs from Quantus's."""
    c, h, w = x.shape[1:]
    ch = chunk_of_position(geo)
    out, affected = [], set()
    for i, it in enumerate(items):
        qpos = np.empty(geo["R"], int)
        spos = np.empty(geo["R"], int)
        qpos[q_order[i]] = np.arange(geo["R"])
        spos[s_order[i]] = np.arange(geo["R"])
        for g in it.pop("groups"):
            regs = []
            for r in g:
                d = {"region": r, "quantus_position": int(qpos[r]), "stable_position": int(spos[r]),
                     "quantus_step": int(ch[qpos[r]]) + 1, "stable_step": int(ch[spos[r]]) + 1}
                if "patch" not in geo:
                    d["chw"] = [int(v) for v in np.unravel_index(r, (c, h, w))]
                    d["x"] = float(x[i].reshape(-1)[r])
                    d["raw_map_value"] = float(ekey[i, r])
                regs.append(d)
            steps = [d[k] for d in regs for k in ("quantus_step", "stable_step")]
            cells = list(range(min(steps), max(steps)))  # curve points k = min..max-1 (1-based) can differ
            affected.update((i, k - 1) for k in cells)
            out.append({"item": i, "key_value": float(key[i, g[0]]), "regions": regs,
                        "curve_points_k_that_can_differ": cells,
                        "stable_minus_quantus_at_those_points": [float(st_curve[i, k - 1] - q_curve[i, k - 1]) for k in cells]})
    return out, sorted(affected)


def min_boundary_gap(key64, order, eff, geo):
    """Per item: the smallest |key| gap between the last region of a step and the first of the
    next (or the K-th and the (K+1)-th), over boundaries with an effective region on either side,
    relative to max |key|: how close the ranking is to a tie that matters."""
    per, K, R = geo["per_step"], geo["K"], geo["R"]
    bounds = np.arange(per, min(K * per, R - 1) + 1, per)
    bounds = bounds[bounds < R]
    out = []
    for i in range(len(key64)):
        k = key64[i][order[i]]
        e = eff[i][order[i]]
        ok = e[bounds - 1] | e[bounds]
        if not ok.any():
            out.append(None)
            continue
        gap = np.abs(k[bounds - 1] - k[bounds])[ok]
        out.append(float(gap.min() / max(np.abs(key64[i]).max(), 1e-300)))
    return out


# ---------------------------------------------------------------------------
# the independent re-implementation
# ---------------------------------------------------------------------------

def score(model, x, y, softmax):
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x))).numpy().astype(np.float64)
    if softmax:
        z = logits - logits.max(1, keepdims=True)
        p = np.exp(z)
        logits = p / p.sum(1, keepdims=True)
    return logits[np.arange(len(y)), y]


def reference_curve(model, x, y, order, geo, baseline, softmax):
    """f(x_k), k = 1..K: region order[i][(k-1)*per_step : k*per_step] of item i replaced at step k
    by the baseline of the current perturbed (edge-padded) array: black = min, white = max,
    mean = mean (float64, cast to float32); regions cover the padded grid, the model sees the
    unpadded crop."""
    n = len(x)
    cells = region_cells(geo)
    (pt, pb), (pl, pr) = geo["pad"]
    c, hp, wp = geo["padded_shape"]
    cur = pad_x(x, geo).reshape(n, -1).copy()
    out = []
    for k in range(geo["K"]):
        for i in range(n):
            if baseline == "black":
                b = cur[i].min()
            elif baseline == "white":
                b = cur[i].max()
            else:
                b = np.float32(cur[i].astype(np.float64).mean())
            regs = order[i][k * geo["per_step"]:(k + 1) * geo["per_step"]]
            cur[i, cells[regs].reshape(-1)] = b
        xk = cur.reshape(n, c, hp, wp)[:, :, pt:hp - pb, pl:wp - pr]
        out.append(score(model, xk, y, softmax))
    return np.stack(out, 1)


# ---------------------------------------------------------------------------

def run_quantus(metric_name, params, model, x, y, maps, softmax):
    cls = getattr(quantus, metric_name)
    metric = cls(**params, disable_warnings=True, display_progressbar=False)
    scores = metric(model=model, x_batch=x, y_batch=y, a_batch=maps, device="cpu", softmax=softmax,
                    batch_size=len(x))
    assert isinstance(scores, list) and len(scores) == len(x), type(scores)
    return np.array(scores, dtype=np.float64)


def quantus_f0(model, x, softmax):
    wrapped = qutils.get_wrapped_model(model=model, channel_first=True, softmax=softmax, device="cpu")
    return wrapped.predict(x)


def main():
    t_start = time.time()
    gc.setup()
    os.makedirs(OUT, exist_ok=True)
    man = gc.Manifest(SCRIPT)
    versions = {"quantus": quantus.__version__, "torch": torch.__version__, "numpy": np.__version__,
                "scikit-image": skimage.__version__, "onnxruntime": onnxruntime.__version__,
                "python": platform.python_version()}
    print("versions:", versions)
    cases_out, configs_out = {}, []
    for case in CASES:
        t_case = time.time()
        model, x, y, info = load_case(case)
        assert qutils.infer_channel_first(x)
        maps = gradient_maps(model, x, y)
        common = {"case": case, "model": info["onnx"], "inputs": info["inputs"]}
        files = {}
        if CASES[case]["save_x"]:
            save(man, f"{case}_x.npy", x, np.float32, role="x (inputs, unchanged copy)", **common)
            files["x"] = f"assets/golden/quantus/{case}_x.npy"
        else:
            assert np.array_equal(x, np.load(gc.p(CASES[case]["inputs"])))
            files["x"] = CASES[case]["inputs"] + " (the whole file; not copied)"
        save(man, f"{case}_y.npy", y, np.int64, role="y (argmax of the model's logits)", **common)
        files["y"] = f"assets/golden/quantus/{case}_y.npy"
        used = sorted({m for _, _, _, m, _ in CASE_CONFIGS[case]})
        for mname in used:
            desc = ("|d logit_y / dx|" if mname == "saliency" else "x * d logit_y / dx") + \
                   " (float32, torch autograd, batched backward of sum_i logit[i, y_i])"
            save(man, f"{case}_{mname}.npy", maps[mname], np.float32, role=f"map {mname} = {desc}", **common)
            files[mname] = f"assets/golden/quantus/{case}_{mname}.npy"
        info["files"] = files
        cases_out[case] = info

        for name, metric_name, params, mname, softmax in CASE_CONFIGS[case]:
            t0 = time.time()
            a = maps[mname]
            geo = geometry(metric_name, params, x.shape[1:])
            curve = run_quantus(metric_name, params, model, x, y, a, softmax)
            t_q = time.time() - t0
            assert curve.shape == (len(x), geo["K"]), (curve.shape, geo["K"])
            f0 = quantus_f0(model, x, softmax)[np.arange(len(y)), y].astype(np.float64)

            baseline = params["perturb_baseline"]
            order_name = params.get("order", "morf")
            qkey, q_order = quantus_key_and_order(metric_name, params, a, x, geo)
            ekey = engine_key(metric_name, a, x, geo)
            e_order = stable_order(ekey, order_name)
            s_order = stable_order(qkey, order_name)
            eff = effective_regions(x, geo, baseline)
            ties = tie_report(qkey, q_order, eff, geo)
            q_vs_stable = same_curve_orders(q_order, s_order, eff, geo)
            q_vs_engine = same_curve_orders(q_order, e_order, eff, geo)
            gaps = min_boundary_gap(ekey, e_order, eff, geo)

            # Independent re-implementation with our (stable, raw-map) order.
            fk = reference_curve(model, x, y, e_order, geo, baseline, softmax)
            f0_ref = score(model, x, y, softmax)
            mine = (f0_ref[:, None] - fk) if metric_name == "RegionPerturbation" else fk
            rng = float(curve.max() - curve.min())
            err = np.abs(mine - curve).max(1)
            cross = {"reference_order": "stable argsort of the raw map (float64 patch sums)",
                     "max_abs_diff_per_item": [float(v) for v in err], "curve_range": rng,
                     "max_abs_diff_over_range": float(err.max() / rng),
                     "f0_max_abs_diff": float(np.abs(f0 - f0_ref).max())}
            if not all(q_vs_engine):
                # Rerun the reference with Quantus's own order to show that the rest agrees.
                fq = reference_curve(model, x, y, q_order, geo, baseline, softmax)
                mq = (f0_ref[:, None] - fq) if metric_name == "RegionPerturbation" else fq
                errq = np.abs(mq - curve).max(1)
                cross["with_quantus_order_max_abs_diff_over_range"] = float(errq.max() / rng)
                assert errq.max() <= TOL * rng, (case, name, errq)
            else:
                assert err.max() <= TOL * rng, (case, name, err, rng)
            assert np.abs(f0 - f0_ref).max() <= TOL * max(rng, 1e-12)

            tie_dependent = not all(q_vs_stable) or any(t["groups_that_can_change_the_curve"] for t in ties)
            details, affected = tie_details(ties, qkey, ekey, q_order, s_order, x, geo, curve, mine, TOL)
            if affected:
                # Outside the cells a tie can move, the stable-order reference equals Quantus.
                mask = np.ones(curve.shape, bool)
                for i, k in affected:
                    mask[i, k] = False
                rest = float(np.abs(mine - curve)[mask].max() / rng)
                cross["max_abs_diff_over_range_outside_tie_cells"] = rest
                cross["tie_cells_item_k0"] = [list(v) for v in affected]
                assert rest <= TOL, (case, name, rest)
            kind_curve = ("f(x) - f(x_k), k = 1..K" if metric_name == "RegionPerturbation" else "f(x_k), k = 1..K")
            f_desc = "softmax(logits)[y]" if softmax else "logits[y]"
            tie_summary = {
                "key": ("normalise_by_max(map) flattened (broadcast to x), float32" if metric_name == "PixelFlipping"
                        else "sum of normalise_by_max(map) over each zero-padded patch (all channels), float32"),
                "quantus_sort": ("np.argsort(-key)" if order_name == "morf" else "np.argsort(key)")
                + " (default kind: not stable)",
                "items_with_exact_ties": int(sum(t["tie_groups"] > 0 for t in ties)),
                "tie_groups_total": int(sum(t["tie_groups"] for t in ties)),
                "tied_values_total": int(sum(t["tied_values"] for t in ties)),
                "groups_straddling_a_step_total": int(sum(t["groups_straddling_a_step"] for t in ties)),
                "groups_that_can_change_the_curve_total": int(sum(t["groups_that_can_change_the_curve"] for t in ties)),
                "quantus_order_gives_the_stable_order_curve": q_vs_stable,
                "quantus_order_gives_the_raw_map_stable_order_curve": q_vs_engine,
                "min_rel_gap_at_step_boundaries_raw_map": gaps,
                "result_depends_on_tie_order": bool(tie_dependent),
                "groups_that_can_change_the_curve": details,
                "per_item": ties,
            }
            print(f"  {case}/{name}: K={geo['K']} quantus {t_q:.1f}s, ties: groups {tie_summary['tie_groups_total']}, "
                  f"straddling {tie_summary['groups_straddling_a_step_total']}, "
                  f"matter {tie_summary['groups_that_can_change_the_curve_total']}; "
                  f"q==stable {all(q_vs_stable)}, q==raw-stable {all(q_vs_engine)}; "
                  f"min rel gap {min([g for g in gaps if g is not None], default=None)}; "
                  f"cross-check {cross['max_abs_diff_over_range']:.2e} of range {rng:.3g}")

            fields = dict(common, config=name, metric=f"quantus.{metric_name}", maps=files[mname], softmax=softmax,
                          K=geo["K"], result_depends_on_tie_order=bool(tie_dependent))
            save(man, f"{case}_{name}.npy", curve, np.float64, role=f"Quantus per-sample curve [N, K]: {kind_curve}, f = {f_desc}", **fields)
            save(man, f"{case}_{name}_f0.npy", f0, np.float64, role=f"unperturbed f(x) = {f_desc} [N]", **fields)
            stable_file = None
            if tie_dependent:
                stable_file = f"assets/golden/quantus/{case}_{name}_stable_ties.npy"
                save(man, f"{case}_{name}_stable_ties.npy", mine, np.float64,
                     role=("NOT Quantus: this script's numpy re-implementation with exact ties broken by index order "
                           f"(stable argsort of the raw map), same layout as {case}_{name}.npy; equal to it to "
                           f"{TOL} x range except at the cells in configs.json cross_check.tie_cells_item_k0"), **fields)
            all_params = dict(DEFAULTS[metric_name])
            all_params.update(params)
            all_params.update(disable_warnings=True, display_progressbar=False)
            configs_out.append({
                "case": case, "config": name, "file": f"assets/golden/quantus/{case}_{name}.npy",
                "f0_file": f"assets/golden/quantus/{case}_{name}_f0.npy",
                "metric": f"quantus.{metric_name}", "params": all_params,
                "call": {"model": f"torch module of {info['onnx']}", "x_batch": files["x"], "y_batch": files["y"],
                         "a_batch": files[mname], "softmax": softmax, "device": "cpu", "batch_size": len(x),
                         "channel_first": None, "channel_first_inferred": True},
                "maps": mname, "maps_file": files[mname], "softmax": softmax, "f": f_desc,
                "curve": kind_curve, "N": len(x), "K": geo["K"], "regions": geo["R"],
                "regions_per_step": geo["per_step"],
                "padding_rows_top_bottom": list(geo["pad"][0]), "padding_cols_left_right": list(geo["pad"][1]),
                "padded_hw": list(geo["padded_shape"][1:]),
                "tie_report": tie_summary, "cross_check": cross, "stable_ties_file": stable_file,
            })
        print(f"[{case}] done in {time.time() - t_case:.1f}s")

    meta = {
        "script": SCRIPT, "versions": versions,
        "torch_threads": torch.get_num_threads(),
        "curve_layout": "float64 [N, K], row i = input i; Quantus's raw per-sample curve (return_aggregate=False), "
                        "without the unperturbed point (that is <case>_<config>_f0.npy, float64 [N])",
        "region_perturbation": "curve[i, k-1] = f(x_i) - f(x_i with the first k regions replaced)",
        "pixel_flipping_selectivity": "curve[i, k-1] = f(x_i with the first k steps replaced)",
        "normalise": "normalise_by_max with normalise_axes=None: divides the whole a_batch by ONE scalar, "
                     "max |a| over all items, channels and pixels (order within an item unchanged)",
        "baselines": "black = min, white = max, mean = mean (float32 numpy) of the current perturbed array of the "
                     "item (padded for region metrics, all channels), recomputed before every step",
        "tolerance_of_cross_check": f"{TOL} x curve range",
    }
    with open(CONFIGS_JSON, "w") as f:
        json.dump({"meta": meta, "cases": cases_out, "configs": configs_out}, f, indent=1)
    print(f"  wrote {os.path.relpath(CONFIGS_JSON, gc.ROOT)}  sha256={gc.sha256(CONFIGS_JSON)}")
    man.write()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"  assets/golden/quantus: {total / 1e6:.2f} MB")
    print(f"golden_quantus.py done in {time.time() - t_start:.1f}s")


if __name__ == "__main__":
    main()
