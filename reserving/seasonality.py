"""Seasonal completion factors for monthly health triangles: month of the year and payment days.

Two effects a monthly chain ladder ignores, each stated and switchable:

**Payment days** (``payment_days``). Payers pay in runs (weekly, or every working day), so a
calendar month with five payment Fridays pays about 5/4 of one with four, whatever was incurred.
The newest diagonal then over- or under-states development, and the chain ladder carries that
into every open origin. Each calendar month ``t`` has ``w[t]`` payment days; incremental payments
are restated to a standard month, ``X*[i, j] = X[i, j] * wbar / w[i + j]`` (``wbar`` the mean of
``w`` over the observed calendar months), the pattern is estimated on ``X*``, and the projected
future increments are turned back into cash with the future months' own payment days:
``IBNR[i] = sum_{j > latest} dX*[i, j] * w[i + j] / wbar`` (so the reserve is the payments still
to come, given the calendar ahead).

**Month of the year** (``by_month``). Claims incurred in December (holidays) or August are
processed more slowly, so their completion at a given lag differs. Age-to-age factors are
estimated per calendar month of the origin, ``f[m, j] = sum_{i in m} C[i, j+1] / sum_{i in m} C[i, j]``,
and credibility-weighted towards the all-month factor ``f[j]`` (Buhlmann & Straub 1970, with the
link ratios ``F[i, j] = C[i, j+1] / C[i, j]`` weighted by ``C[i, j]`` as in Mack 1993):

    f~[m, j] = Z[m, j] f[m, j] + (1 - Z[m, j]) f[j],   Z[m, j] = W[m, j] / (W[m, j] + s2[j] / t2[j])

with ``W[m, j] = sum_{i in m} C[i, j]``; ``s2[j]`` the pooled within-month variance
``sum_m sum_{i in m} C[i, j] (F[i, j] - f[m, j])^2 / sum_m (n[m, j] - 1)`` (Mack's sigma^2 around
the overall factor when no month has two links), and ``t2[j]`` the between-month variance
``(sum_m W[m, j] (f[m, j] - f[j])^2 - (M[j] - 1) s2[j]) / (W[j] - sum_m W[m, j]^2 / W[j])``,
floored at 0 (then ``Z = 0``: no seasonal evidence, the plain chain ladder). Months with no link at
a lag use ``f[j]``.

With ``by_month=False`` and no ``payment_days`` the result is the volume-weighted chain ladder
(:func:`reserving.chain_ladder`) to rounding. Only volume-weighted averages over every diagonal;
no tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reserving.errors import TriangleError
from reserving.results import origin_frame
from reserving.triangle import TriangleSet

_WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


@dataclass(frozen=True)
class SeasonalChainLadder:
    """Chain ladder with month-of-year factors and payment-day restatement.

    Attributes
    ----------
    triangle : TriangleSet
    factors : ndarray (S, 12, J-1)
        Age-to-age factors used for origins of each calendar month (January first).
    credibility : ndarray (S, 12, J-1)
        ``Z`` given to each month's own factor (0 where no month effect is used).
    payment_days : ndarray (I + J - 1,)
        Payment days of each calendar month from the first origin (all 1 when not used).
    latest, ultimate, ibnr : ndarray (S, I)
        Paid to date, ``latest + ibnr``, and the payments still to come (currency).
    next_payment : ndarray (S, I)
        The part of ``ibnr`` projected to be paid in the calendar month after the valuation (currency).
    """

    triangle: TriangleSet
    factors: np.ndarray
    credibility: np.ndarray
    payment_days: np.ndarray
    latest: np.ndarray
    ultimate: np.ndarray
    ibnr: np.ndarray
    next_payment: np.ndarray

    @property
    def summary(self) -> pd.DataFrame:
        """Per segment and origin: latest, ultimate, ibnr."""
        return origin_frame(self.triangle, {"latest": self.latest, "ultimate": self.ultimate, "ibnr": self.ibnr})

    @property
    def month_factors(self) -> pd.DataFrame:
        """Factors by segment, origin month (1-12) and development age: long form, with ``Z``."""
        tri = self.triangle
        s, m, j = np.indices(self.factors.shape)
        return pd.DataFrame({"segment": np.asarray(tri.segments, dtype=object)[s.ravel()],
                             "origin_month": m.ravel() + 1, "development": tri.development[j.ravel()],
                             "factor": self.factors.ravel(), "credibility": self.credibility.ravel()})


def seasonal_chain_ladder(tri: TriangleSet, *, by_month: bool = True, payment_days=None) -> SeasonalChainLadder:
    """Chain-ladder IBNR with completion factors by month of the year and payment days restated.

    Parameters
    ----------
    tri : TriangleSet
        Monthly triangles (grain ``M``).
    by_month : bool
        Factors per calendar month of the origin, credibility-weighted (module notes).
    payment_days : None, 'business', 'weekly-FRI' (any weekday MON..SUN), or array-like
        Payment days per calendar month: Monday-Friday counts, one weekday's count, or given
        values for the calendar months from the first origin (at least the observed ones;
        months beyond those given are taken as the observed mean). None: no restatement.

    Returns
    -------
    SeasonalChainLadder

    Examples
    --------
    >>> x = np.array([[100., 150., 160.], [110., 165., np.nan], [120., np.nan, np.nan]])
    >>> tri = TriangleSet.from_array(x, origin_start="2024-01", grain="M")
    >>> res = seasonal_chain_ladder(tri, by_month=False)
    >>> res.ibnr.round(2).tolist()
    [[0.0, 11.0, 72.0]]
    >>> seasonal_chain_ladder(tri, payment_days="weekly-FRI").payment_days.tolist()
    [4.0, 4.0, 5.0, 4.0, 5.0]
    """
    if tri.grain != "M":
        raise TriangleError(f"seasonal completion factors need monthly triangles; this one has grain {tri.grain!r}")
    n_cal = tri.n_origins + tri.n_lags - 1
    days = _payment_days(payment_days, tri, n_cal)
    observed_days = days[: tri.valuation_index + 1]
    wbar = observed_days.mean()
    cal = np.arange(tri.n_origins)[:, None] + np.arange(tri.n_lags)[None, :]
    scale = wbar / days[cal]                                    # (I, J)
    inc = tri.incremental * scale[None]
    cum = _cumulative(inc)
    months = np.asarray(tri.origins.month) - 1
    factors, z = _factors(cum, months, by_month)
    latest_lag = tri.latest_lag
    latest = tri.latest
    s_idx, i_idx = np.indices(latest_lag.shape)
    base = cum[s_idx, i_idx, np.maximum(latest_lag, 0)]
    ibnr = np.zeros(latest.shape)
    next_payment = np.zeros(latest.shape)
    level = base.copy()
    f_origin = factors[:, months, :]                            # (S, I, J-1)
    for j in range(tri.n_lags - 1):
        step = (latest_lag <= j) & (latest_lag >= 0)
        nxt = level * f_origin[:, :, j]
        cash = (nxt - level) * days[np.minimum(np.arange(tri.n_origins) + j + 1, n_cal - 1)][None, :] / wbar
        ibnr += np.where(step, cash, 0.0)
        next_payment += np.where(step & (latest_lag == j), cash, 0.0)
        level = np.where(step, nxt, level)
    ibnr = np.where(latest_lag >= 0, ibnr, np.nan)
    next_payment = np.where(latest_lag >= 0, next_payment, np.nan)
    return SeasonalChainLadder(tri, factors, z, days, latest, latest + ibnr, ibnr, next_payment)


def _payment_days(spec, tri: TriangleSet, n_cal: int) -> np.ndarray:
    """Payment days of the ``n_cal`` calendar months from the first origin (module notes)."""
    if spec is None:
        return np.ones(n_cal)
    months = pd.period_range(tri.origins[0], periods=n_cal, freq="M")
    start = months.start_time.to_numpy().astype("datetime64[D]")
    end = (months + 1).start_time.to_numpy().astype("datetime64[D]")
    if isinstance(spec, str):
        text = spec.strip().upper()
        if text == "BUSINESS":
            return np.busday_count(start, end).astype(float)
        if text.startswith("WEEKLY-") and text[7:] in _WEEKDAYS:
            mask = [d == text[7:] for d in _WEEKDAYS]
            return np.busday_count(start, end, weekmask=mask).astype(float)
        raise TriangleError(f"payment_days {spec!r} is not 'business' or 'weekly-DAY' (DAY one of {_WEEKDAYS})")
    given = np.asarray(spec, dtype=float).ravel()
    need = tri.valuation_index + 1
    if given.size < need or not np.isfinite(given[:need]).all() or (given[:need] <= 0).any():
        raise TriangleError(f"payment_days needs a positive count for each of the {need} observed calendar months "
                            f"from {tri.origins[0]}; got {given.size} value(s)")
    out = np.full(n_cal, given[:need].mean())
    out[: min(given.size, n_cal)] = given[:n_cal]
    return out


def _cumulative(inc: np.ndarray) -> np.ndarray:
    """Cumulative sums along lags, NaN where the increment is NaN."""
    return np.where(np.isnan(inc), np.nan, np.nancumsum(inc, axis=2))


def _factors(cum: np.ndarray, months: np.ndarray, by_month: bool) -> tuple[np.ndarray, np.ndarray]:
    """(S, 12, J-1) credibility-weighted factors and their ``Z`` (module notes)."""
    n_seg, _, n_lag = cum.shape
    factors = np.ones((n_seg, 12, n_lag - 1))
    z = np.zeros((n_seg, 12, n_lag - 1))
    member = months[None, :] == np.arange(12)[:, None]          # (12, I)
    for j in range(n_lag - 1):
        x, y = cum[:, :, j], cum[:, :, j + 1]
        use = np.isfinite(x) & np.isfinite(y) & (x > 0)
        xw, yw = np.where(use, x, 0.0), np.where(use, y, 0.0)
        total = xw.sum(axis=1)
        f = np.divide(yw.sum(axis=1), total, out=np.ones(n_seg), where=total > 0)
        factors[:, :, j] = f[:, None]
        if not by_month:
            continue
        w_m = xw @ member.T                                     # (S, 12)
        n_m = use.astype(float) @ member.T
        f_m = np.divide(yw @ member.T, w_m, out=np.broadcast_to(f[:, None], w_m.shape).copy(), where=w_m > 0)
        ratio = np.divide(yw, xw, out=np.zeros_like(xw), where=use)
        within = (xw * (ratio - f_m[:, months]) ** 2).sum(axis=1)
        df = np.maximum(n_m - 1, 0).sum(axis=1)
        around_all = (xw * (ratio - f[:, None]) ** 2).sum(axis=1)
        n_all = use.sum(axis=1)
        s2 = np.where(df > 0, within / np.maximum(df, 1), around_all / np.maximum(n_all - 1, 1))
        groups = (w_m > 0).sum(axis=1)
        spread = (w_m * (f_m - f[:, None]) ** 2).sum(axis=1) - (groups - 1) * s2
        denom = total - np.divide((w_m**2).sum(axis=1), total, out=np.zeros(n_seg), where=total > 0)
        t2 = np.maximum(np.divide(spread, denom, out=np.zeros(n_seg), where=denom > 0), 0.0)
        kappa = np.divide(s2, t2, out=np.full(n_seg, np.inf), where=t2 > 0)
        zj = np.where(np.isfinite(kappa)[:, None], w_m / (w_m + kappa[:, None]), 0.0)
        zj = np.where(w_m > 0, zj, 0.0)
        z[:, :, j] = zj
        factors[:, :, j] = zj * f_m + (1 - zj) * f[:, None]
    return factors, z
