"""Numba kernels of the pool-risk simulator: a group's annual cost and budget, by cost band.

Random numbers come from xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number
generators", ACM TOMS 47(4), 2021), one independent stream per block of simulated years, seeded from
``numpy.random.SeedSequence(seed).spawn``. A block runs start to finish on one thread with its own
state, so the result is bit-identical whatever the number of threads.

Samplers (exact in distribution up to floating point, the normal up to its quantile's accuracy):

* uniform on (0, 1): (top 53 bits + 0.5) * 2^-53;
* normal: inverse cdf by Acklam's rational approximation (relative error below 1.2e-9);
* gamma: Marsaglia & Tsang, ACM TOMS 26(3), 2000 (shape < 1 by the U^(1/a) boost); beta as
  G_a / (G_a + G_b);
* binomial: inversion (sequential search) when n min(p, 1-p) < 10, else BTRS, the transformed
  rejection of Hoermann, "The generation of binomial random variates", J. Stat. Comput. Simul. 46, 1993.

The group model (per simulated year; see ``stoploss/pool/simulate.py``): class counts are multinomial (with a
Dirichlet group mix when ``mix_concentration > 0``); within each class the counts of patients in
each cost band are multinomial; the number of patients a budget formula recognises is binomial.
The sum of the costs in the top band (above the highest attachment and the tail threshold, where
the cost is Pareto: X = lo U^(-1/alpha)) is drawn patient by patient. In every bounded band (lo, hi]
holding c patients it is drawn as c lo + c (hi - lo) B, B ~ Beta with the exact mean and variance of
the average of c costs in the band (so it has the band's exact mean and variance, stays within
[c lo, c hi] and tends to the normal as c grows): only this within-band jitter is approximated.
Bounded bands above the body are at most a factor 2 wide, so the jitter carries a small share of the
variance of a patient's cost (2.2% for the default cost model, 1.5% of it in the body band, whose
count is large); the counts, which carry the rest, are exact.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_TWO_M53 = 1.0 / 9007199254740992.0


@njit(cache=True, nogil=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, nogil=True)
def _next(s):
    """xoshiro256** step on the state ``s`` (uint64[4]); returns 64 random bits."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True, nogil=True)
def _uniform(s):
    """Uniform on the open interval (0, 1)."""
    return (float(_next(s) >> np.uint64(11)) + 0.5) * _TWO_M53


@njit(cache=True, nogil=True)
def _ndtri(p):
    """Standard normal quantile by Acklam's rational approximation (relative error below 1.2e-9)."""
    if p < 0.02425 or p > 1.0 - 0.02425:
        q = math.sqrt(-2.0 * math.log(min(p, 1.0 - p)))
        x = (((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q
               - 2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00) / \
            ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q
              + 3.754408661907416e+00) * q + 1.0)
        if p > 0.5:
            x = -x
    else:
        q = p - 0.5
        r = q * q
        x = (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r
               + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q / \
            (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r
               + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1.0)
    return x


@njit(cache=True, nogil=True)
def _normal(s):
    return _ndtri(_uniform(s))


@njit(cache=True, nogil=True)
def _gamma(s, shape):
    """Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 as Gamma(shape + 1) U^(1/shape)."""
    boost = 1.0
    if shape < 1.0:
        boost = _uniform(s) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = _normal(s)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = _uniform(s)
        if u < 1.0 - 0.0331 * x * x * x * x or math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            return d * v * boost


@njit(cache=True, nogil=True)
def _beta(s, a, b):
    """Beta(a, b) as G_a / (G_a + G_b) with independent gammas."""
    x = _gamma(s, a)
    return x / (x + _gamma(s, b))


@njit(cache=True, nogil=True)
def _binomial_inversion(s, n, p):
    """Binomial(n, p), p <= 1/2, n p < 10: sequential search of the cdf, restarted past a far bound."""
    q = 1.0 - p
    qn = math.exp(n * math.log1p(-p))
    bound = min(float(n), n * p + 10.0 * math.sqrt(n * p * q + 1.0))
    while True:
        x = 0
        px = qn
        u = _uniform(s)
        while u > px:
            x += 1
            if x > bound:
                break
            u -= px
            px = px * (n - x + 1) * p / (x * q)
        if x <= bound:
            return x


@njit(cache=True, nogil=True)
def _binomial_btrs(s, n, p):
    """Binomial(n, p), p <= 1/2, n p >= 10: Hoermann's BTRS transformed rejection (exact)."""
    q = 1.0 - p
    spq = math.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = math.log(p / q)
    m = math.floor((n + 1) * p)
    h = math.lgamma(m + 1.0) + math.lgamma(n - m + 1.0)
    while True:
        u = _uniform(s) - 0.5
        v = _uniform(s)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= vr:
            return np.int64(k)
        v = math.log(v * alpha / (a / (us * us) + b))
        if v <= h - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0) + (k - m) * lpq:
            return np.int64(k)


@njit(cache=True, nogil=True)
def _binomial(s, n, p):
    """Binomial(n, p) for integer n >= 0 and p in [0, 1]."""
    if n <= 0 or p <= 0.0:
        return np.int64(0)
    if p >= 1.0:
        return np.int64(n)
    pp = min(p, 1.0 - p)
    if n * pp < 10.0:
        x = np.int64(_binomial_inversion(s, n, pp))
    else:
        x = _binomial_btrs(s, n, pp)
    return n - x if p > 0.5 else x


