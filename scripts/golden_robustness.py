#!/usr/bin/env python3
"""Robustness goldens from Quantus 0.6.0 and Captum 0.9.0, on glimpse's own seeded noise.

Writes assets/golden/robustness/<case>_<config>_{scores,per_sample}.npy (float64; infidelity also
_explained / _changes), assets/golden/robustness/configs.json (cases, every config with all its
parameters, the call, the cross-check, the float64 conditioning, the peer quirks) and one entry
per .npy in assets/golden/manifest.json. Semantics: assets/golden/README.md, "Robustness".

Metrics: quantus.MaxSensitivity, AvgSensitivity, LocalLipschitzEstimate, Continuity;
captum.metrics.sensitivity_max, infidelity (normalize False / True). The noise is glimpse's
(src/explain/gradient/noise.rs: SplitMix64 streams keyed by seed, input, sample and a salt),
mirrored bit-exactly in vectorised numpy (glimpse_noise.py) and handed to the peers as their
perturb_func, so glimpse can re-explain exactly the same perturbed inputs on the GPU.

Cases (models and inputs as in golden_quantus.py, y = argmax of the logits):
  lenet_mnist         assets/data/mnist_test_x.npy[0:8]    every metric, maps saliency and gxi
  resnet_fashion      assets/data/fashion_test_x.npy[0:4]  every metric, maps saliency and gxi
  efficientnet_lite0  assets/data/photos_x.npy[0:2]        MaxSensitivity, sensitivity_max,
                                                           infidelity; gxi only
Maps (float32, torch autograd): saliency = |d logit_y / dx|, gxi = x * d logit_y / dx.

Every peer score is recomputed by plain numpy + torch (golden_robustness_reference.py: noise ->
perturbed inputs -> each perturbed input explained on its own -> the formula, in float64) and
asserted equal to 1e-6 relative; the same reference on the float64 model gives each config's
conditioning.

    python3 scripts/golden_robustness.py     # ~30 s (torch on 1 thread; 2/3 of it EfficientNet-Lite0)
"""

import contextlib
import json
import os
import platform
import time
import warnings

import numpy as np
import torch

import glimpse_noise as gn
import golden_common as gc
import golden_quantus as gq  # CASES, load_case, gradient_maps (and it imports quantus quietly)
from golden_robustness_reference import (explain_each, ref_continuity, ref_infidelity, ref_lipschitz,
                                         ref_sensitivity, torch_norm32)

warnings.filterwarnings("ignore")
import captum  # noqa: E402
import quantus  # noqa: E402
from captum.metrics import infidelity, sensitivity_max  # noqa: E402
from quantus.helpers import asserts as qasserts  # noqa: E402

SCRIPT = "scripts/golden_robustness.py"
OUT = os.path.join(gc.GOLDEN, "robustness")
REL = "assets/golden/robustness"
SEED = 7
TOL = 1e-6  # cross-check tolerance, relative to the score
N = {"lenet_mnist": 8, "resnet_fashion": 4, "efficientnet_lite0": 2}
S_QUANTUS = {"lenet_mnist": 16, "resnet_fashion": 8, "efficientnet_lite0": 3}
S_CAPTUM = {"lenet_mnist": 10, "resnet_fashion": 10, "efficientnet_lite0": 3}
F32, F64 = np.float32, np.float64

# ---------------------------------------------------------------------------
# glimpse's noise (glimpse_noise.py: src/explain/gradient/noise.rs, src/rng.rs), bit-exact
# ---------------------------------------------------------------------------

