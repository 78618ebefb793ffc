#!/usr/bin/env python3
"""LRP goldens from Zennit on the shipped fixture models.

Writes assets/golden/zennit_*.npy (+ entries in assets/golden/manifest.json).
See assets/golden/README.md for the exact semantics.

Every golden is also recomputed by an independent, explicit re-implementation
of the documented formulas (functions `ref_*` below, no Zennit hooks) and the
script asserts both agree to 1e-6 of the map's max |value|, so the README's
formulas are exactly what Zennit computes.
"""

import time

import numpy as np
import torch
import torch.nn.functional as F

import golden_common as gc
import glimpse_models as gm
from zennit_canonizers import ExactSequentialMergeBatchNorm

import zennit
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import (EpsilonAlpha2Beta1, EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlus, MixedComposite, NameMapComposite,
                               EpsilonPlusFlat, LayerMapComposite, layer_map_base)
from zennit.rules import AlphaBeta, Epsilon, Flat, Gamma, Norm, WSquare, ZBox, ZPlus
from zennit.types import Linear as ZLinear

DTYPE = torch.float64
STAB = 1e-6  # zennit default stabilizer / epsilon everywhere

# ---------------------------------------------------------------------------
# Composites (name -> (factory, description for the manifest))
# ---------------------------------------------------------------------------

BASE_MAP_DOC = {"ReLU": "Pass (relevance passed through unchanged)",
                "BatchNorm2d (not merged)": "Pass",
                "AvgPool2d / AdaptiveAvgPool2d (GlobalAveragePool)": "Norm(stabilizer=1e-6)",
                "zennit.layer.Sum (residual Add)": "Norm(stabilizer=1e-6)",
                "MaxPool2d": "no rule: plain gradient (relevance routed to the arg-max of each window)",
                "Flatten": "no rule: plain gradient (reshape)"}

COMPOSITES = {
    "epsilon_plus": (lambda c: EpsilonPlus(canonizers=c),
                     {"Conv": "ZPlus(stabilizer=1e-6)", "Gemm/Linear": "Epsilon(epsilon=1e-6)"}),
    "epsilon_plus_flat": (lambda c: EpsilonPlusFlat(canonizers=c),
                          {"first Conv": "Flat(stabilizer=1e-6)", "other Conv": "ZPlus(stabilizer=1e-6)",
                           "Gemm/Linear": "Epsilon(epsilon=1e-6)"}),
    "epsilon_gamma_box": (lambda c: EpsilonGammaBox(low=0.0, high=1.0, canonizers=c),
                          {"first Conv": "ZBox(low=0, high=1, stabilizer=1e-6)",
                           "other Conv": "Gamma(gamma=0.25, stabilizer=1e-6)", "Gemm/Linear": "Epsilon(epsilon=1e-6)"}),
    "epsilon_alpha2_beta1": (lambda c: EpsilonAlpha2Beta1(canonizers=c),
                             {"Conv": "AlphaBeta(alpha=2, beta=1, stabilizer=1e-6)",
                              "Gemm/Linear": "Epsilon(epsilon=1e-6)"}),
    "epsilon_alpha2_beta1_flat": (lambda c: EpsilonAlpha2Beta1Flat(canonizers=c),
                                  {"first Conv": "Flat(stabilizer=1e-6)",
                                   "other Conv": "AlphaBeta(alpha=2, beta=1, stabilizer=1e-6)",
                                   "Gemm/Linear": "Epsilon(epsilon=1e-6)"}),
}


def single(rule_factory):
    return lambda c: LayerMapComposite(layer_map=layer_map_base(STAB) + [(ZLinear, rule_factory())], canonizers=c)


