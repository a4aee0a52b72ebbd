"""Contract basis (incurred in 12 months, paid within 12, 15 or 24) and cost trend.

A contract "12/P" reimburses costs incurred in its 12 months and paid by the end of month P.
With a payment pattern c_k = cumulative share of a month's incurred cost paid by k months after
that month (c_0 = paid in the month itself), a cost incurred in contract month m (0..11) counts
if paid by lag P - 1 - m, so the covered share of the year's incurred cost is

    rho = (1/12) * sum_{m=0}^{11} c_{min(P - 1 - m, K)}

assuming cost is incurred evenly over the year. Each member's covered cost is rho X and the
attachment applies to it, so the expected excess becomes rho E[(X - a/rho)+] (a leveraged effect,
like trend). The payment pattern can come from ``reserving`` (cumulative paid-to-ultimate by lag).
"""

from __future__ import annotations

import numpy as np

from _kit.validate import number
from stoploss.errors import StopLossError

#: Illustrative monthly payment pattern for health claims (cumulative share paid by lag 0..24
#: months); replace it with the one estimated from the group's own triangles.
DEFAULT_PAYMENT_PATTERN = np.array([
    0.30, 0.62, 0.78, 0.86, 0.905, 0.93, 0.947, 0.96, 0.969, 0.976, 0.981, 0.985, 0.988,
    0.9905, 0.9925, 0.994, 0.9952, 0.9962, 0.997, 0.9977, 0.9983, 0.9988, 0.9992, 0.9996, 1.0,
])

BASES = {"12/12": 12, "12/15": 15, "12/24": 24}


def covered_fraction(basis: str = "12/12", payment_pattern=None) -> float:
    """Share rho of the contract year's incurred cost that is paid within the contract basis.

    Parameters
    ----------
    basis : {"12/12", "12/15", "12/24"}, or "incurred" for rho = 1
    payment_pattern : array-like, optional
        Cumulative share paid by lag 0, 1, 2, ... months; non-decreasing, ending at or below 1.
        Default: ``DEFAULT_PAYMENT_PATTERN``.

    Examples
    --------
    >>> round(covered_fraction("12/12", [0.5, 1.0]), 6)   # half paid in month, rest next month
    0.958333
    """
    if basis == "incurred":
        return 1.0
    if basis not in BASES:
        raise StopLossError(f"covered_fraction: basis must be one of {sorted(BASES)} or 'incurred', got {basis!r}.")
    c = DEFAULT_PAYMENT_PATTERN if payment_pattern is None else np.asarray(payment_pattern, dtype=float)
    if c.ndim != 1 or c.size == 0 or np.any(np.diff(c) < -1e-12) or np.any(c < 0) or np.any(c > 1 + 1e-12):
        raise StopLossError("covered_fraction: payment_pattern must be cumulative shares by month of lag, "
                            "non-decreasing, between 0 and 1.")
    lags = np.minimum(BASES[basis] - 1 - np.arange(12), c.size - 1)
    return float(c[lags].mean())


def trend_factor(annual_trend: float, months: float) -> float:
    """Cost trend factor (1 + annual_trend) ** (months / 12) from experience to contract midpoint."""
    if annual_trend <= -1:
        raise StopLossError(f"trend_factor: annual trend must be > -100%, got {annual_trend!r}.")
    return float((1.0 + annual_trend) ** (months / 12.0))


def check_settings(owner: str, *, members, claimant_rate, annual_trend, trend_months) -> None:
    """Raise a named :class:`StopLossError` unless the group settings shared by both premiums are finite and
    in range: members >= 1, claimant_rate in (0, 1], annual_trend above -1, trend_months finite.

    Examples
    --------
    >>> check_settings("aggregate_premium", members=100, claimant_rate=-0.5, annual_trend=0.0, trend_months=0.0)
    Traceback (most recent call last):
    ...
    stoploss.errors.StopLossError: aggregate_premium: claimant_rate must be above 0, not -0.5
    """
    number(members, f"{owner}: members", StopLossError, low=1)
    number(claimant_rate, f"{owner}: claimant_rate", StopLossError, low=0, low_open=True, high=1)
    number(annual_trend, f"{owner}: annual_trend", StopLossError, low=-1, low_open=True)
    number(trend_months, f"{owner}: trend_months", StopLossError)
