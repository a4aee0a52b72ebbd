"""Mean-preserving discretisation of a severity on the lattice 0, h, 2h, ...

Local moment matching of order 1 (Klugman, Panjer & Willmot, *Loss Models*, section 9.6.2;
Gerber 1982), written with the limited expected value E[X ^ u]:

    f_0 = 1 - E[X ^ h] / h
    f_j = (2 E[X ^ jh] - E[X ^ (j-1)h] - E[X ^ (j+1)h]) / h,   j >= 1

Equivalently each amount x in [jh, (j+1)h) is split between jh and (j+1)h in the proportions that
keep its mean, so sum_j j h f_j = E[X] exactly when the lattice covers the support.

The first differences D_j = E[X ^ (j+1)h] - E[X ^ jh] = integral of S over [jh, (j+1)h] are taken
from whichever of ``lev`` and ``excess`` is smaller at jh, so they keep relative accuracy in the
far tail, where both E[X ^ u] ~ E[X] and the probabilities are tiny.

The discretised amount has the exact mean and a variance larger by E[v(X)], where
v(x) = (x - jh)((j+1)h - x) on bucket j (the variance of the split). Integrating by parts,

    E[v(X)] = h * sum_j (2j + 1) D_j - E[(X ^ Jh)^2]

(J buckets; the part above Jh is left out with its mass). For a bounded severity (``right_end``)
the limited expectations are evaluated only up to its right end; the probabilities above are 0. ``compound`` uses it to weight its
Richardson extrapolation by the actual, not the asymptotic h^2/6, added variance.
"""

from __future__ import annotations

import numpy as np

from stoploss.severity import Severity


def discretise(severity: Severity, h: float, n_points: int) -> tuple[np.ndarray, float]:
    """Probabilities f_j on jh, j = 0..n_points-1 (mass at or beyond n_points*h is left out).

    Parameters
    ----------
    severity : Severity
        Any severity with ``lev`` and ``excess``.
    h : float
        Bucket size, in currency units.
    n_points : int
        Number of lattice points.

    Returns
    -------
    f : numpy.ndarray, shape (n_points,)
        Non-negative probabilities summing to at most 1.
    added_variance : float
        E[v(X)], the variance the rounding adds to one amount (currency squared).
    """
    end = severity.right_end()
    n_eval = n_points if not np.isfinite(end) else min(n_points, int(np.ceil(end / h)) + 2)
    x = h * np.arange(n_eval + 1, dtype=float)
    lev = np.asarray(severity.lev(x), dtype=float)
    exc = np.asarray(severity.excess(x), dtype=float)
    use_excess = exc[:-1] < lev[:-1]
    d = np.where(use_excess, exc[:-1] - exc[1:], lev[1:] - lev[:-1])
    f = np.zeros(n_points)
    f[0] = 1.0 - d[0] / h
    f[1:n_eval] = (d[:-1] - d[1:]) / h
    j = np.arange(n_eval, dtype=float)
    added = h * float(np.sum((2.0 * j + 1.0) * d)) - float(np.ravel(severity.lev2(x[-1]))[0])
    return np.maximum(f, 0.0), max(added, 0.0)
