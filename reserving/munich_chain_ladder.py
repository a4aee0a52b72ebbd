"""Munich chain ladder: paid and incurred projected together (Quarg & Mack 2004).

The separate chain ladders of paid ``P`` and incurred ``I`` disagree because each ignores the
other: an origin whose paid-to-incurred ratio is high tends to develop less in paid and more in
incurred. Quarg & Mack (2004, "Munich Chain Ladder", Blätter DGVFM 26) correct each link by the
origin's ratio residual. Per development column ``j`` (origins with the cell observed):

    q_P[j] = sum I / sum P         rho_P[j]^2 = sum P (I/P - q_P[j])^2 / (n_j - 1)
    q_I[j] = sum P / sum I         rho_I[j]^2 = sum I (P/I - q_I[j])^2 / (n_j - 1)

with chain-ladder factors ``f_P, f_I`` and Mack sigmas ``s_P, s_I`` of each triangle. Residuals
of the link ratios and of the ratios (off the valuation diagonal),

    r_P = (P[j+1]/P[j] - f_P[j]) / s_P[j] * sqrt(P[j])     q~_P = (I/P - q_P[j]) / rho_P[j] * sqrt(P)
    r_I = (I[j+1]/I[j] - f_I[j]) / s_I[j] * sqrt(I[j])     q~_I = (P/I - q_I[j]) / rho_I[j] * sqrt(I)

give ``lambda_P`` and ``lambda_I`` as least-squares slopes through the origin of ``r`` on ``q~``
over every cell with both (Quarg & Mack section 3.3), and the projection, column by column:

    P[j+1] = P[j] (f_P[j] + lambda_P s_P[j] / rho_P[j] (I[j]/P[j] - q_P[j]))
    I[j+1] = I[j] (f_I[j] + lambda_I s_I[j] / rho_I[j] (P[j]/I[j] - q_I[j]))

Missing ``rho`` (a column with one origin) are filled as the Mack sigmas are (``sigma``).
The lambda regressions leave out lags with a single link ratio (residual zero by construction).
Matches chainladder-python 0.10 ``MunichAdjustment`` wherever its residual mask agrees; it masks
both regressions with the *incurred* residuals being exactly nonzero, so a single-link lag
enters its paid regression when floating-point noise leaves the incurred residual at 1e-17
(see the tests). Where a lag's Mack sigma or ratio sigma is zero the correction is 0/0;
it is taken as 0 here (the plain chain-ladder step), where chainladder returns NaN. Plain numpy over the
segment axis; the only loop is over development columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from reserving.development import Development, _interpolate, develop
from reserving.errors import ReservingError
from reserving.results import origin_frame
from reserving.triangle import TriangleSet


@dataclass(frozen=True, eq=False)
class MunichChainLadder:
    """Munich chain-ladder projections of paid and incurred for every segment.

    Attributes
    ----------
    paid, incurred : TriangleSet
    full_paid, full_incurred : ndarray (S, I, J)
        Observed cells, and the Munich projection in the cells after the valuation.
    lambda_paid, lambda_incurred : ndarray (S,)
        Correlation slopes of link residuals on ratio residuals.
    q_paid, q_incurred, rho_paid, rho_incurred : ndarray (S, J)
        Ratio ``I/P`` and ``P/I`` per development and their sigmas.
    """

    paid: TriangleSet
    incurred: TriangleSet
    development_paid: Development
    development_incurred: Development
    full_paid: np.ndarray
    full_incurred: np.ndarray
    lambda_paid: np.ndarray
    lambda_incurred: np.ndarray
    q_paid: np.ndarray
    q_incurred: np.ndarray
    rho_paid: np.ndarray
    rho_incurred: np.ndarray

    @property
    def ultimate_paid(self) -> np.ndarray:
        return self.full_paid[:, :, -1]

    @property
    def ultimate_incurred(self) -> np.ndarray:
        return self.full_incurred[:, :, -1]

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per segment and origin: latest and ultimate paid and incurred, and the P/I ratio at ultimate."""
        up, ui = self.ultimate_paid, self.ultimate_incurred
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = up / ui
        return origin_frame(self.paid, {
            "latest_paid": self.paid.latest, "latest_incurred": self.incurred.latest,
            "ultimate_paid": up, "ultimate_incurred": ui, "paid_to_incurred": ratio,
            "ibnr_paid": up - self.paid.latest, "ibnr_incurred": ui - self.incurred.latest})

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Per segment: latest and ultimate paid and incurred, and lambda_paid / lambda_incurred."""
        return pd.DataFrame({
            "latest_paid": np.nansum(self.paid.latest, axis=1),
            "latest_incurred": np.nansum(self.incurred.latest, axis=1),
            "ultimate_paid": np.nansum(self.ultimate_paid, axis=1),
            "ultimate_incurred": np.nansum(self.ultimate_incurred, axis=1),
            "lambda_paid": self.lambda_paid, "lambda_incurred": self.lambda_incurred,
        }, index=self.paid.segments)


def munich_chain_ladder(paid: TriangleSet, incurred: TriangleSet, *, sigma: str = "log-linear") -> MunichChainLadder:
    """Munich chain ladder (Quarg & Mack 2004) of a paid and an incurred triangle set.

    Parameters
    ----------
    paid, incurred : TriangleSet
        Cumulative paid and incurred (currency) on the same segments, origins, lags and
        valuation; every observed cell present and positive in both.
    sigma : {'log-linear', 'mack'}
        How missing sigmas (Mack's and the ratio sigmas ``rho``) are filled, as in :func:`reserving.mack`.

    Returns
    -------
    MunichChainLadder
        ``.summary`` (latest and ultimate paid and incurred per origin), ``.totals`` (with the
        two lambdas), the full projected triangles.

    Examples
    --------
    Quarg & Mack's (2004) fire portfolio (chainladder's ``mcl`` sample): lambda_P 0.64, lambda_I 0.44.

    >>> import chainladder as cl
    >>> from reserving import TriangleSet, munich_chain_ladder
    >>> mcl = cl.load_sample("mcl")
    >>> res = munich_chain_ladder(TriangleSet.from_chainladder(mcl, column="paid"),
    ...                           TriangleSet.from_chainladder(mcl, column="incurred"))
    >>> round(float(res.lambda_paid[0]), 2), round(float(res.lambda_incurred[0]), 2)
    (0.64, 0.44)
    """
    _check(paid, incurred)
    p, i = paid.values, incurred.values
    dev_p = develop(paid, "volume", sigma=sigma)
    dev_i = develop(incurred, "volume", sigma=sigma)
    n_fac = paid.n_lags - 1
    f_p, f_i = dev_p.ldf_values[:, :n_fac], dev_i.ldf_values[:, :n_fac]
    s_p, s_i = dev_p.sigma[:, :n_fac], dev_i.sigma[:, :n_fac]
    q_p, rho_p = _ratio_model(p, i, sigma)
    q_i, rho_i = _ratio_model(i, p, sigma)
    off_diagonal = np.isfinite(p[:, :, 1:])  # the next cell exists: not on the valuation diagonal
    with np.errstate(divide="ignore", invalid="ignore"):
        r_p = (p[:, :, 1:] / p[:, :, :-1] - f_p[:, None, :]) / s_p[:, None, :] * np.sqrt(p[:, :, :-1])
        r_i = (i[:, :, 1:] / i[:, :, :-1] - f_i[:, None, :]) / s_i[:, None, :] * np.sqrt(i[:, :, :-1])
        qr_p = (i / p - q_p[:, None, :]) / rho_p[:, None, :] * np.sqrt(p)
        qr_i = (p / i - q_i[:, None, :]) / rho_i[:, None, :] * np.sqrt(i)
    lam_p = _slope(np.where(off_diagonal, qr_p[:, :, :-1], np.nan), r_p, dev_p.n_links)
    lam_i = _slope(np.where(off_diagonal, qr_i[:, :, :-1], np.nan), r_i, dev_i.n_links)
    weight_p = _correction_weight(lam_p, s_p, rho_p[:, :n_fac])
    weight_i = _correction_weight(lam_i, s_i, rho_i[:, :n_fac])
    full_p, full_i = p.copy(), i.copy()
    for j in range(n_fac):
        cp, ci = full_p[:, :, j], full_i[:, :, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            next_p = cp * (f_p[:, j, None] + weight_p[:, j, None] * (ci / cp - q_p[:, j, None]))
            next_i = ci * (f_i[:, j, None] + weight_i[:, j, None] * (cp / ci - q_i[:, j, None]))
        full_p[:, :, j + 1] = np.where(np.isfinite(p[:, :, j + 1]), p[:, :, j + 1], next_p)
        full_i[:, :, j + 1] = np.where(np.isfinite(i[:, :, j + 1]), i[:, :, j + 1], next_i)
    return MunichChainLadder(paid, incurred, dev_p, dev_i, full_p, full_i, lam_p, lam_i, q_p, q_i, rho_p, rho_i)


def _correction_weight(lam: np.ndarray, sigma: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """(S, J-1) ``lambda * sigma / rho``; 0 where sigma or rho is 0 (no spread: the plain chain-ladder step)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((sigma > 0) & (rho > 0), lam[:, None] * sigma / rho, 0.0)


