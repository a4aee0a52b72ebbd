"""The curves the pricing report draws for a group: its retained cost's distribution and its premium curve.

:func:`retained_exceedance` gives P(retained annual cost > x) with independent members and with
the common shock (the lognormal year effect Theta of mean 1 that the aggregate premium uses):

    P(Theta S > x) = E_Theta[ P(S > x / Theta) ]

averaged over 400 equal-probability values of Theta (smooth enough to draw; the premium itself
uses Gauss-Hermite quadrature, see :mod:`stoploss.aggregate_premium`).

:func:`specific_premium_curve` gives the expected specific stop-loss cost per member per month at
attachments around the chosen one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from stoploss.aggregate_premium import AggregatePremium
from stoploss.severity import Severity
from stoploss.specific import SpecificPremium, specific_excess


def retained_exceedance(agg: AggregatePremium, points: int = 200) -> pd.DataFrame:
    """P(retained annual cost > ``cost``) without and with the common shock, around the attachment.

    Returns columns ``cost`` (currency per year), ``independent`` and ``with_shock`` (equal to
    ``independent`` when the group has no common shock), on ``points`` costs from the 0.1th
    percentile of the shocked cost to beyond its 99.9th percentile and the aggregate attachment.

    Examples
    --------
    >>> from stoploss.pricing import lognormal_from_mean_cv
    >>> from stoploss.aggregate_premium import aggregate_premium
    >>> agg = aggregate_premium(lognormal_from_mean_cv(2_000.0, 3.0), 1_000, claimant_rate=0.8, common_shock_cv=0.05)
    >>> curve = retained_exceedance(agg)
    >>> bool(curve["independent"].is_monotonic_decreasing), float(curve["with_shock"].iloc[0]) > 0.99
    (True, True)
    """
    dist = agg.retained
    survival = np.clip(1.0 - np.cumsum(dist.p), 0.0, 1.0)
    if agg.common_shock_cv > 0:
        s = np.sqrt(np.log1p(agg.common_shock_cv**2))
        theta = np.exp(s * ndtri((np.arange(400) + 0.5) / 400) - 0.5 * s * s)
    else:
        theta = np.ones(1)
    cdf = np.cumsum(dist.p)
    lo = float(dist.x[np.searchsorted(cdf, 0.001)]) * theta.min()
    hi = max(float(dist.x[min(np.searchsorted(cdf, 0.999), len(cdf) - 1)]) * theta.max(), agg.attachment) * 1.08
    cost = np.linspace(lo, hi, points)

    def exceed(x):
        return np.interp(x, dist.x, survival, left=1.0, right=0.0)

    shocked = np.mean([exceed(cost / t) for t in theta], axis=0)
    return pd.DataFrame({"cost": cost, "independent": exceed(cost), "with_shock": shocked})


def specific_premium_curve(severity: Severity, spec: SpecificPremium, claimant_rate: float,
                           points: int = 40) -> pd.DataFrame:
    """Expected specific stop-loss cost per member per month (``pmpm``) by ``attachment``.

    Attachments run from a quarter to three times the group's; ``severity`` is the covered
    claimant severity (trended, on the contract basis) and ``claimant_rate`` claimants per member.

    Examples
    --------
    >>> from stoploss.pricing import lognormal_from_mean_cv
    >>> from stoploss.specific import specific_premium
    >>> sev = lognormal_from_mean_cv(2_000.0, 3.0)
    >>> curve = specific_premium_curve(sev, specific_premium(sev, 1_000, 50_000.0, claimant_rate=0.8), 0.8)
    >>> bool(curve["pmpm"].is_monotonic_decreasing), float(curve["attachment"].iloc[0])
    (True, 12500.0)
    """
    attachment = np.linspace(0.25, 3.0, points) * spec.attachment
    pmpm = specific_excess(severity, attachment, spec.limit, claimant_rate) / 12.0
    return pd.DataFrame({"attachment": attachment, "pmpm": pmpm})
