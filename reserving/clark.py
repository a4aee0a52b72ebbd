"""Clark's (2003) growth-curve methods: LDF and Cape Cod, with process and parameter risk.

Clark, D. R. (2003), "LDF Curve-Fitting and Stochastic Reserving: A Maximum Likelihood
Approach", CAS Forum (Fall). Incremental amounts are over-dispersed Poisson around a
loglogistic or Weibull growth curve of the *average* age of the origin's claims: with a lag of
``m`` months (12 for annual) the ages are ``12 - 6, 24 - 6, ...`` (``development - m/2``), the
first interval starting at age 0 (Clark's "average date of loss"; chainladder-python's
``ClarkLDF`` and R ChainLadder's ``adol = TRUE``). The formulas and the fitting are in
:mod:`reserving._clark_kernels`.

Matches chainladder-python 0.10's ``ClarkLDF`` (parameters, pattern, scale; to 3e-7 once its
optimizer is run to convergence) except its Cape Cod ``scale_``, which it computes from the LDF
method's fitted amounts; reproduces R ChainLadder's published ``ClarkLDF`` / ``ClarkCapeCod``
tables on RAA, except Weibull standard errors, where R's second derivative in omega is wrong (up
to 2%; see tests/reserving/test_clark.py for both hand checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from reserving import _clark_kernels as _k
from reserving._exposure import per_origin
from reserving.errors import ReservingError
from reserving.results import ProcessParameterErrors, diagnostics_frame, link_labels, origin_frame
from reserving.triangle import TriangleSet

GROWTH_CURVES = {"loglogistic": _k.LOGLOGISTIC, "weibull": _k.WEIBULL}

_STATUS_ROWS = {
    _k.NOT_CONVERGED: ("not_converged", "the likelihood maximisation did not converge: parameters are the best "
                                        "point found; check the triangle or try the other growth curve"),
    _k.SINGULAR: ("information_singular", "the information matrix is not negative definite at the fit: "
                                          "parameter standard errors are NaN"),
    _k.TOO_FEW: ("too_few_cells", "no more observed cells than parameters: the scale sigma^2 and standard "
                                  "errors are NaN"),
}


@dataclass(frozen=True, eq=False)
class Clark(ProcessParameterErrors):
    """Clark LDF or Cape Cod fit for every segment of a triangle set.

    Attributes
    ----------
    triangle : TriangleSet
        The cumulative triangles fitted.
    method : str
        ``'ldf'`` or ``'cape_cod'``.
    growth : str
        ``'loglogistic'`` or ``'weibull'``.
    max_age : float
        Age in months at which claims count as complete (``inf``: the curve's limit).
    omega, theta : ndarray (S,)
        Growth-curve shape and scale (theta in months, at the average age of the claims).
    elr : ndarray (S,)
        Cape Cod expected loss ratio (cost per exposure unit); NaN for the LDF method.
    scale : ndarray (S,)
        ODP scale ``sigma^2`` (currency), Pearson chi-square over degrees of freedom.
    exposure, latest : ndarray (S, I)
        Exposure (Cape Cod; NaN for LDF) and each origin's latest value (currency).
    cdf : ndarray (S, I)
        ``G(max_age) / G(age)`` at each origin's latest age (the LDF to ultimate).
    ultimate, ibnr : ndarray (S, I)
        ``latest + reserve`` and the reserve ``U_i (G(max_age) - G(age_i))`` (currency).
    process, parameter : ndarray (S, I)
        Process and parameter standard errors of each origin's reserve (currency).
    total_process, total_parameter : ndarray (S,)
        The same for the segment's total reserve.
    growth_values : ndarray (S, J)
        ``G`` at the average age of each development lag.
    """

    triangle: TriangleSet
    method: str
    growth: str
    max_age: float
    omega: np.ndarray
    theta: np.ndarray
    elr: np.ndarray
    scale: np.ndarray
    exposure: np.ndarray
    latest: np.ndarray
    cdf: np.ndarray
    ultimate: np.ndarray
    ibnr: np.ndarray
    process: np.ndarray
    parameter: np.ndarray
    total_process: np.ndarray
    total_parameter: np.ndarray
    growth_values: np.ndarray
    rows: tuple = ()

    @property
    def ldf(self) -> pd.DataFrame:
        """Age-to-age factors of the fitted curve, ``G(age[j+1]) / G(age[j])``, one row per segment."""
        g = self.growth_values
        with np.errstate(divide="ignore", invalid="ignore"):
            values = g[:, 1:] / g[:, :-1]
        return pd.DataFrame(values, index=self.triangle.segments, columns=link_labels(self.triangle, values.shape[1]))

    @property
    def parameters(self) -> pd.DataFrame:
        """Per segment: omega, theta (months), elr (Cape Cod) and the scale sigma^2."""
        return pd.DataFrame({"omega": self.omega, "theta": self.theta, "elr": self.elr, "scale": self.scale},
                            index=self.triangle.segments)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per segment and origin: latest, exposure, cdf, ultimate, ibnr, std_err with its parts, cv."""
        with np.errstate(divide="ignore", invalid="ignore"):
            cv = self.std_err / self.ibnr
        return origin_frame(self.triangle, {
            "latest": self.latest, "exposure": self.exposure, "cdf": self.cdf, "ultimate": self.ultimate,
            "ibnr": self.ibnr, "std_err": self.std_err, "process_std_err": self.process,
            "parameter_std_err": self.parameter, "cv": cv})

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Per segment: latest, ultimate, ibnr, the total standard error with its parts, and cv."""
        out = pd.DataFrame({
            "latest": np.nansum(self.latest, axis=1),
            "ultimate": np.nansum(self.ultimate, axis=1),
            "ibnr": np.nansum(self.ibnr, axis=1),
            "std_err": self.total_std_err,
            "process_std_err": self.total_process,
            "parameter_std_err": self.total_parameter,
        }, index=self.triangle.segments)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["cv"] = out["std_err"] / out["ibnr"]
        return out

    @cached_property
    def diagnostics(self) -> pd.DataFrame:
        """One row per segment whose fit is not clean: not converged, singular information, too few cells."""
        return diagnostics_frame(self.triangle, list(self.rows))


def clark_ldf(tri: TriangleSet, *, growth: str = "loglogistic", max_age: float | None = None) -> Clark:
    """Clark's LDF method: one ultimate per origin and a growth curve, by maximum likelihood.

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles (currency); every origin's latest value must be positive.
    growth : {'loglogistic', 'weibull'}
        The growth curve. The loglogistic has a heavy tail: consider ``max_age``.
    max_age : float, optional
        Age in months (from the start of the origin period) at which claims are complete;
        the curve is truncated at ``max_age - m/2`` (``m`` months per lag). Default: no
        truncation (the curve's limit, ``G = 1``).

    Returns
    -------
    Clark
        ``.summary``, ``.totals`` (reserves with process and parameter standard errors),
        ``.parameters``, ``.ldf``, ``.diagnostics``.

    Examples
    --------
    RAA, as R ChainLadder's ``ClarkLDF(RAA)`` (which prints 111,022 and 36,102: its optimizer
    stops slightly short of the maximum):

    >>> import chainladder as cl
    >>> from reserving import TriangleSet, clark_ldf
    >>> raa = TriangleSet.from_chainladder(cl.load_sample("raa"))
    >>> fit = clark_ldf(raa)
    >>> fit.totals[["ibnr", "std_err"]].iloc[0].round().tolist()
    [111007.0, 36075.0]
    """
    return _fit(tri, None, growth, max_age)


def clark_cape_cod(tri: TriangleSet, exposure, *, growth: str = "loglogistic", max_age: float | None = None) -> Clark:
    """Clark's Cape Cod method: ultimate = exposure x one expected loss ratio, with a growth curve.

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles (currency).
    exposure : float or array_like (I,) or (S, I)
        Earned premium (currency) or member months per origin; positive for every origin with data.
    growth, max_age
        As in :func:`clark_ldf`.

    Returns
    -------
    Clark
        ``elr`` holds the fitted expected loss ratio (cost per exposure unit) of each segment.

    Examples
    --------
    R ChainLadder's ``ClarkCapeCod(RAA, Premium = 40000, G = "weibull")``: ELR 0.566, reserve 65,536.

    >>> import chainladder as cl
    >>> from reserving import TriangleSet, clark_cape_cod
    >>> raa = TriangleSet.from_chainladder(cl.load_sample("raa"))
    >>> fit = clark_cape_cod(raa, 40000.0, growth="weibull")
    >>> round(float(fit.elr[0]), 3), round(float(fit.totals["ibnr"].iloc[0]))
    (0.566, 65536)
    """
    return _fit(tri, exposure, growth, max_age)


def _fit(tri: TriangleSet, exposure, growth: str, max_age) -> Clark:
    if not isinstance(tri, TriangleSet):
        raise ReservingError(f"expected a TriangleSet; got {type(tri).__name__} (build one with TriangleSet.from_...)")
    if growth not in GROWTH_CURVES:
        raise ReservingError(f"growth {growth!r} is not one of {list(GROWTH_CURVES)}")
    if tri.n_lags < 2:
        raise ReservingError(f"{tri!r} has one development lag: Clark's methods need at least two")
    ages = tri.development.astype(np.float64)
    half = ages[0] / 2.0
    max_used = np.inf
    if max_age is not None:
        if not np.isfinite(max_age) or max_age < ages[-1]:
            raise ReservingError(f"max_age {max_age!r} must be a number of months at least the last development "
                                 f"age {ages[-1]}")
        max_used = float(max_age) - half
    cape_cod = exposure is not None
    latest = tri.latest
    lag = tri.latest_lag
    if cape_cod:
        exposure_arr = per_origin(tri, exposure, "exposure", positive=True)
    else:
        exposure_arr = np.full(latest.shape, np.nan)
        bad = (lag >= 0) & ~(latest > 0)
        if bad.any():
            s, i = np.argwhere(bad)[0]
            raise ReservingError(f"origin {tri.origins[i]} has latest value {latest[s, i]:.6g}; Clark's LDF method "
                                 "needs a positive latest value for every origin (over-dispersed Poisson)",
                                 segment=tri.segment_name(s))
    incr = np.ascontiguousarray(tri.incremental, dtype=np.float64)
    omega, theta, elr, scale, status, g, reserve, process_var, param_cov = _k.clark_batch(
        incr, np.ascontiguousarray(lag, dtype=np.int64), ages - half, np.nan_to_num(exposure_arr, nan=0.0),
        cape_cod, GROWTH_CURVES[growth], max_used)
    has = lag >= 0
    g_latest = np.where(has, np.take_along_axis(g, np.maximum(lag, 0), axis=1), np.nan)
    g_max = 1.0 if max_age is None else _growth_at(max_used, omega, theta, growth)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cdf = np.where(has, g_max / g_latest, np.nan)
    param_var = np.diagonal(param_cov, axis1=1, axis2=2)
    rows = [(s, None, *_STATUS_ROWS[st]) for s, st in enumerate(status) if st != _k.OK]
    negative = has & (param_var < 0)
    for s, i in zip(*np.nonzero(negative)):
        rows.append((s, None, "negative_parameter_variance",
                     f"the delta-method parameter variance of origin {tri.origins[i]} is negative "
                     f"({param_var[s, i]:.3g}): set to 0, as R ChainLadder does"))
    total_param_var = np.nansum(np.where(has[:, :, None] & has[:, None, :], param_cov, 0.0), axis=(1, 2))
    total_param_var[np.isnan(param_cov).all(axis=(1, 2)) | (status == _k.SINGULAR)] = np.nan
    for s in np.flatnonzero(total_param_var < 0):
        rows.append((s, None, "negative_parameter_variance",
                     f"the delta-method parameter variance of the total reserve is negative "
                     f"({total_param_var[s]:.3g}): set to 0, as R ChainLadder does"))
    ibnr = np.where(has, reserve, np.nan)
    return Clark(
        triangle=tri, method="cape_cod" if cape_cod else "ldf", growth=growth,
        max_age=np.inf if max_age is None else float(max_age),
        omega=omega, theta=theta, elr=elr, scale=scale,
        exposure=np.where(has, exposure_arr, np.nan), latest=latest, cdf=cdf,
        ultimate=latest + ibnr, ibnr=ibnr,
        process=np.where(has, np.sqrt(np.maximum(process_var, 0.0)), np.nan),
        parameter=np.where(has, np.sqrt(np.maximum(param_var, 0.0)), np.nan),
        total_process=np.sqrt(np.nansum(np.maximum(process_var, 0.0), axis=1)),
        total_parameter=np.sqrt(np.maximum(total_param_var, 0.0)),
        growth_values=g, rows=tuple(rows))


def _growth_at(age: float, omega: np.ndarray, theta: np.ndarray, growth: str) -> np.ndarray:
    """(S,) G(age) for each segment's fitted curve."""
    out = np.zeros(6)
    values = np.empty(omega.shape)
    for s in range(omega.size):
        _k.growth(age, omega[s], theta[s], GROWTH_CURVES[growth], out)
        values[s] = out[0]
    return values
