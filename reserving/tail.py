"""Tail factors beyond the last observed development age: a constant, or a fitted curve.

A tail extends each segment's age-to-age factors past the triangle's last lag and carries a
tail sigma and standard error for Mack. Both follow chainladder-python 0.10.1
(``TailConstant`` and ``TailCurve``) so that factors and Mack standard errors agree with it:

* The tail adds ``k + 1`` factors after the last observed one, ``k`` being the number of
  periods in ``projection_period`` months (1 for annual data with the default 12 months,
  12 for monthly data). ``attachment_age`` moves the start of the tail earlier.
* A constant tail ``t`` is spread as ``1 + x d**n`` over the added factors (``d`` the decay),
  with the last factor making the product exactly ``t``.
* A curve is fitted to ``log(f - 1)`` of the observed factors above ``reg_threshold``:
  against the lag number (exponential decay) or its log (inverse power), then summed over
  ``extrap_periods`` lags past the triangle.
* The tail sigma and standard error extrapolate log-linear fits of the observed sigmas and
  standard errors (against lag number) to the "age" at which a log-linear fit of the
  observed ``f - 1`` reaches the tail's ``t - 1``. As in chainladder, the three fits run over
  every observed lag and a value that has no logarithm (a factor at or below 1, a zero
  sigma or standard error) enters the fit as ``log = 0``. Without a tail (or a tail of
  exactly 1) the tail sigma and standard error are 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reserving.errors import TriangleError
from reserving.triangle import MONTHS_PER_PERIOD


@dataclass(frozen=True)
class TailConstant:
    """A given tail factor from the last development age (or ``attachment_age``) to ultimate.

    Parameters
    ----------
    factor : float
        The tail factor (1.0: no tail).
    decay : float
        Each added factor's development portion is ``decay`` times the previous one.
    attachment_age : int, optional
        Age in months where the tail starts, replacing the observed factors from there on.
    projection_period : int
        Months past the last age over which separate tail factors are shown.

    Examples
    --------
    >>> import chainladder as cl
    >>> from reserving import TriangleSet, chain_ladder
    >>> raa = TriangleSet.from_chainladder(cl.load_sample("raa"))
    >>> round(float(chain_ladder(raa, tail=TailConstant(1.05)).development.cdf_values[0, 0]), 6)
    9.366246
    """

    factor: float = 1.0
    decay: float = 0.5
    attachment_age: int | None = None
    projection_period: int = 12

    def factors(self, ldf: np.ndarray, ages: np.ndarray, grain: str) -> tuple[np.ndarray, np.ndarray]:
        """Observed factors (S, J-1) -> factors with the tail appended (S, J-1+k+1).

        Also returns an (S,) mask of segments whose tail could not be formed (never, here).
        """
        ext, k = _extend(ldf, self.projection_period, grain)
        attach = _attach_index(self.attachment_age, ages)
        span = ext.shape[1] - attach
        if self.factor == 1.0:
            steps = np.ones(span)
        else:
            powers = self.decay ** np.arange(1000)
            a, b, c = np.sum(powers**2), np.sum(powers), -np.log(self.factor)
            first = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
            steps = (1 + first * powers)[:span].copy()
            steps[-1] = self.factor / np.prod(steps[:-1])
        ext[:, attach:] = steps
        return ext, np.zeros(ldf.shape[0], dtype=bool)


@dataclass(frozen=True)
class TailCurve:
    """A tail fitted to the observed factors by a decay curve of ``f - 1``.

    Parameters
    ----------
    curve : {'exponential', 'inverse_power'}
        ``f(t) - 1 = exp(a + b t)`` or ``exp(a) t**b`` for lag number ``t = 1, 2, ...``.
    fit_period : tuple (start_age, end_age) or list of bool
        Ages (months) of the factors used in the fit; ``None`` means the triangle's edge.
        A list of booleans, one per observed factor, selects them directly.
    extrap_periods : int
        Number of lags past the first one to which the curve is summed.
    attachment_age : int, optional
        Age in months where the fitted curve replaces the observed factors.
    reg_threshold : tuple (lower, upper)
        Factors at or below ``lower`` (or above ``upper``) are left out of the fit.
    projection_period : int
        Months past the last age over which separate tail factors are shown.

    Examples
    --------
    >>> import chainladder as cl
    >>> from reserving import TriangleSet, chain_ladder
    >>> tri = TriangleSet.from_chainladder(cl.load_sample("tail_sample"), column="paid")
    >>> res = chain_ladder(tri, tail=TailCurve("exponential"))
    >>> [round(float(f), 6) for f in res.development.ldf_values[0, -2:]]
    [1.012067, 1.020099]
    """

    curve: str = "exponential"
    fit_period: tuple | list = (None, None)
    extrap_periods: int = 100
    attachment_age: int | None = None
    reg_threshold: tuple = (1.00001, None)
    projection_period: int = 12

    def __post_init__(self):
        if self.curve not in ("exponential", "inverse_power"):
            raise TriangleError(f"curve {self.curve!r} is not 'exponential' or 'inverse_power'")

    def factors(self, ldf: np.ndarray, ages: np.ndarray, grain: str) -> tuple[np.ndarray, np.ndarray]:
        """Observed factors (S, J-1) -> factors with the fitted tail appended (S, J-1+k+1).

        Also returns an (S,) mask of segments with fewer than two factors to fit (or a flat
        fit): their tail is 1.0 (no tail) and the caller reports them.
        """
        ext, k = _extend(ldf, self.projection_period, grain)
        n_obs = ldf.shape[1]
        if self.extrap_periods <= k:
            raise TriangleError(f"extrap_periods={self.extrap_periods} must exceed the {k} projected lags")
        use = self._fit_mask(n_obs, grain)[None, :] & (ldf > self._lower())
        if self.reg_threshold[1] is not None and self.reg_threshold[1] > self._lower():
            use &= ldf <= self.reg_threshold[1]
        t = np.arange(1, n_obs + 1, dtype=float)
        x = t if self.curve == "exponential" else np.log(t)
        y = np.log(np.where(use, ldf, 2.0) - 1)
        slope, intercept = _weighted_line(x, y, use)
        undefined = ~np.isfinite(slope)
        slope, intercept = np.nan_to_num(slope), np.nan_to_num(intercept)
        t_ext = np.arange(1, self.extrap_periods + n_obs + 1, dtype=float)
        if self.curve == "exponential":
            dev = np.exp(slope[:, None] * t_ext + intercept[:, None])
        else:
            dev = np.exp(intercept[:, None]) * t_ext ** slope[:, None]
        last = ext.shape[1] - 1
        fitted = np.concatenate([1 + dev[:, :last], np.prod(1 + dev[:, last:], axis=1)[:, None]], axis=1)
        attach = _attach_index(self.attachment_age, ages)
        ext[~undefined, attach:] = fitted[~undefined, attach:]
        return ext, undefined

    def _lower(self) -> float:
        low = self.reg_threshold[0]
        return 1.0 if low is None or low < 1 else float(low)

    def _fit_mask(self, n_obs: int, grain: str) -> np.ndarray:
        if isinstance(self.fit_period, list):
            mask = np.asarray(self.fit_period, dtype=bool)
            if mask.shape != (n_obs,):
                raise TriangleError(f"fit_period has {mask.size} flags for {n_obs} observed factors")
            return mask
        months = MONTHS_PER_PERIOD[grain]
        start, end = self.fit_period
        lo = None if start is None else int(start / months - 1)
        hi = None if end is None else int(end / months - 1)
        mask = np.zeros(n_obs, dtype=bool)
        mask[slice(lo, hi)] = True
        return mask


def as_tail(tail) -> TailConstant | TailCurve | None:
    """Accept ``None``, a number (a constant tail) or a tail object."""
    if tail is None or isinstance(tail, (TailConstant, TailCurve)):
        return tail
    if isinstance(tail, (int, float, np.floating)) and np.isfinite(tail) and tail > 0:
        return TailConstant(float(tail))
    raise TriangleError(f"tail must be None, a positive number or a TailConstant/TailCurve; got {tail!r}")


def tail_statistics(ldf_observed, ldf_extended, sigma, std_err, n_tail):
    """Tail sigma and standard error per segment (chainladder ``TailBase._get_tail_stats``).

    Parameters
    ----------
    ldf_observed : (S, J-1) factors from the data.
    ldf_extended : (S, J-1+n_tail) factors with the tail.
    sigma, std_err : (S, J-1) after interpolation.
    n_tail : number of tail factors (``k + 1``).

    Returns (S,) tail sigma and (S,) tail standard error: each a log-linear fit against lag
    number ``1..J-1`` (every lag, undefined logs as 0) evaluated at ``t*``, where
    ``t*`` solves ``fit(log(f - 1)) = log(tail - 1)`` and ``tail`` is the product of the tail
    factors (1.001 when that product is not above 1). Both are 0 when the tail is exactly 1,
    and NaN when the fit gives no finite age or value (e.g. no observed factor above 1), where
    chainladder's NaN silently drops the accumulated Mack error instead.
    """
    t = np.arange(1, ldf_observed.shape[1] + 1, dtype=float)
    tail = np.prod(ldf_extended[:, -n_tail:], axis=1)
    b_f, a_f = _line_missing_as_zero(t, _log_or_nan(ldf_observed - 1))
    level = np.where(tail > 1, tail, 1.001)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = (np.log(level - 1) - a_f) / b_f
    b_s, a_s = _line_missing_as_zero(t, _log_or_nan(sigma))
    b_e, a_e = _line_missing_as_zero(t, _log_or_nan(std_err))
    cdf_tail = np.prod(ldf_extended[:, ldf_observed.shape[1]:], axis=1)
    no_tail = cdf_tail == 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        tail_sigma = np.exp(t_star * b_s + a_s)
        tail_se = np.exp(t_star * b_e + a_e)
    defined = np.isfinite(tail_sigma) & np.isfinite(tail_se) & (b_f != 0)
    tail_sigma = np.where(no_tail, 0.0, np.where(defined, tail_sigma, np.nan))
    tail_se = np.where(no_tail, 0.0, np.where(defined, tail_se, np.nan))
    return tail_sigma, tail_se


def _extend(ldf: np.ndarray, projection_period: int, grain: str) -> tuple[np.ndarray, int]:
    k = (12 // MONTHS_PER_PERIOD[grain]) * int(projection_period / 12)
    ones = np.ones((ldf.shape[0], k + 1))
    return np.concatenate([ldf, ones], axis=1), k


def _attach_index(attachment_age, ages: np.ndarray) -> int:
    if attachment_age is None:
        return len(ages) - 1
    later = np.flatnonzero(ages >= attachment_age)
    if later.size == 0:
        raise TriangleError(f"attachment_age {attachment_age} is after the last development age {ages[-1]}")
    return int(later[0])


def _log_or_nan(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)


def _weighted_line(x: np.ndarray, y: np.ndarray, use: np.ndarray):
    """Least-squares line through the points with ``use`` (per row); NaN if under 2 points."""
    w = use.astype(float)
    n = w.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        xm = (w * x).sum(axis=1) / n
        ym = np.where(use, y, 0.0).sum(axis=1) / n
        num = (w * x * np.where(use, y, 0.0)).sum(axis=1) - (w * x).sum(axis=1) * ym
        den = (w * x * x).sum(axis=1) - (w * x).sum(axis=1) * xm
        slope = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
    return slope, ym - slope * xm


def _line_missing_as_zero(x: np.ndarray, y: np.ndarray):
    """Least-squares line of ``y`` on ``x`` over every column, a NaN ``y`` counting as 0."""
    return _weighted_line(x, np.nan_to_num(y, nan=0.0), np.ones(y.shape, dtype=bool))
