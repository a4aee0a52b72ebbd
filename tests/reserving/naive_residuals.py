"""Slow, obvious residuals of the chain ladder, one triangle at a time, from the definitions.

England & Verrall (2002) for the Pearson residuals of the ODP fit, Mack (1993) for the standardised
residuals of the link ratios; the link-ratio rules are those of :mod:`tests.reserving.naive`.
For complete triangles with positive increments (every fitted value non-zero), volume-weighted factors.
"""

from __future__ import annotations

import math

from tests.reserving import naive


def residuals(c, valuation_index, exclude, n_periods=-1):
    """``(pearson, phi, n, p, mack)`` of one cumulative triangle ``c`` (lists, NaN outside the data).

    ``pearson[i][j]`` and ``mack[i][k]`` are NaN where there is no cell / link ratio and 0 where the
    link ratio ending in it (``mack``: the link ratio itself) is not used. Mack's residual of a lag with
    a single used link ratio is 0 (its factor is that ratio); the other lags use their own sigma.
    """
    n_org, n_lag = len(c), len(c[0])
    zeros = [0] * (n_lag - 1)
    w = naive.link_weights(c, valuation_index, n_periods, zeros, zeros, exclude)
    f = naive.ldf(c, w, "volume")
    sigma, _ = naive.sigma_and_std_err(c, w, "volume", f)
    nan = float("nan")
    pearson = [[nan] * n_lag for _ in range(n_org)]
    mack = [[nan] * (n_lag - 1) for _ in range(n_org)]
    squares, n = 0.0, 0
    origins, lags = set(), set()
    for i in range(n_org):
        cells = [j for j in range(n_lag) if not math.isnan(c[i][j])]
        if not cells:
            continue
        last = cells[-1]
        fitted_cum = [0.0] * (last + 1)  # backward from the latest diagonal
        fitted_cum[last] = c[i][last]
        for j in range(last, 0, -1):
            fitted_cum[j - 1] = fitted_cum[j] / f[j - 1]
        for j in range(last + 1):
            m = fitted_cum[j] - (fitted_cum[j - 1] if j else 0.0)
            q = c[i][j] - (c[i][j - 1] if j else 0.0)
            r = (q - m) / math.sqrt(abs(m))
            squares += r * r
            n += 1
            origins.add(i)
            lags.add(j)
            pearson[i][j] = r if j == 0 or w[i][j - 1] else 0.0
        for k in range(last):
            if not w[i][k]:
                mack[i][k] = 0.0
                continue
            used = sum(1 for o in range(n_org) if w[o][k])
            x, y = c[i][k], c[i][k + 1]
            mack[i][k] = 0.0 if used < 2 else (y / x - f[k]) * math.sqrt(x) / sigma[k]
    p = len(origins) + len(lags) - 1
    return pearson, squares / (n - p), n, p, mack