@njit(cache=True, nogil=True, parallel=True)
def simulate_years(states, block_years, sizes, class_share, mix_concentration, band_cond, band_pos, band_nu,
                   band_lo, band_hi, tail_alpha, class_mean, mean_cost, recognise, att_band, att_value, shock_sigma,
                   epidemic_prob, epidemic_uplift, ibnr_sigma, retained, budget, factor):
    """Simulate each year's retained cost per attachment, budget per formula and common year factor.

    Model, per year y (a random group-year): group mix p ~ Dirichlet(mix_concentration * class_share)
    (p = class_share when mix_concentration = 0); the group grows through the nested ``sizes``; each
    increment of patients is split over classes ~ Multinomial(p), each class's patients over cost
    bands ~ Multinomial(band probabilities), and each formula m recognises Binomial(n_k, recognise[m])
    of a class's patients. Then, for the first ``sizes[s]`` patients,

        retained[s, j, y] = sum_i min(X_i, a_j)
                          = sum over bands below a_j of band sums + a_j x (patients in bands above a_j)
        budget[s, m, y]   = N mean_cost + sum_k (recognised_k,m) (class_mean[k] - mean_cost)

    i.e. the formula predicts E[X | class] for a recognised patient and the national mean otherwise.
    factor[y] = common shock x IBNR error: lognormal(-shock_sigma^2/2, shock_sigma) x (1 + epidemic_uplift
    with probability epidemic_prob) x lognormal(-ibnr_sigma^2/2, ibnr_sigma), each of mean one.

    Parameters (shapes): states (n_blocks, 4) uint64; sizes (S,) increasing; class_share,
    class_mean (K,); band_cond, band_pos, band_nu (K, B) where band_cond[k, b] = P(band b | band >= b,
    class k), band_pos = (E[X | band] - lo) / (hi - lo) and band_nu = pos (1 - pos) (hi - lo)^2 /
    Var[X | band] (> 1; inf for a band without spread), so the Beta for c patients has a + b = c nu - 1
    and a = pos (a + b); band 0 is zero cost and band B-1 the unbounded top band; band_lo, band_hi
    (B,) band edges; recognise (M,); att_band (J,) = first band lying above attachment j (B for none),
    att_value (J,). Outputs: retained (S, J, Y), budget (S, M, Y), factor (Y,).
    """
    n_years = factor.shape[0]
    n_blocks = states.shape[0]
    n_sizes = sizes.shape[0]
    n_classes = class_share.shape[0]
    n_bands = band_lo.shape[0]
    n_models = recognise.shape[0]
    n_att = att_band.shape[0]
    for blk in prange(n_blocks):
        st = states[blk].copy()
        mix = np.empty(n_classes)
        mix_cond = np.empty(n_classes)
        count = np.zeros(n_bands, dtype=np.int64)
        total = np.zeros(n_bands)
        shift = np.zeros(n_models)
        for y in range(blk * block_years, min((blk + 1) * block_years, n_years)):
            if mix_concentration > 0.0:
                for k in range(n_classes):
                    mix[k] = _gamma(st, mix_concentration * class_share[k])
            else:
                for k in range(n_classes):
                    mix[k] = class_share[k]
            rest = 0.0
            for k in range(n_classes - 1, -1, -1):
                rest += mix[k]
                mix_cond[k] = mix[k] / rest if rest > 0.0 else 0.0
            count[:] = 0
            total[:] = 0.0
            shift[:] = 0.0
            prev = 0
            for si in range(n_sizes):
                left = sizes[si] - prev
                prev = sizes[si]
                for k in range(n_classes):
                    nk = left if k == n_classes - 1 else _binomial(st, left, mix_cond[k])
                    left -= nk
                    if nk == 0:
                        continue
                    for m in range(n_models):
                        shift[m] += _binomial(st, nk, recognise[m]) * (class_mean[k] - mean_cost)
                    rem = nk
                    for b in range(n_bands):
                        c = rem if b == n_bands - 1 else _binomial(st, rem, band_cond[k, b])
                        rem -= c
                        if c > 0 and b > 0:
                            count[b] += c
                            if b == n_bands - 1:
                                for _ in range(c):
                                    total[b] += band_lo[b] * _uniform(st) ** (-1.0 / tail_alpha)
                            else:
                                ab = c * band_nu[k, b] - 1.0
                                pos = band_pos[k, b]
                                if math.isfinite(ab):
                                    pos = _beta(st, pos * ab, (1.0 - pos) * ab)
                                total[b] += c * (band_lo[b] + (band_hi[b] - band_lo[b]) * pos)
                        if rem == 0:
                            break
                for j in range(n_att):
                    acc = 0.0
                    for b in range(n_bands):
                        if b < att_band[j]:
                            acc += total[b]
                        else:
                            acc += att_value[j] * count[b]
                    retained[si, j, y] = acc
                for m in range(n_models):
                    budget[si, m, y] = sizes[si] * mean_cost + shift[m]
            f = 1.0
            if shock_sigma > 0.0:
                f *= math.exp(shock_sigma * _normal(st) - 0.5 * shock_sigma * shock_sigma)
            if epidemic_prob > 0.0 and _uniform(st) < epidemic_prob:
                f *= 1.0 + epidemic_uplift
            if ibnr_sigma > 0.0:
                f *= math.exp(ibnr_sigma * _normal(st) - 0.5 * ibnr_sigma * ibnr_sigma)
            factor[y] = f
