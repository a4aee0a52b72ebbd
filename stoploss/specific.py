"""Specific (individual) stop-loss premium for a group.

Each member's covered annual cost is c X with c = trend factor * contract covered share and X the
claimant cost distribution (``severity``), incurred with probability ``claimant_rate``. The
reinsurer pays min((c X - a)+, l) per member (l the optional layer maximum), so

    expected excess per member-year  e(a) = q * E[min((cX - a)+, l)]
    expected claimants per 1,000     1000 * q * P(cX > a)
    PMPM                             e(a) / 12
    leveraged trend                  e_trended(a) / e_untrended(a) - 1   (vs the cost trend)

Lasers give named members a higher attachment; they are passed as pseudonymous keys which are
used only to count and are never printed. The group payout is a compound binomial of excess
claimants, from which its standard deviation and TVaR are taken for the loadings. The SD covers
every member; the TVaR is that of the members without a laser plus the lasered members'
expected payout (their variability is in the SD but not in the TVaR).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import inf

import numpy as np
import pandas as pd

from stoploss.compound import compound
from stoploss.contract import check_settings, covered_fraction, trend_factor
from stoploss.errors import StopLossError
from stoploss.frequency import Binomial
from stoploss.layers import ExcessOver
from stoploss.loadings import Loadings
from stoploss.severity import Severity


@dataclass(frozen=True)
class SpecificPremium:
    """Specific stop-loss pricing of one group (currency per year unless stated)."""

    members: float
    attachment: float
    limit: float
    excess_per_member_year: float
    claimants_per_1000: float
    cost_trend: float
    leveraged_trend: float
    covered_share: float
    n_lasers: int
    laser_credit: float
    expected: float
    sd: float
    tvar: float
    gross: float

    @property
    def pmpm(self) -> float:
        """Expected cost per member per month."""
        return self.excess_per_member_year / 12.0

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([self.totals])

    @property
    def totals(self) -> pd.Series:
        data = dict(self.__dict__)
        data["pmpm"] = self.pmpm
        data["gross_pmpm"] = self.gross / (self.members * 12.0)
        return pd.Series(data)


def specific_excess(severity: Severity, attachment, limit: float = inf, claimant_rate: float = 1.0):
    """Expected specific stop-loss payment per member-year, q * E[min((X - a)+, l)], for a vector a."""
    a = np.asarray(attachment, dtype=float)
    if np.isfinite(limit):
        return claimant_rate * severity.layer(a, limit)
    return claimant_rate * severity.excess(a)


def specific_premium(severity: Severity, members: float, attachment: float, *, limit: float = inf,
                     claimant_rate: float = 1.0, annual_trend: float = 0.0, trend_months: float = 0.0,
                     basis: str = "incurred", payment_pattern=None, size_bands=None, lasers=None,
                     loadings: Loadings | None = None, n_buckets: int = 2**11) -> SpecificPremium:
    """Specific stop-loss premium for a group.

    Parameters
    ----------
    severity : Severity
        Annual cost of a member who has any cost (currency per year), at experience level.
    members : float
        Average number of members over the contract year.
    attachment : float
        Specific attachment (deductible) per member per year, currency.
    limit : float
        Layer maximum above the attachment (inf for none).
    claimant_rate : float
        Probability a member has any cost in the year.
    annual_trend, trend_months :
        Cost trend per year and months from experience midpoint to contract midpoint.
    basis, payment_pattern :
        Contract basis "incurred" (default: all incurred cost), "12/12", "12/15" or "12/24", and the
        cumulative payment pattern by month of lag (default ``contract.DEFAULT_PAYMENT_PATTERN``).
    size_bands : stoploss.banded.SizeBands, optional
        Trend and payment pattern by claim-size band instead of one uniform scale: band k's costs are
        covered in the share rho_k of its own pattern and trended at its own rate. ``cost_trend`` is
        then the rise of the mean covered cost and ``covered_share`` the covered share of the mean.    lasers : mapping of pseudonymous key -> attachment, optional
        Higher attachments for named members (keys are not printed anywhere).
    loadings : Loadings, optional
        Default: no loadings.
    n_buckets : int
        Lattice size for the payout distribution (SD is exact; TVaR uses the lattice). The TVaR is
        of the members without a laser, plus the lasered members' expected payout.

    Examples
    --------
    >>> from stoploss import Gamma
    >>> p = specific_premium(Gamma(1.0, 10_000.0), members=1000, attachment=50_000.0)
    >>> round(p.excess_per_member_year, 4)       # 10,000 * exp(-5)
    67.3795
    """
    loadings = loadings or Loadings()
    check_settings("specific_premium", members=members, claimant_rate=claimant_rate, annual_trend=annual_trend,
                    trend_months=trend_months)
    if members <= 0:
        raise StopLossError(f"specific_premium: members must be positive, got {members!r}.")
    if not attachment >= 0:
        raise StopLossError(f"specific_premium: attachment must be a number >= 0, got {attachment!r}.")
    lasers = dict(lasers or {})
    for i, value in enumerate(lasers.values()):
        if not value >= attachment:
            raise StopLossError(f"specific_premium: laser number {i + 1} has an attachment below the group's "
                                f"({attachment}); a laser must raise the attachment.")
    if len(lasers) > members:
        raise StopLossError("specific_premium: more lasers than members.")
    if size_bands is None:
        rho = covered_fraction(basis, payment_pattern)
        trend = trend_factor(annual_trend, trend_months)
        base = severity.scaled(rho)
        covered = severity.scaled(rho * trend)
    else:
        base, covered = size_bands.severities(severity, basis=basis, payment_pattern=payment_pattern,
                                              annual_trend=annual_trend, trend_months=trend_months)
        rho = base.mean() / severity.mean()
        trend = covered.mean() / base.mean()
    e = float(specific_excess(covered, attachment, limit, claimant_rate))
    e0 = float(specific_excess(base, attachment, limit, claimant_rate))
    laser_e = specific_excess(covered, np.array(list(lasers.values()), dtype=float), limit, claimant_rate)
    n_lasers = len(lasers)
    expected = (members - n_lasers) * e + float(np.sum(laser_e))
    sd, tvar = _payout_risk(covered, members - n_lasers, attachment, limit, claimant_rate, loadings, n_buckets)
    if loadings.coc_rate > 0:
        tvar += float(np.sum(laser_e))
    sd = float(np.sqrt(sd**2 + np.sum(_per_member_var(covered, np.array(list(lasers.values()), dtype=float),
                                                          limit, claimant_rate))))
    return SpecificPremium(
        members=float(members), attachment=float(attachment), limit=float(limit), excess_per_member_year=e,
        claimants_per_1000=1000.0 * claimant_rate * float(covered.sf(attachment)), cost_trend=trend - 1.0,
        leveraged_trend=e / e0 - 1.0 if e0 > 0 else 0.0, covered_share=rho, n_lasers=n_lasers,
        laser_credit=n_lasers * e - float(np.sum(laser_e)), expected=expected, sd=sd, tvar=tvar,
        gross=loadings.gross(expected, sd, tvar))


def _per_member_var(severity: Severity, attachments: np.ndarray, limit: float, q: float) -> np.ndarray:
    """Var of one member's payment q-mixture: q E[Y^2] - (q E[Y])^2 with Y = min((X - a)+, l)."""
    out = np.zeros(attachments.size)
    for i, a in enumerate(attachments):
        s_a = float(severity.sf(a))
        if s_a <= 0:
            continue
        y = ExcessOver(severity, float(a), limit)
        m1, m2 = s_a * y.moment(1), s_a * y.moment(2)
        out[i] = q * m2 - (q * m1) ** 2
    return out


def _payout_risk(severity, members, attachment, limit, q, loadings: Loadings, n_buckets: int):
    """SD (exact) and TVaR (lattice) of the payout of ``members`` independent members."""
    s_a = float(severity.sf(attachment))
    if members <= 0 or s_a <= 0 or q <= 0:
        return 0.0, 0.0
    var = members * float(_per_member_var(severity, np.array([attachment]), limit, q)[0])
    if loadings.coc_rate == 0:
        return float(np.sqrt(var)), 0.0
    m = int(round(members))
    payout = compound(Binomial(m, q * s_a), ExcessOver(severity, attachment, limit), n=n_buckets)
    return float(np.sqrt(var)), payout.tvar(loadings.tvar_level)
