"""Development patterns: which link ratios are used, age-to-age factors, Mack sigmas, tail.

:func:`develop` is shared by :func:`reserving.chain_ladder` and :func:`reserving.mack`.
Its options and numbers follow chainladder-python 0.10.1 ``Development`` (``average``,
``n_periods``, ``drop_high``, ``drop_low``, ``drop``) and the ``sigma_interpolation`` of its
regression; see :mod:`reserving._kernels` for the exact rules. Where chainladder returns NaN,
the result here is finite and a row of ``diagnostics`` says what was assumed:

* a lag with no usable link ratio (all-zero or missing column, everything excluded), or whose
  volume-weighted denominators sum to zero (negative cumulatives), gets the factor 1.0 and
  no parameter error (issue ``no_link_ratio``);
* a stored zero is a real zero: a link ratio ``0 / x`` is used, ``y / 0`` is not
  (chainladder stores zeros as missing and so drops both);
* sigmas of lags with fewer than two link ratios are filled by the chosen interpolation;
  ``'mack'`` is applied recursively so that several missing sigmas at the end are all filled
  (chainladder fills one). With fewer than two positive sigmas ``'log-linear'`` has no line
  and falls back to ``'mack'`` (as R ChainLadder does; issue ``sigma_mack_fallback``).
  Sigmas that still cannot be filled (a missing one in the first two lags) stay NaN
  with issue ``sigma_undetermined``; Mack standard errors of that segment are then NaN;
* a tail sigma the log-linear fit extrapolates above every observed sigma is replaced, with
  the tail's standard error, by Mack's rule from the last two lags (issue
  ``tail_sigma_extrapolated``; chainladder keeps the runaway value);
* the standard error of a factor is ``sigma / sqrt(sum of x**(2-a) over the used links)``
  for every lag with a link, including single-link lags (chainladder uses the first
  origin's cell there, the same number whenever that origin supplies the single link).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reserving import _kernels
from reserving.errors import TriangleError
from reserving.tail import TailConstant, TailCurve, as_tail, tail_statistics
from reserving.triangle import TriangleSet

AVERAGES = {"volume": _kernels.VOLUME, "simple": _kernels.SIMPLE, "regression": _kernels.REGRESSION}
SIGMA_INTERPOLATIONS = ("log-linear", "mack")


@dataclass(frozen=True, eq=False)
class Development:
    """Development pattern of every segment of a triangle set.

    Attributes
    ----------
    weights : ndarray (S, I, J-1)
        1 for each link ratio used, else 0.
    ldf_values : ndarray (S, J-1 [+ tail])
        Age-to-age factors, followed by the tail factors when there is a tail.
    n_links : ndarray (S, J-1)
        Number of link ratios used per lag.
    sigma, std_err : ndarray (S, J)
        Mack sigma and factor standard error per lag after interpolation; the last column is
        the tail's (0 without a tail).
    rows : list
        Diagnostic rows ``(segment, development, issue, detail)``.
    """

    triangle: TriangleSet
    average: str
    weights: np.ndarray
    ldf_values: np.ndarray
    n_links: np.ndarray
    sigma: np.ndarray
    std_err: np.ndarray
    tail: TailConstant | TailCurve | None
    rows: list

    @property
    def cdf_values(self) -> np.ndarray:
        """(S, J) cumulative factors from each lag's age to ultimate (tail included)."""
        n_lag = self.triangle.n_lags
        rev = np.cumprod(self.ldf_values[:, ::-1], axis=1)[:, ::-1]
        cdf = np.ones((self.triangle.n_segments, n_lag))
        cdf[:, : n_lag - 1] = rev[:, : n_lag - 1]
        if self.ldf_values.shape[1] >= n_lag:
            cdf[:, n_lag - 1] = rev[:, n_lag - 1]
        return cdf

    @property
    def mack_factors(self) -> np.ndarray:
        """(S, J) factors for Mack's recursion: the observed ones, then the whole tail factor."""
        n_lag = self.triangle.n_lags
        return np.concatenate([self.ldf_values[:, : n_lag - 1], self.cdf_values[:, n_lag - 1 :]], axis=1)


