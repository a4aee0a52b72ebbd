"""Slow, obvious reference for the full-year simulation: every claimant drawn, patient by patient.

The same model as :mod:`reserving.nightly._forecast_kernels`, written from its formula without the
split into claimants below and above a threshold (so without the gamma approximation), each
claimant's annual cost drawn by the fitted severity's own quantile function (:mod:`stoploss`).
"""

from __future__ import annotations

import numpy as np


def simulate_year_patients(paid, ibnr, future_mean, todate, severity, att, lim, coins, agg_att, agg_lim, rng):
    """(gross, recovered) arrays over the simulations of one consortium."""
    mean_x = severity.mean()
    n = len(ibnr)
    gross, recovered = np.empty(n), np.empty(n)
    for j in range(n):
        future = severity.quantile(rng.random(rng.poisson(future_mean[j] / mean_x)))
        to_date = severity.quantile(rng.random(rng.poisson(todate / mean_x)))
        total = paid + ibnr[j] + future.sum()
        specific = coins * (np.minimum(np.maximum(future - att, 0.0), lim).sum()
                            + np.minimum(np.maximum(to_date - att, 0.0), lim).sum())
        gross[j] = total
        recovered[j] = specific + min(max(total - specific - agg_att, 0.0), agg_lim)
    return gross, recovered
