"""The nightly job's seasonal completion (``--seasonality``): month-of-year factors and payment days.

Settings (:data:`SETTINGS`):

``off`` (the default, :data:`DEFAULT`)
    The job's chain ladder as it is.
``month``
    Completion factors by calendar month of the incurred month, each month's own factors
    credibility-weighted towards the all-month ones (Buhlmann-Straub;
    :func:`reserving.seasonality.seasonal_chain_ladder`). Where a month shows no more spread than
    noise, its weight ``Z`` is 0 and the chain ladder is unchanged.
``month+paydays``
    As ``month``, with payments first restated to a month of average payment days, and the
    payments to come turned back into cash with the payment days of the months ahead.

How it enters the job: for each segment and incurred month, the ratio of the seasonal chain
ladder's ultimate to the plain volume-weighted chain ladder's (the same triangle, the same code,
no month effect, no payment days) multiplies the job's chain-ladder CDF::

    cdf' = cdf * ultimate_seasonal / ultimate_plain,   ultimate' = latest * cdf',   completion' = 1 / cdf'

so the job's averaging and window and the actuary's selections still apply, and the BF and the
blend use the seasonal completion. The share of the unpaid part expected next month (actual
against expected) is the seasonal projection's own. Mack's standard error stays the plain chain
ladder's. The ranges (:mod:`.ranges`) are simulated as without the adjustment and each cell's
simulations are then scaled by the ratio of the seasonal to the plain selected IBNR, so their
centre follows the seasonal estimate and their coefficient of variation is unchanged; the
simulated patterns themselves are not seasonal.

Payment days (``month+paydays``, ``payment_days``): ``business`` (the default: Monday to Friday in
each calendar month, no bank holidays), ``weekly-DAY`` (one run a week on DAY, ``MON`` ... ``SUN``),
or a calendar table (CSV/Parquet or DataFrame) with columns ``month`` (``YYYY-MM``) and
``payment_days`` (a count > 0 of payment runs or working days), one row per month, covering every
calendar month from the first incurred month to the as-of month; months ahead that it does not
give are taken as the mean of the observed ones. Payment days are not inferred from the claim lines.

Why ``off`` is the default (``tests/reserving/test_nightly_seasonality.py``, 12 generated datasets):
where claims incurred in some months are paid more slowly, ``month`` cuts the newest three months'
selected-IBNR error from 31.5% to 25.6% of the true IBNR; where no month is slower, it moves it from
17.7% to 18.2% and the chain ladder's from 22.2% to 23.7%.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from reserving.chain_ladder import ChainLadder
from reserving.errors import ReservingError
from reserving.seasonality import SeasonalChainLadder, seasonal_chain_ladder
from reserving.triangle import TriangleSet

#: The ``--seasonality`` settings.
SETTINGS = ("off", "month", "month+paydays")
#: The default setting, chosen by measurement (tests/reserving/test_nightly_seasonality.py): on claims without
#: seasonal payment speed ``month`` makes the newest months' chain-ladder error worse (by 8% of itself).
DEFAULT = "off"
#: Payment days assumed when ``month+paydays`` is given no calendar.
DEFAULT_PAYMENT_DAYS = "business"


@dataclass(frozen=True)
class SeasonalCompletion:
    """The job's chain ladder with seasonal completion, and what was estimated.

    Attributes
    ----------
    setting : str
        One of :data:`SETTINGS` other than ``off``.
    chain_ladder : ChainLadder
        The job's chain ladder with ``cdf``, ``ultimate`` and ``ibnr`` adjusted (module notes).
    next_share : ndarray (S, I)
        Share of the unpaid part projected to be paid in the month after the as-of date.
    seasonal : SeasonalChainLadder
        The month-of-year (and payment-day) chain ladder behind the adjustment.
    all_month : ndarray (S, J-1)
        The factors of every month together on the same (restated) payments: what ``Z = 0`` gives.
    payment_days : str or None
        Where the payment days came from (None for ``month``).
    """

    setting: str
    chain_ladder: ChainLadder
    next_share: np.ndarray
    seasonal: SeasonalChainLadder
    all_month: np.ndarray
    payment_days: str | None

    @property
    def by_segment(self) -> pd.DataFrame:
        """consortium, service, origin_month (1-12), adjustment, credibility: each month's CDF from the
        first age against all months' (``cdf_m / cdf - 1``, both on the same restated payments), and its
        factors' ``Z`` weighted by the share of the ultimate each development step pays (all months' pattern)."""
        s = self.seasonal
        adjustment = np.prod(s.factors, axis=2) / np.prod(self.all_month, axis=1)[:, None] - 1
        cdf = np.cumprod(self.all_month[:, ::-1], axis=1)[:, ::-1]                 # (S, J-1) from each age to the last
        step = np.diff(np.concatenate([1 / cdf, np.ones((len(cdf), 1))], axis=1), axis=1)   # paid in each step
        weight = step / np.where(step.sum(axis=1, keepdims=True) > 0, step.sum(axis=1, keepdims=True), 1.0)
        credibility = (s.credibility * weight[:, None, :]).sum(axis=2)
        seg = self.chain_ladder.triangle.segments
        return pd.DataFrame({"consortium": np.repeat(seg.get_level_values(0).astype(str), 12),
                             "service": np.repeat(seg.get_level_values(1).astype(str), 12),
                             "origin_month": np.tile(np.arange(1, 13), len(seg)),
                             "adjustment": adjustment.ravel(), "credibility": credibility.ravel()})

    @property
    def by_service(self) -> pd.DataFrame:
        """service, origin_month, adjustment, credibility: :attr:`by_segment`'s means over consortia."""
        return (self.by_segment.drop(columns="consortium")
                .groupby(["service", "origin_month"], sort=False, as_index=False).mean())

    def describe(self) -> dict:
        """The setting, payment days and month-of-year adjustments per service, for ``summary.json``."""
        days = pd.Series(self.seasonal.payment_days,
                         index=pd.period_range(self.chain_ladder.triangle.origins[0],
                                               periods=len(self.seasonal.payment_days), freq="M").astype(str))
        return {"setting": self.setting,
                "payment_days": None if self.payment_days is None else
                {"source": self.payment_days, "by_month": {k: float(v) for k, v in days.items()}},
                "by_service": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}
                               for row in self.by_service.to_dict("records")]}