def develop(
    tri: TriangleSet,
    average: str = "volume",
    n_periods: int | None = None,
    drop_high=None,
    drop_low=None,
    exclude=None,
    tail=None,
    sigma: str = "log-linear",
) -> Development:
    """Select link ratios, compute factors, sigmas, standard errors and the tail.

    See :func:`reserving.chain_ladder` for the parameters. ``sigma`` names the interpolation of
    missing sigmas (:func:`reserving.mack`); None leaves them as estimated and reports no
    sigma issues (the chain ladder itself needs none).
    """
    if not isinstance(tri, TriangleSet):
        raise TriangleError(f"expected a TriangleSet; got {type(tri).__name__} (build one with TriangleSet.from_...)")
    if average not in AVERAGES:
        raise TriangleError(f"average {average!r} is not one of {list(AVERAGES)}")
    if sigma is not None and sigma not in SIGMA_INTERPOLATIONS:
        raise TriangleError(f"sigma {sigma!r} is not one of {list(SIGMA_INTERPOLATIONS)}")
    if tri.n_lags < 2:
        raise TriangleError(f"{tri!r} has one development lag: there is nothing to develop")
    tail = as_tail(tail)
    ages = tri.development
    n_link = tri.n_lags - 1
    code = AVERAGES[average]
    weights = _kernels.link_weights_batch(
        tri.values,
        tri.valuation_index,
        _n_periods(n_periods),
        _per_lag(drop_high, n_link, "drop_high"),
        _per_lag(drop_low, n_link, "drop_low"),
        _exclusions(tri, exclude),
    )
    ldf, sigma_raw, _, denominator, n_links = _kernels.link_statistics_batch(tri.values, weights, code)
    rows = []
    for s, j in zip(*np.nonzero(denominator == 0)):
        why = "no usable link ratio" if n_links[s, j] == 0 else "the used link ratios' denominators sum to zero"
        rows.append((s, int(ages[j]), "no_link_ratio",
                     f"{why} from development {ages[j]}: factor 1.0 assumed"))
    sig, fallback = (sigma_raw, np.zeros(tri.n_segments, bool)) if sigma is None else _interpolate(sigma_raw, sigma)
    for s in np.flatnonzero(fallback & ~np.isnan(sig).any(axis=1)):
        lags = [int(ages[j]) for j in np.flatnonzero(np.isnan(sigma_raw[s]))]
        rows.append((s, lags[0], "sigma_mack_fallback",
                     f"fewer than two positive sigmas to fit the log-linear line: sigma of developments {lags} "
                     "filled by Mack's (1993) rule instead, as R ChainLadder's MackChainLadder does"))
    for s in np.flatnonzero(np.isnan(sig).any(axis=1)) if sigma is not None else ():
        lags = [int(ages[j]) for j in np.flatnonzero(np.isnan(sig[s]))]
        rows.append((s, lags[0], "sigma_undetermined",
                     f"sigma of developments {lags} cannot be estimated or interpolated ({sigma}): "
                     "too few lags with two or more link ratios; Mack standard errors are NaN"))
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(denominator > 0, sig / np.sqrt(np.where(denominator > 0, denominator, 1.0)), 0.0)
    if tail is None:
        ldf_all = ldf
        tail_sigma = tail_se = np.zeros(tri.n_segments)
    else:
        ldf_all, undefined = tail.factors(ldf, ages, tri.grain)
        for s in np.flatnonzero(undefined):
            rows.append((s, int(ages[-1]), "tail_undetermined",
                         "fewer than two factors above the threshold to fit the tail curve: no tail (1.0)"))
        tail_sigma, tail_se = tail_statistics(ldf, ldf_all, sig, se, ldf_all.shape[1] - n_link)
        if sigma is not None:
            tail_sigma, tail_se = _bound_tail_sigma(tail_sigma, tail_se, sig, se, ages, rows)
        for s in np.flatnonzero(~(np.isfinite(tail_sigma) & np.isfinite(tail_se))) if sigma is not None else ():
            rows.append((s, int(ages[-1]), "tail_sigma_undetermined",
                         "the tail's sigma cannot be extrapolated (flat or undefined fit); Mack standard errors are NaN"))
    return Development(
        triangle=tri,
        average=average,
        weights=weights,
        ldf_values=ldf_all,
        n_links=n_links,
        sigma=np.concatenate([sig, tail_sigma[:, None]], axis=1),
        std_err=np.concatenate([se, tail_se[:, None]], axis=1),
        tail=tail,
        rows=rows,
    )


