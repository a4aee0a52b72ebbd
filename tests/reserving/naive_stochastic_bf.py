"""Slow, obvious reference for the stochastic Bornhuetter-Ferguson blend on one square triangle.

Written out from England & Verrall (2002: Bornhuetter-Ferguson in the ODP framework, Appendix 3) with numpy's generator and the
explicit GLM pieces of :mod:`tests.reserving.naive_bootstrap`: no kernel of the package is used.
"""

from __future__ import annotations

import numpy as np

from tests.reserving import naive_bootstrap as nb


def stochastic_bf(cum: np.ndarray, prior: np.ndarray, weight: np.ndarray, prior_sd: float, n_sims: int,
                  rng: np.random.Generator, large_share: float = 0.0, large: np.ndarray | None = None) -> np.ndarray:
    """(n_sims, n) simulated IBNR per origin, no bias correction (hat-adjusted residuals, gamma process).

    Per simulation: resample the residuals into pseudo increments, refit the factors, and for each
    origin take ``w (2 C (F - 1) - latest* (CDF - 1)) + (1 - w) U0 X (2 (1 - 1/F) - (1 - 1/CDF))``, the
    pseudo estimate reflected about the data's own (``C`` the latest, ``F`` the CDF of the data's
    chain ladder: the basic bootstrap), with ``X`` lognormal of mean 1
    and log standard deviation ``prior_sd``, then one gamma of that mean and variance ``phi`` times it.
    With ``large_share`` ``a > 0`` and a positive mean ``m``: the gamma of ``(1 - a) m`` plus a
    Poisson(``a m / mean(large)``) number of amounts each drawn uniformly from ``large``; and first,
    where the chain ladder has weight and ``CDF`` is not 1, ``latest*`` is given its large claims
    afresh: ``(1 - a) latest*`` plus a Poisson(``a latest* / mean(large)``) number of amounts.
    """
    n = cum.shape[0]
    m = nb.fitted_incremental(cum)
    r_cells, phi, h_cells = nb.residuals_scale_hat(cum)
    cells = list(r_cells)
    r = np.array([r_cells[c] for c in cells])
    h = np.array([h_cells[c] for c in cells])
    pool = r[h < 1 - 1e-9] / np.sqrt(1 - h[h < 1 - 1e-9])
    f_hat, latest_hat, _ = nb.chain_ladder(cum)
    out = np.zeros((n_sims, n))
    for s in range(n_sims):
        pseudo = np.full((n, n), np.nan)
        for i, j in cells:
            pseudo[i, j] = m[i, j] + pool[rng.integers(len(pool))] * np.sqrt(abs(m[i, j]))
        pseudo_cum = np.cumsum(np.nan_to_num(pseudo), axis=1)
        pseudo_cum[np.isnan(pseudo)] = np.nan
        f, latest, _ = nb.chain_ladder(pseudo_cum)
        for i in range(1, n):
            cdf = np.prod(f[n - 1 - i:])
            cdf_hat = np.prod(f_hat[n - 1 - i:])
            x = np.exp(prior_sd * rng.standard_normal() - prior_sd**2 / 2)
            paid = latest[i]
            if large_share > 0 and weight[i] > 0 and paid > 0 and cdf != 1:
                paid = (1 - large_share) * paid + rng.choice(large, rng.poisson(large_share * paid / large.mean())).sum()
            cl_part = 2 * latest_hat[i] * (cdf_hat - 1) - paid * (cdf - 1)
            share = 2 * (1 - 1 / cdf_hat) - (1 - 1 / cdf)
            mean = weight[i] * cl_part + (1 - weight[i]) * prior[i] * x * share
            small = mean * (1 - large_share) if mean > 0 else mean
            out[s, i] = np.sign(small) * rng.gamma(abs(small) / phi, phi) if small != 0 else 0.0
            if large_share > 0 and mean > 0:
                out[s, i] += rng.choice(large, rng.poisson(large_share * mean / large.mean())).sum()
    return out