def check_setting(setting: str) -> str:
    """``setting`` if it is one of :data:`SETTINGS`, else a :class:`ReservingError` naming the choices.

    Examples
    --------
    >>> check_setting("month")
    'month'
    >>> check_setting("monthly")
    Traceback (most recent call last):
    ...
    reserving.errors.ReservingError: seasonality 'monthly' is not one of off, month, month+paydays (--seasonality)
    """
    if setting not in SETTINGS:
        raise ReservingError(f"seasonality {setting!r} is not one of {', '.join(SETTINGS)} (--seasonality)")
    return setting


def seasonal_completion(cl: ChainLadder, setting: str, payment_days=None) -> SeasonalCompletion | None:
    """The job's chain ladder ``cl`` with seasonal completion (module notes); None for ``off``.

    Parameters
    ----------
    cl : ChainLadder
        The job's chain ladder of a monthly triangle set (segments keyed by consortium, service).
    setting : str
        One of :data:`SETTINGS`.
    payment_days : str or DataFrame, optional
        With ``month+paydays``: ``business``, ``weekly-DAY`` or a calendar table, read and checked
        by the job (columns ``month``, ``payment_days``; module notes);
        default :data:`DEFAULT_PAYMENT_DAYS`.

    Examples
    --------
    >>> from reserving import chain_ladder
    >>> tri = TriangleSet.from_array([[[100., 150.], [90., np.nan]]], origin_start="2024-01", grain="M",
    ...     segments=pd.MultiIndex.from_tuples([("A", "er")], names=["consortium", "service"]))
    >>> seasonal_completion(chain_ladder(tri), "off") is None
    True
    >>> adj = seasonal_completion(chain_ladder(tri), "month")
    >>> adj.chain_ladder.ibnr.round(2).tolist(), adj.next_share.tolist()     # one origin per month: no seasonal evidence
    ([[0.0, 45.0]], [[0.0, 1.0]])
    """
    if check_setting(setting) == "off":
        return None
    tri = cl.triangle
    source = days = None
    if setting == "month+paydays":
        source, days = _payment_days(DEFAULT_PAYMENT_DAYS if payment_days is None else payment_days, tri)
    seasonal = seasonal_chain_ladder(tri, by_month=True, payment_days=days)
    plain = seasonal_chain_ladder(tri, by_month=False)
    reference = plain if days is None else seasonal_chain_ladder(tri, by_month=False, payment_days=days)
    ratio = np.divide(seasonal.ultimate, plain.ultimate, out=np.ones_like(cl.cdf),
                      where=(cl.latest > 0) & (plain.ultimate > 0) & np.isfinite(seasonal.ultimate))
    cdf = cl.cdf * ratio
    ultimate = np.where(cl.latest_lag >= 0, cl.latest * cdf, np.nan)
    adjusted = replace(cl, cdf=cdf, ultimate=ultimate, ibnr=ultimate - cl.latest)
    share = np.divide(seasonal.next_payment, seasonal.ibnr, out=np.zeros_like(cdf), where=seasonal.ibnr > 0)
    return SeasonalCompletion(setting, adjusted, np.clip(share, 0.0, 1.0), seasonal, reference.factors[:, 0, :],
                              source)


