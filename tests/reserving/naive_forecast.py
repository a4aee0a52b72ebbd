"""Slow, obvious reference for the full-year simulation: every claimant drawn, patient by patient.

The same model as :mod:`reserving.nightly._forecast_kernels`, written from its formula without the
split into claimants below and above a threshold (so without the gamma approximation), each
claimant's annual cost drawn by the fitted severity's own quantile function (:mod:`stoploss`).
"""

from __future__ import annotations

import numpy as np


def simulate_year_patients(paid, ibnr, future_mean, r, todate, severity, att, lim, coins, agg_att, agg_lim, rng):
    """(gross, recovered) arrays over the simulations of one consortium."""
    mean_x = severity.mean()
    n = len(ibnr)
    gross, recovered = np.empty(n), np.empty(n)
    for j in range(n):
        lam = future_mean[j] / (r * mean_x) if r > 0 else todate / mean_x
        x = severity.quantile(rng.random(rng.poisson(lam)))
        total = paid + ibnr[j] + r * x.sum()
        specific = coins * np.minimum(np.maximum(x - att, 0.0), lim).sum()
        gross[j] = total
        recovered[j] = specific + min(max(total - specific - agg_att, 0.0), agg_lim)
    return gross, recovered
