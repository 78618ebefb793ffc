#!/usr/bin/env python3
"""Concept-atlas goldens from zennit-crp's FeatureVisualization (RelMax / ActMax) on LeNet.

Writes assets/golden/crp_atlas_lenet_mnist_*.npy (+ entries in assets/golden/manifest.json).
See assets/golden/README.md ("zennit-crp concept atlas").

FeatureVisualization.run ranks the 64 digits (mnist_test_x[0:64], target = predicted class) per
channel of conv2 and fc1 by the channel sum of the relevance (RelMax) / activation (ActMax) at the
module output, each row normalised by sum_c |.| + 1e-10 (max_target="sum", abs_norm=True). Every
ranking is recomputed without zennit-crp (zennit EpsilonPlusFlat + own tensor hooks, all 64 digits
in one batch), as are the receptive-field reference heatmaps of get_max_reference(rf=True).
"""

import os
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

import golden_common as gc
import glimpse_models as gm
from golden_crp import LIBS, epsilon_plus_flat, rel_diff

from crp.attribution import CondAttribution
from crp.concepts import ChannelConcept
from crp.helper import load_maximization
from crp.visualization import FeatureVisualization

SCRIPT = "scripts/golden_crp_atlas.py"
DTYPE = torch.float64
N, K, BATCH = 64, 8, 16
LAYERS = ("conv2", "fc1")
NODES = {"conv2": "/conv2/Conv", "fc1": "/fc1/Gemm"}
MODES = {"rel": "relevance", "act": "activation"}
REF_CHANNELS, REF_RANGE = [0, 3, 8], (0, 4)
TIE_TOL = 1e-7
ONNX, XFILE = "assets/models/lenet_mnist.onnx", "assets/data/mnist_test_x.npy"


class Digits(torch.utils.data.Dataset):
    """(x_i [1,28,28] float64, predicted class of digit i)."""

    def __init__(self, x, targets):
        self.x, self.t = x, targets

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.t[i])


def load():
    model = gm.lenet_from_onnx(gc.p(ONNX)).to(DTYPE).eval()
    x = torch.from_numpy(np.load(gc.p(XFILE))[:N]).to(DTYPE)
    ref = np.load(gc.p("assets/reference/lenet_mnist_logits.npy"))[:N]
    with torch.no_grad():
        logits = model(x)
    d = float(np.abs(logits.numpy() - ref).max())
    assert d < 1e-5, d
    pred = logits.argmax(1)
    assert np.array_equal(pred.numpy(), ref.argmax(1))
    return model, x, pred, d


# ---------------------------------------------------------------------------
# zennit-crp
# ---------------------------------------------------------------------------

def run_crp(model, x, pred, path):
    fv = FeatureVisualization(CondAttribution(model), Digits(x, pred),
                              layer_map={n: ChannelConcept() for n in LAYERS},
                              max_target="sum", abs_norm=True, path=path)
    fv.run(epsilon_plus_flat("lenet_mnist"), 0, N, batch_size=BATCH, checkpoint=500)
    res = {}
    for layer in LAYERS:
        for m, mode in MODES.items():
            pth = fv.RelMax.PATH if mode == "relevance" else fv.ActMax.PATH
            d, v, rf = (np.array(a) for a in load_maximization(pth, layer))
            res[layer, m] = (d, v, rf)
    _, heat = zip(*(fv.get_max_reference([c], "conv2", "relevance", REF_RANGE, composite=epsilon_plus_flat("lenet_mnist"),
                                          rf=True, plot_fn=None)[c] for c in REF_CHANNELS))
    return res, torch.stack(heat)  # [3, 4, 28, 28]


# ---------------------------------------------------------------------------
# Independent check (no zennit-crp)
# ---------------------------------------------------------------------------

def layer_maps(model, x, pred):
    """{layer: (relevance, activation)} at the module output tensors, one batch of all digits;
    relevance = grad under EpsilonPlusFlat of one_hot(pred) * logit."""
    mods, acts, rels, hs = dict(model.named_modules()), {}, {}, []

    def fwd(name):
        def h(module, inp, out):
            acts[name] = out.detach().clone()
            out.register_hook(lambda g: rels.__setitem__(name, g.detach().clone()))
        return h
    hs = [mods[n].register_forward_hook(fwd(n)) for n in LAYERS]
    xx = x.clone().requires_grad_(True)
    try:
        with epsilon_plus_flat("lenet_mnist").context(model) as m:
            out = m(xx)
            torch.autograd.backward(out, F.one_hot(pred, 10).to(out) * out.detach())
    finally:
        for h in hs:
            h.remove()
    return {n: (rels[n], acts[n]) for n in LAYERS}


