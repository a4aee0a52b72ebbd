"""Numba kernels for Mack's (1994) tests of the chain-ladder assumptions, batched over segments.

Mack, T. (1994), "Measuring the variability of chain ladder reserve estimates", CAS Forum
(Spring), 101-182: Appendix G (correlation of adjacent development factors) and Appendix H
(calendar-year effect). Input: individual development factors ``F[s, i, k]`` (S, I, K), NaN where
there is none.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from reserving._bootstrap_kernels import _insertion_sort


@njit(cache=True, nogil=True)
def _ranks(x):
    """Ranks 1..n of x, ties sharing their average rank."""
    n = x.size
    out = np.empty(n)
    for a in range(n):
        below, equal = 0, 0
        for b in range(n):
            if x[b] < x[a]:
                below += 1
            elif x[b] == x[a]:
                equal += 1
        out[a] = below + (equal + 1) / 2.0
    return out


@njit(cache=True, nogil=True)
def _median(x):
    """Median of ``x`` (the mean of the two middle values when their number is even), by insertion
    sort of a copy: columns hold a few dozen factors, and Numba's ``np.median`` costs seconds to compile."""
    y = x.copy()
    _insertion_sort(y)
    h = y.size // 2
    return y[h] if y.size % 2 == 1 else 0.5 * (y[h - 1] + y[h])


@njit(cache=True, nogil=True)
def development_correlation_batch(factors):
    """Spearman correlation ``T_k`` of adjacent factor columns and its weight, per segment.

    For each pair of columns (k-1, k), over the n origins with both factors: ranks r (column
    k-1) and s (column k) among those origins, ``T_k = 1 - 6 sum (r - s)^2 / (n^3 - n)``, weight
    ``n - 1`` (Mack 1994 G.1-G.3; weights ``I - k - 1`` on a full triangle). Pairs with n < 2
    get weight 0 and T NaN. Returns T (S, K-1) and weights (S, K-1).
    """
    n_seg, n_org, n_fac = factors.shape
    t_k = np.full((n_seg, max(n_fac - 1, 0)), np.nan)
    weight = np.zeros((n_seg, max(n_fac - 1, 0)))
    for s in range(n_seg):  # serial: a few ms for thousands of segments; a prange loop costs seconds to compile
        for k in range(1, n_fac):
            both = np.isfinite(factors[s, :, k - 1]) & np.isfinite(factors[s, :, k])
            n = both.sum()
            if n < 2:
                continue
            r = _ranks(factors[s, both, k - 1])
            q = _ranks(factors[s, both, k])
            t_k[s, k - 1] = 1.0 - 6.0 * np.sum((r - q) ** 2) / (n**3 - n)
            weight[s, k - 1] = n - 1
    return t_k, weight


@njit(cache=True, nogil=True)
def calendar_year_batch(factors):
    """Mack's (1994, Appendix H) counts per calendar diagonal of factors, per segment.

    Each factor is S (smaller) or L (larger) than the median of its column (ties with the
    median are neither). Diagonal ``d = i + k`` counts ``S_d`` and ``L_d``; with ``n = S + L``,
    ``m = floor((n - 1) / 2)``:

        Z_d = min(S_d, L_d)
        E[Z_d]   = n/2 - C(n-1, m) n / 2^n
        Var[Z_d] = n(n-1)/4 - C(n-1, m) n(n-1) / 2^n + E[Z_d] - E[Z_d]^2

    Returns Z, E, Var and n, each (S, I + K - 1) by diagonal (zeros where a diagonal is empty).
    """
    n_seg, n_org, n_fac = factors.shape
    n_diag = n_org + n_fac - 1
    z = np.zeros((n_seg, n_diag))
    expected = np.zeros((n_seg, n_diag))
    variance = np.zeros((n_seg, n_diag))
    count = np.zeros((n_seg, n_diag))
    for s in range(n_seg):  # serial: a few ms for thousands of segments; a prange loop costs seconds to compile
        small = np.zeros(n_diag)
        large = np.zeros(n_diag)
        for k in range(n_fac):
            col = factors[s, :, k]
            finite = col[np.isfinite(col)]
            if finite.size == 0:
                continue
            median = _median(finite)
            for i in range(n_org):
                if np.isfinite(col[i]):
                    if col[i] < median:
                        small[i + k] += 1.0
                    elif col[i] > median:
                        large[i + k] += 1.0
        for d in range(n_diag):
            n = small[d] + large[d]
            count[s, d] = n
            z[s, d] = min(small[d], large[d])
            if n == 0:
                continue
            m = math.floor((n - 1) / 2)
            binom = math.exp(math.lgamma(n) - math.lgamma(m + 1) - math.lgamma(n - m)) / 2.0**n
            e = n / 2.0 - binom * n
            expected[s, d] = e
            variance[s, d] = n * (n - 1) / 4.0 - binom * n * (n - 1) + e - e * e
    return z, expected, variance, count