def check_noise():
    """Vectorised noise == the line-by-line mirror (bit-exact); returns heads for configs.json."""
    for salt, i, s in [(gn.UNIFORM, 0, 0), (gn.UNIFORM, 5, 11), (gn.GAUSSIAN, 3, 2), (gn.GAUSSIAN, 1, 0)]:
        mirror = np.array(gn.mirror_draws(SEED, salt, i, s, 1000), np.uint64)
        assert np.array_equal(gn.draws(SEED, salt, [i], [s], 1000)[0], mirror)
    mism = 0
    for i, s in [(0, 0), (1, 2), (7, 9)]:
        vectorised = gn.gaussian_noise(SEED, [i], [s], 4000, 0.1)[0]
        mism += int((vectorised != gn.mirror_gaussian_noise(SEED, i, s, 4000, 0.1)).sum())
    assert mism == 0, f"numpy log/cos/sin differ from math's after the f32 cast in {mism} values"
    return {
        "checked": "draws of 4 streams (1000 each) equal a line-by-line Python-int mirror of the Rust code; "
                   "gaussian_noise of 3 streams (4000 values each) equals that mirror with math.log/cos/sin "
                   "(glibc libm, as Rust's f64::ln/cos/sin) bit for bit after the f32 cast",
        "uniform(seed 7, input 0, sample 0, low -0.2, high 0.2)[0:6]": gn.uniform_noise(SEED, [0], [0], 6, -0.2, 0.2)[0].tolist(),
        "uniform(seed 7, input 1, sample 2, low -0.02, high 0.02)[0:6]": gn.uniform_noise(SEED, [1], [2], 6, -0.02, 0.02)[0].tolist(),
        "gaussian(seed 7, input 0, sample 0, sigma 0.1)[0:6] (f32)": [float(v) for v in gn.gaussian_noise(SEED, [0], [0], 6, 0.1)[0]],
        "gaussian(seed 7, input 3, sample 1, sigma 0.1)[0:6] (f32)": [float(v) for v in gn.gaussian_noise(SEED, [3], [1], 6, 0.1)[0]],
    }


# ---------------------------------------------------------------------------
# the peers, fed glimpse's noise (the reference they are checked against: golden_robustness_reference.py)
# ---------------------------------------------------------------------------

def quantus_explain(mname):
    """explain_func for Quantus: the float32 torch map of the (float64) perturbed batch."""
    def explain(model, inputs, targets, **_):
        return gq.gradient_maps(model, np.ascontiguousarray(inputs, dtype=F32), np.asarray(targets, np.int64))[mname]
    return explain


class QuantusNoise:
    """perturb_func for Quantus's noise metrics. Quantus walks the batches in order and, within a
    batch, calls this once per sample step with arr = the batch's inputs [B, D]; so call c is
    batch c // S, step (= sample) c % S, and row b is input batch·B + b. Checked on every call:
    the rows must be exactly those inputs."""

    def __init__(self, kind, x, S, B, **expect):
        self.kind, self.x, self.S, self.B, self.expect, self.calls = kind, x.reshape(len(x), -1), S, B, expect, 0

    def __call__(self, arr, indices, **kw):
        assert all(kw.get(k) == v for k, v in self.expect.items()), (kw, self.expect)
        batch, step = divmod(self.calls, self.S)
        self.calls += 1
        rows = batch * self.B + np.arange(len(arr))
        assert np.array_equal(arr, self.x[rows]), "Quantus's batch/sample order is not the assumed one"
        assert np.array_equal(indices, np.tile(np.arange(arr.shape[1]), (len(arr), 1)))
        if self.kind == "uniform":
            lb = kw["lower_bound"]
            return arr.astype(F64) + gn.uniform_noise(SEED, rows, step, arr.shape[1], -lb, lb)
        noise = gn.gaussian_noise(SEED, rows, step, arr.shape[1], kw["perturb_std"]).astype(F64)
        return arr.astype(F64) + (kw["perturb_mean"] + noise)


ALLOW_ZERO_MAPS = ("quantus.helpers.asserts.assert_attributions wrapped for this call only: an all-zero "
                   "a_batch returns without the 'all equal to zero' assertion, anything else goes to the original")


@contextlib.contextmanager
def allow_zero_maps():
    original = qasserts.assert_attributions

    def patched(x_batch, a_batch):
        if not np.all(a_batch == 0):
            original(x_batch=x_batch, a_batch=a_batch)
    qasserts.assert_attributions = patched
    try:
        yield
    finally:
        qasserts.assert_attributions = original


