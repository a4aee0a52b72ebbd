"""Back-test of reserve ranges on complete run-off squares (CAS Loss Reserve Database style).

A square holds every origin's cumulative amount at every lag, so the future of the triangle known
at the valuation is known too. For each square the upper triangle is given to a method, and the
actual outcome, the sum over origins of the amount at the last lag, is placed in the method's
predictive distribution of that sum: its percentile. If the method's ranges are honest the
percentiles over many squares are uniform on (0, 1) (Meyers 2015, CAS Monograph 1, section 4:
the Kolmogorov-Smirnov test and the PP plot).

Methods (see :data:`METHODS`):

- ``mack``: a lognormal with the Mack (1993) total mean (latest plus chain-ladder IBNR) and
  standard error, as Meyers (2015) did;
- ``bootstrap``: the ODP bootstrap's simulated totals (:func:`reserving.bootstrap_odp`);
- ``csr``: the changing-settlement-rate model's simulated totals (:func:`reserving.csr.csr`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from _kit.tables import read_table
from _kit.validate import require_columns
from reserving.bootstrap import bootstrap_odp
from reserving.csr import csr
from reserving.errors import ReservingError, TriangleError
from reserving.mack import mack
from reserving.triangle import TriangleSet


@dataclass(frozen=True, eq=False)
class Squares:
    """Complete development squares, one per group.

    Attributes
    ----------
    groups : pandas.Index
        Group labels (e.g. NAIC group codes).
    origins : ndarray (I,)
        Origin labels (e.g. accident years), consecutive.
    values : ndarray (n_groups, I, I)
        Cumulative amounts by group, origin and lag; NaN where the source has no row.
    premium : ndarray (n_groups, I) or None
        Premium by group and origin, if the source has a premium column.
    """

    groups: pd.Index
    origins: np.ndarray
    values: np.ndarray
    premium: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.groups)

    def upper(self) -> TriangleSet:
        """The triangles known at the valuation (origin + lag <= last origin), annual grain."""
        n = self.values.shape[1]
        known = np.add.outer(np.arange(n), np.arange(n)) <= n - 1
        return TriangleSet.from_array(np.where(known, self.values, np.nan), origin_start=str(int(self.origins[0])),
                                      grain="Y", segments=self.groups)

    @property
    def actual(self) -> np.ndarray:
        """(n_groups,) the outcome: sum over origins of the amount at the last lag."""
        return self.values[:, :, -1].sum(axis=1)

    @property
    def latest(self) -> np.ndarray:
        """(n_groups,) sum of the latest diagonal at the valuation."""
        n = self.values.shape[1]
        return self.values[:, np.arange(n), n - 1 - np.arange(n)].sum(axis=1)

    def take(self, keep) -> Squares:
        """The squares where ``keep`` (boolean, n_groups) is true."""
        keep = np.asarray(keep, dtype=bool)
        premium = None if self.premium is None else self.premium[keep]
        return Squares(self.groups[keep], self.origins, self.values[keep], premium)


def read_squares(
    source,
    value: str = "CumulativePaid",
    *,
    group: str = "GroupCode",
    origin: str = "AccidentYear",
    lag: str = "Lag",
    premium: str | None = "NetEP",
) -> Squares:
    """Read long rows (group, origin, lag, value) into squares.

    Parameters
    ----------
    source : str, Path or DataFrame
        A CSV file or a table with one row per group, origin and lag (lags 1, 2, ...).
    value : str
        Column of cumulative amounts, e.g. ``CumulativePaid`` or ``CumulativeIncurred``.
    group, origin, lag : str
        Columns naming the group, the origin period (integer, e.g. the accident year) and the lag.
    premium : str, optional
        Column of premium by group and origin (taken from lag 1); None if there is none.

    Returns
    -------
    Squares
        Every group with its cells; a group with missing rows has NaN there.

    Examples
    --------
    >>> rows = pd.DataFrame({"GroupCode": [7] * 4, "AccidentYear": [1996, 1996, 1997, 1997],
    ...                      "Lag": [1, 2, 1, 2], "CumulativePaid": [10.0, 15.0, 12.0, 19.0]})
    >>> sq = read_squares(rows, premium=None)
    >>> sq.values[0].tolist(), float(sq.actual[0]), float(sq.latest[0])
    ([[10.0, 15.0], [12.0, 19.0]], 34.0, 27.0)
    """
    name = str(source) if isinstance(source, (str, Path)) else "squares table"
    frame = read_table(source, "squares file", TriangleError) if isinstance(source, (str, Path)) else source
    columns = [group, origin, lag, value] + ([premium] if premium else [])
    require_columns(frame, columns, name, TriangleError)
    origins = np.sort(frame[origin].unique()).astype(np.int64)
    if len(origins) > 1 and not (np.diff(origins) == 1).all():
        raise TriangleError("must hold consecutive integer periods", file=name, column=origin)
    n = len(origins)
    lags = frame[lag].to_numpy(dtype=np.int64)
    if lags.min() < 1 or lags.max() > n:
        raise TriangleError(f"must run from 1 to the number of origins ({n})", file=name, column=lag)
    codes, groups = pd.factorize(frame[group], sort=True)
    i = frame[origin].to_numpy(dtype=np.int64) - origins[0]
    values = np.full((len(groups), n, n), np.nan)
    values[codes, i, lags - 1] = pd.to_numeric(frame[value], errors="coerce").to_numpy(dtype=float)
    prem = None
    if premium:
        first = lags == 1
        prem = np.full((len(groups), n), np.nan)
        prem[codes[first], i[first]] = pd.to_numeric(frame[premium], errors="coerce").to_numpy(dtype=float)[first]
    return Squares(pd.Index(groups, name=group), origins, values, prem)


def usable(squares: Squares) -> tuple[Squares, pd.Series]:
    """The squares fit to back-test, and how many were left out for each reason.

    A square is kept when it is complete (every cell a number), every origin has positive
    premium (if the squares have premium) and positive amount at the first lag, and the outcome
    exceeds the latest diagonal (a positive outstanding: something was left to happen). Reasons
    are tested in that order and a square is counted under the first that fails.

    Examples
    --------
    >>> rows = pd.DataFrame({"GroupCode": [7] * 4 + [8] * 4, "AccidentYear": [1996, 1996, 1997, 1997] * 2,
    ...                      "Lag": [1, 2, 1, 2] * 2, "CumulativePaid": [10., 15., 12., 19., 0., 5., 3., 4.]})
    >>> kept, dropped = usable(read_squares(rows, premium=None))
    >>> list(kept.groups), int(dropped["first_lag_not_positive"])
    ([7], 1)
    """
    v = squares.values
    tests = {"incomplete": np.isfinite(v).all(axis=(1, 2))}
    if squares.premium is not None:
        tests["premium_not_positive"] = (np.nan_to_num(squares.premium) > 0).all(axis=1)
    tests["first_lag_not_positive"] = (np.nan_to_num(v[:, :, 0]) > 0).all(axis=1)
    with np.errstate(invalid="ignore"):
        tests["outstanding_not_positive"] = np.nan_to_num(squares.actual - squares.latest) > 0
    keep = np.ones(len(squares), dtype=bool)
    dropped = {}
    for reason, ok in tests.items():
        dropped[reason] = int((keep & ~ok).sum())
        keep &= ok
    return squares.take(keep), pd.Series(dropped, name="dropped")


def empirical_percentile(samples: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Share of each row's samples below the actual, ties counted half: ``(#< + #= / 2) / n``.

    NaN for a row with any NaN sample (no distribution).

    Examples
    --------
    >>> empirical_percentile(np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([3.0])).tolist()
    [0.625]
    """
    below = (samples < actual[:, None]).sum(axis=1)
    equal = (samples == actual[:, None]).sum(axis=1)
    return np.where(np.isnan(samples).any(axis=1), np.nan, (below + 0.5 * equal) / samples.shape[1])