def concept_values(t):
    """ChannelConcept.reference_sampling(max_target='sum', abs_norm=True), before sorting."""
    flat = t.reshape(t.shape[0], t.shape[1], -1)
    v = flat.sum(-1)
    return v / (v.abs().sum(-1, keepdim=True) + 1e-10), flat.argmax(-1)


def tied(vals):
    """[N, C] bool: the value equals another value of the same channel within TIE_TOL."""
    d = (vals[:, None, :] - vals[None, :, :]).abs() <= TIE_TOL
    d &= ~torch.eye(vals.shape[0], dtype=torch.bool)[:, :, None]
    return d.any(1)


def rf_heatmap(model, x, c, flat):
    """Seed = activation of conv2 at (channel c, flat neuron index), zero elsewhere; EpsilonPlusFlat to the input."""
    outs = {}
    h = model.conv2.register_forward_hook(lambda mod, i, o: outs.__setitem__("a", o))
    xx = x.clone().requires_grad_(True)
    try:
        with epsilon_plus_flat("lenet_mnist").context(model) as m:
            m(xx)
            a = outs["a"]
            mask = torch.zeros_like(a).flatten(2)
            mask[torch.arange(len(x)), c, torch.as_tensor(flat)] = 1.0
            torch.autograd.backward(a, a.detach() * mask.view_as(a))
    finally:
        h.remove()
    return xx.grad.detach().sum(1)


def check_layer(crp_res, vals, rfs):
    """Compare zennit-crp's top K with the own ranking of all N digits."""
    d, v, rf = crp_res
    order = torch.argsort(vals, dim=0, descending=True, stable=True)
    mine_d, mine_v = order[:K].numpy(), torch.gather(vals, 0, order[:K]).numpy()
    tie = tied(vals)
    crp_d = torch.from_numpy(d[:K].astype(np.int64))
    tie_k = torch.gather(tie, 0, crp_d).numpy()
    # values at zennit-crp's own indices, and at the same rank
    own_at_crp = torch.gather(vals, 0, crp_d).numpy()
    v_rel = float(np.abs(own_at_crp - v[:K]).max() / np.abs(v[:K]).max())
    rank_rel = float(np.abs(mine_v - v[:K]).max() / np.abs(v[:K]).max())
    rf_own = torch.gather(rfs, 0, crp_d).numpy()
    gap = (torch.gather(vals, 0, crp_d)[:, None, :] - vals[None]).abs()  # [K, N, C]
    gap = float(gap[gap > TIE_TOL].min())  # smallest distance of a top-K value to a distinct value
    idx_mismatch = int((mine_d != d[:K]).sum())
    idx_mismatch_untied = int(((mine_d != d[:K]) & ~tie_k).sum())
    # for a tied block, zennit-crp's indices must be among the own tied candidates of the same value
    tie_order = []
    for r, c in zip(*np.nonzero(tie_k)):
        tie_order.append((int(c), int(r), int(d[r, c])))
    return dict(values_rel_diff_at_crp_indices=v_rel, values_rel_diff_same_rank=rank_rel,
                indices_mismatch=idx_mismatch, indices_mismatch_untied=idx_mismatch_untied,
                rf_mismatch=int((rf_own != rf[:K]).sum()), rows_returned=int(d.shape[0]),
                min_gap_to_distinct_value=gap, tied_entries=int(tie_k.sum()), tied_channels=sorted({c for c, _, _ in tie_order})), tie_k, tie_order


def save_raw(man, rel, arr, dtype, **fields):
    e = gc.save_npy(os.path.join(gc.GOLDEN, rel), arr, dtype, SCRIPT, **fields)
    man.data["files"][f"assets/golden/{rel}"] = e
    print(f"  wrote assets/golden/{rel} {tuple(e['shape'])} {e['dtype']}")
    return e