SINGLE_RULES = {
    "rule_epsilon_1e-6": (single(lambda: Epsilon(epsilon=1e-6)), "Epsilon(epsilon=1e-6)"),
    "rule_epsilon_0.25": (single(lambda: Epsilon(epsilon=0.25)), "Epsilon(epsilon=0.25)"),
    "rule_zplus": (single(lambda: ZPlus(stabilizer=1e-6)), "ZPlus(stabilizer=1e-6)"),
    "rule_alpha2_beta1": (single(lambda: AlphaBeta(alpha=2.0, beta=1.0, stabilizer=1e-6)),
                          "AlphaBeta(alpha=2, beta=1, stabilizer=1e-6)"),
    "rule_gamma_0.25": (single(lambda: Gamma(gamma=0.25, stabilizer=1e-6)), "Gamma(gamma=0.25, stabilizer=1e-6)"),
    "rule_wsquare": (single(lambda: WSquare(stabilizer=1e-6)), "WSquare(stabilizer=1e-6)"),
    "rule_flat": (single(lambda: Flat(stabilizer=1e-6)), "Flat(stabilizer=1e-6)"),
    "rule_zbox_0_1": (single(lambda: ZBox(low=0.0, high=1.0, stabilizer=1e-6)), "ZBox(low=0, high=1, stabilizer=1e-6)"),
}

# ---------------------------------------------------------------------------
# Independent re-implementation of the rules (explicit formulas)
# ---------------------------------------------------------------------------


def stab(z, eps=STAB):
    """zennit.core.stabilize: z + eps * sign(z), with sign(0) := +1."""
    return z + eps * (torch.sign(z) + (z == 0).to(z))


def vjp(f, x_shape, s, like):
    """Transpose of the linear map x -> f(x) applied to s (i.e. W^T s)."""
    x = torch.zeros(x_shape, dtype=like.dtype, requires_grad=True)
    return torch.autograd.grad(f(x), x, grad_outputs=s)[0]


def ref_linear_rule(rule, x, R, W, b, op):
    """Relevance at the input of a Conv/Linear layer y = op(x, W, b).
    `rule` is a (name, params) tuple; b may be None (treated as 0)."""
    name, prm = rule
    if b is None:
        b = torch.zeros(W.shape[0], dtype=W.dtype)
    pos, neg = (lambda t: t.clamp(min=0)), (lambda t: t.clamp(max=0))
    zb = torch.zeros_like(b)
    xp, xn = pos(x), neg(x)

    def lin(inp, w, bb):
        return op(inp, w, bb)

    def back(w, s):
        return vjp(lambda t: op(t, w, zb), x.shape, s, x)

    if name == "epsilon":
        s = R / stab(lin(x, W, b), prm["epsilon"])
        return x * back(W, s)
    if name == "zplus":
        z = lin(xp, pos(W), pos(b)) + lin(xn, neg(W), zb)
        s = R / stab(z)
        return xp * back(pos(W), s) + xn * back(neg(W), s)
    if name == "alphabeta":
        a, bt = prm["alpha"], prm["beta"]
        zpos = lin(xp, pos(W), pos(b)) + lin(xn, neg(W), zb)
        zneg = lin(xp, neg(W), neg(b)) + lin(xn, pos(W), zb)
        sp, sn = R / stab(zpos), R / stab(zneg)
        return (a * (xp * back(pos(W), sp) + xn * back(neg(W), sp))
                - bt * (xp * back(neg(W), sn) + xn * back(pos(W), sn)))
    if name == "gamma":
        g = prm["gamma"]
        Wgp, Wgn = W + g * pos(W), W + g * neg(W)
        bgp, bgn = b + g * pos(b), b + g * neg(b)
        y = lin(x, W, b)
        zp = lin(xp, Wgp, bgp) + lin(xn, Wgn, zb)      # used where y > 0
        zn = lin(xp, Wgn, bgn) + lin(xn, Wgp, zb)      # used where y < 0
        sp = (y > 0).to(y) * R / stab(zp)
        sn = (y < 0).to(y) * R / stab(zn)
        return xp * back(Wgp, sp) + xn * back(Wgn, sp) + xp * back(Wgn, sn) + xn * back(Wgp, sn)
    if name == "wsquare":
        ones = torch.ones_like(x)
        s = R / stab(lin(ones, W ** 2, b ** 2))  # NB: zennit squares the bias too (zero_params=None)
        return back(W ** 2, s)
    if name == "flat":
        ones = torch.ones_like(x)
        s = R / stab(lin(ones, torch.ones_like(W), zb))  # bias zeroed
        return back(torch.ones_like(W), s)
    if name == "zbox":
        lo = torch.full_like(x, prm["low"])
        hi = torch.full_like(x, prm["high"])
        z = lin(x, W, b) - lin(lo, pos(W), pos(b)) - lin(hi, neg(W), neg(b))  # biases cancel: b - b+ - b- = 0
        s = R / stab(z)
        return x * back(W, s) - lo * back(pos(W), s) - hi * back(neg(W), s)
    raise ValueError(name)


