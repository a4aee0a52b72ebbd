"""Merz-Wüthrich: the one-year claims development result and its standard error.

The claims development result (CDR) of the next accounting year is the change in the
chain-ladder ultimate between today's valuation and the next one. Its expected value under
Mack's model is zero; Merz & Wüthrich (2008) give the mean square error of prediction of the
observed CDR per origin and in total. It is the one-year view of reserve risk that Solvency II
and an annual budget need, beside Mack's whole run-off standard error.

The formulas (Result 3.3 of the paper) are in :mod:`reserving._merz_wuthrich_kernels`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from reserving._merz_wuthrich_kernels import merz_wuthrich_batch
from reserving.errors import ReservingError
from reserving.mack import Mack, mack
from reserving.results import origin_frame
from reserving.triangle import TriangleSet


@dataclass(frozen=True, eq=False)
class MerzWuthrich:
    """One-year CDR standard errors beside Mack's run-off standard errors.

    Attributes
    ----------
    mack : Mack
        The chain ladder (volume-weighted, all periods, no tail) with Mack's standard errors.
    msep : ndarray (S, I)
        Mean square error of prediction of each origin's one-year CDR (currency squared).
    total_msep : ndarray (S,)
        The same for the sum over origins, with the covariance terms.
    """

    mack: Mack
    msep: np.ndarray
    total_msep: np.ndarray

    @property
    def triangle(self) -> TriangleSet:
        return self.mack.triangle

    @property
    def cdr_std_err(self) -> np.ndarray:
        """(S, I) standard error of the one-year CDR, ``sqrt(msep)`` (currency)."""
        return np.sqrt(self.msep)

    @property
    def total_cdr_std_err(self) -> np.ndarray:
        return np.sqrt(self.total_msep)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per segment and origin: latest, ultimate, ibnr, cdr_std_err, mack_std_err."""
        m = self.mack
        c = self.mack.chain_ladder
        return origin_frame(self.triangle, {"latest": c.latest, "ultimate": c.ultimate, "ibnr": c.ibnr,
                                            "cdr_std_err": self.cdr_std_err, "mack_std_err": m.std_err})

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Per segment: latest, ultimate, ibnr, the total CDR standard error and Mack's."""
        m = self.mack
        c = m.chain_ladder
        return pd.DataFrame({"latest": np.nansum(c.latest, axis=1), "ultimate": np.nansum(c.ultimate, axis=1),
                             "ibnr": np.nansum(c.ibnr, axis=1), "cdr_std_err": self.total_cdr_std_err,
                             "mack_std_err": m.total_std_err}, index=self.triangle.segments)


def merz_wuthrich(tri: TriangleSet, *, sigma: str = "mack", form: str = "product") -> MerzWuthrich:
    """Standard error of the one-year claims development result (Merz & Wüthrich 2008).

    With chain-ladder ultimates ``U_i``, factors ``f_j``, Mack's ``sigma_j``, and column sums
    ``S_I[j]`` (origins whose next cell is observed) and ``S_I1[j]`` (origins with cell j):

        msep_i = U_i^2 (Gamma_i + Delta_i)
        msep   = sum_i msep_i + 2 sum_{i<m} U_i U_m (Upsilon_i + Lambda_i)

    (Merz & Wüthrich 2008, CAS E-Forum Fall 2008, Result 3.3; the terms are spelt out in
    :mod:`reserving._merz_wuthrich_kernels`).

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles with at least as many origins as lags, valued at the last origin,
        every cell up to the valuation diagonal present (zeros allowed), nothing after it.
    sigma : {'mack', 'log-linear'}
        How the last lag's sigma is filled (see :func:`reserving.mack`); Merz & Wüthrich and R's
        ``CDR(MackChainLadder(est.sigma="Mack"))`` use ``'mack'``.
    form : {'product', 'linear'}
        ``'product'`` (default) evaluates Result 3.3's products as written; ``'linear'`` keeps
        their first-order terms, the approximation the paper also gives and that R ChainLadder's
        ``CDR`` computes (use it to reproduce R's figures; the two differ by second-order terms,
        at most 2.6e-6 relative on the paper's triangle).

    Returns
    -------
    MerzWuthrich
        ``.summary`` and ``.totals`` with ``cdr_std_err`` beside ``mack_std_err``.

    Notes
    -----
    The model is the plain chain ladder (volume-weighted, every link ratio, no tail), as in
    the paper; selections and tails are not part of its derivation and are not offered.

    Examples
    --------
    Merz & Wüthrich's (2008) triangle: the one-year CDR standard error of the total beside
    Mack's for the whole run-off:

    >>> import chainladder as cl
    >>> from reserving import TriangleSet, merz_wuthrich
    >>> mw = merz_wuthrich(TriangleSet.from_chainladder(cl.load_sample("mw2008")))
    >>> mw.totals[["cdr_std_err", "mack_std_err"]].round().iloc[0].tolist()
    [81081.0, 108401.0]
    """
    if not isinstance(tri, TriangleSet):
        raise ReservingError(f"expected a TriangleSet; got {type(tri).__name__}")
    if form not in ("product", "linear"):
        raise ReservingError(f"form must be 'product' or 'linear'; got {form!r}")
    if tri.n_origins < tri.n_lags:
        raise ReservingError(f"{tri.n_origins} origins for {tri.n_lags} development lags: Merz-Wüthrich needs at "
                             "least as many origins as lags (drop the lags beyond the oldest origin's)")
    if tri.valuation_index != tri.n_origins - 1:
        raise ReservingError(f"the valuation is {tri.valuation_index - tri.n_origins + 1} periods after the last "
                             "origin: Merz-Wüthrich needs the triangle valued at its last origin")
    finite = np.isfinite(tri.values)
    wrong = finite != tri.observed[None, :, :]
    if wrong.any():
        s, i, j = np.argwhere(wrong)[0]
        what = "is missing" if tri.observed[i, j] else "is after the valuation diagonal"
        raise ReservingError(f"the cell at origin {tri.origins[i]}, development {tri.development[j]} {what}: "
                             "Merz-Wüthrich needs a complete triangle", segment=tri.segment_name(s))
    m = mack(tri, sigma=sigma)
    n_fac = tri.n_lags - 1
    factors = m.chain_ladder.development.ldf_values[:, :n_fac]
    sigma2 = m.chain_ladder.development.sigma[:, :n_fac] ** 2
    msep, total = merz_wuthrich_batch(np.ascontiguousarray(tri.values), np.ascontiguousarray(factors),
                                      np.ascontiguousarray(sigma2), np.ascontiguousarray(m.chain_ladder.ultimate),
                                      form == "linear")
    return MerzWuthrich(m, msep, total)
