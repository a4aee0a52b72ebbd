"""Mack's tests of the chain-ladder assumptions: calendar-year effects and correlated factors.

Mack, T. (1994), "Measuring the variability of chain ladder reserve estimates", CAS Forum
(Spring), Appendices G and H (also Mack 1997, "Schadenversicherungsmathematik"). Both tests work
on the individual development factors ``C[i, k+1] / C[i, k]`` of each segment; the formulas are
in :mod:`reserving._mack_tests_kernels`. They are R ChainLadder's ``cyEffTest`` and
``dfCorTest`` and chainladder-python's ``ValuationCorrelation(total=True)`` and
``DevelopmentCorrelation`` (see tests/reserving/test_mack_tests.py for the parity).

* Calendar-year test: on each diagonal, the smaller of the numbers of factors below and above
  their column's median, summed over diagonals, ``Z``; under no calendar-year effect ``Z`` is
  about normal with mean ``E[Z]`` and variance ``Var[Z]``. An effect is flagged when ``Z`` falls
  outside ``E[Z] +- z_{(1+ci)/2} sqrt(Var[Z])`` (default ``ci = 0.95``).
* Correlation test: the weighted mean ``T`` of the Spearman correlations of adjacent factor
  columns; under no correlation ``E[T] = 0`` and ``Var[T] = 1 / sum of weights``
  (``2 / ((I-2)(I-3))`` on a full triangle). Correlation is flagged outside
  ``+- z_{(1+ci)/2} sqrt(Var[T])``; Mack uses ``ci = 0.5`` because the test is approximate and
  should react already to correlation in a substantial part of the triangle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.stats import norm

from reserving import _mack_tests_kernels as _k
from reserving.errors import ReservingError
from reserving.triangle import TriangleSet


@dataclass(frozen=True, eq=False)
class CalendarYearTest:
    """Mack's calendar-year test for every segment.

    Attributes
    ----------
    z, expected, variance, count : ndarray (S, D)
        Per calendar diagonal of factors: ``Z_d``, ``E[Z_d]``, ``Var[Z_d]`` and the number of
        factors that are not equal to their column's median.
    ci : float
        Confidence level of the acceptance range.
    """

    triangle: TriangleSet
    ci: float
    z: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    count: np.ndarray

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per segment: z, expected, variance, lower, upper and ``calendar_year_effect`` (Z outside)."""
        z, e, v = self.z.sum(axis=1), self.expected.sum(axis=1), self.variance.sum(axis=1)
        half = norm.ppf(0.5 + self.ci / 2.0) * np.sqrt(v)
        return pd.DataFrame({"z": z, "expected": e, "variance": v, "lower": e - half, "upper": e + half,
                             "calendar_year_effect": (z < e - half) | (z > e + half)},
                            index=self.triangle.segments)

    @cached_property
    def by_diagonal(self) -> pd.DataFrame:
        """Per segment and calendar period (of the later cell of each factor): z, count, expected, variance."""
        tri = self.triangle
        periods = tri.origins[0] + 1 + np.arange(self.z.shape[1])
        seg = tri.segments.to_frame(index=False).loc[np.repeat(np.arange(tri.n_segments), periods.size)]
        seg = seg.reset_index(drop=True)
        seg["calendar_period"] = np.tile(np.asarray(periods), tri.n_segments)
        frame = pd.DataFrame({"z": self.z.ravel(), "count": self.count.ravel(), "expected": self.expected.ravel(),
                              "variance": self.variance.ravel()}, index=pd.MultiIndex.from_frame(seg))
        return frame[frame["count"] > 0]


@dataclass(frozen=True, eq=False)
class DevelopmentCorrelationTest:
    """Mack's test for correlation between adjacent development factors, for every segment.

    Attributes
    ----------
    t_k, weights : ndarray (S, K-1)
        Spearman correlation of factor columns (k-1, k) and its weight (pairs - 1).
    ci : float
        Confidence level of the acceptance range.
    """

    triangle: TriangleSet
    ci: float
    t_k: np.ndarray
    weights: np.ndarray

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per segment: t, variance, lower, upper and ``correlated`` (T outside the range)."""
        total = self.weights.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.nansum(self.weights * np.nan_to_num(self.t_k), axis=1) / total
            variance = 1.0 / total
        half = norm.ppf(0.5 + self.ci / 2.0) * np.sqrt(variance)
        return pd.DataFrame({"t": t, "variance": variance, "lower": -half, "upper": half,
                             "correlated": (t < -half) | (t > half)}, index=self.triangle.segments)


def calendar_year_test(tri: TriangleSet, *, ci: float = 0.95) -> CalendarYearTest:
    """Mack's (1994) test for calendar-year effects, per segment.

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles.
    ci : float in (0, 1)
        Confidence level of the range for ``Z`` (R ChainLadder's ``cyEffTest`` default 0.95).

    Returns
    -------
    CalendarYearTest
        ``.summary`` (one row per segment) and ``.by_diagonal``.

    Examples
    --------
    >>> import chainladder as cl
    >>> from reserving import TriangleSet, calendar_year_test
    >>> raa = TriangleSet.from_chainladder(cl.load_sample("raa"))
    >>> row = calendar_year_test(raa).summary.iloc[0]
    >>> float(row["z"]), round(float(row["expected"]), 4), bool(row["calendar_year_effect"])
    (14.0, 12.875, False)
    """
    _check(tri, ci)
    z, e, v, n = _k.calendar_year_batch(np.ascontiguousarray(tri.link_ratios))
    return CalendarYearTest(tri, float(ci), z, e, v, n)


def development_correlation_test(tri: TriangleSet, *, ci: float = 0.5) -> DevelopmentCorrelationTest:
    """Mack's (1994) test for correlation between adjacent development factors, per segment.

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles.
    ci : float in (0, 1)
        Confidence level of the range for ``T`` (Mack's and ``dfCorTest``'s default 0.5).

    Returns
    -------
    DevelopmentCorrelationTest
        ``.summary`` (one row per segment).

    Examples
    --------
    >>> import chainladder as cl
    >>> from reserving import TriangleSet, development_correlation_test
    >>> raa = TriangleSet.from_chainladder(cl.load_sample("raa"))
    >>> row = development_correlation_test(raa).summary.iloc[0]
    >>> round(float(row["t"]), 4), round(float(row["upper"]), 4), bool(row["correlated"])
    (0.0696, 0.1275, False)
    """
    _check(tri, ci)
    t_k, weights = _k.development_correlation_batch(np.ascontiguousarray(tri.link_ratios))
    return DevelopmentCorrelationTest(tri, float(ci), t_k, weights)


def assumption_tests(tri: TriangleSet) -> pd.DataFrame:
    """Both tests at their usual levels (0.95 and 0.5), one row per segment, for a Mack result."""
    cy = calendar_year_test(tri).summary.add_prefix("cy_")
    dc = development_correlation_test(tri).summary.add_prefix("dfcor_")
    return pd.concat([cy, dc], axis=1)


def _check(tri: TriangleSet, ci: float) -> None:
    if not isinstance(tri, TriangleSet):
        raise ReservingError(f"expected a TriangleSet; got {type(tri).__name__} (build one with TriangleSet.from_...)")
    if not (isinstance(ci, (int, float)) and 0.0 < ci < 1.0):
        raise ReservingError(f"ci {ci!r} must be a confidence level strictly between 0 and 1 (e.g. 0.95)")
