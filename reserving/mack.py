"""Mack (1993) chain-ladder standard errors: process and parameter error per origin and total.

Mack, T. (1993), "Distribution-free calculation of the standard error of chain ladder reserve
estimates", ASTIN Bulletin 23(2), 213-225: Theorem 3 for one origin, and its corollary for the
total over origins. The recursion (kernel :func:`reserving._kernels.mack_one`) is the one of
chainladder-python 0.10.1 ``MackChainladder``, including a tail's sigma and standard error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from reserving import _kernels
from reserving.chain_ladder import ChainLadder, project
from reserving.development import AVERAGES, develop
from reserving.mack_tests import assumption_tests
from reserving.results import ProcessParameterErrors
from reserving.selections import selected_exclusions
from reserving.triangle import TriangleSet


@dataclass(frozen=True, eq=False)
class Mack(ProcessParameterErrors):
    """Mack standard errors on top of a chain-ladder result.

    Attributes
    ----------
    chain_ladder : ChainLadder
        The projection the errors refer to (``ultimate``, ``ibnr``, ``ldf``, ...).
    process, parameter : ndarray (S, I)
        Process and parameter standard errors of each origin's ultimate (currency).
    total_process, total_parameter : ndarray (S,)
        The same for the sum over origins; parameter errors are correlated across origins.

    Notes
    -----
    ``std_err = sqrt(process**2 + parameter**2)`` (Mack 1993 eq. (7)); the reserve has the same
    standard error as the ultimate. Segments with a ``sigma_undetermined``,
    ``tail_sigma_undetermined`` or ``std_err_overflow`` diagnostic have NaN standard errors;
    every other segment's are finite.
    """

    chain_ladder: ChainLadder
    sigma_interpolation: str
    process: np.ndarray
    parameter: np.ndarray
    total_process: np.ndarray
    total_parameter: np.ndarray

    @property
    def triangle(self) -> TriangleSet:
        return self.chain_ladder.triangle

    @property
    def ldf(self) -> pd.DataFrame:
        return self.chain_ladder.ldf

    @property
    def diagnostics(self) -> pd.DataFrame:
        return self.chain_ladder.diagnostics

    @cached_property
    def assumption_tests(self) -> pd.DataFrame:
        """Mack's calendar-year (``cy_``) and factor-correlation (``dfcor_``) tests, one row per segment.

        See :mod:`reserving.mack_tests`; levels 0.95 and 0.5 as in Mack (1994).
        """
        return assumption_tests(self.triangle)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per segment and origin: the chain-ladder columns plus std_err, its parts and CV."""
        out = self.chain_ladder.summary.copy()
        out["std_err"] = self.std_err.reshape(-1)
        out["process_std_err"] = self.process.reshape(-1)
        out["parameter_std_err"] = self.parameter.reshape(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["cv"] = out["std_err"] / out["ibnr"]
        no_data = self.chain_ladder.latest_lag.reshape(-1) < 0
        out.loc[no_data, ["std_err", "process_std_err", "parameter_std_err", "cv"]] = np.nan
        return out

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Per segment: latest, ultimate, ibnr, total Mack std_err with its parts, and CV."""
        out = self.chain_ladder.totals.copy()
        out["std_err"] = self.total_std_err
        out["process_std_err"] = self.total_process
        out["parameter_std_err"] = self.total_parameter
        with np.errstate(divide="ignore", invalid="ignore"):
            out["cv"] = out["std_err"] / out["ibnr"]
        return out


def mack(
    tri: TriangleSet,
    *,
    average: str = "volume",
    n_periods: int | None = None,
    drop_high=None,
    drop_low=None,
    exclude=None,
    tail=None,
    sigma: str = "log-linear",
    selections=None,
) -> Mack:
    """Chain ladder with Mack (1993) standard errors for every segment of ``tri``.

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles (currency).
    average, n_periods, drop_high, drop_low, exclude
        Factor options (keyword-only), as in :func:`reserving.chain_ladder`.
    tail : float, TailConstant or TailCurve, optional
        Tail beyond the last age; its sigma and standard error are extrapolated
        (see :mod:`reserving.tail`).
    sigma : {'log-linear', 'mack'}
        How sigmas of lags with fewer than two link ratios are filled: a log-linear fit over
        all lags, or Mack's (1993) ``min(s[j-1]**4 / s[j-2]**2, s[j-2]**2, s[j-1]**2)``.
    selections : Selections, optional
        Selected factors, averaging rules and exclusions (:mod:`reserving.selections`); a selected
        factor enters Mack's recursion, its lag's sigma and standard error stay as estimated.

    Returns
    -------
    Mack
        ``.summary`` (latest, ultimate, ibnr, std_err, process/parameter parts, cv) and
        ``.totals`` (with the total Mack standard error per segment).

    Examples
    --------
    Taylor and Ashe's data as in Mack (1993), total standard error 2,447,095:

    >>> import chainladder as cl
    >>> from reserving import TriangleSet, mack
    >>> genins = TriangleSet.from_chainladder(cl.load_sample("genins"))
    >>> round(float(mack(genins, sigma="mack").totals["std_err"].iloc[0]))
    2447095
    """
    dev = develop(tri, average, n_periods, drop_high, drop_low, selected_exclusions(tri, exclude, selections), tail,
                  sigma)
    if selections is not None:
        dev = selections.apply(dev)
    cl = project(dev)
    process, parameter, total_parameter = _kernels.mack_batch(
        tri.values, cl.latest_lag, dev.mack_factors, dev.sigma, dev.std_err, AVERAGES[average]
    )
    total_process = np.sqrt(np.sum(process**2, axis=1))
    overflow = _overflowed(dev, cl.latest_lag, process, parameter, total_process, total_parameter)
    for values in (process, parameter):
        values[overflow] = np.nan
    total_process[overflow] = total_parameter[overflow] = np.nan
    rows = tuple(_overflow_row(tri, dev.sigma[s], s) for s in np.flatnonzero(overflow))
    return Mack(replace(cl, extra_rows=cl.extra_rows + rows), sigma, process, parameter, total_process, total_parameter)


def _overflow_row(tri: TriangleSet, sigma: np.ndarray, s: int) -> tuple:
    """Diagnostic row naming the largest sigma (a lag's, or the tail's in the last position)."""
    j = int(np.nanargmax(sigma))
    where = "the tail" if j == tri.n_lags - 1 else f"development {tri.development[j]}"
    return (s, int(tri.development[j]), "std_err_overflow",
            f"the Mack standard errors exceed the floating-point range: the sigma of {where} is {sigma[j]:.3g}, "
            "extrapolated far beyond the observed sigmas; standard errors are NaN (try no tail, or check "
            "factors at or below 1 which the tail-sigma fit counts as log 0)")


def _overflowed(dev, latest_lag, process, parameter, total_process, total_parameter) -> np.ndarray:
    """(S,) segments with an infinite or undiagnosed NaN standard error (overflow of huge sigmas)."""
    has_data = latest_lag >= 0
    per_origin = np.where(has_data, np.hypot(process, parameter), 0.0)
    broken = ~np.isfinite(per_origin).all(axis=1) | ~np.isfinite(np.hypot(total_process, total_parameter))
    diagnosed = np.zeros(broken.shape, dtype=bool)
    diagnosed[[r[0] for r in dev.rows if r[2] in ("sigma_undetermined", "tail_sigma_undetermined")]] = True
    return broken & ~diagnosed