def _bound_tail_sigma(tail_sigma, tail_se, sig, se, ages, rows) -> tuple[np.ndarray, np.ndarray]:
    """Replace a tail sigma extrapolated above every observed sigma by Mack's (1993) rule.

    The log-linear fit of :func:`reserving.tail.tail_statistics` (chainladder's) can run away
    when the observed sigmas do not fall with development (``auto`` incurred: a tail sigma of
    4.8e40 beside observed sigmas of 25 at most, a standard error of 9.2e43 on an IBNR of
    145,278). Sigmas fall with development in Mack's model, so a tail sigma above the largest
    observed one is not an estimate: it and the tail's standard error are taken instead as
    ``min(x[-1]**4 / x[-2]**2, x[-2]**2, x[-1]**2) ** 0.5`` of the last two lags (Mack 1993,
    p. 218, the rule chainladder uses for missing sigmas), issue ``tail_sigma_extrapolated``.
    """
    with np.errstate(invalid="ignore"):
        largest = np.nanmax(np.where(np.isfinite(sig), sig, -np.inf), axis=1)
        wild = np.isfinite(tail_sigma) & np.isfinite(largest) & (tail_sigma > largest)
    if not wild.any() or sig.shape[1] < 2:
        return tail_sigma, tail_se
    tail_sigma, tail_se = tail_sigma.copy(), tail_se.copy()
    for s in np.flatnonzero(wild):
        was = tail_sigma[s]
        tail_sigma[s], tail_se[s] = (_mack_rule(x[s, -2], x[s, -1]) for x in (sig, se))
        rows.append((s, int(ages[-1]), "tail_sigma_extrapolated",
                     f"the tail sigma fitted log-linearly is {was:.3g}, above every observed sigma (largest "
                     f"{largest[s]:.3g}): Mack's rule from the last two lags used instead ({tail_sigma[s]:.3g})"))
    return tail_sigma, tail_se


def _mack_rule(before: float, last: float) -> float:
    """Mack (1993) p. 218: ``sqrt(min(last**4 / before**2, before**2, last**2))`` (0 when ``before`` is 0)."""
    if before == 0:
        return 0.0
    return float(np.sqrt(min(last**4 / before**2, before**2, last**2)))


