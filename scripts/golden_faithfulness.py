#!/usr/bin/env python3
"""Faithfulness-correlation goldens from Quantus 0.6.0 (FaithfulnessCorrelation,
MonotonicityCorrelation, ROAD), fed glimpse's own random numbers.

Writes assets/golden/faithfulness/*.npy, assets/golden/faithfulness/configs.json (cases; every
config with all parameters, files, cross-check, tie report, conditioning; peer_quirks) and one
entry per file in assets/golden/manifest.json. Semantics: assets/golden/README.md, section
"Faithfulness correlations". Cases: lenet_mnist (assets/data/mnist_test_x.npy[0:8]) and
resnet_fashion (assets/data/fashion_test_x.npy[0:8]), float32 models rebuilt from the ONNX files
(logits checked against onnxruntime); y = argmax logits; maps as golden_quantus.gradient_maps:
saliency = |d logit_y / dx|, gxi = x * d logit_y / dx (float32, one batched backward).

glimpse's seeded SplitMix64 streams (src/rng.rs, src/explain/gradient/noise.rs) are mirrored
bit-exactly with numpy uint64 arithmetic (glimpse_noise.py) and reach Quantus through its own
code: np.random.choice (the subsets), np.random.uniform (the "uniform" baseline) and
np.random.randn (ROAD's noise) are replaced during each call by functions that check their
arguments and return glimpse's numbers. Every Quantus result is recomputed by a plain numpy/scipy
re-implementation (golden_faithfulness_reference.py) and asserted equal to 1e-6. Where exact ties
of a map make the result depend on np.argsort's unstable order, Quantus is also run with a stable
argsort (ties by index, glimpse's rule): the `_stable` files. The peer quirks on toy models:
golden_faithfulness_quirks.py.

    /work/venv/bin/python scripts/golden_faithfulness.py     # ~15 s
"""

import contextlib
import copy
import inspect
import json
import os
import platform
import sys
import time
import warnings

import numpy as np
import scipy
import torch

import glimpse_models as gm
import glimpse_noise as gn
import golden_common as gc
import golden_quantus as gq
from golden_faithfulness_reference import forward, ref_fc, ref_mc, ref_road_imputed

warnings.filterwarnings("ignore")  # Quantus's "perturbation caused no change", scipy's constant input
import quantus  # noqa: E402
import quantus.metrics.faithfulness.monotonicity_correlation as q_mc_mod  # noqa: E402
import quantus.metrics.faithfulness.road as q_road_mod  # noqa: E402
from quantus.functions import perturb_func as qpf  # noqa: E402
from quantus.functions.similarity_func import correlation_pearson, correlation_spearman  # noqa: E402
from golden_faithfulness_quirks import peer_quirks  # noqa: E402

SCRIPT = "scripts/golden_faithfulness.py"
OUT = os.path.join(gc.GOLDEN, "faithfulness")
REL = "assets/golden/faithfulness"
N, SEED, TOL = 8, 7, 1e-6
CASE_NAMES, MAPS = ("lenet_mnist", "resnet_fashion"), ("saliency", "gxi")
FC = dict(nr_runs=20, subset_size=224, perturb_baseline="black", abs=False, normalise=True, return_aggregate=False)
MC = dict(nr_samples=4, features_in_step=28, perturb_baseline="uniform", eps=1e-5, abs=True, normalise=True)
ROAD = dict(noise=0.01, percentages=list(range(1, 100, 7)), abs=False, normalise=True)
ROAD_SAVED_J = (2, 12)  # percentage indices (15 %, 85 %) whose imputed input 0 is saved


def all_params(cls, given, **notes):
    """Every constructor argument as used: Quantus 0.6.0's signature defaults, then ours."""
    out = {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items() if k not in ("self", "kwargs")}
    out.update(given, disable_warnings=True, display_progressbar=False, **notes,
               normalise_func="None = normalise_by_max (normalise_axes=None: one max over the whole a_batch)")
    return {k: (v.__name__ if callable(v) else v) for k, v in out.items()}


# ----- glimpse's random numbers (glimpse_noise.py) -----