def is_rule(spec) -> bool:
    """Whether ``spec`` names a payment-day rule (``business``, ``weekly-DAY``) rather than a calendar.

    Examples
    --------
    >>> is_rule("weekly-FRI"), is_rule("Business"), is_rule("calendar.csv")
    (True, True, False)
    """
    return isinstance(spec, str) and (spec.strip().lower() == "business" or spec.strip().upper().startswith("WEEKLY-"))


def next_completion(completion, share) -> np.ndarray:
    """Completion one month on when ``share`` of the unpaid part is paid next: ``c + share (1 - c)``.

    Examples
    --------
    >>> next_completion(np.array([0.6]), np.array([0.5])).tolist()
    [0.8]
    """
    return completion + share * (1 - completion)


def _payment_days(spec, tri: TriangleSet) -> tuple[str, object]:
    """(source in words, the ``payment_days`` argument of :func:`seasonal_chain_ladder`)."""
    if is_rule(spec):
        text = spec.strip()
        return ("Monday to Friday in each month (assumed)" if text.lower() == "business"
                else f"one payment run a week on {text[7:].upper()}"), text
    if not isinstance(spec, pd.DataFrame):
        raise ReservingError(f"payment days {spec!r} are not 'business', 'weekly-DAY' (DAY one of MON ... SUN) "
                             "or a calendar table (--payment-days)")
    month = pd.PeriodIndex(spec["month"].astype(str).str.strip(), freq="M")
    if month.duplicated().any():
        raise ReservingError(f"the payment calendar gives month {month[month.duplicated()][0]} more than once",
                             column="month")
    n_cal = tri.n_origins + tri.n_lags - 1
    wanted = pd.period_range(tri.origins[0], periods=n_cal, freq="M")
    given = pd.Series(spec["payment_days"].to_numpy(float), index=month).reindex(wanted)
    observed = given.iloc[: tri.valuation_index + 1]
    if observed.isna().any() or (observed <= 0).any():
        gaps = [str(m) for m in observed.index[observed.isna() | (observed <= 0)]]
        raise ReservingError(f"the payment calendar needs payment_days > 0 for every month from {wanted[0]} to "
                             f"{wanted[tri.valuation_index]}; missing or not positive: {', '.join(gaps[:6])}"
                             + (f" and {len(gaps) - 6} more" if len(gaps) > 6 else ""), column="payment_days")
    return "the payment calendar given", given.fillna(observed.mean()).to_numpy()