def _interpolate(sigma: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaN sigmas per segment (chainladder ``sigma_interpolation``).

    ``log-linear``: least-squares line of ``log sigma`` on lag number over the estimated
    positive sigmas, extrapolated. (chainladder also fits zero sigmas, as ``log(1e-320)``,
    which can extrapolate to sigmas of 1e250, and then shows those zero sigmas as NaN.)
    With fewer than two positive sigmas there is no line: the missing sigmas are filled by
    Mack's rule instead, as R ChainLadder does (so all-zero sigmas give zeros).
    ``mack``: Mack (1993) p. 218, ``sigma[j]^2 = min(sigma[j-1]^4 / sigma[j-2]^2,
    sigma[j-2]^2, sigma[j-1]^2)``.
    Returns the filled (S, J-1) sigmas and an (S,) mask of log-linear segments that fell back.
    """
    if method == "mack":
        return _mack_fill(sigma), np.zeros(sigma.shape[0], dtype=bool)
    t = np.arange(1, sigma.shape[1] + 1, dtype=float)
    known = ~np.isnan(sigma)
    fit = sigma > 0
    y = np.log(np.where(fit, sigma, 1.0))
    n = fit.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        xm = (fit * t).sum(axis=1) / n
        ym = (fit * y).sum(axis=1) / n
        slope = (fit * (t - xm[:, None]) * (y - ym[:, None])).sum(axis=1) / (fit * (t - xm[:, None]) ** 2).sum(axis=1)
        fill = np.exp(ym[:, None] + slope[:, None] * (t[None, :] - xm[:, None]))
    fill = np.where((n[:, None] >= 2) & np.isfinite(fill), fill, np.nan)
    out = np.where(known, sigma, fill)
    fallback = (n < 2) & np.isnan(out).any(axis=1)
    out[fallback] = _mack_fill(out[fallback])
    return out, fallback


def _mack_fill(sigma: np.ndarray) -> np.ndarray:
    """Mack's rule lag after lag, so that consecutive missing sigmas are all filled."""
    out = sigma.copy()
    for j in range(2, sigma.shape[1]):
        s0, s1 = out[:, j - 2], out[:, j - 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(s0 > 0, s1**4 / np.where(s0 > 0, s0, 1.0) ** 2, 0.0)
            fill = np.sqrt(np.minimum(ratio, np.minimum(s0**2, s1**2)))
        out[:, j] = np.where(np.isnan(out[:, j]), fill, out[:, j])
    return out


def _n_periods(n_periods) -> int:
    if n_periods is None:
        return -1
    if isinstance(n_periods, (bool, np.bool_)) or not isinstance(n_periods, (int, np.integer)) or (
        n_periods < 1 and n_periods != -1
    ):
        raise TriangleError(f"n_periods must be a positive integer or -1/None for all; got {n_periods!r}")
    return int(n_periods)


def _per_lag(value, n_link: int, name: str) -> np.ndarray:
    """None, a bool, an int or a list (one per lag, shorter lists padded with 0)."""
    if value is None:
        return np.zeros(n_link, dtype=np.int64)
    if isinstance(value, (bool, int, np.integer, np.bool_)):
        arr = np.full(n_link, int(value), dtype=np.int64)
    else:
        given = np.asarray([int(v) for v in value], dtype=np.int64)
        if given.size > n_link:
            raise TriangleError(f"{name} has {given.size} entries for {n_link} development lags")
        arr = np.zeros(n_link, dtype=np.int64)
        arr[: given.size] = given
    if (arr < 0).any():
        raise TriangleError(f"{name} must not be negative; got {value!r}")
    return arr


def _exclusions(tri: TriangleSet, exclude) -> np.ndarray:
    """Boolean (S, I, J-1) of link ratios excluded by the user.

    ``exclude`` is None, an (origin, development) pair or a list of them (the link ratio from
    that development age of that origin, in every segment, like chainladder's ``drop``), or a
    boolean array of shape (I, J-1) or (S, I, J-1).
    """
    shape = (tri.n_segments, tri.n_origins, tri.n_lags - 1)
    if exclude is None:
        return np.zeros(shape, dtype=np.bool_)
    if isinstance(exclude, np.ndarray):
        arr = np.asarray(exclude, dtype=np.bool_)
        if arr.shape == shape[1:]:
            arr = np.broadcast_to(arr, shape)
        if arr.shape != shape:
            raise TriangleError(f"exclude array has shape {exclude.shape}; expected {shape[1:]} or {shape}")
        return np.ascontiguousarray(arr)
    pairs = [exclude] if isinstance(exclude, tuple) else list(exclude)
    out = np.zeros(shape, dtype=np.bool_)
    for pair in pairs:
        origin, age = pair
        i = tri.origins.get_indexer([pd.Period(origin, freq=tri.origins.freq)])[0]
        j = np.flatnonzero(tri.development == age)
        if i < 0 or j.size == 0 or j[0] >= tri.n_lags - 1:
            raise TriangleError(
                f"exclude ({origin!r}, {age!r}): no link ratio from origin {origin} at development {age}; "
                f"origins are {tri.origins[0]}..{tri.origins[-1]}, developments {list(tri.development[:-1])}"
            )
        out[:, i, j[0]] = True
    return out