def fc_subsets(n, runs, d, k):
    """[n, runs, k]: glimpse's partial Fisher-Yates subset of input i, run r, in draw order."""
    ii, rr = np.meshgrid(np.arange(n), np.arange(runs), indexing="ij")
    return gn.subsets(SEED, gn.SUBSETS, ii, rr, d, k).reshape(n, runs, k)


def mc_values(rows, j, s, ns, low=0.0, high=1.0):
    """MonotonicityCorrelation's uniform baseline of inputs `rows` at step j, sample s."""
    return gn.uniform_value(SEED, gn.BASELINES, rows, j * ns + s, low, high)


def road_noise(i, j, length, sigma):
    """glimpse's gaussian_noise(seed, i, j, length, sigma): Box-Muller pairs, float32."""
    return gn.gaussian_noise(SEED, [i], [j], length, sigma)[0]


def rng_self_check():
    """Vectorised streams == plain-int streams; a few values for the Rust test to compare."""
    salts = (gn.GAUSSIAN, gn.SUBSETS, gn.BASELINES)
    for salt in salts:
        for i, s in ((0, 0), (3, 5), (7, 111)):
            assert [int(v) for v in gn.draws(SEED, salt, [i], [s], 6)[0]] == gn.mirror_draws(SEED, salt, i, s, 6)
    sub = fc_subsets(N, FC["nr_runs"], 784, FC["subset_size"])
    assert all(len(set(r)) == FC["subset_size"] for r in sub.reshape(-1, FC["subset_size"]))
    first = {f"salt {salt:#x}, i {i}, s {s}": [f"{v:#018x}" for v in gn.mirror_draws(SEED, salt, i, s, 3)]
             for salt in salts for i, s in ((0, 0), (7, 19))}
    return {"first_u64_hex": first,
            "fc_subset_i0_r0_first16": sub[0, 0, :16].tolist(), "fc_subset_i7_r19_first16": sub[7, 19, :16].tolist(),
            "mc_uniform_i0..7_step0_sample0": mc_values(np.arange(N), 0, 0, MC["nr_samples"]).tolist(),
            "mc_uniform_i0..7_step27_sample3": mc_values(np.arange(N), 27, 3, MC["nr_samples"]).tolist(),
            "road_noise_i0_j0_first6": road_noise(0, 0, 6, ROAD["noise"]).tolist(),
            "road_noise_i7_j14_first6": road_noise(7, 14, 6, ROAD["noise"]).tolist()}


# ----- files, models -----
ENTRIES = {}


def save(rel, arr, dtype, **fields):
    """np.save under assets/golden/faithfulness; its manifest entry waits in ENTRIES for main()."""
    path = os.path.join(OUT, rel)
    entry = ENTRIES[f"{REL}/{rel}"] = gc.save_npy(path, arr, dtype, SCRIPT, **fields)
    print(f"  wrote {REL}/{rel} {tuple(entry['shape'])} {entry['dtype']} {os.path.getsize(path)} B")
    return f"{REL}/{rel}"


def load_case(name):
    c = gq.CASES[name]
    model = c["ctor"](gc.p(c["onnx"]))
    for prm in model.parameters():
        prm.requires_grad_(False)
    x = np.ascontiguousarray(np.load(gc.p(c["inputs"]))[:N].astype(np.float32))
    ort, lg = gm.ort_run(gc.p(c["onnx"]), x), forward(model, x)
    d_ort, d_ref = float(np.abs(lg - ort).max()), float(np.abs(lg - np.load(gc.p(c["ref"]))[:N]).max())
    assert d_ort < 1e-4 and d_ref < 1e-4, (d_ort, d_ref)
    y = lg.argmax(1).astype(np.int64)
    assert (y == ort.argmax(1)).all()
    return model, x, y, {"onnx": c["onnx"], "inputs": {"path": c["inputs"], "slice": [0, N]}, "n": N,
                         "y": y.tolist(), "max_abs_logit_diff": {"vs_onnxruntime": d_ort, "vs_reference": d_ref}}


# ----- Quantus, with glimpse's numbers -----