def quantus_run(cls, params, model, x, y, a, mname, batch_size, perturb=None):
    kw = dict(params, disable_warnings=True, display_progressbar=False)
    if perturb is not None:
        kw["perturb_func"] = perturb
    metric = getattr(quantus, cls)(**kw)
    out = metric(model=model, x_batch=x, y_batch=y, a_batch=a, explain_func=quantus_explain(mname),
                 device="cpu", batch_size=batch_size)
    assert len(out) == len(x)
    return np.asarray(out, F64)


def captum_rows(inputs, x, S):
    """Captum expands the batch with repeat_interleave: row r = input r // S, sample r % S."""
    n = len(x)
    rows, samples = np.repeat(np.arange(n), S), np.tile(np.arange(S), n)
    xi = inputs.detach().numpy().reshape(len(inputs), -1)
    assert len(xi) == n * S and np.array_equal(xi, x.reshape(n, -1)[rows]), "Captum's expansion is not the assumed one"
    return xi, rows, samples


def captum_sensitivity(model, x, y, mname, S, radius):
    calls = []

    def perturb(inputs, perturb_radius):
        assert perturb_radius == radius and not calls  # one call for all N·S copies
        calls.append(1)
        xi, rows, samples = captum_rows(inputs, x, S)
        xp = xi.astype(F64) + gn.uniform_noise(SEED, rows, samples, xi.shape[1], -radius, radius)
        return torch.from_numpy(xp.astype(F32).reshape(inputs.shape))

    def explain(inputs, target):
        xin = inputs[0] if isinstance(inputs, tuple) else inputs
        with torch.enable_grad():  # Captum calls it under torch.no_grad()
            a = torch.from_numpy(gq.gradient_maps(model, xin.detach().numpy(), target.numpy())[mname])
        # A tuple in, a tuple out: Captum iterates over the unperturbed explanation as a tuple
        # (a bare tensor would be iterated over its batch dimension).
        return (a,) if isinstance(inputs, tuple) else a

    out = sensitivity_max(explain, torch.from_numpy(x), perturb_func=perturb, perturb_radius=radius,
                          n_perturb_samples=S, norm_ord="fro", max_examples_per_batch=len(x) * S,
                          target=torch.from_numpy(y))
    assert calls == [1]
    return out.numpy().astype(F64)


def captum_infidelity(model, x, y, a, S, sigma, normalize):
    calls = []

    def perturb(inputs):
        assert not calls
        calls.append(1)
        _, rows, samples = captum_rows(inputs, x, S)
        noise = torch.from_numpy(gn.gaussian_noise(SEED, rows, samples, x[0].size, sigma).reshape(inputs.shape))
        return noise, inputs - noise  # (I, x − I), float32

    with torch.no_grad():
        out = infidelity(model, perturb, torch.from_numpy(x), torch.from_numpy(a), target=torch.from_numpy(y),
                         n_perturb_samples=S, max_examples_per_batch=len(x) * S, normalize=normalize)
    assert calls == [1]
    return out.numpy().astype(F64)


# ---------------------------------------------------------------------------

# The peers' defaults of everything not set in case_configs (recorded in configs.json).
_SENS = dict(similarity_func="difference", norm_numerator="fro_norm", norm_denominator="fro_norm",
             normalise_func="normalise_by_max (normalise_axes=None)", return_nan_when_prediction_changes=False,
             perturb_func="glimpse uniform_noise(seed, input, sample, C*H*W, -lower_bound, lower_bound)")
