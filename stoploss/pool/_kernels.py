"""Numba kernel of the pool-risk simulator: a group's annual cost and budget, by cost band.

Random numbers come from the engine's one generator, :mod:`_kit.random`: one key for the run
(``stream_keys(seed, ["pool"])``) and one stream per block of simulated years (``stream(key, block)``).
A block runs start to finish on one thread from its own state, so the result is bit-identical
whatever the number of threads. The variates (binomial, gamma, beta, normal, uniform) are the kit's;
their methods and sources are stated there.

The group model (per simulated year; see ``stoploss/pool/simulate.py``): class counts are multinomial (with a
Dirichlet group mix when ``mix_concentration > 0``); within each class the counts of patients in
each cost band are multinomial; the number of patients a budget formula recognises is binomial.
The sum of the costs in the top band (above the highest attachment and the tail threshold, where
the cost less a shift c is Pareto: X = c + (lo - c) U^(-1/alpha), a generalised Pareto tail; c = 0 for
the calibrated models) is drawn patient by patient. In every bounded band (lo, hi]
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

from _kit.random import beta, binomial, gamma, normal, stream, uniform


@njit(cache=True, nogil=True, parallel=True)
def simulate_years(key, block_years, sizes, class_share, mix_concentration, band_cond, band_pos, band_nu,
                   band_lo, band_hi, tail_alpha, tail_shift, class_mean, mean_cost, recognise, att_band, att_value,
                   shock_sigma, epidemic_prob, epidemic_uplift, ibnr_sigma, retained, budget, factor):
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

    Parameters (shapes): key (4,) uint64, the run's stream key (block b of ``block_years`` years
    draws from ``stream(key, b)``); sizes (S,) increasing; class_share,
    class_mean (K,); band_cond, band_pos, band_nu (K, B) where band_cond[k, b] = P(band b | band >= b,
    class k), band_pos = (E[X | band] - lo) / (hi - lo) and band_nu = pos (1 - pos) (hi - lo)^2 /
    Var[X | band] (> 1; inf for a band without spread), so the Beta for c patients has a + b = c nu - 1
    and a = pos (a + b); band 0 is zero cost and band B-1 the unbounded top band; band_lo, band_hi
    (B,) band edges; tail_alpha, tail_shift: in the top band X = tail_shift + (lo - tail_shift) U^(-1/tail_alpha);
    recognise (M,); att_band (J,) = first band lying above attachment j (B for none),
    att_value (J,). Outputs: retained (S, J, Y), budget (S, M, Y), factor (Y,).
    """
    n_blocks = -(-factor.shape[0] // block_years)
    for blk in prange(n_blocks):
        _simulate_block(key, blk, block_years, sizes, class_share, mix_concentration, band_cond, band_pos, band_nu,
                        band_lo, band_hi, tail_alpha, tail_shift, class_mean, mean_cost, recognise, att_band, att_value,
                        shock_sigma, epidemic_prob, epidemic_uplift, ibnr_sigma, retained, budget, factor)


@njit(cache=True, nogil=True)
def _simulate_block(key, blk, block_years, sizes, class_share, mix_concentration, band_cond, band_pos, band_nu,
                    band_lo, band_hi, tail_alpha, tail_shift, class_mean, mean_cost, recognise, att_band, att_value,
                    shock_sigma, epidemic_prob, epidemic_uplift, ibnr_sigma, retained, budget, factor):
    """Years ``blk * block_years`` up to the next block of :func:`simulate_years`, from ``stream(key, blk)``.

    A serial function, so the kit's variates are inlined into it (Numba does not inline into a
    parallel loop's body).
    """
    state = stream(key, blk)
    n_years = factor.shape[0]
    n_sizes = sizes.shape[0]
    n_classes = class_share.shape[0]
    n_bands = band_lo.shape[0]
    n_models = recognise.shape[0]
    n_att = att_band.shape[0]
    mix = np.empty(n_classes)
    mix_cond = np.empty(n_classes)
    count = np.zeros(n_bands, dtype=np.int64)
    total = np.zeros(n_bands)
    shift = np.zeros(n_models)
    for y in range(blk * block_years, min((blk + 1) * block_years, n_years)):
        if mix_concentration > 0.0:
            for k in range(n_classes):
                mix[k], state = gamma(state, mix_concentration * class_share[k])
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
                nk = left
                if k < n_classes - 1:
                    nk, state = binomial(state, left, mix_cond[k])
                left -= nk
                if nk == 0:
                    continue
                for m in range(n_models):
                    known, state = binomial(state, nk, recognise[m])
                    shift[m] += known * (class_mean[k] - mean_cost)
                rem = nk
                for b in range(n_bands):
                    c = rem
                    if b < n_bands - 1:
                        c, state = binomial(state, rem, band_cond[k, b])
                    rem -= c
                    if c > 0 and b > 0:
                        count[b] += c
                        if b == n_bands - 1:
                            for _ in range(c):
                                u, state = uniform(state)
                                total[b] += tail_shift + (band_lo[b] - tail_shift) * u ** (-1.0 / tail_alpha)
                        else:
                            ab = c * band_nu[k, b] - 1.0
                            pos = band_pos[k, b]
                            if math.isfinite(ab):
                                pos, state = beta(state, pos * ab, (1.0 - pos) * ab)
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
            z, state = normal(state)
            f *= math.exp(shock_sigma * z - 0.5 * shock_sigma * shock_sigma)
        if epidemic_prob > 0.0:
            u, state = uniform(state)
            if u < epidemic_prob:
                f *= 1.0 + epidemic_uplift
        if ibnr_sigma > 0.0:
            z, state = normal(state)
            f *= math.exp(ibnr_sigma * z - 0.5 * ibnr_sigma * ibnr_sigma)
        factor[y] = f