@contextlib.contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


class StableArgsortNumpy:
    """Stands in for a Quantus metric module's global `np`: numpy with a stable argsort (exact
    ties in index order, glimpse's rule)."""
    calls = 0

    def __getattr__(self, name):
        return getattr(np, name)

    def argsort(self, a, axis=-1, kind=None, order=None):
        assert kind is None and order is None
        self.calls += 1
        return np.argsort(a, axis=axis, kind="stable")


@contextlib.contextmanager
def argsort_mode(module, stable):
    proxy = StableArgsortNumpy()
    with patched(module, "np", proxy if stable else module.np):
        yield
    assert proxy.calls == int(stable)  # one argsort per evaluate_batch (batch_size N)


class Recorder:
    """A similarity_func recording Quantus's (a, b) before calling the default one."""

    def __init__(self, f):
        self.f, self.ab = f, []

    def __call__(self, a, b, batched=False, **kw):
        self.ab.append(np.stack([a, b], -1).astype(np.float64))
        return self.f(a=a, b=b, batched=batched, **kw)


def quantus_fc(model, x, y, a, bs, subs):
    runs, k, d = FC["nr_runs"], FC["subset_size"], x[0].size
    choices, perturbs = [], []

    # Quantus, per batch: for run r: np.stack([np.random.choice(n_features, subset_size, replace=False)
    # for each row]), then perturb_func(arr=x [bs, D], indices=those [bs, k]).
    def choice(a_, size=None, replace=True, p=None):
        assert (a_, size, replace, p) == (d, k, False, None), (a_, size, replace, p)
        b, w = divmod(len(choices), runs * bs)
        choices.append(b * bs + w % bs)
        return subs[b * bs + w % bs, w // bs].copy()

    def perturb(arr, indices, **kw):  # Quantus's default perturb_func, checking what it gets
        b, r = divmod(len(perturbs), runs)
        assert kw == {"perturb_baseline": "black"} and np.array_equal(indices, subs[b * bs:(b + 1) * bs, r])
        perturbs.append(r)
        return qpf.batch_baseline_replacement_by_indices(arr=arr, indices=indices, **kw)

    rec = Recorder(correlation_pearson)
    metric = quantus.FaithfulnessCorrelation(**FC, similarity_func=rec, perturb_func=perturb,
                                             disable_warnings=True, display_progressbar=False)
    with patched(np.random, "choice", choice):
        scores = metric(model=model, x_batch=x, y_batch=y, a_batch=a, device="cpu", softmax=False, batch_size=bs)
    assert len(choices) == N * runs and len(perturbs) == (N // bs) * runs
    return np.array(scores, np.float64), np.concatenate(rec.ab)


def quantus_mc(model, x, y, a, bs, order):
    ns, fs = MC["nr_samples"], MC["features_in_step"]
    steps, log = -(-x[0].size // fs), []

    # Quantus, per batch: for step j: for sample s: perturb_func(arr=x [bs, D], indices=a_indices[:, step j])
    def perturb(arr, indices, **kw):
        b, w = divmod(len(log), steps * ns)
        j, s = divmod(w, ns)
        rows = b * bs + np.arange(len(arr))
        assert kw == {"perturb_baseline": "uniform"} and np.array_equal(indices, order[rows, j * fs:(j + 1) * fs])
        vals = mc_values(rows, j, s, ns)

        def fake_uniform(low=0.0, high=1.0, size=None):  # get_baseline_dict: ONE value per input
            assert (low, high, size) == (0.0, 1.0, len(arr)), (low, high, size)
            return vals.copy()

        with patched(np.random, "uniform", fake_uniform):
            log.append(j)
            return qpf.batch_baseline_replacement_by_indices(arr=arr, indices=indices, **kw)

    rec = Recorder(correlation_spearman)
    metric = quantus.MonotonicityCorrelation(**MC, similarity_func=rec, perturb_func=perturb,
                                             disable_warnings=True, display_progressbar=False)
    scores = metric(model=model, x_batch=x, y_batch=y, a_batch=a, device="cpu", softmax=True, batch_size=bs)
    assert len(log) == (N // bs) * steps * ns
    return np.array(scores, np.float64), np.concatenate(rec.ab)


def quantus_road(model, x, y, a, bs, order):
    pcts, sigma = ROAD["percentages"], ROAD["noise"]
    ks = [int(a[0].size * p / 100) for p in pcts]  # a [N, 1, H, W]: Quantus's a_size = a_batch[0, :, :].size
    log, imputed = [], np.zeros((N, len(pcts)) + x.shape[1:], np.float32)

    # Quantus, per batch: for p: for each input: perturb_func(arr=x_i [C, H, W], indices=its top k)
    def perturb(arr, indices, **kw):
        b, w = divmod(len(log), len(pcts) * bs)
        i, j, c = b * bs + w % bs, w // bs, arr.shape[0]
        assert kw == {"noise": sigma} and np.array_equal(arr, x[i]) and np.array_equal(indices, order[i, :ks[j]])
        nz = road_noise(i, j, c * len(indices), sigma)

        def fake_randn(*shape):  # noise * randn(*res.shape), res [C, k] ([k] for C = 1: spsolve's shape)
            assert shape == ((len(indices),) if c == 1 else (c, len(indices))), shape
            return nz.reshape(shape).astype(np.float64) / sigma

        with patched(np.random, "randn", fake_randn):
            log.append(i)
            imputed[i, j] = qpf.noisy_linear_imputation(arr=arr, indices=indices, **kw)
        return imputed[i, j].copy()

    metric = quantus.ROAD(**ROAD, perturb_func=perturb, disable_warnings=True, display_progressbar=False)
    batches, evaluate = [], metric.evaluate_batch

    def capture(**kw):  # ROAD returns only the mean over inputs (of the first batch): keep the rows
        batches.append(evaluate(**kw)[0])
        return [batches[-1]]

    metric.evaluate_batch = capture
    ret = metric(model=model, x_batch=x, y_batch=y, a_batch=a, device="cpu", softmax=True, batch_size=bs)
    assert len(log) == N * len(pcts) and list(ret) == pcts
    return np.concatenate(batches).astype(np.float64), imputed, np.array([ret[p] for p in pcts])


# ----- orders, ties, conditioning -----

def quantus_keys(a):
    """Quantus's preprocessed maps, flattened: normalise_by_max (one float32 max over the whole
    a_batch), then abs for MonotonicityCorrelation."""
    q = np.divide(a, np.max(np.abs(a), keepdims=True)).reshape(len(a), -1)
    return {"monotonicity_correlation": np.abs(q), "road": q}


def tie_groups(key_sorted):
    starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    return [(s, e) for s, e in zip(starts, np.r_[starts[1:], len(key_sorted)]) if e - s > 1]


def tie_report(metric, key, a):
    """MC: a step is a set of 28 consecutive positions of the ascending order (order inside does
    not matter), so a tie group matters if it straddles a step boundary. ROAD: order[:k] is
    imputed and noise value t goes to its t-th index, so the ordered prefix up to the largest k
    must agree. glimpse: equal values in index order; its f64 sums start from +0.0, so -0.0 and
    +0.0 are equal there too (numpy's sorts also treat them as equal)."""
    n, mc = len(key), metric == "monotonicity_correlation"
    raw = np.abs(a.reshape(n, -1).astype(np.float64)) if mc else -(a.reshape(n, -1).astype(np.float64) + 0.0)
    key = key if mc else -key
    q, s, g = np.argsort(key, 1), np.argsort(key, 1, kind="stable"), np.argsort(raw, 1, kind="stable")
    if mc:
        fs = MC["features_in_step"]
        pos_step = np.arange(key.shape[1]) // fs

        def same(o1, o2):  # same features in every step
            st1, st2 = np.empty_like(o1), np.empty_like(o2)
            st1[np.arange(n)[:, None], o1], st2[np.arange(n)[:, None], o2] = pos_step, pos_step
            return [bool(v) for v in (st1 == st2).all(1)]
        matters = lambda st, en: pos_step[st] != pos_step[en - 1]  # noqa: E731
    else:
        kmax = int(key.shape[1] * max(ROAD["percentages"]) / 100)
        same = lambda o1, o2: [bool(v) for v in (o1[:, :kmax] == o2[:, :kmax]).all(1)]  # noqa: E731
        matters = lambda st, en: st < kmax  # noqa: E731  (a group reaching into the prefix)
    items = []
    for i in range(n):
        groups = tie_groups(key[i][s[i]])
        hit = [(st, en) for st, en in groups if matters(st, en)]
        items.append({"tie_groups": len(groups), "tied_values": int(sum(e - t for t, e in groups)),
                      "groups_that_matter": len(hit), "values_in_them": int(sum(e - t for t, e in hit)),
                      "tied_key_values_that_matter": sorted({abs(float(key[i][s[i][st]])) for st, _ in hit})[:4],
                      "negative_zeros_in_map": int(np.sum((a[i] == 0) & np.signbit(a[i])))})
    return {"key": ("|normalise_by_max(map)|, float32; Quantus: np.argsort(key, axis=1)" if mc else
                    "normalise_by_max(map), float32; Quantus: np.argsort(-key, axis=1)") + " (not stable)",
            "matters_if": "a tie group straddles a step boundary" if mc else f"a tie group reaches into the first {kmax} positions",
            "quantus_order_equivalent_to_stable": same(q, s), "stable_equivalent_to_glimpse_raw_map_order": same(s, g),
            "result_depends_on_tie_order": bool(any(it["groups_that_matter"] for it in items)), "per_item": items}


def adjacent_rel_gap(v):
    """Per row: min over neighbouring distinct sorted values of gap / |larger| (near a rank flip?)."""
    out = []
    for row in v:
        u = np.unique(row)
        out.append(float((np.diff(u) / np.maximum(np.abs(u[1:]), np.abs(u[:-1]))).min()) if len(u) > 1 else None)
    return out


def diffs(qs, rs, qp, rp):
    return {"scores": float(np.abs(qs - rs).max()),
            **{f"pairs[..., {c}] / max": float(np.abs(qp[..., c] - rp[..., c]).max() / np.abs(rp[..., c]).max())
               for c in (0, 1)}}


def conditioning(qs, s64, qp, p64, robust):
    """The reference on the float64 model vs Quantus (float32): how far rounding alone moves it."""
    d = np.abs(qs - s64)
    rel = np.abs(qp[..., 1] - p64[..., 1]) / np.maximum(np.abs(p64[..., 1]), 1e-300)
    return {"float64_model_scores_abs_diff_per_input": d.tolist(),
            "float64_model_pairs1_max_rel_diff_per_input": rel.max(1).tolist(),
            "robust_inputs": [int(i) for i in np.flatnonzero((d <= 1e-5) & robust(rel.max(1)))]}


# ----- configs -----

def run_fc(model, model64, x, y, a, subs, stable):
    qs, qp = quantus_fc(model, x, y, a, N, subs)
    rs, rp = ref_fc(model, x, y, a, subs)
    # Pearson is continuous: robust when the float64 model agrees.
    cond = conditioning(qs, *ref_fc(model64, x, y, a, subs), qp, lambda rel: np.ones(len(rel), bool))
    return {"scores": (qs, np.float64, "per-input Pearson(att_sum, pred_delta) [N]"),
            "pairs": (qp, np.float64, "[N, runs, 2]: (sum of the normalised map over the subset, "
                                     "logit_y(x) - logit_y(x with the subset set to min x))")}, diffs(qs, rs, qp, rp), cond


def run_mc(model, model64, x, y, a, subs, stable):
    order = np.argsort(quantus_keys(a)["monotonicity_correlation"], 1, kind="stable" if stable else None)
    with argsort_mode(q_mc_mod, stable):
        qs, qp = quantus_mc(model, x, y, a, N, order)
    rs, rp = ref_mc(model, x, y, a, order, SEED, MC)
    gap_att, gap_var = adjacent_rel_gap(qp[..., 0]), adjacent_rel_gap(qp[..., 1])
    # Spearman is discrete: robust if no two atts are within 1e-5 and no two vars within 10x the
    # float32-vs-float64 error (p = softmax near 1 leaves vars of 1e-10 at float32's resolution).
    ok_att = np.array([g is not None and g > 1e-5 for g in gap_att])
    cond = conditioning(qs, *ref_mc(model64, x, y, a, order, SEED, MC), qp,
                        lambda rel: ok_att & (np.array([g or 0.0 for g in gap_var]) > 10 * rel))
    cond.update(adjacent_rel_gap_att=gap_att, adjacent_rel_gap_var=gap_var,
                exactly_zero_vars_per_input=[int(v) for v in (qp[..., 1] == 0).sum(1)])
    return {"scores": (qs, np.float64, "per-input Spearman(att, var) [N]"),
            "pairs": (qp, np.float64, "[N, steps, 2]: (sum of |normalised map| over the step's 28 features, "
                                     "mean_s (p_y(x_s) - p_y(x))^2 / p_y(x)^2), p = softmax")}, diffs(qs, rs, qp, rp), cond


def run_road(model, model64, x, y, a, subs, stable):
    order = np.argsort(-quantus_keys(a)["road"], 1, kind="stable" if stable else None)
    with argsort_mode(q_road_mod, stable):
        qc, qimp, qret = quantus_road(model, x, y, a, N, order)
    rimp = ref_road_imputed(x, order, SEED, ROAD)
    flat = (-1,) + x.shape[1:]
    qlg, rlg, lg64 = (forward(m, v.reshape(flat)).reshape(N, len(ROAD["percentages"]), -1)
                      for m, v in ((model, qimp), (model, rimp), (model64, qimp)))
    assert np.array_equal(qlg.argmax(-1) == y[:, None], qc.astype(bool)) and np.allclose(qret, qc.mean(0))
    cross = {"scores": float(np.abs(qc - (rlg.argmax(-1) == y[:, None])).max()),
             "imputed_values": float(np.abs(qimp - rimp).max()), "logits / max": float(np.abs(qlg - rlg).max() / np.abs(rlg).max())}
    top2 = np.sort(qlg, -1)[..., -2:]
    margin = (top2[..., 1] - top2[..., 0]).min(1)
    d64 = np.abs((lg64.argmax(-1) == y[:, None]) - qc).max(1)
    cond = {"float64_model_curve_abs_diff_per_input": d64.tolist(),
            "float64_model_logits_max_abs_diff": float(np.abs(lg64 - qlg).max()),
            "min_top1_minus_top2_logit_per_input": margin.tolist(),
            "robust_inputs": [int(i) for i in np.flatnonzero((d64 == 0) & (margin > 1e-4))]}
    return {"scores": (qc, np.float64, "[N, P]: 1 if argmax f(x with its top p% imputed) == y, else 0"),
            "logits": (qlg, np.float32, "[N, P, classes]: torch logits of Quantus's imputed inputs"),
            "imputed_x0": (qimp[0, list(ROAD_SAVED_J)], np.float32,
                           f"[2, C, H, W]: Quantus's imputed input 0 at percentage indices {list(ROAD_SAVED_J)}")}, cross, cond


SPEC = {
    "faithfulness_correlation": dict(
        metric="quantus.FaithfulnessCorrelation", run=run_fc, softmax=False, f="logits[y]",
        params=all_params(quantus.FaithfulnessCorrelation, FC, similarity_func="correlation_pearson (recording its inputs)",
                          perturb_func="batch_baseline_replacement_by_indices (checking its inputs)"),
        randomness="subset of input i, run r: glimpse's subset(seed, 0x5EED000000000002, i, r, D, 224) (draw order), "
                   "returned by np.random.choice(D, 224, replace=False)"),
    "monotonicity_correlation": dict(
        metric="quantus.MonotonicityCorrelation", run=run_mc, softmax=True, f="softmax(logits)[y], float32",
        params=all_params(quantus.MonotonicityCorrelation, MC, uniform_low=0.0, uniform_high=1.0,
                          similarity_func="correlation_spearman (recording its inputs)",
                          perturb_func="batch_baseline_replacement_by_indices, np.random.uniform giving glimpse's values"),
        randomness="baseline of input i, step j, sample s: uniform() of stream(seed, 0x5EED000000000003, i, "
                   "j * nr_samples + s), first draw; one value per input per perturbation call (cast to float32)"),
    "road": dict(
        metric="quantus.ROAD", run=run_road, softmax=True, f="argmax of softmax(logits)",
        params=all_params(quantus.ROAD, ROAD, perturb_func="noisy_linear_imputation, np.random.randn giving "
                                                           "glimpse's noise / 0.01"),
        randomness="input i, percentage index j: gaussian_noise(seed, i, j, C*k, 0.01); value c*k + t for channel c "
                   "and the t-th index of Quantus's indices (descending map); imputed = float32(solution_f64 + noise)"),
}


def run_configs(case, model, model64, x, y, maps, files, subs, info):
    out = []
    fields = {"case": case, "model": info["onnx"], "inputs": f"{info['inputs']['path']}[0:{N}]"}
    for mname in MAPS:
        a, keys = maps[mname], quantus_keys(maps[mname])
        for metric, spec in SPEC.items():
            t0 = time.time()
            ties = tie_report(metric, keys[metric], a) if metric in keys else None
            dep = bool(ties and ties["result_depends_on_tie_order"])
            cfg = dict(case=case, config=metric, **{k: v for k, v in spec.items() if k != "run"}, maps=mname,
                       maps_file=files[mname], N=N, files={}, cross_check_max_diff={}, conditioning={})
            for stable in [False] + [True] * dep:
                sfx = "_stable" if stable else ""
                what = " (Quantus with a stable np.argsort: exact ties in index order)" if stable else ""
                arrays, cross, cond = spec["run"](model, model64, x, y, a, subs, stable)
                assert max(cross.values()) <= TOL, (case, mname, metric, sfx, cross)
                for name, (arr, dtype, role) in arrays.items():
                    rel = f"{case}_{mname}_{metric}{sfx}" + ("" if name == "scores" else f"_{name}") + ".npy"
                    cfg["files"][name + sfx] = save(rel, arr, dtype, role=role + what, config=metric, maps=mname, **fields)
                cfg["cross_check_max_diff"][sfx[1:] or "quantus"] = cross
                cfg["conditioning"][sfx[1:] or "quantus"] = cond
            if dep:
                q, st = (np.load(gc.p(cfg["files"][k])) for k in ("scores", "scores_stable"))
                ties["default_vs_stable_scores_max_abs_diff_per_input"] = np.abs(q - st).reshape(N, -1).max(1).tolist()
            cfg["tie_report"] = ties or "not applicable: random subsets, no ranking"
            cfg["glimpse_compare"] = ("the *_stable files (Quantus's default order of exact ties changes the result)"
                                      if dep else "the Quantus files (no tie can change the result)")
            out.append(cfg)
            print(f"  {case}/{mname}/{metric} {time.time() - t0:.1f}s ties matter {dep}, cross-check "
                  f"{cfg['cross_check_max_diff']}, robust {[c['robust_inputs'] for c in cfg['conditioning'].values()]}")
    return out


def batch_dependence(model, x, y, a, subs):
    """Quantus normalises the whole a_batch by one max (general_preprocess, before batching); the
    metrics are invariant to a positive scale per input. Check: per-input rescaled maps, and
    batch_size 4 instead of N, give the same per-input results."""
    scale = np.array([0.3, 5.0, 1.7, 0.01, 42.0, 1.0, 0.77, 3.3], np.float32)[:, None, None, None]

    def three(aa, bs):
        k = quantus_keys(aa)
        road = quantus_road(model, x, y, aa, bs, np.argsort(-k["road"], 1))
        return (quantus_fc(model, x, y, aa, bs, subs)[0],
                quantus_mc(model, x, y, aa, bs, np.argsort(k["monotonicity_correlation"], 1))[0], road[0], road[2])

    base, scaled, bs4 = three(a, N), three(a * scale, N), three(a, 4)
    names = ("faithfulness_correlation", "monotonicity_correlation", "road_curve")
    res = {"case": "lenet_mnist", "maps": "saliency", "per_input_scale": scale.ravel().tolist(),
           "scaled_max_abs_diff": {n: float(np.abs(u - v).max()) for n, u, v in zip(names, base, scaled)},
           "batch_size_4_max_abs_diff": {n: float(np.abs(u - v).max()) for n, u, v in zip(names, base, bs4)}}
    # batch_size 4 moves float32 logits by rounding only (other conv blocking): allow 1e-6.
    assert max(res["scaled_max_abs_diff"].values()) < 1e-6 and max(res["batch_size_4_max_abs_diff"].values()) < 1e-6
    quirk = {"returned_batch_size_8": base[3].tolist(), "returned_batch_size_4": bs4[3].tolist(),
             "mean_of_inputs_0_3": base[2][:4].mean(0).tolist(), "mean_of_all_8": base[2].mean(0).tolist()}
    return res, quirk


def main():
    t_start = time.time()
    gc.setup()
    torch.set_num_threads(1)  # 2 threads on 2 shared cores is 20-100x slower for these tiny batches
    os.makedirs(OUT, exist_ok=True)
    versions = {"quantus": quantus.__version__, "torch": torch.__version__, "numpy": np.__version__,
                "scipy": scipy.__version__, "python": platform.python_version()}
    print("versions:", versions)
    rng_check = rng_self_check()
    subs = fc_subsets(N, FC["nr_runs"], 784, FC["subset_size"])
    cases, configs = {}, []
    for case in CASE_NAMES:
        model, x, y, info = load_case(case)
        model64 = copy.deepcopy(model).double()
        maps = gq.gradient_maps(model, x, y)
        info["files"], info["vs_golden_quantus_maps_sliced"] = {}, {}
        for mname in MAPS:
            desc = "|d logit_y / dx|" if mname == "saliency" else "x * d logit_y / dx"
            info["files"][mname] = save(f"{case}_{mname}.npy", maps[mname], np.float32, case=case, model=info["onnx"],
                                        role=f"map {mname} = {desc} (float32, torch autograd, one backward of "
                                             f"sum_i logit[i, y_i] over the 8 inputs)")
            old = np.load(gc.p(f"assets/golden/quantus/{case}_{mname}.npy"))[:N]  # from a batch of 16
            info["vs_golden_quantus_maps_sliced"][mname] = {"identical": bool(np.array_equal(old, maps[mname])),
                                                            "max_abs_diff": float(np.abs(old - maps[mname]).max())}
        cases[case] = info
        configs += run_configs(case, model, model64, x, y, maps, info["files"], subs, info)
        if case == "lenet_mnist":
            batch_check, road_quirk = batch_dependence(model, x, y, maps["saliency"], subs)
            print("  batch dependence:", batch_check)
    quirks = peer_quirks(road_quirk)
    print("  peer quirks:", json.dumps(quirks)[:3000])
    doc = {"script": SCRIPT, "versions": versions, "seed": SEED, "torch_threads": torch.get_num_threads(),
           "rng": "glimpse's SplitMix64 streams (src/rng.rs, src/explain/gradient/noise.rs); salts: ROAD noise "
                  "0x5EED000000000000, subsets 0x5EED000000000002, MC baselines 0x5EED000000000003",
           "rng_check": rng_check, "cases": cases, "configs": configs, "batch_dependence": batch_check,
           "peer_quirks": quirks, "tolerance_of_cross_check": TOL,
           "normalise": "normalise_by_max over the WHOLE a_batch of the call (general_preprocess, before batching)"}
    path = os.path.join(OUT, "configs.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"  wrote {REL}/configs.json {os.path.getsize(path)} B")
    man = gc.Manifest(SCRIPT)  # re-read now (other scripts edit it); replaces only this script's entries
    man.data["files"].update(ENTRIES)
    man.write()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"  {REL}: {total / 1e3:.0f} kB; done in {time.time() - t_start:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