DEFAULTS = {
    "quantus.MaxSensitivity": _SENS, "quantus.AvgSensitivity": _SENS,
    "quantus.LocalLipschitzEstimate": dict(
        similarity_func="lipschitz_constant (eps 1e-10)", norm_numerator="distance_euclidean",
        norm_denominator="distance_euclidean", normalise_func="normalise_by_max (normalise_axes=None)",
        return_nan_when_prediction_changes=False,
        perturb_func="x + (perturb_mean + f64(glimpse gaussian_noise(seed, input, sample, C*H*W, perturb_std)))"),
    "quantus.Continuity": dict(perturb_baseline="black (ignored: hard-coded)", perturb_func="batched_translation (ignored: hard-coded)",
                               direction="x", normalise_func="normalise_by_max (normalise_axes=None)",
                               return_nan_when_prediction_changes=False),
    "captum.sensitivity_max": dict(perturb_func="glimpse uniform_noise(seed, input, sample, C*H*W, -r, r), x' rounded to f32",
                                   target="y", explanation_func="saliency | gxi (float32 torch)"),
    "captum.infidelity": dict(perturb_func="(I, x - I), I = glimpse gaussian_noise(seed, input, sample, C*H*W, std) f32",
                              forward_func="logits of the torch module", target="y", baselines=None,
                              additional_forward_args=None),
}
for _k in ("quantus.MaxSensitivity", "quantus.AvgSensitivity", "quantus.LocalLipschitzEstimate", "quantus.Continuity"):
    DEFAULTS[_k] = dict(DEFAULTS[_k], explain_func="saliency | gxi (float32 torch)", disable_warnings=True,
                        display_progressbar=False, return_aggregate=False, device="cpu", softmax=False)


# What peer_quirks records besides the numbers of peer_quirks() (see README "Robustness").
QUIRK_NOTES = {
    "normalise_by_max": "Quantus 0.6.0's default normalise_func (normalise_axes=None) divides the whole array by "
                        "ONE max |a|: in general_preprocess the entire a_batch given to the call (all N maps, "
                        "whatever batch_size), in explain_batch the whole batch of perturbed maps. glimpse "
                        "normalises each map by its own max |a| (an all-zero map is left as it is). The goldens "
                        "with normalise=True therefore call Quantus once per input (LocalLipschitzEstimate) or "
                        "with batch_size=1 (Continuity, which ignores a_batch); see the records above.",
    "Continuity": "ignores a_batch (explains x itself), perturb_baseline and perturb_func (batched_translation "
                  "with 'black' = per-input min x, hard-coded); normalises twice (idempotent); "
                  "translations t = -W + dx·k, k = 1..nr_steps, dx = (2W+1) // nr_steps (28 px: -26, -24, ..., 28), "
                  "so t = 0 is one of them (x_t = x: ratio = Σ|a − a_t| / 1e-9, exactly 0 only because a_t is "
                  "computed bit-identically to a) and t = W replaces the whole image by the fill; score = max "
                  "over t of Σ|a − a_t| / (||x − x_t||₂ + 1e-9), not the paper's quadrant correlation",
    "LocalLipschitzEstimate": "similarity_func lipschitz_constant with eps = 1e-10: "
                              "norm_numerator(a, a') / (norm_denominator(x, x') + 1e-10), both distance_euclidean "
                              "by default (lipschitz_constant's own fallback would be Manhattan, never used)",
    "precision": "Quantus computes the norms in the maps' dtype (float32 here; distances to x' in float64), Captum "
                 "in float32 torch. The float64 reference agrees to <= 3e-7 except efficientnet_lite0 "
                 "sensitivity_max_gxi (1.1e-6: torch's float32 norm over 150,528 values); the reference with "
                 "the peers' float32 norms agrees to <= 3e-7 everywhere (cross_check_with_peer_float32_norms)",
    "Continuity with gxi": "Quantus raises at t = W (the image is all fill = 0, so gxi = x·g ≡ 0 and "
                           "explain_batch's assert_attributions refuses an all-zero batch), with any batch_size; "
                           "the continuity_gxi goldens are Quantus with only that assertion skipped "
                           "(configs[].peer_patched); the all-zero map is then left as it is, as glimpse does",
    "Captum": "sensitivity_max calls explanation_func under torch.no_grad() (the explainer must re-enable "
              "grad) and iterates over its result as a tuple (return a tuple for a tuple input, or a "
              "bare tensor is iterated over its batch); both metrics expand the batch with "
              "repeat_interleave (row r = input r // S, sample r % S) and call perturb_func once per chunk "
              "of max_examples_per_batch // N samples (max_examples_per_batch = N·S: one call); a target "
              "tensor is only expanded when it has more than one element; infidelity(normalize=True) = "
              "(β²ΣIA² − 2βΣIA·Δ + ΣΔ²) / S, β = ΣIA·Δ / ΣIA² (safe_div: 0/1 when ΣIA² = 0), "
              "= mean_s (β·IA_s − Δ_s)²",
}


