"""Trend and contract basis by claim size: a severity scaled by a different factor in each size band.

A uniform trend or contract basis multiplies every annual cost by one factor. Large costs often
trend faster (new high-cost drugs, specialised care) and are paid more slowly (so a 12/12 contract
covers a smaller share of them). With size bands e_0 = 0 < e_1 < ... < e_m < e_{m+1} = inf on the
*experience* cost X and a factor c_k per band,

    Y = c_k X   when e_{k-1} < X <= e_k,

and, band by band (S the survival function of X, band k = (l, h], t = max(y / c_k, l)),

    P(Y > y)     = sum_k [S(t) - S(h)]+                                   (0 when t >= h)
    E[(Y - a)+]  = sum_k c_k { E[(X - t)+] - E[(X - h)+] - (h - t) S(h) + (t - a / c_k) (S(t) - S(h)) },
                   t = max(a / c_k, l)
    E[Y^2]       = sum_k c_k^2 E[X^2; l < X <= h],  E[X^2; X <= h] = E[(X ^ h)^2] - h^2 S(h)

exact in terms of the closed forms of X (Klugman, Panjer & Willmot, *Loss Models*, 5th ed., 3.1).
The factors need not increase with size: Y need not be monotone in X, and the formulas hold as
written. :func:`trend_by_size` builds the factors from an annual trend per band, and
:func:`basis_by_size` from a contract basis and a payment pattern per band
(:func:`stoploss.contract.covered_fraction` in each). :func:`leveraged_trend` is the rise of a
layer's expected payment under a trend, against the cost trend: the leverage shown in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import inf

import numpy as np
from scipy import optimize

from stoploss.contract import covered_fraction, trend_factor
from stoploss.errors import StopLossError
from stoploss.severity import Severity


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


@dataclass(frozen=True, eq=False)
class BandScaled(Severity):
    """Y = factors[k] X for X in band k of ``edges`` (see the module docstring).

    Parameters
    ----------
    base : Severity
        X, the experience cost.
    edges : tuple of float
        Increasing positive inner band edges e_1 < ... < e_m on X (m >= 0).
    factors : tuple of float
        m + 1 positive factors, one per band from (0, e_1] to (e_m, inf).

    Examples
    --------
    >>> from stoploss import Lognormal
    >>> x = Lognormal(9.0, 1.2)
    >>> y = BandScaled(x, (50_000.0,), (1.05, 1.05))       # one factor everywhere: a plain scaling
    >>> bool(np.isclose(y.excess(100_000.0), x.scaled(1.05).excess(100_000.0), rtol=1e-12))
    True
    """

    base: Severity
    edges: tuple
    factors: tuple

    def __post_init__(self):
        e, c = _arr(self.edges), _arr(self.factors)
        if e.ndim != 1 or np.any(~np.isfinite(e)) or np.any(e <= 0) or np.any(np.diff(e) <= 0):
            raise StopLossError(f"BandScaled: edges must be increasing positive amounts, got {self.edges!r}.")
        if c.shape != (e.size + 1,) or np.any(~np.isfinite(c)) or np.any(c <= 0):
            raise StopLossError(f"BandScaled: give {e.size + 1} positive factors (one per band), got {self.factors!r}.")
        object.__setattr__(self, "edges", tuple(float(v) for v in e))
        object.__setattr__(self, "factors", tuple(float(v) for v in c))

    @property
    def continuous(self) -> bool:  # type: ignore[override]
        return self.base.continuous

    def _bands(self):
        lo = (0.0, *self.edges)
        hi = (*self.edges, inf)
        return zip(lo, hi, self.factors)

    def _sf_at(self, x):
        """S(x) of the base with S(inf) = 0."""
        x = _arr(x)
        return np.where(np.isfinite(x), self.base.sf(np.where(np.isfinite(x), x, 0.0)), 0.0)

    def _excess_at(self, x):
        x = _arr(x)
        return np.where(np.isfinite(x), self.base.excess(np.where(np.isfinite(x), x, 0.0)), 0.0)

    def sf(self, y):
        y = _arr(y)
        out = np.zeros(y.shape)
        for lo, hi, c in self._bands():
            t = np.maximum(np.maximum(y, 0.0) / c, lo)
            out += np.where(t < hi, self._sf_at(t) - self._sf_at(hi), 0.0)
        return out

    def cdf(self, y):
        return 1.0 - self.sf(y)

    def excess(self, a):
        a = _arr(a)
        out = np.zeros(a.shape)
        for lo, hi, c in self._bands():
            t = np.maximum(a / c, lo)
            s_t, s_h = self._sf_at(t), self._sf_at(hi)
            width = np.where(np.isfinite(hi), hi - t, 0.0) * s_h
            part = self._excess_at(t) - self._excess_at(hi) - width + (t - a / c) * (s_t - s_h)
            out += np.where(t < hi, c * part, 0.0)
        return out

    def moment(self, k: int = 1) -> float:
        if k == 1:
            return float(self.excess(0.0))
        if k == 2:
            return float(sum(c * c * (self._second_below(hi) - (self._second_below(lo) if lo > 0 else 0.0))
                             for lo, hi, c in self._bands()))
        raise StopLossError("BandScaled.moment: only k = 1 and 2 are available.")

    def lev(self, u):
        return self.mean() - self.excess(u)

    def _second_below(self, x):
        """E[X^2; X <= x] of the base, for x >= 0 (x may be inf)."""
        x = _arr(x)
        finite = np.isfinite(x)
        xf = np.where(finite, x, 0.0)
        value = np.reshape(self.base.lev2(xf), xf.shape) - xf * xf * self.base.sf(xf)
        return np.where(finite, value, self.base.moment(2))

    def lev2(self, u):
        """E[(Y ^ u)^2] = sum_k c_k^2 E[X^2; l < X <= min(h, max(u / c_k, l))] + u^2 P(Y > u)."""
        u = _arr(u)
        out = u * u * self.sf(u)
        for lo, hi, c in self._bands():
            top = np.minimum(hi, np.maximum(u / c, lo))
            out = out + c * c * (self._second_below(top) - (self._second_below(lo) if lo > 0 else 0.0))
        return out

    def quantile(self, p):
        """Inverse of the survival function by root finding (Y need not be monotone in X)."""
        p = np.atleast_1d(_arr(p))
        out = np.empty(p.shape)
        top = max(self.factors)
        for i, pi in enumerate(p.ravel()):
            if pi <= 0:
                out.ravel()[i] = 0.0
                continue
            hi = top * float(self.base.quantile(min(pi, 1.0 - 1e-15))) + 1.0
            while float(self.cdf(hi)) < pi:
                hi *= 2.0
            out.ravel()[i] = optimize.brentq(lambda y: float(self.cdf(y)) - pi, 0.0, hi, xtol=1e-10, rtol=1e-13)
        return out.reshape(np.shape(_arr(p))) if np.ndim(p) else out[0]

    def scaled(self, c: float) -> BandScaled:
        if not (np.isfinite(c) and c > 0):
            raise StopLossError(f"BandScaled.scaled: the factor must be positive, got {c!r}.")
        return BandScaled(self.base, self.edges, tuple(f * c for f in self.factors))


@dataclass(frozen=True)
class SizeBands:
    """Trend and payment pattern by claim-size band, for :func:`stoploss.specific_premium`.

    Parameters
    ----------
    edges : tuple of float
        Inner band edges on the experience cost (increasing, positive).
    annual_trends : tuple of float, optional
        Annual cost trend per band (len(edges) + 1); None: the premium's ``annual_trend`` in every band.
    payment_patterns : tuple, optional
        Cumulative payment pattern per band (None in a place: the premium's pattern); None: the
        premium's pattern in every band.
    """

    edges: tuple
    annual_trends: tuple | None = None
    payment_patterns: tuple | None = None

    def severities(self, severity: Severity, *, basis: str, payment_pattern, annual_trend: float,
                   trend_months: float) -> tuple[BandScaled, BandScaled]:
        """(covered before trend, covered after trend): factors rho_k and rho_k x trend_k per band."""
        n = len(self.edges) + 1
        trends = self.annual_trends if self.annual_trends is not None else (annual_trend,) * n
        patterns = self.payment_patterns if self.payment_patterns is not None else (None,) * n
        if len(trends) != n or len(patterns) != n:
            raise StopLossError(f"SizeBands: {len(self.edges)} edges make {n} bands; give {n} trends and {n} "
                                "payment patterns (or none).")
        rho = [covered_fraction(basis, payment_pattern if p is None else p) for p in patterns]
        grow = [trend_factor(r, trend_months) for r in trends]
        return (BandScaled(severity, tuple(self.edges), tuple(rho)),
                BandScaled(severity, tuple(self.edges), tuple(r * g for r, g in zip(rho, grow))))


def trend_by_size(severity: Severity, edges, annual_trends, months: float) -> BandScaled:
    """Trend each claim-size band at its own annual rate for ``months`` months.

    Examples
    --------
    >>> from stoploss import Lognormal
    >>> y = trend_by_size(Lognormal(9.0, 1.2), [50_000.0], [0.04, 0.10], 12.0)
    >>> y.factors
    (1.04, 1.1)
    """
    return BandScaled(severity, tuple(edges), tuple(trend_factor(r, months) for r in annual_trends))


def basis_by_size(severity: Severity, edges, basis: str, payment_patterns) -> BandScaled:
    """Cover a contract basis ("12/12", "12/15", "12/24") with a payment pattern per claim-size band.

    ``payment_patterns`` holds one cumulative pattern by month of lag per band (see
    :func:`stoploss.contract.covered_fraction`); band k's costs are covered in the share rho_k.

    Examples
    --------
    >>> from stoploss import Lognormal
    >>> y = basis_by_size(Lognormal(9.0, 1.2), [50_000.0], "12/12", [[0.5, 1.0], [0.25, 0.5, 1.0]])
    >>> [round(f, 6) for f in y.factors]
    [0.958333, 0.895833]
    """
    return BandScaled(severity, tuple(edges), tuple(covered_fraction(basis, p) for p in payment_patterns))


def leveraged_trend(untrended: Severity, trended: Severity, attachment: float, limit: float = inf) -> float:
    """E[payment of "limit xs attachment"] trended over untrended, minus one.

    With a uniform cost trend r and no limit this exceeds r (the leverage of an excess layer); a
    limit caps it. For a single-parameter Pareto of index alpha above the attachment it is
    (1 + r)^alpha - 1 exactly.

    Examples
    --------
    >>> from stoploss import Lognormal
    >>> x = Lognormal(9.0, 1.2)
    >>> round(leveraged_trend(x, x.scaled(1.05), 100_000.0), 4) > 0.05
    True
    """
    if np.isfinite(limit):
        before, after = float(untrended.layer(attachment, limit)), float(trended.layer(attachment, limit))
    else:
        before, after = float(untrended.excess(attachment)), float(trended.excess(attachment))
    if before <= 0:
        raise StopLossError(f"leveraged_trend: the layer above {attachment:,.0f} has no expected payment before trend.")
    return after / before - 1.0
