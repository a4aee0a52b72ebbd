"""Aggregate stop-loss premium: the group's retained cost above a percentage of its expected cost.

The group retains R = c X - min((c X - a)+, l) per claimant after the specific cover (``Retained``),
so its annual retained cost is S = R_1 + ... + R_N with N ~ Binomial(members, claimant_rate).
A lasered member j has its own specific attachment a_j (above the group's), so the group retains
R_j = c X - min((c X - a_j)+, l) of that member's cost with probability claimant_rate: with lasers,
N counts the members without one and S gains one independent term B_j R_j per lasered member
(B_j ~ Bernoulli(claimant_rate)), convolved onto the lattice of the others.
The aggregate attachment is d = pct * E[S] and the expected payment is E[(S - d)+].

With independent members, S of a large group has a tiny coefficient of variation and the premium
above 125% is effectively zero. Real costs share shocks (epidemics, price changes, mis-estimated
trend); ``common_shock_cv`` multiplies S by Theta, a lognormal with mean 1 and that CV:

    E[(Theta S - d)+] = E_Theta[ Theta * pi_S(d / Theta) ]

evaluated by 48-point Gauss-Hermite quadrature on ln Theta, with pi_S from one compound lattice
(on the window E[S] +- 10-12 sd: below it pi_S(x) = E[S] - x exactly). When a node's d / theta lies
above the window and its share of the premium is not negligible (an attachment far in the tail),
the window is extended to cover it rather than clipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import inf

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss

from stoploss._discretise import discretise
from stoploss.compound import CompoundDistribution, compound, exact_moments
from stoploss.contract import check_settings, covered_fraction, trend_factor
from stoploss.errors import StopLossError
from stoploss.frequency import Binomial
from stoploss.layers import Retained
from stoploss.loadings import Loadings
from stoploss.severity import Severity

_NODES, _WEIGHTS = hermegauss(48)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


@dataclass(frozen=True, eq=False)
class AggregatePremium:
    """Aggregate stop-loss pricing of one group (currency per year)."""

    expected_retained: float
    attachment_pct: float
    attachment: float
    expected: float
    sd: float
    tvar: float
    gross: float
    prob_exceed: float
    common_shock_cv: float
    error_estimate: float
    retained: CompoundDistribution

    @property
    def totals(self) -> pd.Series:
        keys = ["expected_retained", "attachment_pct", "attachment", "expected", "sd", "tvar", "gross",
                "prob_exceed", "common_shock_cv", "error_estimate"]
        return pd.Series({k: getattr(self, k) for k in keys})

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([self.totals])


def shock_nodes(cv: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes theta_i and weights w_i of the lognormal common shock with mean 1 and CV ``cv``."""
    if cv < 0:
        raise StopLossError(f"common_shock_cv must be >= 0, got {cv!r}.")
    if cv == 0:
        return np.ones(1), np.ones(1)
    s = np.sqrt(np.log1p(cv * cv))
    return np.exp(s * _NODES - 0.5 * s * s), _WEIGHTS


def mixed_stop_loss(dist: CompoundDistribution, d, cv: float, with_error: bool = False):
    """E[(Theta S - d)+] and E[((Theta S - d)+)^2] for the lognormal shock Theta (mean 1, CV ``cv``).

    With ``with_error`` also the lattice's error estimate of the first, sum_i w_i theta_i err(d/theta_i).
    """
    d = np.atleast_1d(np.asarray(d, dtype=float))
    theta, w = shock_nodes(cv)
    x = np.minimum(d[:, None] / theta[None, :], dist.x[-1])
    pi = dist.stop_loss(x.ravel()).reshape(x.shape)
    pi2 = dist.stop_loss_second_moment(x.ravel()).reshape(x.shape)
    first = (pi * theta * w).sum(axis=1)
    second = (pi2 * theta**2 * w).sum(axis=1)
    if not with_error:
        return first, second
    err = (dist.stop_loss_error(x.ravel()).reshape(x.shape) * theta * w).sum(axis=1)
    return first, second, err


