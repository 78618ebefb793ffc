"""The independent recomputation of golden_robustness.py's scores: plain numpy + torch.

noise -> perturbed inputs -> each perturbed input explained on its own -> the metric's formula in
float64. golden_robustness.py asserts the peers' scores equal to these and runs them on the float64
model for each config's conditioning. The noise is glimpse's (glimpse_noise.py) under `seed`.
"""

import numpy as np
import torch

import glimpse_noise as gn

F32, F64 = np.float32, np.float64


def explain_each(model, x, y, mname):
    """Maps of each input in a batch of one (in the model's dtype): never depends on batching."""
    out = []
    for xi, yi in zip(x, y):
        xt = torch.from_numpy(np.ascontiguousarray(xi[None])).requires_grad_(True)
        model(xt)[0, int(yi)].backward()
        g = xt.grad.detach()
        out.append((g.abs() if mname == "saliency" else xt.detach() * g).numpy()[0])
    return np.stack(out)


def dtype_of(model):
    return F64 if next(model.parameters()).dtype == torch.float64 else F32


def prepare(a, normalise, abs_, scope="input"):
    """[N, D] float64; normalise: / max |a| of each input (glimpse) or of the whole batch
    (Quantus's normalise_by_max on a batch); an all-zero map is left as it is; then |·|."""
    a = a.reshape(len(a), -1).astype(F64)
    if normalise:
        m = np.abs(a).max(1, keepdims=True) if scope == "input" else np.full((len(a), 1), np.abs(a).max())
        a = a / np.where(m > 0, m, 1.0)
    return np.abs(a) if abs_ else a


# The peers' own float32 norms: Quantus np.linalg.norm on the float32 maps, Captum torch.norm.
numpy_norm32 = lambda v: np.linalg.norm(v.astype(F32), axis=1).astype(F64)  # noqa: E731
torch_norm32 = lambda v: torch.norm(torch.from_numpy(v.astype(F32)), p="fro", dim=1).numpy().astype(F64)  # noqa: E731


def ref_sensitivity(model, x, y, a, mname, S, bound, seed, norm32=numpy_norm32):
    """[N, S] ||a − a'||₂ / ||a||₂ (||a|| = 0 counts 1), x' = x + U(−bound, bound) (f64), the model
    sees x' in its dtype. Returns the ratios in float64 and with the peer's float32 norms."""
    n, D = len(x), x[0].size
    a0 = prepare(a, False, False)
    out, out32 = np.empty((n, S)), np.empty((n, S))
    for s in range(S):
        xp = x.reshape(n, -1).astype(F64) + gn.uniform_noise(seed, np.arange(n), s, D, -bound, bound)
        ap = prepare(explain_each(model, xp.astype(dtype_of(model)).reshape(x.shape), y, mname), False, False)
        den, den32 = np.linalg.norm(a0, axis=1), norm32(a0)
        out[:, s] = np.linalg.norm(a0 - ap, axis=1) / np.where(den > 0, den, 1.0)
        out32[:, s] = norm32(a0 - ap) / np.where(den32 > 0, den32, 1.0)
    return out, out32


def ref_lipschitz(model, x, y, a, mname, S, std, seed, scope_a="input", scope_ap="input"):
    """[N, S] ||a − a'||₂ / (||x − x'||₂ + 1e-10), x' = x + (0 + N(0, σ²) f32 noise) in f64,
    a and a' normalised by their max (per input, or the batch max for the quirk records)."""
    n, D = len(x), x[0].size
    a0 = prepare(a, True, False, scope_a)
    out = np.empty((n, S))
    for s in range(S):
        x64 = x.reshape(n, -1).astype(F64)
        xp = x64 + (0.0 + gn.gaussian_noise(seed, np.arange(n), s, D, std).astype(F64))
        ap = prepare(explain_each(model, xp.astype(dtype_of(model)).reshape(x.shape), y, mname), True, False, scope_ap)
        out[:, s] = np.linalg.norm(a0 - ap, axis=1) / (np.linalg.norm(x64 - xp, axis=1) + 1e-10)
    return out


def translations(width, steps):
    dx = (2 * width + 1) // steps
    return [-width + dx * (k + 1) for k in range(steps)]


def translate(x, t):
    """x_t[..., w] = x[..., w − t] where it exists, else the input's min over all its values."""
    out = np.empty_like(x)
    for i, xi in enumerate(x):
        out[i] = xi.min()
        if t >= 0:
            out[i, ..., t:] = xi[..., :xi.shape[-1] - t]
        else:
            out[i, ..., :t] = xi[..., -t:]
    return out


def ref_continuity(model, x, y, mname, steps, scope="input"):
    """[N, T] Σ|a − a_t| / (||x − x_t||₂ + 1e-9), a = |normalised map| of x and of x_t."""
    n = len(x)
    a0 = prepare(explain_each(model, x, y, mname), True, True, scope)
    ts = translations(x.shape[-1], steps)
    out = np.empty((n, len(ts)))
    for k, t in enumerate(ts):
        xt = translate(x, t)
        at = prepare(explain_each(model, xt, y, mname), True, True, scope)
        dist = np.linalg.norm(x.reshape(n, -1).astype(F64) - xt.reshape(n, -1).astype(F64), axis=1)
        out[:, k] = np.abs(a0 - at).sum(1) / (dist + 1e-9)
    return out, ts


def ref_infidelity(model, x, y, a, S, sigma, normalize, seed):
    """Per-sample (β·Iᵀa − Δ)² (β = 1 unless normalize: β = ΣIᵀa·Δ / Σ(Iᵀa)²), Iᵀa, Δ = f(x) − f(x − I).
    x − I in the model's dtype; the forward passes batched as Captum does (all N·S rows at once),
    since Δ is a difference of logits and float32 logits move with the batch composition."""
    n, D = len(x), x[0].size
    rows, samples = np.repeat(np.arange(n), S), np.tile(np.arange(S), n)
    noise = gn.gaussian_noise(seed, rows, samples, D, sigma)
    xd = x.astype(dtype_of(model)).reshape(n, -1)
    with torch.no_grad():
        f0 = model(torch.from_numpy(xd.reshape(x.shape))).numpy().astype(F64)[np.arange(n), y]
        fp = model(torch.from_numpy((xd[rows] - noise.astype(xd.dtype)).reshape(n * S, *x.shape[1:])))
        fp = fp.numpy().astype(F64)[np.arange(n * S), y[rows]]
    ia = (noise.astype(F64) * a.reshape(n, -1).astype(F64)[rows]).sum(1).reshape(n, S)
    delta = (f0[rows] - fp).reshape(n, S)
    beta = np.ones((n, 1))
    if normalize:
        den = (ia * ia).sum(1, keepdims=True)
        beta = (ia * delta).sum(1, keepdims=True) / np.where(den > 0, den, 1.0)
    return (beta * ia - delta) ** 2, ia, delta