def case_configs(case):
    sq, sc = S_QUANTUS[case], S_CAPTUM[case]
    lite = case == "efficientnet_lite0"
    out = []
    for m in (["gxi"] if lite else ["saliency", "gxi"]):
        sens = dict(nr_samples=sq, lower_bound=0.2, upper_bound=None, normalise=False, abs=False)
        out.append(("max_sensitivity_" + m, "quantus.MaxSensitivity", m, sens))
        if not lite:
            out.append(("avg_sensitivity_" + m, "quantus.AvgSensitivity", m, dict(sens)))
            out.append(("local_lipschitz_" + m, "quantus.LocalLipschitzEstimate", m,
                        dict(nr_samples=sq, perturb_std=0.1, perturb_mean=0.0, normalise=True, abs=False)))
            out.append(("continuity_" + m, "quantus.Continuity", m, dict(nr_steps=28, normalise=True, abs=True)))
        out.append(("sensitivity_max_" + m, "captum.sensitivity_max", m,
                    dict(n_perturb_samples=sc, perturb_radius=0.02, norm_ord="fro")))
        for norm in (False, True):
            out.append((f"infidelity{'_normalized' if norm else ''}_{m}", "captum.infidelity", m,
                        dict(n_perturb_samples=sc, std=0.1, normalize=norm)))
    return out


def evaluate(metric, p, model, x, y, maps, mname):
    """(peer scores, reference per-sample [N, S|T], reference scores, extra arrays, call info)."""
    n, a = len(x), maps[mname]
    if metric in ("quantus.MaxSensitivity", "quantus.AvgSensitivity"):
        noise = QuantusNoise("uniform", x, p["nr_samples"], n, lower_bound=p["lower_bound"], upper_bound=None)
        peer = quantus_run(metric.split(".")[1], p, model, x, y, a, mname, n, noise)
        assert noise.calls == p["nr_samples"]
        per, per32 = ref_sensitivity(model, x, y, a, mname, p["nr_samples"], p["lower_bound"], SEED)
        agg = (lambda v: v.max(1)) if metric.endswith("MaxSensitivity") else (lambda v: v.mean(1))
        return peer, per, agg(per), {"peer_arithmetic": agg(per32)}, \
            dict(batch_size=n, calls="one call on all N inputs (batch_size=N)")
    if metric == "quantus.LocalLipschitzEstimate":
        # One Quantus call per input: Quantus normalises a_batch over ALL the inputs it is given
        # (general_preprocess), whatever batch_size, so batch_size=1 alone is not per input.
        noise = QuantusNoise("gaussian", x, p["nr_samples"], 1, perturb_mean=0.0, perturb_std=p["perturb_std"])
        peer = np.concatenate([quantus_run("LocalLipschitzEstimate", p, model, x[i:i + 1], y[i:i + 1],
                                           a[i:i + 1], mname, 1, noise) for i in range(n)])
        assert noise.calls == n * p["nr_samples"]
        per = ref_lipschitz(model, x, y, a, mname, p["nr_samples"], p["perturb_std"], SEED)
        return peer, per, per.max(1), {}, dict(batch_size=1, calls="one call per input: x[i:i+1], a[i:i+1], batch_size=1")
    if metric == "quantus.Continuity":
        call = dict(batch_size=1, calls="one call on all N inputs, batch_size=1")
        try:
            peer = quantus_run("Continuity", p, model, x, y, a, mname, 1)
        except AssertionError as err:
            # gxi ≡ 0 at the last translation (t = W: the whole image is the fill, 0 here) and
            # Quantus's explain_batch refuses an all-zero batch of maps; rerun with only that
            # check skipped (normalise_by_max leaves an all-zero map as it is, as glimpse does).
            call["peer_patched"] = {"quantus_error": str(err), "patch": ALLOW_ZERO_MAPS}
            with allow_zero_maps():
                peer = quantus_run("Continuity", p, model, x, y, a, mname, 1)
        per, ts = ref_continuity(model, x, y, mname, p["nr_steps"])
        return peer, per, per.max(1), {"translations": ts}, call
    if metric == "captum.sensitivity_max":
        peer = captum_sensitivity(model, x, y, mname, p["n_perturb_samples"], p["perturb_radius"])
        per, per32 = ref_sensitivity(model, x, y, a, mname, p["n_perturb_samples"], p["perturb_radius"], SEED,
                                     torch_norm32)
        return peer, per, per.max(1), {"peer_arithmetic": per32.max(1)}, dict(batch_size=n * p["n_perturb_samples"], calls="max_examples_per_batch=N*S: one perturb_func call")
    peer = captum_infidelity(model, x, y, a, p["n_perturb_samples"], p["std"], p["normalize"])
    per, ia, delta = ref_infidelity(model, x, y, a, p["n_perturb_samples"], p["std"], p["normalize"], SEED)
    return peer, per, per.mean(1), {"explained": ia, "changes": delta}, \
        dict(batch_size=n * p["n_perturb_samples"], calls="max_examples_per_batch=N*S: one perturb_func call")


