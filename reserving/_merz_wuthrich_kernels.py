"""Numba kernel of the Merz-Wüthrich one-year claims development result (private).

Merz & Wüthrich (2008), "Modelling the claims development result for solvency purposes", CAS
E-Forum Fall 2008, Result 3.3 (eqs. 3.9-3.10 and the covariance terms of the aggregate).
Notation, per segment: cumulative ``C[i, j]`` for origins ``i = 0..I`` and development columns
``j = 0..J`` (the valuation is origin ``I``'s first column, so origin ``i`` is observed up to
column ``k_i = min(I - i, J)``), chain-ladder factors ``f[j]`` and Mack variances
``s2[j] = sigma[j]**2`` for ``j = 0..J-1``, and

    S_I[j]  = sum of C[i, j] over origins with column j+1 observed (i <= I-j-1)
    S_I1[j] = sum of C[i, j] over origins with column j observed   (i <= I-j)
    D[j]    = C[I-j, j], the valuation-diagonal cell of column j
    a_i     = s2[k_i] / f[k_i]**2
    P_i     = prod_{j=k_i+1}^{J-1} (1 + s2[j] / (f[j]**2 S_I1[j]) * D[j] / S_I1[j])
    Q_i     = sum_{j=k_i+1}^{J-1} (D[j] / S_I1[j])**2 s2[j] / (f[j]**2 S_I[j])

    Gamma_i   = (1 + a_i / C[i, k_i]) P_i - 1
    Delta_i   = a_i / S_I[k_i] + Q_i
    Upsilon_i = (1 + a_i / S_I1[k_i]) P_i - 1
    Lambda_i  = C[i, k_i] / S_I1[k_i] * a_i / S_I[k_i] + Q_i

    msep_i     = U_i**2 (Gamma_i + Delta_i)                         U_i the chain-ladder ultimate
    msep_total = sum_i msep_i + 2 sum_{i < m} U_i U_m (Upsilon_i + Lambda_i)

Origins with ``k_i = J`` (fully developed) contribute nothing.

The *linear* form keeps only the first-order terms of the products (the paper's approximation
``prod_j (1 + x_j) - 1 ~ sum_j x_j``, which R ChainLadder's ``CDR`` computes):

    Gamma_i   ~ a_i / C[i, k_i] + sum_{j=k_i+1}^{J-1} s2[j] / (f[j]**2 S_I1[j]) * D[j] / S_I1[j]
    Upsilon_i ~ a_i / S_I1[k_i] + (the same sum)

On the paper's triangle the two forms differ by at most 2.6e-6 relative.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def _one(c, f, s2, ult, linear, out_origin):
    """One segment: fills ``out_origin`` (I+1,) with msep_i and returns msep_total (``linear``: first order)."""
    n_org, n_col = c.shape
    n_fac = n_col - 1
    last = n_org - 1
    s_i = np.zeros(n_fac)
    s_i1 = np.zeros(n_fac)
    diag = np.zeros(n_fac)
    for j in range(n_fac):
        for i in range(n_org):
            if i <= last - j - 1:
                s_i[j] += c[i, j]
            if i <= last - j:
                s_i1[j] += c[i, j]
        if last - j >= 0:
            diag[j] = c[last - j, j]
    ups_lam = np.zeros(n_org)
    total = 0.0
    for i in range(n_org):
        out_origin[i] = 0.0
        k = last - i
        if k >= n_fac:
            continue
        a = s2[k] / f[k] ** 2
        p = 1.0
        p_sum = 0.0
        q = 0.0
        for j in range(k + 1, n_fac):
            r = diag[j] / s_i1[j]
            x = s2[j] / (f[j] ** 2 * s_i1[j]) * r
            p *= 1.0 + x
            p_sum += x
            q += r * r * s2[j] / (f[j] ** 2 * s_i[j])
        if linear:
            gamma = a / c[i, k] + p_sum
            upsilon = a / s_i1[k] + p_sum
        else:
            gamma = (1.0 + a / c[i, k]) * p - 1.0
            upsilon = (1.0 + a / s_i1[k]) * p - 1.0
        delta = a / s_i[k] + q
        lam = c[i, k] / s_i1[k] * a / s_i[k] + q
        out_origin[i] = ult[i] ** 2 * (gamma + delta)
        ups_lam[i] = upsilon + lam
        total += out_origin[i]
    for i in range(n_org):
        for m in range(i + 1, n_org):
            total += 2.0 * ult[i] * ult[m] * ups_lam[i]
    return total


@njit(cache=True, nogil=True, parallel=True)
def merz_wuthrich_batch(values, factors, sigma2, ultimate, linear):
    """MSEP of the one-year CDR for every segment (Merz & Wüthrich 2008, Result 3.3).

    Parameters: ``values`` (S, I, J) cumulative with NaN after each origin's valuation cell,
    ``factors`` and ``sigma2`` (S, J-1), ``ultimate`` (S, I), ``linear`` (bool: the first-order
    form). Returns (msep per origin (S, I),
    msep of the total (S,)). Segments run in parallel (``prange``).
    """
    n_seg, n_org, _ = values.shape
    out = np.zeros((n_seg, n_org))
    total = np.zeros(n_seg)
    for s in prange(n_seg):
        total[s] = _one(values[s], factors[s], sigma2[s], ultimate[s], linear, out[s])
    return out, total