def conv_op(conv):
    return lambda x, w, b: F.conv2d(x, w, b, conv.stride, conv.padding, conv.dilation, conv.groups)


def lin_op(x, w, b):
    return F.linear(x, w, b)


def ref_maxpool(x, R, k):
    """Plain gradient of MaxPool2d(k): each output's relevance goes to the first (row-major) maximum."""
    _, idx = F.max_pool2d(x, k, return_indices=True)
    return F.max_unpool2d(R, idx, k, output_size=x.shape[-2:])


def ref_norm_avgpool(x, R, k):
    """Norm rule on AvgPool2d(k, stride k): R_in = x * avgpool^T(R / stab(avgpool(x)))."""
    y = F.avg_pool2d(x, k)
    s = R / stab(y)
    return x * vjp(lambda t: F.avg_pool2d(t, k), x.shape, s, x)


def ref_norm_gap(x, R):
    """Norm rule on GlobalAveragePool: R_in = x * R / (H*W * stab(mean(x)))."""
    m = x.mean(dim=(2, 3), keepdim=True)
    return x * (R.reshape(m.shape) / stab(m)) / (x.shape[2] * x.shape[3])


def ref_norm_sum(a, b, R):
    """Norm rule on the residual Sum: R_a = a * R / stab(a + b), R_b = b * R / stab(a + b)."""
    s = R / stab(a + b)
    return a * s, b * s


def ref_lenet(model, x, R_out, rules):
    """rules: dict layer name -> rule tuple for conv1, conv2, fc1, fc2, fc3."""
    m = model
    a0 = x
    z1 = m.conv1(a0); a1 = F.relu(z1); p1 = F.max_pool2d(a1, 2)
    z2 = m.conv2(p1); a2 = F.relu(z2); p2 = F.max_pool2d(a2, 2)
    f = p2.flatten(1)
    h1 = F.relu(m.fc1(f)); h2 = F.relu(m.fc2(h1))
    R = ref_linear_rule(rules["fc3"], h2, R_out, m.fc3.weight, m.fc3.bias, lin_op)
    R = ref_linear_rule(rules["fc2"], h1, R, m.fc2.weight, m.fc2.bias, lin_op)       # ReLU: pass
    R = ref_linear_rule(rules["fc1"], f, R, m.fc1.weight, m.fc1.bias, lin_op)
    R = R.reshape(p2.shape)
    R = ref_maxpool(a2, R, 2)
    R = ref_linear_rule(rules["conv2"], p1, R, m.conv2.weight, m.conv2.bias, conv_op(m.conv2))
    R = ref_maxpool(a1, R, 2)
    R = ref_linear_rule(rules["conv1"], a0, R, m.conv1.weight, m.conv1.bias, conv_op(m.conv1))
    return R