def reference_f64(metric, p, model64, x, y, mname):
    """The same reference on the float64 model (its own float64 maps): the conditioning."""
    x64 = x.astype(F64)
    if metric == "quantus.Continuity":
        return ref_continuity(model64, x64, y, mname, p["nr_steps"])[0].max(1)
    a64 = explain_each(model64, x64, y, mname)
    if metric == "quantus.LocalLipschitzEstimate":
        return ref_lipschitz(model64, x64, y, a64, mname, p["nr_samples"], p["perturb_std"], SEED).max(1)
    if metric == "captum.infidelity":
        return ref_infidelity(model64, x64, y, a64, p["n_perturb_samples"], p["std"], p["normalize"], SEED)[0].mean(1)
    per = ref_sensitivity(model64, x64, y, a64, mname, p.get("nr_samples", p.get("n_perturb_samples")),
                          p.get("lower_bound", p.get("perturb_radius")), SEED)[0]
    return per.mean(1) if metric == "quantus.AvgSensitivity" else per.max(1)


def rel(u, v):
    return np.abs(u - v) / np.maximum(np.abs(v), 1e-300)


def peer_quirks(model, x, y, maps, golden):
    """Numbers for the quirks on lenet_mnist / saliency (recomputed by the reference too)."""
    a, n, S = maps["saliency"], len(x), S_QUANTUS["lenet_mnist"]
    p = dict(nr_samples=S, perturb_std=0.1, perturb_mean=0.0, normalise=True, abs=False)
    out = {}
    for name, B, scopes in [("batch_size=N (one call, a_batch of all N)", n, ("batch", "batch")),
                            ("batch_size=1 (one call, a_batch of all N)", 1, ("batch", "input"))]:
        noise = QuantusNoise("gaussian", x, S, B, perturb_mean=0.0, perturb_std=0.1)
        q = quantus_run("LocalLipschitzEstimate", p, model, x, y, a, "saliency", B, noise)
        r = ref_lipschitz(model, x, y, a, "saliency", S, 0.1, SEED, *scopes).max(1)
        assert rel(q, r).max() <= TOL, (name, q, r)
        out[f"LocalLipschitzEstimate lenet_mnist saliency, {name}"] = {
            "scores": q.tolist(), "golden_per_input_scores": golden["local_lipschitz_saliency"].tolist(),
            "max_rel_diff_vs_golden": float(rel(q, golden["local_lipschitz_saliency"]).max()),
            "normalisation": f"a / max over the {n} maps; a' / max over {'the batch' if B == n else 'its own map'}",
            "reproduced_by_reference_max_rel_diff": float(rel(q, r).max())}
    q = quantus_run("Continuity", dict(nr_steps=28, normalise=True, abs=True), model, x, y, a, "saliency", n)
    r = ref_continuity(model, x, y, "saliency", 28, "batch")[0].max(1)
    assert rel(q, r).max() <= TOL
    out["Continuity lenet_mnist saliency, batch_size=N"] = {
        "scores": q.tolist(), "golden_per_input_scores": golden["continuity_saliency"].tolist(),
        "max_rel_diff_vs_golden": float(rel(q, golden["continuity_saliency"]).max()),
        "reproduced_by_reference_max_rel_diff": float(rel(q, r).max())}

    def never(*_, **__):
        raise AssertionError("Continuity called its perturb_func")
    q = quantus_run("Continuity", dict(nr_steps=28, normalise=True, abs=True, perturb_baseline="white"),
                    model, x[:2], y[:2], a[:2], "saliency", 1, never)
    out["Continuity ignores perturb_baseline and perturb_func"] = {
        "with perturb_baseline='white' and a perturb_func that raises, inputs 0-1": q.tolist(),
        "golden (black)": golden["continuity_saliency"][:2].tolist(),
        "identical": bool(np.array_equal(q, golden["continuity_saliency"][:2])),
        "why": "evaluate_batch calls batched_translation(x_batch, 'black', ...) directly; black = min of each "
               "input over all its values (= 0 on MNIST / Fashion)"}
    return out


