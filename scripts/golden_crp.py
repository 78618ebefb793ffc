#!/usr/bin/env python3
"""Concept-conditional LRP goldens from zennit-crp's CondAttribution.

Writes assets/golden/crp_*.npy (+ entries in assets/golden/manifest.json).
See assets/golden/README.md ("zennit-crp") for the semantics found here.

zennit-crp 0.6.0 pins zennit<=0.4.6, so this runs on zennit 0.4.6 (golden_zennit.py
used 0.5.1). The script first checks that the unconditioned CondAttribution result
(conditions [{"y": [target]}]) reproduces the zennit_* goldens, so the composites are
the same. Every golden is then recomputed without zennit-crp (function `mine`:
zennit composite + our own tensor hooks / partial backward) and the relative max
difference is stored as `check_max_rel_diff`.
"""

import contextlib
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import golden_common as gc
import glimpse_models as gm
from zennit_canonizers import ExactSequentialMergeBatchNorm

import zennit
import crp
from importlib.metadata import version
from crp.attribution import CondAttribution
from crp.concepts import ChannelConcept
from zennit.composites import LAYER_MAP_BASE, EpsilonPlusFlat, LayerMapComposite, SpecialFirstLayerMapComposite
from zennit.rules import Epsilon, Flat, Pass, ZPlus
from zennit.types import BatchNorm, Convolution, Linear as ZLinear

SCRIPT = "scripts/golden_crp.py"
DTYPE = torch.float64
LIBS = {"zennit": version("zennit"), "zennit-crp": version("zennit-crp"), "torch": torch.__version__}


# zennit 0.5.1's layer_map_base (used by the zennit_* goldens) gives BatchNorm the Pass rule;
# zennit 0.4.6's LAYER_MAP_BASE has no BatchNorm entry, so the unmerged bn_final would get the
# plain gradient (x gamma/sqrt(var+eps)) and the stock 0.4.6 EpsilonPlusFlat differs from
# zennit_resnet_fashion_epsilon_plus_flat.npy by 1.9x its max. Rebuild the composites with Pass on
# BatchNorm (the merged BNs are exact identities with eps=0, so Pass = gradient there).
BASE_MAP = LAYER_MAP_BASE + [(BatchNorm, Pass())]


def epsilon_plus_flat(mname):
    canon = [ExactSequentialMergeBatchNorm()] if mname == "resnet_fashion" else None
    return SpecialFirstLayerMapComposite(BASE_MAP + [(Convolution, ZPlus()), (torch.nn.Linear, Epsilon())],
                                         [(ZLinear, Flat())], canonizers=canon)


COMPOSITES = {  # key -> model -> fresh composite (a composite holds hooks: never share one between runs)
    "epsilon_plus_flat": epsilon_plus_flat,
    "epsilon_plus": lambda m: LayerMapComposite(BASE_MAP + [(Convolution, ZPlus()), (torch.nn.Linear, Epsilon())]),
    "gradient": lambda m: None,
}
NODES = {  # module name -> ONNX node whose output tensor the mask multiplies
    "conv1": "/conv1/Conv", "conv2": "/conv2/Conv", "fc1": "/fc1/Gemm",
    "block1.conv2": "/block1/conv2/Conv", "block2.conv2": "/block2/conv2/Conv",
}
ONNX_NOTE = {"resnet_fashion": "the masked tensor is the output of the BN-merged conv, i.e. of /block2/conv2/Conv "
                               "(/block1/conv2/Conv) in resnet_fashion_folded.onnx = the output of /block2/bn2 "
                               "(/block1/bn2) BatchNormalization in resnet_fashion.onnx"}


def load(mname, dtype):
    model, x, targets, info = gc.load_case(mname, dtype)
    if mname == "resnet_fashion":
        gm.attach_zennit_sum(model)  # residual Add as zennit Sum -> Norm rule, as in golden_zennit.py
    return model, x, targets, info