def folded(conv, bn, quirk=False):
    """(W, b) of bn(conv(x)) -- what SequentialMergeBatchNorm does.

    quirk=True reproduces zennit 0.5.1 exactly: after merging, zennit turns the
    BatchNorm into mean=0, var=1, weight=1, bias=0 but keeps its eps, so the
    'identity' BN still divides by sqrt(1 + eps) (eps = 1e-5). For the forward
    pass that equals scaling the merged conv's W and b by 1/sqrt(1 + eps); the
    LRP rules of the conv itself use the unscaled merged W, b (scale-invariant
    for all rules used here except through the 1e-6 stabilizer)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    b = conv.bias if conv.bias is not None else torch.zeros_like(bn.bias)
    W, bb = conv.weight * scale[:, None, None, None], (b - bn.running_mean) * scale + bn.bias
    if quirk:
        f = 1.0 / (1.0 + bn.eps) ** 0.5
        W, bb = W * f, bb * f
    return W, bb


def ref_norm_bn(x, R, bn):
    """Norm rule on an (unmerged) BatchNorm y = s*x + t: R_in = x * s * R / stab(y)."""
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    y = bn(x)
    return x * s[None, :, None, None] * R / stab(y)


def ref_resnet(model, x, R_out, rules, quirk=False, bn_final="pass", seed_with_quirk_logits=None):
    """rules: dict with 'first_conv', 'conv', 'linear'. BNs adjacent to convs are folded;
    bn_final: 'pass' (zennit default) or 'norm'."""
    m = model
    st = folded(m.stem_conv, m.stem_bn, quirk)
    b1c1, b1c2 = folded(m.block1.conv1, m.block1.bn1, quirk), folded(m.block1.conv2, m.block1.bn2, quirk)
    b2c1, b2c2 = folded(m.block2.conv1, m.block2.bn1, quirk), folded(m.block2.conv2, m.block2.bn2, quirk)
    b2sk = folded(m.block2.skip_conv, m.block2.skip_bn, quirk)
    cop = conv_op  # strides/pads from the modules
    # forward
    a0 = x
    s0 = F.relu(cop(m.stem_conv)(a0, *st))
    r1 = F.relu(cop(m.block1.conv1)(s0, *b1c1))
    r2 = cop(m.block1.conv2)(r1, *b1c2)
    o1 = F.relu(r2 + s0)
    pl = F.avg_pool2d(o1, 2)
    q1 = F.relu(cop(m.block2.conv1)(pl, *b2c1))
    q2 = cop(m.block2.conv2)(q1, *b2c2)
    sk = cop(m.block2.skip_conv)(pl, *b2sk)
    o2 = F.relu(q2 + sk)
    bnf = m.bn_final(o2)
    g = bnf.mean(dim=(2, 3))
    if seed_with_quirk_logits is not None:
        R_out = F.one_hot(seed_with_quirk_logits, 10).to(g) * m.fc(g)
    # backward
    R = ref_linear_rule(rules["linear"], g, R_out, m.fc.weight, m.fc.bias, lin_op)
    R = ref_norm_gap(bnf, R)
    if bn_final == "norm":
        R = ref_norm_bn(o2, R, m.bn_final)
    # else bn_final: Pass.  relu_out: Pass
    Rq2, Rsk = ref_norm_sum(q2, sk, R)
    Rpl_a = ref_linear_rule(rules["conv"], pl, Rsk, *b2sk, cop(m.block2.skip_conv))
    R = ref_linear_rule(rules["conv"], q1, Rq2, *b2c2, cop(m.block2.conv2))
    Rpl_b = ref_linear_rule(rules["conv"], pl, R, *b2c1, cop(m.block2.conv1))
    R = ref_norm_avgpool(o1, Rpl_a + Rpl_b, 2)
    Rr2, Rs0_a = ref_norm_sum(r2, s0, R)
    R = ref_linear_rule(rules["conv"], r1, Rr2, *b1c2, cop(m.block1.conv2))
    Rs0_b = ref_linear_rule(rules["conv"], s0, R, *b1c1, cop(m.block1.conv1))
    R = ref_linear_rule(rules["first_conv"], a0, Rs0_a + Rs0_b, *st, cop(m.stem_conv))
    return R


EPS = ("epsilon", {"epsilon": 1e-6})
REF_COMPOSITES = {
    "epsilon_plus": {"first_conv": ("zplus", {}), "conv": ("zplus", {}), "linear": EPS},
    "epsilon_plus_flat": {"first_conv": ("flat", {}), "conv": ("zplus", {}), "linear": EPS},
    "epsilon_gamma_box": {"first_conv": ("zbox", {"low": 0.0, "high": 1.0}), "conv": ("gamma", {"gamma": 0.25}),
                          "linear": EPS},
    "epsilon_alpha2_beta1": {"first_conv": ("alphabeta", {"alpha": 2.0, "beta": 1.0}),
                             "conv": ("alphabeta", {"alpha": 2.0, "beta": 1.0}), "linear": EPS},
    "epsilon_alpha2_beta1_flat": {"first_conv": ("flat", {}), "conv": ("alphabeta", {"alpha": 2.0, "beta": 1.0}),
                                  "linear": EPS},
}
REF_SINGLE = {
    "rule_epsilon_1e-6": ("epsilon", {"epsilon": 1e-6}),
    "rule_epsilon_0.25": ("epsilon", {"epsilon": 0.25}),
    "rule_zplus": ("zplus", {}),
    "rule_alpha2_beta1": ("alphabeta", {"alpha": 2.0, "beta": 1.0}),
    "rule_gamma_0.25": ("gamma", {"gamma": 0.25}),
    "rule_wsquare": ("wsquare", {}),
    "rule_flat": ("flat", {}),
    "rule_zbox_0_1": ("zbox", {"low": 0.0, "high": 1.0}),
}


def lenet_rules(spec):
    return {"conv1": spec["first_conv"], "conv2": spec["conv"], "fc1": spec["linear"], "fc2": spec["linear"],
            "fc3": spec["linear"]}


# ---------------------------------------------------------------------------

def zennit_attr(model, composite, x, targets):
    x = x.clone().requires_grad_(True)

    def attr_output(out):
        return F.one_hot(targets, out.shape[1]).to(out) * out

    with Gradient(model=model, composite=composite) as attributor:
        out, rel = attributor(x, attr_output)
    return out.detach(), rel.detach()


def per_item_rel(a, b):
    a, b = a.double(), b.double()
    return [float((a[i] - b[i]).abs().max() / a[i].abs().max().clamp(min=1e-30)) for i in range(a.shape[0])]


def with_bn_final_norm(composite):
    """Same composite, but the unmerged bn_final gets Norm instead of the default Pass."""
    return MixedComposite([NameMapComposite([(("bn_final",), Norm(stabilizer=STAB))]), composite])


def build_jobs(mname):
    jobs = []
    if mname == "lenet_mnist":
        for k, (f, d) in COMPOSITES.items():
            jobs.append((k, lambda f=f: f(None), d, REF_COMPOSITES[k], "pass", None))
        for k, (f, d) in SINGLE_RULES.items():
            r = REF_SINGLE[k]
            jobs.append((k, lambda f=f: f(None), {"Conv and Gemm/Linear (all 5 layers)": d},
                         {"first_conv": r, "conv": r, "linear": r}, "pass", None))
    else:
        for k, (f, d) in COMPOSITES.items():
            d1 = dict(d)
            d1["bn_final (unmerged BatchNorm after ReLU)"] = "Pass (zennit default for BatchNorm)"
            jobs.append((k, lambda f=f, C=ExactSequentialMergeBatchNorm: f([C()]), d1, REF_COMPOSITES[k], "pass",
                         lambda f=f: f([SequentialMergeBatchNorm()])))
            d2 = dict(d)
            d2["bn_final (unmerged BatchNorm after ReLU)"] = "Norm(stabilizer=1e-6) instead of the default Pass"
            jobs.append((k + "_bnnorm", lambda f=f, C=ExactSequentialMergeBatchNorm: with_bn_final_norm(f([C()])),
                         d2, REF_COMPOSITES[k], "norm",
                         lambda f=f: with_bn_final_norm(f([SequentialMergeBatchNorm()]))))
    return jobs


CANON_DOC = {
    "lenet_mnist": "none (LeNet has no BatchNorm)",
    "resnet_fashion": (
        "SequentialMergeBatchNorm (with eps set to 0 on the merged BN, see ExactSequentialMergeBatchNorm): merges each BatchNorm2d into the Conv registered immediately before it "
        "(stem_conv<-stem_bn, block1.conv1<-bn1, block1.conv2<-bn2, block2.conv1<-bn1, block2.conv2<-bn2, "
        "block2.skip_conv<-skip_bn): W' = W*g/sqrt(var+eps), b' = (b-mean)*g/sqrt(var+eps)+beta (the convs of "
        "resnet_fashion_folded.onnx). Stock zennit sets the merged BN to mean 0, var 1, weight 1, bias 0 but keeps "
        "eps=1e-5, so it still multiplies activations by 1/sqrt(1+1e-5); we remove that (see 'merge_quirk_effect' "
        "for how much the stock canonizer differs). bn_final follows "
        "a ReLU (block2.relu_out) so it is NOT merged: it keeps its parameters and, in the zennit composites, gets "
        "the Pass rule (relevance passed through unchanged); the *_bnnorm variants give it the Norm rule instead."),
}


def main():
    t0 = time.time()
    gc.setup()
    man = gc.Manifest("scripts/golden_zennit.py")
    common = {"library": "zennit 0.5.1", "torch": torch.__version__,
              "computed_in": "float64 (stored as float32)",
              "attributor": "zennit.attribution.Gradient(model, composite)",
              "output_relevance": "attr_output = one_hot(target) * logits: the relevance put on the output layer "
                                  "is the target logit (other logits 0); the golden is the relevance at the model "
                                  "input (the input gradient under the composite's hooks), (8,1,28,28)",
              "rules_for_other_layers": BASE_MAP_DOC}

    for mname in ("lenet_mnist", "resnet_fashion"):
        print(f"[{mname}]")
        model, x, targets, info = gc.load_case(mname, DTYPE)
        model32, x32, _, _ = gc.load_case(mname, torch.float32)
        if mname == "resnet_fashion":
            gm.attach_zennit_sum(model)
            gm.attach_zennit_sum(model32)
            with torch.no_grad():
                ref = np.load(gc.p(gc.MODELS[mname][3]))[:gc.N_GOLD]
                d = float(np.abs(model(x).numpy() - ref).max())
                d32 = float(np.abs(model32(x32).numpy() - ref).max())
            assert d < 1e-5 and d32 < 1e-5, (d, d32)
            info["zennit_module_tree_logit_diff_vs_onnxruntime"] = {"float64": d, "float32": d32}
            print(f"  zennit module tree (with Sum) logits vs onnxruntime: max diff f64 {d:.2e} f32 {d32:.2e}")

        for key, factory, rule_doc, spec, bnf, stock in build_jobs(mname):
            out, rel = zennit_attr(model, factory(), x, targets)
            _, rel32 = zennit_attr(model32, factory(), x32, targets)
            R_out = F.one_hot(targets, 10).to(out) * out
            extra = {}
            if mname == "lenet_mnist":
                ref = ref_lenet(model, x, R_out, lenet_rules(spec))
            else:
                ref = ref_resnet(model, x, R_out, spec, quirk=False, bn_final=bnf)
                _, rel_stock = zennit_attr(model, stock(), x, targets)
                ref_q = ref_resnet(model, x, None, spec, quirk=True, bn_final=bnf, seed_with_quirk_logits=targets)
                assert float((ref_q - rel_stock).abs().max() / rel_stock.abs().max()) < 1e-6
                extra["merge_quirk_effect"] = {
                    "what": "per item: max|golden - stock| / max|golden|, where stock = the same composite with "
                            "zennit's unmodified SequentialMergeBatchNorm (BN left as x/sqrt(1+1e-5) after merging)",
                    "per_item": per_item_rel(rel, rel_stock)}
            scale = float(rel.abs().max())
            err = float((ref - rel).abs().max()) / scale
            cond = per_item_rel(rel, rel32)
            print(f"  {key:32s} max|R|={scale:.4g} ref-impl err={err:.1e} f32-vs-f64 max={max(cond):.1e} "
                  f"sum(R)[0]={float(rel[0].sum()):.4f} logit={float(out[0, targets[0]]):.4f}"
                  + (f" quirk-effect max={max(extra['merge_quirk_effect']['per_item']):.1e}" if extra else ""))
            assert err < 1e-6, (mname, key, err)
            fields = dict(common)
            fields.update(info)
            fields.update({
                "method": "LRP (zennit)", "composite": key,
                "composite_class": (key.replace("_bnnorm", "") if not key.startswith("rule_") else
                                    "LayerMapComposite(layer_map_base() + [(zennit.types.Linear, RULE)])"),
                "layer_rules": rule_doc, "canonizers": CANON_DOC[mname],
                "target_logits": [float(v) for v in out[torch.arange(8), targets]],
                "float32_vs_float64_rel_diff_per_item": cond,
                "well_conditioned": max(cond) < 1e-5,
            })
            fields.update(extra)
            man.save_array(f"zennit_{mname}_{key}.npy", rel.numpy(), **fields)
    man.write({"zennit": {"version": "0.5.1", "default_epsilon": 1e-6, "default_stabilizer": 1e-6,
                          "stabilize(z)": "z + eps * (sign(z) + (z == 0))"}})
    print(f"golden_zennit.py done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
