"""The independent re-implementation of golden_faithfulness.py's Quantus results: numpy / scipy.

FaithfulnessCorrelation (ref_fc), MonotonicityCorrelation (ref_mc) and ROAD's imputation
(ref_road_imputed), from glimpse's numbers (glimpse_noise.py under `seed`) and the metric's
settings; golden_faithfulness.py asserts Quantus equal to these to 1e-6 and runs them on the
float64 model for the conditioning.
"""

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

import glimpse_noise as gn


def forward(model, x, softmax=False):
    """Scores [n, classes] (float64) of the model in its own dtype; softmax as Quantus's appended
    torch.nn.Softmax(dim=-1), in the model's dtype."""
    with torch.no_grad():
        z = model(torch.from_numpy(np.ascontiguousarray(x)).to(next(model.parameters()).dtype))
        return (torch.softmax(z, -1) if softmax else z).numpy().astype(np.float64)


def pearson(a, b):
    a, b = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def avg_ranks(v):
    """Ranks 1..n, ties get their average rank (as scipy's spearmanr)."""
    o = np.argsort(v, kind="stable")
    s = v[o]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    r = np.empty(len(v))
    for st, en in zip(starts, np.r_[starts[1:], len(s)]):
        r[o[st:en]] = (st + en + 1) / 2.0
    return r


def spearman(a, b):
    return np.array([pearson(avg_ranks(u), avg_ranks(v)) for u, v in zip(a, b)])


def ref_fc(model, x, y, a, subs):
    """Per-input Pearson(att_sum, pred_delta) and the pairs [N, runs, 2], subsets `subs` [N, runs, k]."""
    n, ar = len(x), np.arange(len(x))
    key = a.reshape(n, -1).astype(np.float64) / np.abs(a).max()  # Quantus: one max over the whole a_batch
    xf = x.reshape(n, -1)
    f0 = forward(model, x)[ar, y]
    sums, deltas = [], []
    for r in range(subs.shape[1]):
        xp = xf.copy()
        xp[ar[:, None], subs[:, r]] = xf.min(1, keepdims=True)  # "black" = min of the input
        deltas.append(f0 - forward(model, xp.reshape(x.shape))[ar, y])
        sums.append(key[ar[:, None], subs[:, r]].sum(1))
    pairs = np.stack([np.stack(sums, 1), np.stack(deltas, 1)], -1)
    return pearson(pairs[..., 0], pairs[..., 1]), pairs


def ref_mc(model, x, y, a, order, seed, mc):
    """Per-input Spearman(att, var) and the pairs [N, steps, 2]; `order` ascending, `mc` the
    MonotonicityCorrelation settings (nr_samples, features_in_step, eps; baseline "uniform")."""
    n, ns, fs, ar = len(x), mc["nr_samples"], mc["features_in_step"], np.arange(len(x))
    key = np.abs(a.reshape(n, -1).astype(np.float64)) / np.abs(a).max()
    xf = x.reshape(n, -1)
    p0 = forward(model, x, True)[ar, y]
    inv = np.where(np.abs(p0) >= mc["eps"], 1.0 / np.abs(p0), 1.0) ** 2
    atts, var = [], []
    for j in range(-(-xf.shape[1] // fs)):
        idx = order[:, j * fs:(j + 1) * fs]
        ps = []
        for s in range(ns):
            xp = xf.copy()
            baseline = gn.uniform_value(seed, gn.BASELINES, ar, j * ns + s, 0.0, 1.0)
            xp[ar[:, None], idx] = baseline[:, None]  # float32, as Quantus's copy
            ps.append(forward(model, xp.reshape(x.shape), True)[ar, y])
        var.append(np.mean((np.stack(ps, 1) - p0[:, None]) ** 2, 1) * inv)
        atts.append(key[ar[:, None], idx].sum(1))
    pairs = np.stack([np.stack(atts, 1), np.stack(var, 1)], -1)
    return spearman(pairs[..., 0], pairs[..., 1]), pairs


NEIGHBOURS = [((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
              ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6)]


def impute(x, removed, noise):
    """x [C, H, W] with pixels `removed` (flat H*W) set to the weighted mean of their in-image
    neighbours, unknowns solved jointly (sum_q w (v_p - v_q) = 0), + noise[c*k + t]; f64, then f32."""
    c, h, w = x.shape
    k = len(removed)
    var = np.full(h * w, -1)
    var[removed] = np.arange(k)
    py, px = np.divmod(removed, w)
    xf = x.reshape(c, -1).astype(np.float64)
    diag, b = np.zeros(k), np.zeros((k, c))
    rows, cols, vals = [np.arange(k)], [np.arange(k)], []
    for (dy, dx), wt in NEIGHBOURS:
        qy, qx = py + dy, px + dx
        ok = (qy >= 0) & (qx >= 0) & (qy < h) & (qx < w)
        q = np.where(ok, qy * w + qx, 0)
        diag[ok] += wt
        unknown, known = ok & (var[q] >= 0), ok & (var[q] < 0)
        rows.append(np.flatnonzero(unknown))
        cols.append(var[q[unknown]])
        vals.append(np.full(unknown.sum(), -wt))
        b[known] += wt * xf[:, q[known]].T
    A = scipy.sparse.csc_matrix((np.concatenate([diag] + vals), (np.concatenate(rows), np.concatenate(cols))), (k, k))
    xf[:, removed] = scipy.sparse.linalg.splu(A).solve(b).T + noise.reshape(c, k)
    return xf.astype(np.float32).reshape(x.shape)


def ref_road_imputed(x, order, seed, road):
    """[N, P, C, H, W]: each input with its top p % (`order` descending) imputed, for the ROAD
    settings `road` (percentages, noise σ); noise of input i, percentage index j = gaussian_noise."""
    pcts = road["percentages"]
    imp = np.zeros((len(x), len(pcts)) + x.shape[1:], np.float32)
    for i in range(len(x)):
        for j, p in enumerate(pcts):
            k = int(x[i].size * p / 100)
            noise = gn.gaussian_noise(seed, [i], [j], x.shape[1] * k, road["noise"])[0]
            imp[i, j] = impute(x[i], order[i, :k], noise)
    return imp