# ---------------------------------------------------------------------------
# zennit-crp
# ---------------------------------------------------------------------------

def run_crp(model, x, conds, composite, record=(), mask_map=ChannelConcept.mask, start=None, init_rel=None,
            exclude=True):
    """x has one row per condition already (input-major), so CondAttribution does not broadcast
    (it could not anyway: 'y' differs per input). Returns (data.grad, attrResult)."""
    data = x.clone().requires_grad_(True)
    attr = CondAttribution(model)(data, conds, composite, record_layer=list(record), mask_map=mask_map,
                                  start_layer=start, init_rel=init_rel, exclude_parallel=exclude)
    grad = data.grad.detach().clone()
    # CondAttribution's heatmap = data.grad summed over dim 1; with 1 input channel that is data.grad[:, 0]
    assert torch.equal(attr.heatmap, grad.sum(1)) and torch.equal(attr.heatmap, grad[:, 0])
    return grad, attr


# ---------------------------------------------------------------------------
# Independent check: zennit composite + our own hooks (no zennit-crp code)
# ---------------------------------------------------------------------------

def mine(model, x, composite, masks, seed_fn, start=None, chain=(), record=(), mask_start=True):
    """masks: {module: 0/1 tensor shaped like its output}. Without `chain`, the relevance
    (= grad under the composite) at each masked module's output is multiplied by its mask
    by a tensor hook. With `chain` (exclude_parallel) the masked layers are visited in order
    by autograd.grad (mask applied explicitly), and the backward is continued from the
    last one only, so relevance that bypasses a conditioned layer is dropped.
    start: begin at this module's output with seed_fn(its activation) (masked iff
    mask_start). Returns (input grad, recorded grads {module: grad}, grads at the masked
    layers before/after the mask {module: (pre, post)})."""
    mods, outs, rec, at_mask = dict(model.named_modules()), {}, {}, {}
    def keep(store, name):
        def h(g):
            store[name] = g.detach().clone()
        return h

    def fwd(name):
        def h(module, inp, out):
            outs[name] = out
            if name in masks and name not in chain and name != start:
                out.register_hook(keep(at_mask, name + ".pre"))
                out.register_hook(lambda g, m=masks[name]: g * m)
                out.register_hook(keep(at_mask, name + ".post"))
            if name in record:
                out.register_hook(keep(rec, name))
        return h

    names = set(masks) | set(record) | ({start} if start else set())
    handles = [mods[n].register_forward_hook(fwd(n)) for n in names]
    xx = x.clone().requires_grad_(True)
    ctx = composite.context(model) if composite is not None else contextlib.nullcontext(model)
    try:
        with ctx as m:
            out = m(xx)
            root = outs[start] if start else out
            g = seed_fn(root.detach())
            if start in masks and mask_start:
                g = g * masks[start]
            for name in chain:
                pre = torch.autograd.grad(root, outs[name], g, retain_graph=True)[0]
                g = pre * masks[name]
                at_mask[name + ".pre"], at_mask[name + ".post"] = pre.detach(), g.detach()
                root = outs[name]
            torch.autograd.backward(root, g)
    finally:
        for h in handles:
            h.remove()
    return xx.grad.detach(), rec, at_mask


def channel_masks(model, x, conds, rf=False):
    """0/1 mask per conditioned module, one row per condition (= ChannelConcept.mask / mask_rf)."""
    outs = {}
    mods = dict(model.named_modules())
    names = sorted({k for c in conds for k in c if k != "y"})
    hs = [mods[n].register_forward_hook(lambda mod, i, o, n=n: outs.__setitem__(n, o.detach())) for n in names]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    masks = {n: torch.zeros_like(outs[n]) for n in names}
    for i, c in enumerate(conds):
        for n in names:
            if n not in c:
                masks[n][i] = 1.0  # no condition on this layer for this row: CRP registers no mask for it
            elif rf:
                flat = masks[n][i].view(masks[n].shape[1], -1)  # neuron index = y * W + x within the channel
                for ch, idx in c[n].items():
                    flat[ch, idx] = 1.0
            else:
                masks[n][i, c[n]] = 1.0
    return masks