def _ratio_model(x: np.ndarray, y: np.ndarray, sigma: str) -> tuple[np.ndarray, np.ndarray]:
    """Per column: ``q = sum y / sum x`` and ``rho^2 = sum x (y/x - q)^2 / (n - 1)``; rho filled where n < 2."""
    both = np.isfinite(x) & np.isfinite(y)
    xs, ys = np.where(both, x, 0.0), np.where(both, y, 0.0)
    n = both.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = ys.sum(axis=1) / xs.sum(axis=1)
        dev = np.where(both, xs * (ys / np.where(both, xs, 1.0) - q[:, None, :]) ** 2, 0.0)
        rho = np.where(n >= 2, np.sqrt(dev.sum(axis=1) / (n - 1)), np.nan)
    rho, _ = _interpolate(rho, sigma)
    return q, rho


def _slope(x: np.ndarray, y: np.ndarray, n_links: np.ndarray) -> np.ndarray:
    """(S,) least-squares slope through the origin of y on x over cells where both are finite.

    Lags with a single link ratio are left out: their residual is zero by construction (the
    factor is that ratio) and carries no information about the correlation.
    """
    use = np.isfinite(x) & np.isfinite(y) & (n_links[:, None, :] >= 2)
    xs, ys = np.where(use, x, 0.0), np.where(use, y, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (xs * ys).sum(axis=(1, 2)) / (xs * xs).sum(axis=(1, 2))


def _check(paid: TriangleSet, incurred: TriangleSet) -> None:
    for name, tri in (("paid", paid), ("incurred", incurred)):
        if not isinstance(tri, TriangleSet):
            raise ReservingError(f"{name} must be a TriangleSet; got {type(tri).__name__}")
    if paid.shape != incurred.shape or paid.valuation_index != incurred.valuation_index or not (
            paid.origins.equals(incurred.origins) and paid.segments.equals(incurred.segments)):
        raise ReservingError(f"paid {paid!r} and incurred {incurred!r} must have the same segments, origins, "
                             "lags and valuation")
    for name, tri in (("paid", paid), ("incurred", incurred)):
        bad = tri.observed[None] & ~(np.isfinite(tri.values) & (tri.values > 0))
        if bad.any():
            s, i, j = np.argwhere(bad)[0]
            raise ReservingError(f"{name} at origin {tri.origins[i]}, development {tri.development[j]} is "
                                 f"{tri.values[s, i, j]}: the Munich chain ladder needs every observed paid and "
                                 "incurred cell positive (both ratios P/I and I/P)", segment=tri.segment_name(s))
