"""Numba kernels for simulating a portfolio of consortia with dependence, one stream per simulated year.

Year ``i`` draws from ``_kit.random.stream(key, i)`` only, in this order: one gamma per region (the
common shocks), then one variate per consortium (a standard normal when a Gaussian copula is given,
else a uniform). Its numbers therefore depend only on the seed and ``i``; years are run in blocks in
parallel and a block's results do not depend on which thread ran it, so every figure is the same on
any number of threads.

Consortium k's loss in year i (Gaussian copula: Nelsen, *An Introduction to Copulas*, 2nd ed., 2.3;
common shock: a mean-one gamma factor per region, as in Meyers' collective risk model with
parameter uncertainty, CAS Forum 2007)

    X_ik = Theta_{r(k)} * F_k^{-1}(U_ik),   U_i = Phi(L Z_i) (copula) or independent uniforms,
    Theta_r ~ Gamma(shape 1/c^2, scale c^2) (mean 1, coefficient of variation c), Theta = 1 if c = 0,

with F_k^{-1} the quantile of k's compound distribution on the lattice 0, h, 2h, ... (the smallest
lattice point whose cumulative probability reaches U; the last point if the window's mass is
below U) and L the Cholesky factor of the copula's correlation matrix (O(K^2) per year).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from _kit.random import gamma, normal, stream, uniform

_BLOCK = 256


@njit(cache=True, nogil=True)
def _year(key, sim, cdfs, offsets, h, chol, use_copula, region, shock_shape, shocks, z, row):
    """Fill ``row`` (K,) with year ``sim``'s losses by consortium and return their sum (k = 0..K-1 in order).

    cdfs    : float64 (sum of lattice lengths,)  cumulative probabilities of each consortium, concatenated
    offsets : int64 (K + 1,)  where consortium k's cdf starts and stops in ``cdfs``
    chol    : float64 (K, K)  lower Cholesky factor (read only if ``use_copula``)
    region  : int64 (K,)      region index of each consortium; ``shocks`` (n_regions,), ``z`` (K,) buffers
    """
    state = stream(key, sim)
    n_k = offsets.size - 1
    for r in range(shocks.size):
        if shock_shape > 0.0:
            g, state = gamma(state, shock_shape)
            shocks[r] = g / shock_shape
        else:
            shocks[r] = 1.0
    if use_copula:
        for k in range(n_k):
            z[k], state = normal(state)
    else:
        for k in range(n_k):
            z[k], state = uniform(state)
    total = 0.0
    for k in range(n_k):
        if use_copula:
            y = 0.0
            for j in range(k + 1):
                y += chol[k, j] * z[j]
            u = 0.5 * math.erfc(-y / math.sqrt(2.0))
        else:
            u = z[k]
        start, stop = offsets[k], offsets[k + 1]
        idx = np.searchsorted(cdfs[start:stop], u)
        idx = min(idx, stop - start - 1)
        row[k] = shocks[region[k]] * h * idx
        total += row[k]
    return total


@njit(cache=True, nogil=True)
def _block_totals(key, first, last, cdfs, offsets, h, chol, use_copula, region, n_regions, shock_shape, out):
    """out[i] = total of year i for i = first..last-1 (serial; one set of buffers per block)."""
    n_k = offsets.size - 1
    shocks, z, row = np.empty(n_regions), np.empty(n_k), np.empty(n_k)
    for i in range(first, last):
        out[i] = _year(key, i, cdfs, offsets, h, chol, use_copula, region, shock_shape, shocks, z, row)


@njit(cache=True, nogil=True, parallel=True)
def simulate_totals(key, n_sims, cdfs, offsets, h, chol, use_copula, region, n_regions, shock_shape):
    """Pool totals S_i = sum_k X_ik for years i = 0..n_sims-1; float64 (n_sims,). Blocks of 256 years in parallel."""
    out = np.empty(n_sims)
    n_blocks = (n_sims + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        _block_totals(key, b * _BLOCK, min((b + 1) * _BLOCK, n_sims), cdfs, offsets, h, chol, use_copula,
                      region, n_regions, shock_shape, out)
    return out


@njit(cache=True, nogil=True)
def _rows(key, sims, first, last, cdfs, offsets, h, chol, use_copula, region, n_regions, shock_shape, out):
    """out[j] = losses by consortium of year sims[j] for j = first..last-1 (serial)."""
    n_k = offsets.size - 1
    shocks, z = np.empty(n_regions), np.empty(n_k)
    for j in range(first, last):
        _year(key, sims[j], cdfs, offsets, h, chol, use_copula, region, shock_shape, shocks, z, out[j])


@njit(cache=True, nogil=True, parallel=True)
def simulate_rows(key, sims, cdfs, offsets, h, chol, use_copula, region, n_regions, shock_shape):
    """Losses by consortium X_ik for the listed years ``sims`` (int64 (m,)), regenerated from their
    streams; float64 (m, K). Used for the tail years only, so no (n_sims, K) matrix is ever held."""
    m = sims.size
    out = np.empty((m, offsets.size - 1))
    n_blocks = (m + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        _rows(key, sims, b * _BLOCK, min((b + 1) * _BLOCK, m), cdfs, offsets, h, chol, use_copula, region,
              n_regions, shock_shape, out)
    return out