def rel_diff(a, b):
    return float((a - b).abs().max() / a.abs().max().clamp(min=1e-300))


def per_item(a, b):
    return [rel_diff(a[i].double(), b[i].double()) for i in range(a.shape[0])]


def logit_seed(targets, ones=False):
    """CRP's relevance_init with 'y' conditions: the target logit (or 1 with init_rel=1) at the target, 0 elsewhere."""
    return lambda out: F.one_hot(targets, out.shape[1]).to(out) * (1.0 if ones else out)


# ---------------------------------------------------------------------------

def conv2_neuron(model, x, c=3, pref=(5, 4)):
    """(C, Y, X) of conv2 (pre-ReLU) with positive activation for every input in x: `pref` if it
    qualifies, else the position maximising the minimum activation over the inputs."""
    with torch.no_grad():
        a = model.conv2(model.pool1(model.relu1(model.conv1(x))))[:, c]
    if bool((a[:, pref[0], pref[1]] > 0).all()):
        return (c, *pref), tuple(a.shape[1:])
    yx = int(a.min(0).values.flatten().argmax())
    return (c, yx // a.shape[2], yx % a.shape[2]), tuple(a.shape[1:])


def sanity_vs_zennit_goldens(res):
    """CondAttribution with only 'y' conditions under zennit 0.4.6 == the zennit_* goldens (zennit 0.5.1)."""
    out = {}
    for mname, key in (("lenet_mnist", "epsilon_plus_flat"), ("lenet_mnist", "epsilon_plus"),
                       ("resnet_fashion", "epsilon_plus_flat")):
        model, x, t = res[mname]
        grad, _ = run_crp(model, x[:4], [{"y": [int(v)]} for v in t[:4]], COMPOSITES[key](mname))
        gold = np.load(os.path.join(gc.GOLDEN, f"zennit_{mname}_{key}.npy"))[:4]
        d = rel_diff(torch.from_numpy(gold).double(), grad)
        print(f"  sanity: CRP y-only {mname} {key} vs zennit_{mname}_{key}.npy[0:4]: {d:.1e}")
        assert d < 1e-5, d
        out[f"zennit_{mname}_{key}.npy[0:4]"] = d
    model, x, t = res["resnet_fashion"]  # what the stock 0.4.6 composite (bn_final: gradient) would give instead
    grad, _ = run_crp(model, x[:4], [{"y": [int(v)]} for v in t[:4]],
                      EpsilonPlusFlat(canonizers=[ExactSequentialMergeBatchNorm()]))
    gold = np.load(os.path.join(gc.GOLDEN, "zennit_resnet_fashion_epsilon_plus_flat.npy"))[:4]
    out["stock_zennit_0.4.6_EpsilonPlusFlat_resnet_vs_golden (not used)"] = rel_diff(torch.from_numpy(gold).double(), grad)
    return out


def build_cases(res):
    lm, lx, lt = res["lenet_mnist"]
    rm, rx, rt = res["resnet_fashion"]
    t = lambda tt, i: int(tt[i])
    cases = []

    def case(name, mname, comp, n, rows, **kw):
        idx = [i for i, _ in rows]
        cases.append(dict(name=name, mname=mname, comp=comp, n=n, idx=idx, conds=[c for _, c in rows], **kw))

    sets = [[0], [3], [5, 7]]
    case("cond_conv2", "lenet_mnist", "epsilon_plus_flat", 4,
         [(i, {"y": [t(lt, i)], "conv2": s}) for i in range(4) for s in sets], record=["conv1", "fc1"],
         completeness=True)
    case("start_conv2", "lenet_mnist", "epsilon_plus_flat", 4,
         [(i, {"conv2": [c]}) for i in range(4) for c in (0, 3)], start="conv2")
    (C, Y, X), hw = conv2_neuron(lm, lx[:2])
    flat = Y * hw[1] + X
    case("neuron_conv2", "lenet_mnist", "epsilon_plus_flat", 2,
         [(i, {"conv2": {C: [flat]}}) for i in range(2)], start="conv2", rf=True,
         neuron={"C": C, "Y": Y, "X": X, "flat_index": flat, "conv2_output_shape": [16, *hw],
                 "flat_index_convention": "y * W + x within channel C (ChannelConcept.mask_rf views the output as "
                                          "[N, C, H*W])"})
    # fc1 neurons: the three with the largest EpsilonPlus relevance summed over inputs 0-3 (y-only run)
    _, a = run_crp(lm, lx[:4], [{"y": [t(lt, i)]} for i in range(4)], COMPOSITES["epsilon_plus"]("lenet_mnist"),
                   record=["fc1"])
    ks = [int(k) for k in torch.argsort(a.relevances["fc1"].sum(0), descending=True)[:3]]
    case("cond_fc1", "lenet_mnist", "epsilon_plus", 4,
         [(i, {"y": [t(lt, i)], "fc1": [k]}) for i in range(4) for k in ks],
         pick="fc1 neurons = top-3 of sum over inputs 0-3 of the unconditioned EpsilonPlus relevance at fc1's output")
    case("gradient_cond_conv2", "lenet_mnist", "gradient", 4,
         [(i, {"y": [t(lt, i)], "conv2": [3]}) for i in range(4)], init_rel=1)
    for ex, nm in ((True, "exclude"), (False, "parallel")):
        case(f"cond_block2_conv2_{nm}", "resnet_fashion", "epsilon_plus_flat", 4,
             [(i, {"y": [t(rt, i)], "block2.conv2": [c]}) for i in range(4) for c in (1, 6)], exclude=ex)
    case("cond_two_layers", "resnet_fashion", "epsilon_plus_flat", 2,
         [(i, {"y": [t(rt, i)], "block2.conv2": [6], "block1.conv2": [2]}) for i in range(2)], exclude=True)
    return cases


def run_case(cs, res, res32):
    model, x, _ = res[cs["mname"]]
    xr = x[cs["idx"]]
    start, exclude, rf = cs.get("start"), cs.get("exclude", True), cs.get("rf", False)
    kw = dict(record=cs.get("record", ()), mask_map=ChannelConcept.mask_rf if rf else ChannelConcept.mask,
              start=start, init_rel=cs.get("init_rel"), exclude=exclude)
    grad, attr = run_crp(model, xr, cs["conds"], COMPOSITES[cs["comp"]](cs["mname"]), **kw)
    m32, x32, _ = res32[cs["mname"]]
    grad32, _ = run_crp(m32, x32[cs["idx"]], cs["conds"], COMPOSITES[cs["comp"]](cs["mname"]), **kw)

    # independent recomputation
    masks = channel_masks(model, xr, cs["conds"], rf)
    tg = torch.tensor([c["y"][0] for c in cs["conds"]]) if "y" in cs["conds"][0] else None
    seed = (lambda a: a) if start else logit_seed(tg, ones=cs.get("init_rel") == 1)
    layers = [k for k in cs["conds"][0] if k not in ("y", start)]
    chain = layers if exclude else ()
    ref, rec, at_mask = mine(model, xr, COMPOSITES[cs["comp"]](cs["mname"]), masks, seed, start, chain,
                             kw["record"])
    sem = {}
    if start:
        # which one is CRP: the start activation masked to the condition, or all channels?
        ref_all, _, _ = mine(model, xr, COMPOSITES[cs["comp"]](cs["mname"]), masks, seed, start, (), (),
                             mask_start=False)
        sem["vs_masked_start_seed"], sem["vs_unmasked_start_seed"] = rel_diff(grad, ref), rel_diff(grad, ref_all)
    else:
        for n in layers:  # what CRP records at a conditioned layer: before or after its mask, and how often
            r, post, pre = attr.relevances[n], at_mask[n + ".post"], at_mask[n + ".pre"]
            k = float((r * post).sum() / (post * post).sum())  # least-squares factor r ~ k * post
            sem[f"recorded_{n}"] = {"factor_vs_after_mask": k, "residual_vs_k_times_after_mask": rel_diff(r, k * post),
                                    "vs_before_mask": rel_diff(r, pre)}
    if cs["mname"] == "resnet_fashion":  # how much relevance the other mode adds/removes
        _, other = run_crp(model, xr, cs["conds"], COMPOSITES[cs["comp"]](cs["mname"]), **{**kw, "exclude": not exclude})
        sem["vs_other_exclude_parallel_mode"] = rel_diff(grad, other.heatmap[:, None])
    if cs.get("completeness"):
        # LRP is linear in the relevance at conv2: the 16 single-channel maps of an input must sum to its
        # unconditioned map = the zennit golden (itself checked against explicit formulas in golden_zennit.py),
        # and the {5,7} map must be the {5} map + the {7} map.
        n, C = cs["n"], 16
        all_c, _ = run_crp(model, x[:n].repeat_interleave(C, 0),
                           [{"y": [c["y"][0]], "conv2": [ch]} for c in cs["conds"][::len(cs["conds"]) // n]
                            for ch in range(C)], COMPOSITES[cs["comp"]](cs["mname"]))
        gold = torch.from_numpy(np.load(os.path.join(gc.GOLDEN, f"zennit_{cs['mname']}_{cs['comp']}.npy"))[:n])
        sem["sum_over_16_channels_vs_zennit_golden"] = rel_diff(gold.double(), all_c.view(n, C, 1, 28, 28).sum(1))
        one = all_c.view(n, C, 1, 28, 28)
        sem["map_5_7_vs_map_5_plus_map_7"] = rel_diff(grad[2::3], one[:, 5] + one[:, 7])
        assert sem["sum_over_16_channels_vs_zennit_golden"] < 1e-5 and sem["map_5_7_vs_map_5_plus_map_7"] < 1e-9
    chk = rel_diff(grad, ref)
    recs = {n: (attr.relevances[n], rel_diff(attr.relevances[n], rec[n])) for n in kw["record"]}
    return grad, grad32, chk, recs, sem


def main():
    t0 = time.time()
    gc.setup()
    man = gc.Manifest(SCRIPT)
    res, res32, infos = {}, {}, {}
    for mname in ("lenet_mnist", "resnet_fashion"):
        model, x, targets, info = load(mname, DTYPE)
        m32, x32, _, _ = load(mname, torch.float32)
        res[mname], res32[mname], infos[mname] = (model, x, targets), (m32, x32, targets), info
    sanity = sanity_vs_zennit_goldens(res)
    rows = []
    for cs in build_cases(res):
        grad, grad32, chk, recs, sem = run_case(cs, res, res32)
        info = infos[cs["mname"]]
        node = lambda n: NODES.get(n, n)
        conds_onnx = []
        for i, c in zip(cs["idx"], cs["conds"]):
            e = {"input": i}
            if "y" in c:
                e["target"] = c["y"][0]
            for k, v in c.items():
                if k != "y":
                    e[node(k)] = ({"channel": list(v)[0], "flat_index": list(v.values())[0][0]} if isinstance(v, dict)
                                  else v)
            conds_onnx.append(e)
        f32 = per_item(grad, grad32)
        fields = {
            "library": LIBS, "computed_in": "float64 (stored as float32)",
            "model": cs["mname"], "onnx": info["onnx"], "inputs": f"{gc.MODELS[cs['mname']][1]}[0:{cs['n']}]",
            "method": "zennit-crp CondAttribution", "composite": cs["comp"] if cs["comp"] != "gradient" else None,
            "conditions": conds_onnx,
            "crp_conditions": [{k: ({str(a): b for a, b in v.items()} if isinstance(v, dict) else v) for k, v in c.items()}
                               for c in cs["conds"]],
            "row_order": "input-major: row r = input conditions[r].input with its r-th condition",
            "start_node": node(cs["start"]) if cs.get("start") else None,
            "init_rel": ("1 at the target (one-hot seed)" if cs.get("init_rel") == 1 else
                         "activation of the start node (pre-ReLU conv output)" if cs.get("start") else
                         "target logit at the target, 0 elsewhere"),
            "mask_map": "ChannelConcept.mask_rf" if cs.get("rf") else "ChannelConcept.mask",
            "exclude_parallel": cs.get("exclude", True),
            "targets": [c["y"][0] for c in cs["conds"]] if "y" in cs["conds"][0] else None,
            "predicted": info["predicted"][:cs["n"]],
            "canonizers": "ExactSequentialMergeBatchNorm (as golden_zennit.py)" if cs["mname"] == "resnet_fashion" else None,
            "check": "max|crp - mine| / max|crp|, mine = zennit composite + own 0/1 mask tensor hooks "
                     "(exclude_parallel: autograd.grad chain, mask, backward from the last conditioned layer)",
            "check_max_rel_diff": chk, "semantics_checks": sem,
            "float32_vs_float64_rel_diff_per_item": f32, "well_conditioned": max(f32) < 1e-5,
        }
        for k in ("neuron", "pick"):
            if k in cs:
                fields[k] = cs[k]
        if cs["mname"] in ONNX_NOTE:
            fields["onnx_note"] = ONNX_NOTE[cs["mname"]]
        stem = f"crp_{cs['mname']}_{cs['name']}"
        e = man.save_array(f"{stem}.npy", grad.numpy(), **fields)
        rows.append((cs["name"], f"{stem}.npy", tuple(grad.shape), e["stats"]["max_abs"], chk, max(f32)))
        print(f"  {cs['name']}: check {chk:.1e} f32 {max(f32):.1e} {sem}")
        for n, (r, d) in recs.items():  # recorded relevances + ChannelConcept.attribute of them
            rf = dict(fields, what=f"relevance recorded at {node(n)} output (CondAttribution record_layer)",
                      check_max_rel_diff=d)
            rf.pop("float32_vs_float64_rel_diff_per_item"); rf.pop("well_conditioned")
            e = man.save_array(f"{stem}_rel_{n}.npy", r.numpy(), **rf)
            rows.append(("", f"{stem}_rel_{n}.npy", tuple(r.shape), e["stats"]["max_abs"], d, None))
            cpt = ChannelConcept().attribute(r, abs_norm=True)
            own = r.flatten(2).sum(-1) if r.ndim > 2 else r
            own = own / (own.abs().sum(-1, keepdim=True) + 1e-10)
            d = rel_diff(cpt, own)
            cf = dict(rf, what=f"ChannelConcept().attribute(rel {node(n)}, abs_norm=True): per-channel sum, "
                               "divided by (sum_c |.| + 1e-10)", check_max_rel_diff=d)
            e = man.save_array(f"{stem}_concepts_{n}.npy", cpt.numpy(), **cf)
            rows.append(("", f"{stem}_concepts_{n}.npy", tuple(cpt.shape), e["stats"]["max_abs"], d, None))
        assert chk < 1e-6, (cs["name"], chk)
        assert not cs.get("start") or sem["vs_unmasked_start_seed"] > 1e-3  # the start-layer mask matters
    man.write({"zennit_crp": {"versions": LIBS, "y_only_vs_zennit_goldens": sanity}})
    print(f"\n{'case':28s} {'file':50s} {'shape':18s} {'max_abs':>10s} {'check':>8s} {'f32':>8s}")
    for c, f, s, m, d, f32 in rows:
        print(f"{c:28s} {f:50s} {str(s):18s} {m:10.4g} {d:8.1e} " + (f"{f32:8.1e}" if f32 is not None else ""))
    print(f"golden_crp.py done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
