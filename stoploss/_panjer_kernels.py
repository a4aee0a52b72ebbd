"""Numba kernel: Panjer recursion for compound (a, b, 0) distributions on a lattice."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def panjer_ab0(a, b, g0, f, n_out):
    """Aggregate probabilities g_k = P(S = k h), k = 0..n_out-1, for a batch of compounds.

    Panjer (1981), Klugman-Panjer-Willmot *Loss Models* Theorem 9.8, for an (a, b, 0) count:

        g_0 = P_N(f_0)
        g_k = 1 / (1 - a f_0) * sum_{j=1}^{min(k, m-1)} (a + b j / k) f_j g_{k-j}

    Parameters (arrays only)
    ------------------------
    a, b, g0 : float64 (batch,)   Panjer parameters and P(S = 0) of each compound
    f        : float64 (batch, m) severity probabilities on the lattice
    n_out    : int                number of aggregate points

    Returns float64 (batch, n_out). Cost O(batch * n_out * m); exact up to rounding.
    """
    batch, m = f.shape
    g = np.zeros((batch, n_out))
    for i in prange(batch):
        g[i, 0] = g0[i]
        denom = 1.0 - a[i] * f[i, 0]
        for k in range(1, n_out):
            total = 0.0
            top = min(k, m - 1)
            for j in range(1, top + 1):
                total += (a[i] + b[i] * j / k) * f[i, j] * g[i, k - j]
            g[i, k] = total / denom
    return g