def _mack(tri: TriangleSet, n_sims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Lognormal with Mack's mean (latest + IBNR) and standard error: (mean, cdf of a value)."""
    totals = mack(tri).totals
    mean = totals["ultimate"].to_numpy()
    cv2 = (totals["std_err"].to_numpy() / mean) ** 2
    s = np.sqrt(np.log1p(cv2))
    mu = np.log(mean) - 0.5 * s**2
    return mean, lambda actual: _lognormal_cdf(actual, mu, s)


def _lognormal_cdf(x: np.ndarray, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Lognormal cdf; NaN where Mack gives no spread (``s`` zero or not finite): no distribution."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (np.log(x) - mu) / s
    return np.where(np.isfinite(s) & (s > 0), stats.norm.cdf(z), np.nan)


def _bootstrap(tri: TriangleSet, n_sims: int, seed: int):
    res = bootstrap_odp(tri, n_sims=n_sims, seed=seed, keep_samples=True)
    totals = res.samples.sum(axis=2) + np.nansum(res.latest, axis=1)[:, None]
    return totals.mean(axis=1), lambda actual: empirical_percentile(totals, actual)


def _csr(tri: TriangleSet, n_sims: int, seed: int):
    res = csr(tri, n_sims=n_sims, seed=seed)
    totals = res.total_samples + np.nansum(res.latest, axis=1)[:, None]
    return totals.mean(axis=1), lambda actual: empirical_percentile(totals, actual)


#: Back-test methods by name: each maps (upper triangles, n_sims, seed) to the mean outcome and
#: a function giving the percentile of actual outcomes.
METHODS = {"mack": _mack, "bootstrap": _bootstrap, "csr": _csr}


@dataclass(frozen=True, eq=False)
class Backtest:
    """Percentiles of actual outcomes in each method's predictive distribution; see :func:`backtest`.

    Attributes
    ----------
    table : DataFrame
        One row per method and group: ``method``, ``group``, ``actual``, ``mean``, ``percentile``
        (NaN where the method gave no distribution, e.g. a CSR fit with no cell at the last lag).
    dropped : Series
        Squares left out, by reason (see :func:`usable`).
    """

    table: pd.DataFrame
    dropped: pd.Series

    @property
    def summary(self) -> pd.DataFrame:
        """One row per method: the statistics of :func:`summarize` over the squares with a
        percentile, and ``n_failed``, the squares without one."""
        rows = {}
        for m, g in self.table.groupby("method", sort=False):
            ok = np.isfinite(g["percentile"].to_numpy())
            rows[m] = {**summarize(g["percentile"].to_numpy()[ok], g["actual"].to_numpy()[ok], g["mean"].to_numpy()[ok]),
                       "n_failed": int((~ok).sum())}
        return pd.DataFrame.from_dict(rows, orient="index")


def summarize(percentile: np.ndarray, actual: np.ndarray, mean: np.ndarray) -> dict:
    """Uniformity of outcome percentiles: what Meyers (2015) reports, and the shares a Board reads.

    Returns ``n``; ``ks_statistic`` and ``ks_pvalue`` of the Kolmogorov-Smirnov test against the
    uniform (:func:`scipy.stats.kstest`); ``ks_critical_5``, the 5% critical value ``1.36 / sqrt(n)``
    Meyers uses; ``inside_10_90``, the share of percentiles in [0.1, 0.9] (0.8 if honest);
    ``below_5`` (0.05 if honest); ``median_actual_over_mean``.

    Examples
    --------
    >>> s = summarize(np.linspace(0.005, 0.995, 100), np.ones(100), np.ones(100))
    >>> s["n"], round(s["inside_10_90"], 2), s["ks_pvalue"] > 0.99
    (100, 0.8, True)
    """
    p = np.asarray(percentile, dtype=float)
    n = len(p)
    if n == 0:
        return {"n": 0, "ks_statistic": np.nan, "ks_pvalue": np.nan, "ks_critical_5": np.nan, "inside_10_90": np.nan,
                "below_5": np.nan, "median_actual_over_mean": np.nan}
    ks = stats.kstest(p, "uniform")
    return {
        "n": n,
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "ks_critical_5": 1.36 / np.sqrt(n),
        "inside_10_90": float(np.mean((p >= 0.1) & (p <= 0.9))),
        "below_5": float(np.mean(p < 0.05)),
        "median_actual_over_mean": float(np.median(np.asarray(actual) / np.asarray(mean))),
    }


def backtest(squares: Squares, methods=("mack", "bootstrap", "csr"), *, n_sims: int = 10_000,
             seed: int = 0) -> Backtest:
    """Hold out the lower triangle of every usable square and place the actual outcome in each method's range.

    Parameters
    ----------
    squares : Squares
        From :func:`read_squares`; unusable squares are left out (:func:`usable`).
    methods : sequence of str
        Names in :data:`METHODS`.
    n_sims : int
        Simulations per square for the simulating methods.
    seed : int
        Seed of every simulating method (the same triangles get the same streams in every run).

    Returns
    -------
    Backtest
        ``.table`` (one row per method and square) and ``.summary`` (one row per method).

    Examples
    --------
    Two made-up squares are too few to judge anything, but show the shape of the result:

    >>> rows = pd.DataFrame({"GroupCode": np.repeat([1, 2], 16), "AccidentYear": np.tile(np.repeat([2001, 2002, 2003, 2004], 4), 2),
    ...                      "Lag": np.tile([1, 2, 3, 4], 8),
    ...                      "CumulativePaid": np.tile([50., 80., 95., 100.], 8) * np.repeat([1., 1.1, 1.2, 1.3, 2., 2.1, 2.2, 2.3], 4)})
    >>> bt = backtest(read_squares(rows, premium=None), methods=("mack",))
    >>> bt.table.columns.tolist(), int(bt.summary.loc["mack", "n"])
    (['method', 'group', 'actual', 'mean', 'percentile'], 2)
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ReservingError(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    kept, dropped = usable(squares)
    if len(kept) == 0:
        raise TriangleError(f"no square is usable for a back-test; left out: {dropped.to_dict()}")
    tri = kept.upper()
    actual = kept.actual
    frames = []
    for name in methods:
        mean, percentile = METHODS[name](tri, n_sims, seed)
        frames.append(pd.DataFrame({"method": name, "group": np.asarray(kept.groups), "actual": actual,
                                    "mean": mean, "percentile": percentile(actual)}))
    return Backtest(pd.concat(frames, ignore_index=True), dropped)