def save(man, name, arr, **fields):
    path = os.path.join(OUT, name)
    man.data["files"][f"{REL}/{name}"] = gc.save_npy(path, arr, F64, SCRIPT, **fields)
    man.new.append(path)
    return f"{REL}/{name}"


def main():
    t_start = time.time()
    gc.setup()
    torch.set_num_threads(1)  # tiny batches: a second thread costs more than it gains (100x on a busy 2-core box)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):  # only this script writes here
        os.remove(os.path.join(OUT, f))
    man = gc.Manifest(SCRIPT)
    versions = {"quantus": quantus.__version__, "captum": captum.__version__, "torch": torch.__version__,
                "numpy": np.__version__, "python": platform.python_version()}
    print("versions:", versions)
    noise_check = check_noise()
    cases_out, configs_out, quirks = {}, [], {}
    for case in gq.CASES:
        t_case = time.time()
        model, x, y, info = gq.load_case(case)
        n, c = N[case], gq.CASES[case]
        x, y = x[:n], y[:n]
        model64 = c["ctor"](gc.p(c["onnx"])).double()
        for prm in model64.parameters():
            prm.requires_grad_(False)
        maps = gq.gradient_maps(model, x, y)
        cases_out[case] = {"onnx": c["onnx"], "inputs": f"{c['inputs']}[0:{n}]", "n": n, "input_shape": list(x.shape[1:]),
                           "y": y.tolist(), "max_abs_logit_diff (16 / 4 inputs)": info["max_abs_logit_diff"],
                           "continuity_fill = min x per input": [float(v) for v in x.reshape(n, -1).min(1)]}
        golden = {}
        for name, metric, mname, params in case_configs(case):
            t0 = time.time()
            peer, per, agg, extra, call = evaluate(metric, params, model, x, y, maps, mname)
            d = rel(peer, agg)
            # The float64 reference must match to TOL; where the peer's own float32 norms (150,528
            # values per Lite0 map) round by more, the reference with those norms must match instead.
            d_peer = rel(peer, extra["peer_arithmetic"]) if "peer_arithmetic" in extra else d
            assert d_peer.max() <= TOL and d.max() <= (10 * TOL if "peer_arithmetic" in extra else TOL), \
                (case, name, peer, agg, d, d_peer)
            f64 = reference_f64(metric, params, model64, x, y, mname)
            golden[name] = peer
            common = dict(case=case, config=name, metric=metric, maps=mname, inputs=cases_out[case]["inputs"])
            files = {"scores": save(man, f"{case}_{name}_scores.npy", peer, role=f"{metric} per-input scores [N] (the peer's)", **common),
                     "per_sample": save(man, f"{case}_{name}_per_sample.npy", per,
                                        role=("per-translation ratios [N, T] (this script's reference)" if "Continuity" in metric
                                              else "per-sample terms [N, S] (this script's reference); score = "
                                              + ("mean" if "Avg" in metric or "infidelity" in metric else "max") + " over axis 1"),
                                        **common)}
            for k in ("explained", "changes"):
                if k in extra:
                    what = "Iᵀa = Σ I·a" if k == "explained" else "Δ = f(x)[y] − f(x − I)[y] (float32 logits)"
                    files[k] = save(man, f"{case}_{name}_{k}.npy", extra[k], role=f"{what} [N, S] (reference)", **common)
            all_params = dict(DEFAULTS[metric], **params, seed=SEED)
            if "captum" in metric:
                all_params["max_examples_per_batch"] = call["batch_size"]
            if "translations" in extra:
                all_params["translations"] = extra["translations"]
            configs_out.append({
                "case": case, "config": name, "metric": metric, "maps": mname, "params": all_params,
                "batch_size": call["batch_size"], "call": call["calls"], "files": files,
                "peer_patched": call.get("peer_patched"),
                "scores": peer.tolist(), "cross_check_rel_diff_per_input": d.tolist(),
                "cross_check_max_rel_diff": float(d.max()),
                "cross_check_with_peer_float32_norms_max_rel_diff": float(d_peer.max()) if "peer_arithmetic" in extra else None,
                "float64_model_rel_diff_per_input": rel(peer, f64).tolist()})
            print(f"  {case}/{name}: {[f'{v:.4g}' for v in peer]} cross-check {d.max():.1e} / {d_peer.max():.1e} "
                  f"f64 {rel(peer, f64).max():.1e} ({time.time() - t0:.1f}s)")
        if case == "lenet_mnist":
            quirks.update(peer_quirks(model, x, y, maps, golden))
        print(f"[{case}] done in {time.time() - t_case:.1f}s")

    quirks.update(QUIRK_NOTES)
    meta = {
        "noise": {
            "generator": "SplitMix64 (src/rng.rs); stream(seed, salt, input, sample) = SplitMix(SplitMix(seed ^ salt)"
                         ".next_u64() ^ input·0xA24BAED4963EE407 ^ sample·0x9FB21C651E98DF25) (wrapping)",
            "uniform": "salt 0x5EED000000000001; value j = low + (high − low)·((draw_j >> 11) / 2^53), f64; "
                       "x' = f64(x) + noise, the model sees f32(x'), distances use the f64 x'",
            "gaussian": "salt 0x5EED000000000000; u1, u2 = ((draw >> 11) + 1) / 2^53 of draws 2j, 2j+1; r = sqrt(-2 ln u1), "
                        "t = 2π u2; out[2j] = f32(r cos t)·σ, out[2j+1] = f32(r sin t)·σ (f32 products)",
            "input": "index of the input in the evaluated set (0..N)", "sample": "0..S", "seed": SEED,
            "LocalLipschitzEstimate": "x' = f64(x) + (perturb_mean + f64(gaussian σ = perturb_std)), perturb_mean 0",
            "infidelity": "I = gaussian σ = 0.1 (f32), x' = x − I in f32; perturb_func returns (I, x − I)",
            "quantus_order": "per batch (in order), perturb_func is called once per sample step with the batch's "
                             "rows: call c = (batch c // S, sample c % S), row b = input batch·B + b",
            "captum_order": "repeat_interleave: row r of the single perturb_func call = input r // S, sample r % S",
            "check": noise_check},
        "reference": "per config: noise -> perturbed inputs -> each perturbed input explained alone (float32 torch, "
                     "same maps as the peer's explain_func) -> the formula in float64; infidelity's forward passes "
                     "batched like Captum's; asserted equal to the peer's scores to 1e-6 relative",
        "float64_model_rel_diff_per_input": "the reference on the float64 model (float64 maps, x' unrounded) vs "
                                            "the golden: what a float32 engine can be held to",
    }
    with open(os.path.join(OUT, "configs.json"), "w") as f:
        json.dump({"script": SCRIPT, "versions": versions, "seed": SEED, "meta": meta, "cases": cases_out,
                   "configs": configs_out, "peer_quirks": quirks}, f, indent=1)
    man.write({"robustness": {"configs": f"{REL}/configs.json", "seed": SEED,
                              "quantus": quantus.__version__, "captum": captum.__version__}})
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"  {REL}: {len(os.listdir(OUT))} files, {total / 1e3:.1f} kB")
    print(f"golden_robustness.py done in {time.time() - t_start:.1f}s")


if __name__ == "__main__":
    main()
