"""Residuals of the chain ladder, to see where a triangle departs from it: by origin, development, calendar period.

Two models stand behind the chain ladder, and each has its residuals (all per segment, in one call):

* the over-dispersed Poisson (ODP) model of the incremental amounts (England & Verrall 2002, sections 2.3
  and 7.3, Appendix 3). With ``q`` an incremental amount and ``m`` its chain-ladder fitted value
  (backward recursion from the latest diagonal, :func:`reserving._bootstrap_kernels.fitted_incremental`):

  - ``pearson``: the unscaled Pearson residual ``r = (q - m) / sqrt(|m|)``;
  - ``pearson_scaled``: ``r / sqrt(phi)`` with the scale ``phi = sum r^2 / (n - p)``, ``n`` the cells with a
    non-zero fitted value (excluded ones too, as the bootstrap's scale) and ``p`` the parameters (origin
    and development effects, the rank of their design): variance about 1 under the model;
  - ``pearson_adjusted``: England & Verrall's bias-adjusted ``r sqrt(n / (n - p))``, the residuals the
    bootstrap resamples with ``residuals='dof'`` (:func:`reserving.bootstrap_odp`, whose fit and
    ``phi`` these are).

  The cell ``(i, j)`` is at development ``j`` and calendar period ``i + j`` (when it was paid).

* Mack's (1993) model of the link ratios ``F[i, k] = C[i, k+1] / C[i, k]``: ``mack`` is the standardised
  residual ``(C[i, k+1] - f[k] C[i, k]) / (sigma[k] |C[i, k]|^(a/2))``, i.e. ``(F[i, k] - f[k])
  sqrt(C[i, k]) / sigma[k]`` for volume-weighted factors (``a`` = 1; 2 for simple averages, 0 for
  regression), ``sigma`` Mack's after interpolation (as :func:`reserving.mack`); 0 in a lag with one
  used link ratio or a sigma of 0, which the factor fits exactly. It is R ChainLadder's
  residual of ``plot(MackChainLadder)`` and chainladder-python's ``Development.std_residuals_``. The
  link is at the development age it starts from (as ``exclude`` names it) and at the calendar period of
  its later cell (when the ratio was observed, as :func:`reserving.calendar_year_test` counts it).

A link ratio left out of the factors (``exclude``, ``drop_high`` / ``drop_low``, outside ``n_periods``,
a zero denominator) has the Mack residual 0 and is marked unused; so has the ODP residual of the
increment it ends in (chainladder-python's bootstrap does the same). Cells outside the data are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from reserving._kernels import _exponent
from reserving.bootstrap import _check_complete, _odp_fit
from reserving.development import AVERAGES, develop
from reserving.errors import ReservingError, TriangleError
from reserving.selections import selected_exclusions
from reserving.triangle import TriangleSet

#: The residuals :func:`residuals` computes, by name (the ``kind`` column of :attr:`Residuals.frame`).
KINDS = ("pearson", "pearson_scaled", "pearson_adjusted", "mack")
_PEARSON = frozenset(KINDS[:3])
BY = ("origin", "development", "calendar")


@dataclass(frozen=True, eq=False)
class Residuals:
    """Residuals of the chain ladder for every segment of a triangle set; see :func:`residuals`.

    Attributes
    ----------
    triangle : TriangleSet
        The triangles.
    kinds : tuple of str
        The residuals computed (of :data:`KINDS`).
    fitted, pearson : ndarray (S, I, J) or None
        Chain-ladder fitted incremental amounts (currency) and unscaled Pearson residuals; NaN outside
        the data, residual 0 where unused. None when no Pearson kind was asked for.
    pearson_used : ndarray of bool (S, I, J) or None
        Cells whose Pearson residual is used: observed, fitted value not 0, not after an excluded link.
    scale, n_obs, n_par : ndarray (S,) or None
        ``phi``, the cells ``n`` and parameters ``p`` behind it.
    mack : ndarray (S, I, J-1) or None
        Mack's standardised residuals of the link ratios; NaN where there is no link ratio, 0 where
        unused and in a lag with one used link ratio or a sigma of 0 (the factor fits them exactly).
    mack_used : ndarray of bool (S, I, J-1) or None
        Link ratios used for the factors.
    sigma : ndarray (S, J-1) or None
        Mack's sigma per lag (interpolated where it could not be estimated).
    """

    triangle: TriangleSet
    kinds: tuple
    fitted: np.ndarray | None
    pearson: np.ndarray | None
    pearson_used: np.ndarray | None
    scale: np.ndarray | None
    n_obs: np.ndarray | None
    n_par: np.ndarray | None
    mack: np.ndarray | None
    mack_used: np.ndarray | None
    sigma: np.ndarray | None

    @property
    def pearson_scaled(self) -> np.ndarray:
        """(S, I, J) ``r / sqrt(phi)``."""
        return self.pearson / np.sqrt(self.scale)[:, None, None]

    @property
    def pearson_adjusted(self) -> np.ndarray:
        """(S, I, J) ``r sqrt(n / (n - p))`` (England & Verrall 2002, Appendix 3)."""
        return self.pearson * np.sqrt(self.n_obs / (self.n_obs - self.n_par))[:, None, None]

    def values(self, kind: str) -> np.ndarray:
        """The array of one kind: (S, I, J) for the Pearson kinds, (S, I, J-1) for ``mack``."""
        if kind not in self.kinds:
            raise ReservingError(f"residuals of kind {kind!r} were not computed; computed: {list(self.kinds)}")
        return getattr(self, kind)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """Long view: one row per segment, kind and cell with a residual.

        Columns: the segment level(s), ``origin``, ``development`` (age in months), ``calendar`` (period),
        ``kind``, ``residual`` and ``used`` (False for an excluded link, whose residual is 0).
        """
        tri = self.triangle
        parts = []
        for kind in self.kinds:
            values = self.values(kind)
            used = self.mack_used if kind == "mack" else self.pearson_used
            s, i, j = np.nonzero(np.isfinite(values))
            seg = tri.segments[s].to_frame(index=False)
            later = 1 if kind == "mack" else 0  # a link ratio is observed with its later cell
            seg["origin"] = tri.origins[i]
            seg["development"] = tri.development[j]
            seg["calendar"] = tri.origins[0] + (i + j + later)
            seg["kind"] = kind
            seg["residual"] = values[s, i, j]
            seg["used"] = used[s, i, j]
            parts.append(seg)
        return pd.concat(parts, ignore_index=True)

    def mean_by(self, by: str, kind: str = "mack") -> pd.DataFrame:
        """Mean and count of the used residuals of ``kind`` per segment and period ``by``.

        ``by`` is ``'origin'``, ``'development'`` or ``'calendar'``. A chain ladder that suits the data
        has means near 0 along each; a run of same-signed means along calendar periods is a calendar
        (inflation) effect.
        """
        if by not in BY:
            raise ReservingError(f"by must be one of {list(BY)}; got {by!r}")
        self.values(kind)
        frame = self.frame
        frame = frame[(frame["kind"] == kind) & frame["used"]]
        keys = [n for n in self.triangle.segments.names] + [by]
        return frame.groupby(keys, sort=True)["residual"].agg(mean="mean", count="count")

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per segment and kind: used residuals, their mean, standard deviation and largest absolute value."""
        frame = self.frame[self.frame["used"]]
        keys = list(self.triangle.segments.names) + ["kind"]
        return frame.groupby(keys, sort=False)["residual"].agg(
            count="count", mean="mean", std="std", largest=lambda r: r.abs().max())

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Per segment: the ODP scale ``phi``, ``n`` and ``p`` (NaN without a Pearson kind)."""
        none = np.full(self.triangle.n_segments, np.nan)
        pick = lambda a: none if a is None else a  # noqa: E731
        return pd.DataFrame({"scale": pick(self.scale), "n_obs": pick(self.n_obs), "n_par": pick(self.n_par)},
                            index=self.triangle.segments)


def residuals(
    tri: TriangleSet,
    *,
    average: str = "volume",
    n_periods: int | None = None,
    drop_high=None,
    drop_low=None,
    exclude=None,
    sigma: str = "log-linear",
    selections=None,
    kinds=KINDS,
) -> Residuals:
    """Pearson residuals of the ODP fit and Mack's standardised residuals, for every segment of ``tri``.

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles (currency).
    average, n_periods, drop_high, drop_low, exclude
        Factor options, as :func:`reserving.chain_ladder` (keyword-only, in the same order).
    sigma : {'log-linear', 'mack'}
        Interpolation of the sigmas of lags with fewer than two link ratios, as :func:`reserving.mack`.
    selections : Selections, optional
        The actuary's exclusions join ``exclude`` (selected factors are not applied: residuals measure
        the data against the factors they indicate).
    kinds : sequence of str
        Any of :data:`KINDS`. The Pearson kinds need, as :func:`reserving.bootstrap_odp`, every cell up
        to the valuation and more cells than parameters; ``("mack",)`` needs neither.

    Returns
    -------
    Residuals
        The arrays, ``.frame`` (long view: segment, origin, development, calendar, kind, residual, used),
        ``.mean_by(...)``, ``.summary`` and ``.totals``.

    Notes
    -----
    The formulas and which period each residual belongs to are in :mod:`reserving.residuals`. The
    chain-ladder fitted values add up to the data along every origin (``sum_j (q - m) = 0``) and, with
    volume-weighted factors from every link ratio, along every development (they are the ODP model's
    maximum-likelihood fit).

    Examples
    --------
    >>> import chainladder as cl
    >>> from reserving import TriangleSet, residuals
    >>> raa = TriangleSet.from_chainladder(cl.load_sample("raa"))
    >>> res = residuals(raa)
    >>> round(float(res.scale[0]), 2)
    983.64
    >>> res.frame.groupby("kind").size().to_dict()
    {'mack': 45, 'pearson': 55, 'pearson_adjusted': 55, 'pearson_scaled': 55}
    >>> res.mean_by("calendar").iloc[-1].round(3).tolist()
    [-0.154, 9.0]
    """
    if not isinstance(tri, TriangleSet):
        raise TriangleError(f"residuals needs a TriangleSet; got {type(tri).__name__} "
                            "(build one with TriangleSet.from_...)")
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ReservingError(f"kinds must be some of {list(KINDS)}; got {list(kinds)}")
    if average not in AVERAGES:
        raise TriangleError(f"average {average!r} is not one of {list(AVERAGES)}")
    excl = selected_exclusions(tri, exclude, selections)
    dev = develop(tri, average, n_periods, drop_high, drop_low, excl, None, sigma=sigma)
    ldf = np.ascontiguousarray(dev.ldf_values)
    values = tri.values
    link = np.isfinite(values[:, :, 1:]) & np.isfinite(values[:, :, :-1])
    used_link = link & (dev.weights != 0)
    fields = dict.fromkeys(("fitted", "pearson", "pearson_used", "scale", "n_obs", "n_par", "mack", "mack_used",
                            "sigma"))
    if _PEARSON.intersection(kinds):
        latest_lag = tri.latest_lag
        _check_complete(tri, latest_lag, "the Pearson residuals' ODP fit")
        fit = _odp_fit(tri, latest_lag, ldf, "dof")
        observed = np.isfinite(values)
        used = observed & (fit["fitted"] != 0.0)
        used[:, :, 1:] &= ~(link & ~used_link)
        fields.update(fitted=np.where(observed, fit["fitted"], np.nan),
                      pearson=np.where(observed, np.where(used, fit["residuals"], 0.0), np.nan), pearson_used=used,
                      scale=fit["phi"], n_obs=fit["n_obs"], n_par=fit["n_par"])
    if "mack" in kinds:
        sig = dev.sigma[:, :-1]
        x, y = values[:, :, :-1], values[:, :, 1:]
        half = _exponent(AVERAGES[average]) / 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (y - ldf[:, None, :] * x) / (sig[:, None, :] * np.abs(x) ** half)
        r = np.where((sig[:, None, :] == 0.0) | (dev.n_links[:, None, :] < 2), 0.0, r)  # fitted exactly
        fields.update(mack=np.where(link, np.where(used_link, r, 0.0), np.nan), mack_used=used_link, sigma=sig)
    return Residuals(triangle=tri, kinds=kinds, **fields)