def main():
    t0 = time.time()
    gc.setup()
    model, x, pred, dlog = load()
    with tempfile.TemporaryDirectory() as tmp:
        res, heat = run_crp(model, x, pred, tmp)
    maps = layer_maps(model, x, pred)
    man = gc.Manifest(SCRIPT)
    common = {"library": LIBS, "computed_in": "float64", "model": "lenet_mnist", "onnx": ONNX,
              "inputs": f"{XFILE}[0:{N}]", "dataset_index": "row i of the inputs (0..63)",
              "targets": pred.tolist(), "target_rule": "predicted class (argmax of the logits) of each digit",
              "composite": "epsilon_plus_flat (as golden_crp.py)",
              "method": "zennit-crp FeatureVisualization(max_target='sum', abs_norm=True).run(composite, 0, 64, "
                        "batch_size=16); crp.helper.load_maximization, top 8 rows"}
    summary, ties_all = {}, {}
    for layer in LAYERS:
        rel, act = maps[layer]
        for m, mode in MODES.items():
            vals, rfs = concept_values(rel if m == "rel" else act)
            chk, tie_k, tie_order = check_layer(res[layer, m], vals, rfs)
            d, v, rf = (a[:K] for a in res[layer, m])
            tie_vals = {c: sorted({float(vals[i, c]) for _, _, i in [t for t in tie_order if t[0] == c]})
                        for c in chk["tied_channels"]}
            chk["tied_values_per_channel"] = {str(c): vv for c, vv in tie_vals.items()}
            summary[f"{layer}_{m}"] = chk
            ties_all[f"{layer}_{m}"] = tie_order
            print(f"  {layer} {m}: " + str({k: v for k, v in chk.items() if 'tied_' not in k}) + f" tied {chk['tied_entries']}")
            assert chk["values_rel_diff_at_crp_indices"] < 1e-6 and chk["values_rel_diff_same_rank"] < 1e-6, chk
            assert chk["indices_mismatch_untied"] == 0 and chk["rf_mismatch"] == 0, chk
            what = (f"{mode} at {NODES[layer]} output ({'pre-ReLU activation' if m == 'act' else 'relevance = grad of the output tensor'}"
                    "); per channel: sum over positions / (sum over channels of |.| + 1e-10); row r = rank r (descending)")
            f = dict(common, node=NODES[layer], crp_layer=layer, mode=mode, what=what, check=chk,
                     check_rule="own: zennit EpsilonPlusFlat + tensor hooks on all 64 digits in one batch, ranked by "
                                "torch.argsort(descending, stable); indices must match where not tied; values 1e-6 rel")
            stem = f"crp_atlas_lenet_mnist_{layer}_{m}"
            save_raw(man, f"{stem}_indices.npy", d, np.int64, **f, field="dataset index of the rank-r digit, [8, C]")
            man.save_array(f"{stem}_values.npy", v, **f, field="normalised channel value of the rank-r digit, [8, C]")
            save_raw(man, f"{stem}_rf.npy", rf, np.int64, **f,
                     field="argmax over positions of the channel's map of that digit (flat y*W+x; 0 for fc1), [8, C]")
            save_raw(man, f"{stem}_tied.npy", tie_k, np.bool_, **f,
                     field=f"True where the value equals another of the 64 digits' values of that channel within "
                           f"{TIE_TOL} (abs): the order there is zennit-crp's tie order, not a ranking")
    # receptive-field reference heatmaps (conv2, relevance, channels REF_CHANNELS, ranks 0-3)
    d, _, rf = res["conv2", "rel"]
    own = torch.stack([rf_heatmap(model, x[torch.from_numpy(d[slice(*REF_RANGE), c].astype(np.int64))], c,
                                  rf[slice(*REF_RANGE), c].astype(np.int64)) for c in REF_CHANNELS])
    hd = rel_diff(heat.double(), own)
    print(f"  refheat: max|crp - own| / max|crp| = {hd:.2e}, shape {tuple(heat.shape)}")
    assert hd < 1e-6, hd
    man.save_array("crp_atlas_lenet_mnist_conv2_rel_refheat.npy", heat.numpy(), **common, node="/conv2/Conv",
                   crp_layer="conv2", mode="relevance", channels=REF_CHANNELS, r_range=list(REF_RANGE),
                   data_indices=[[int(i) for i in d[slice(*REF_RANGE), c]] for c in REF_CHANNELS],
                   rf_neurons=[[int(i) for i in rf[slice(*REF_RANGE), c]] for c in REF_CHANNELS],
                   what="fv.get_max_reference(c, 'conv2', 'relevance', (0, 4), composite, rf=True, plot_fn=None) "
                        "heatmaps, [channel, rank, 28, 28] (channel-major): start at conv2's output, seed = activation "
                        "at the rank-r digit's rf neuron (channel c, flat index rf) and 0 elsewhere, EpsilonPlusFlat "
                        "to the input, summed over input channels",
                   check_max_rel_diff=hd)
    man.write({"zennit_crp_atlas": {"versions": LIBS, "n_digits": N, "top_k": K, "batch_size": BATCH,
                                    "max_abs_logit_diff_vs_onnxruntime_float64": dlog, "checks": summary,
                                    "refheat_max_rel_diff": hd,
                                    "tie_order": "zennit-crp keeps per batch torch.argsort(descending) of the batch, then "
                                                 "cat([new, kept]) and torch.flip(torch.argsort(ascending)) (default, "
                                                 "unstable), once more in collect_results; simulating that with "
                                                 "stable=False reproduces the stored tie order, stable=True does not: "
                                                 "the order of equal values depends on batch size and torch's sort"}})
    for k, t in ties_all.items():
        if t:
            print(f"  ties {k}: (channel, rank, crp index) {t}")
    print(f"golden_crp_atlas.py done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
