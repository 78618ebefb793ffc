"""glimpse's seeded noise (src/rng.rs, src/explain/gradient/noise.rs) in vectorised numpy, bit-exact.

Used by golden_robustness.py and golden_faithfulness.py to hand the peers exactly the numbers
glimpse draws, so the Rust tests can re-evaluate the same perturbations. Stream (seed, salt,
input, sample) = SplitMix(SplitMix(seed ^ salt).next_u64() ^ input·A ^ sample·B) (wrapping);
SplitMix's state only grows by γ, so its draw k (1-based) is mix(state0 + k·γ), which vectorises.
The mirror_* functions are the Rust code line by line on Python ints, to check the numpy ones.
"""

import math

import numpy as np

U64 = np.uint64
GOLDEN_GAMMA, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
INPUT_MUL, SAMPLE_MUL = 0xA24BAED4963EE407, 0x9FB21C651E98DF25
M64 = (1 << 64) - 1
TWO53 = float(1 << 53)

# Salts of the streams, one per use (src/explain/gradient/noise.rs).
GAUSSIAN = 0x5EED000000000000  # gaussian_noise (SmoothGrad, Lipschitz, infidelity, ROAD)
UNIFORM = 0x5EED000000000001  # uniform_noise (sensitivity)
SUBSETS = 0x5EED000000000002  # faithfulness correlation's random subsets
BASELINES = 0x5EED000000000003  # monotonicity correlation's uniform baseline values


def _mix(z):
    """SplitMix64's output function on a uint64 array (numpy wraps uint64 array products mod 2^64)."""
    z = (z ^ (z >> U64(30))) * U64(MIX1)
    z = (z ^ (z >> U64(27))) * U64(MIX2)
    return z ^ (z >> U64(31))


def draws(seed, salt, inputs, samples, count):
    """[rows, count] uint64: draws 1..count of stream (seed, salt, input, sample), one row per
    (input, sample) pair; `samples` broadcasts against `inputs` (both flattened)."""
    key = _mix(np.array([((seed ^ salt) + GOLDEN_GAMMA) & M64], U64))  # SplitMix(seed ^ salt).next_u64()
    i = np.asarray(inputs, U64)
    s = np.broadcast_to(np.asarray(samples, U64), i.shape).reshape(-1)
    state0 = key ^ (i.reshape(-1) * U64(INPUT_MUL)) ^ (s * U64(SAMPLE_MUL))
    k = np.arange(1, count + 1, dtype=U64) * U64(GOLDEN_GAMMA)
    return _mix(state0[:, None] + k[None, :])


def uniform_of(d):
    """SplitMix::uniform of draws d: [0, 1)."""
    return (d >> U64(11)).astype(np.float64) / TWO53


def unit_of(d):
    """SplitMix::unit of draws d: (0, 1], a logarithm's argument."""
    return ((d >> U64(11)) + U64(1)).astype(np.float64) / TWO53


def uniform_noise(seed, inputs, samples, length, low, high):
    """[rows, length] float64: glimpse's uniform_noise, low + (high − low)·uniform()."""
    return low + (high - low) * uniform_of(draws(seed, UNIFORM, inputs, samples, length))


def uniform_value(seed, salt, inputs, samples, low, high):
    """[rows] float64: glimpse's uniform_value, one U(low, high) per (input, sample)."""
    return low + (high - low) * uniform_of(draws(seed, salt, inputs, samples, 1))[:, 0]


def gaussian_noise(seed, inputs, samples, length, sigma):
    """[rows, length] float32: glimpse's gaussian_noise, Box–Muller on unit() pairs in f64, cast to
    f32, times σ in f32; value 2j from cos, 2j+1 from sin."""
    m = (length + 1) // 2
    d = draws(seed, GAUSSIAN, inputs, samples, 2 * m)
    u1, u2 = unit_of(d[:, 0::2]), unit_of(d[:, 1::2])
    r, t = np.sqrt(-2.0 * np.log(u1)), math.tau * u2
    out = np.empty((len(d), 2 * m), np.float32)
    out[:, 0::2] = (r * np.cos(t)).astype(np.float32) * np.float32(sigma)
    out[:, 1::2] = (r * np.sin(t)).astype(np.float32) * np.float32(sigma)
    return out[:, :length]


def subsets(seed, salt, inputs, samples, n, k):
    """[rows, k] int64: glimpse's subset, k distinct indices of 0..n by a partial Fisher–Yates
    shuffle, in draw order, one row per (input, sample) pair."""
    u, j = uniform_of(draws(seed, salt, inputs, samples, k)), np.arange(k)
    t = j + np.minimum(np.floor(u * (n - j)).astype(np.int64), n - j - 1)  # SplitMix::below(n - j)
    idx = np.tile(np.arange(n), (len(u), 1))
    rows = np.arange(len(u))
    for jj in range(k):
        a, b = idx[rows, jj].copy(), idx[rows, t[:, jj]].copy()
        idx[rows, jj], idx[rows, t[:, jj]] = b, a
    return idx[:, :k]


def mirror_draws(seed, salt, i, s, count):
    """Draws 1..count of stream (seed, salt, i, s) as Python ints, following the Rust code."""
    def next_u64(state):
        state = (state + GOLDEN_GAMMA) & M64
        z = ((state ^ (state >> 30)) * MIX1) & M64
        z = ((z ^ (z >> 27)) * MIX2) & M64
        return state, z ^ (z >> 31)
    _, key = next_u64(seed ^ salt)
    state, out = key ^ ((i * INPUT_MUL) & M64) ^ ((s * SAMPLE_MUL) & M64), []
    while len(out) < count:
        state, u = next_u64(state)
        out.append(u)
    return out


def mirror_gaussian_noise(seed, i, s, count, sigma):
    """gaussian_noise of stream (seed, GAUSSIAN, i, s) with math.log/cos/sin (glibc libm, as
    Rust's f64::ln/cos/sin): float32 [count rounded up to even]."""
    d, g = mirror_draws(seed, GAUSSIAN, i, s, count + count % 2), []
    for u1, u2 in zip(d[0::2], d[1::2]):
        u1, u2 = ((u1 >> 11) + 1) / TWO53, ((u2 >> 11) + 1) / TWO53
        r, t = math.sqrt(-2.0 * math.log(u1)), math.tau * u2
        g += [np.float32(r * math.cos(t)) * np.float32(sigma), np.float32(r * math.sin(t)) * np.float32(sigma)]
    return np.array(g, np.float32)
