"""Chain-ladder reserves: ultimate = latest diagonal x cumulative development factor.

The factors come from :func:`reserving.development.develop` (Numba kernels over the whole
stack of segments); this module projects each origin and labels the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from reserving.development import Development, develop
from reserving.results import diagnostics_frame, link_labels, origin_frame
from reserving.selections import selected_exclusions
from reserving.triangle import TriangleSet


@dataclass(frozen=True, eq=False)
class ChainLadder:
    """Chain-ladder result for every segment of a triangle set.

    Attributes
    ----------
    development : Development
        Weights, factors, sigmas and tail behind the projection.
    latest, latest_lag : ndarray (S, I)
        Each origin's last finite value (currency) and its lag (-1: no data).
    cdf : ndarray (S, I)
        Cumulative factor from each origin's latest lag to ultimate.
    ultimate, ibnr : ndarray (S, I)
        ``latest * cdf`` and ``ultimate - latest`` (currency); NaN for origins with no data.

    Notes
    -----
    ``summary`` is indexed by the segment level(s) and ``origin``; ``totals`` by segment.
    Origins with no data (before a shorter segment's first origin) have NaN rows in
    ``summary`` and are left out of ``totals``. An origin whose valuation-diagonal cell is
    missing is projected from its last finite cell; ``diagnostics`` lists it.
    """

    development: Development
    latest: np.ndarray
    latest_lag: np.ndarray
    cdf: np.ndarray
    ultimate: np.ndarray
    ibnr: np.ndarray
    extra_rows: tuple = ()

    @property
    def triangle(self) -> TriangleSet:
        return self.development.triangle

    @property
    def ldf(self) -> pd.DataFrame:
        """Age-to-age factors (tail factors last), one row per segment."""
        values = self.development.ldf_values
        return pd.DataFrame(values, index=self.triangle.segments, columns=link_labels(self.triangle, values.shape[1]))

    @property
    def cdf_pattern(self) -> pd.DataFrame:
        """Cumulative factors to ultimate from each development age, one row per segment."""
        cdf = self.development.cdf_values
        return pd.DataFrame(cdf, index=self.triangle.segments, columns=[f"{a}-Ult" for a in self.triangle.development])

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per segment and origin: latest, development age of latest, cdf, ultimate, ibnr."""
        age = np.where(self.latest_lag >= 0, self.triangle.development[np.maximum(self.latest_lag, 0)], -1)
        return origin_frame(
            self.triangle,
            {"latest": self.latest, "development": age, "cdf": self.cdf, "ultimate": self.ultimate, "ibnr": self.ibnr},
        )

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Per segment: latest, ultimate and ibnr summed over origins with data."""
        return pd.DataFrame(
            {
                "latest": np.nansum(self.latest, axis=1),
                "ultimate": np.nansum(self.ultimate, axis=1),
                "ibnr": np.nansum(self.ibnr, axis=1),
            },
            index=self.triangle.segments,
        )

    @cached_property
    def diagnostics(self) -> pd.DataFrame:
        """One row per assumption made for a segment: development age, issue code, detail."""
        return diagnostics_frame(self.triangle, list(self.development.rows) + list(self.extra_rows))


def chain_ladder(
    tri: TriangleSet,
    *,
    average: str = "volume",
    n_periods: int | None = None,
    drop_high=None,
    drop_low=None,
    exclude=None,
    tail=None,
    selections=None,
) -> ChainLadder:
    """Chain-ladder ultimates and IBNR for every segment of ``tri``.

    The factor options are keyword-only and in the same order in :func:`reserving.mack` and
    :func:`reserving.bootstrap_odp`: ``average, n_periods, drop_high, drop_low, exclude, tail``.

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles (currency).
    average : {'volume', 'simple', 'regression'}
        Volume-weighted ``sum C[j+1] / sum C[j]``, simple mean of link ratios, or least
        squares through the origin ``sum C[j] C[j+1] / sum C[j]**2``.
    n_periods : int, optional
        Use only the link ratios of the latest ``n_periods`` diagonals (default all).
    drop_high, drop_low : bool, int or list, optional
        Drop the highest / lowest link ratio(s) of each lag (a list gives one count per lag),
        ranked inside the ``n_periods`` window; ignored for a lag where nothing would remain.
    exclude : (origin, development) pair, list of pairs, or bool array, optional
        Link ratios to leave out, named by origin and the development age they start from,
        e.g. ``("1985", 12)``; an array of shape (I, J-1) or (S, I, J-1) marks them directly.
    tail : float, TailConstant or TailCurve, optional
        Tail factor beyond the last age; a number is a constant tail.
    selections : Selections, optional
        The actuary's selected factors, averaging rules and exclusions
        (:mod:`reserving.selections`); each applied one is a row of ``diagnostics``.

    Returns
    -------
    ChainLadder
        ``.summary``, ``.totals``, ``.ldf``, ``.diagnostics`` and the arrays behind them.

    Notes
    -----
    Matches chainladder-python 0.10.1 ``Development`` + ``Chainladder``; see
    :mod:`reserving.development` for the cases where chainladder has no number.

    Examples
    --------
    >>> import chainladder as cl
    >>> from reserving import TriangleSet, chain_ladder
    >>> raa = TriangleSet.from_chainladder(cl.load_sample("raa"))
    >>> res = chain_ladder(raa)
    >>> round(float(res.totals["ibnr"].iloc[0]), 2)
    52135.23
    >>> res.summary[["latest", "ultimate"]].iloc[-1].round(1).tolist()
    [2063.0, 18402.4]
    """
    dev = develop(tri, average, n_periods, drop_high, drop_low, selected_exclusions(tri, exclude, selections), tail,
                  sigma=None)
    return project(dev if selections is None else selections.apply(dev))


def project(dev: Development) -> ChainLadder:
    """Project every origin from its latest finite cell with the development's factors."""
    tri = dev.triangle
    lag = tri.latest_lag
    latest = tri.latest
    cdf_pattern = dev.cdf_values
    cdf = np.where(lag >= 0, np.take_along_axis(cdf_pattern, np.maximum(lag, 0), axis=1), np.nan)
    ultimate = latest * cdf
    rows = []
    diagonal = np.minimum(tri.valuation_index - np.arange(tri.n_origins), tri.n_lags - 1)
    ages = tri.development
    for s, i in zip(*np.nonzero((lag >= 0) & (lag < diagonal[None, :]))):
        rows.append((s, int(ages[lag[s, i]]), "latest_before_diagonal",
                     f"origin {tri.origins[i]} has no value on the valuation diagonal; "
                     f"projected from development {ages[lag[s, i]]}"))
    for s in np.flatnonzero((lag < 0).all(axis=1)):
        rows.append((s, None, "no_data", "the segment has no values: ultimates are NaN"))
    return ChainLadder(dev, latest, lag, cdf, ultimate, ultimate - latest, tuple(rows))