def aggregate_premium(severity: Severity, members: int, attachment_pct: float = 1.25, *,
                      claimant_rate: float = 1.0, specific_attachment: float = inf, specific_limit: float = inf,
                      annual_trend: float = 0.0, trend_months: float = 0.0, basis: str = "incurred",
                      payment_pattern=None, lasers=(), common_shock_cv: float = 0.0,
                      loadings: Loadings | None = None, n_buckets: int = 2**13, max_buckets: int = 2**17,
                      rtol: float = 1e-3) -> AggregatePremium:
    """Aggregate stop-loss premium for a group.

    Parameters
    ----------
    severity : Severity
        Annual cost of a member with any cost, at experience level (currency per year).
    members : int
        Number of members.
    attachment_pct : float
        Aggregate attachment as a share of expected retained cost (1.25 = 125%).
    claimant_rate : float
        Probability a member has any cost in the year.
    specific_attachment, specific_limit : float
        The specific cover the retained cost is net of (inf for none).
    annual_trend, trend_months, basis, payment_pattern :
        As for ``specific_premium``.
    lasers : sequence of float
        Specific attachments of the lasered members (each at least ``specific_attachment``); the
        group retains each such member's cost up to their own attachment.
    common_shock_cv : float
        Coefficient of variation of the common multiplicative shock (0 = independent members).
    loadings : Loadings, optional
        Default: no loadings.
    n_buckets, max_buckets : int
        Buckets on the compound lattice window to start with; doubled (up to ``max_buckets``) until the
        lattice's own estimate of the premium's error (before extrapolation) is below ``rtol``.
    rtol : float
        Target for that estimate, relative to the premium (the extrapolated premium is typically
        10-1000 times closer); the estimate reached is reported as ``error_estimate``.

    Examples
    --------
    >>> from stoploss import Gamma
    >>> p = aggregate_premium(Gamma(2.0, 1000.0), members=2000, attachment_pct=1.1, claimant_rate=0.5)
    >>> round(p.expected_retained)
    2000000
    """
    loadings = loadings or Loadings()
    check_settings("aggregate_premium", members=members, claimant_rate=claimant_rate, annual_trend=annual_trend,
                    trend_months=trend_months)
    if not attachment_pct > 0:
        raise StopLossError(f"aggregate_premium: attachment_pct must be positive, got {attachment_pct!r}.")
    if not specific_attachment >= 0:
        raise StopLossError(f"aggregate_premium: specific_attachment must be a number >= 0 (inf for none), "
                            f"got {specific_attachment!r}.")
    lasers = [float(a) for a in lasers]
    if len(lasers) > members:
        raise StopLossError("aggregate_premium: more lasers than members.")
    if any(not a >= specific_attachment for a in lasers):
        raise StopLossError("aggregate_premium: a laser attachment is below the group's specific attachment; "
                            "a laser must raise the attachment.")
    rho = covered_fraction(basis, payment_pattern)
    covered = severity.scaled(rho * trend_factor(annual_trend, trend_months))
    retained = Retained(covered, specific_attachment, specific_limit) if np.isfinite(specific_attachment) else covered
    lasered = [Retained(covered, a, specific_limit) for a in lasers]
    frequency = Binomial(int(members) - len(lasers), claimant_rate)
    mean, var = exact_moments(frequency, retained)
    for r in lasered:
        m1 = r.moment(1)
        mean, var = mean + claimant_rate * m1, var + claimant_rate * r.moment(2) - (claimant_rate * m1) ** 2
    d = attachment_pct * mean
    n = int(n_buckets)
    upper = mean + 12.0 * np.sqrt(var)
    while True:
        dist = _with_lasered(compound(frequency, retained, n=n, upper=upper), lasered, claimant_rate)
        first, second, err = mixed_stop_loss(dist, [d], common_shock_cv, with_error=True)
        beyond = _window_needed(dist, d, common_shock_cv, rtol * first[0])
        if beyond > upper:
            upper = beyond
            continue
        if err[0] <= rtol * first[0] or n >= max_buckets or first[0] <= 1e-9 * mean:
            break
        n *= 2
    expected = float(first[0])
    sd = float(np.sqrt(max(second[0] - expected**2, 0.0)))
    q = loadings.tvar_level
    tvar = _payout_tvar(dist, d, common_shock_cv, q) if loadings.coc_rate > 0 else 0.0
    theta, w = shock_nodes(common_shock_cv)
    prob = float(np.clip(np.sum(w * (1.0 - dist.cdf(d / theta))), 0.0, 1.0))
    return AggregatePremium(mean, attachment_pct, d, expected, sd, tvar, loadings.gross(expected, sd, tvar),
                            prob, common_shock_cv, float(err[0]) / max(expected, 1e-300), dist)


def _with_lasered(dist: CompoundDistribution, lasered, q: float) -> CompoundDistribution:
    """``dist`` (and its coarse lattice) convolved with one term B_j R_j per lasered member, on the
    same bucket size and window top; mass above the top counts, as for ``compound``, as beyond it."""
    if not lasered:
        return dist
    coarse = _with_lasered(dist.coarse, lasered, q) if dist.coarse is not None else None
    p, mean, var, added = dist.p, dist.exact_mean, dist.exact_var, dist.added_variance
    top = int(np.ceil(dist.x[-1] / dist.h)) + 2
    for r in lasered:
        f, v = discretise(r, dist.h, top)
        member = q * f
        member[0] += 1.0 - q
        p = np.convolve(p, member[: np.flatnonzero(member)[-1] + 1])[: dist.p.size]
        m1 = r.moment(1)
        mean, var, added = mean + q * m1, var + q * r.moment(2) - (q * m1) ** 2, added + q * v
    return CompoundDistribution(dist.method, dist.x, p, dist.h, mean, var, added, coarse)


def _window_needed(dist: CompoundDistribution, d: float, cv: float, tolerance: float) -> float:
    """The window top needed so that no shock node theta with d / theta above the window moves the
    premium by more than ``tolerance`` (its term theta w pi_S(top) bounds what clipping adds);
    0 when none does."""
    theta, w = shock_nodes(cv)
    top = float(dist.x[-1])
    at_top = float(dist.stop_loss(top))
    material = (d / theta > top) & (theta * w * at_top > tolerance / theta.size)
    return float(1.1 * d / theta[material].min()) if material.any() else 0.0


def _payout_tvar(dist: CompoundDistribution, d: float, cv: float, q: float) -> float:
    """TVaR_q of the payout Y = (Theta S - d)+: VaR by bisection on the mixed lattice cdf, then
    TVaR_q = VaR_q + E[(Y - VaR_q)+] / (1 - q) with E[(Y - y)+] = E[(Theta S - d - y)+]."""
    theta, w = shock_nodes(cv)
    cum = np.cumsum(dist.p)

    def cdf(y: float) -> float:
        k = np.searchsorted(dist.x, (y + d) / theta, side="right")
        return float(np.sum(w * np.where(k > 0, cum[np.maximum(k - 1, 0)], 0.0)))

    if cdf(0.0) >= q:
        return float(mixed_stop_loss(dist, [d], cv)[0][0]) / (1.0 - q)
    lo, hi = 0.0, float(theta.max() * dist.x[-1])
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if cdf(mid) >= q else (mid, hi)
        if hi - lo <= dist.h * 1e-3:
            break
    var_q = hi
    return float(var_q + mixed_stop_loss(dist, [d + var_q], cv)[0][0] / (1.0 - q))
