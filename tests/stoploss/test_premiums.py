"""Premiums: specific and aggregate stop-loss, contract basis, loadings, credibility — closed forms."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import gammaincc

from stoploss import Binomial, Gamma, StopLossError, compound
from stoploss.aggregate_premium import aggregate_premium, mixed_stop_loss
from stoploss.contract import covered_fraction, trend_factor
from stoploss.credibility import buhlmann_straub, credibility_weight
from stoploss.loadings import Loadings
from stoploss.specific import specific_premium

THETA = 10_000.0


def test_covered_fraction_hand_worked():
    pattern = [0.5, 0.8, 1.0]
    assert covered_fraction("12/12", pattern) == pytest.approx((10 + 0.8 + 0.5) / 12)
    assert covered_fraction("12/15", pattern) == pytest.approx(1.0)
    assert covered_fraction("incurred") == 1.0
    with pytest.raises(StopLossError, match="basis"):
        covered_fraction("12/18", pattern)


def test_specific_premium_exponential_closed_form():
    m, q, a, l = 5000, 0.7, 50_000.0, 100_000.0
    pattern = [0.5, 0.8, 1.0]
    rho = (10 + 0.8 + 0.5) / 12
    t = 1.08 ** 1.5
    th = THETA * rho * t
    lasers = {"pseudo-1": 80_000.0, "pseudo-2": 120_000.0}
    p = specific_premium(Gamma(1.0, THETA), m, a, limit=l, claimant_rate=q, annual_trend=0.08, trend_months=18,
                         basis="12/12", payment_pattern=pattern, lasers=lasers)

    def e(att, scale):
        return q * scale * (np.exp(-att / scale) - np.exp(-(att + l) / scale))

    assert p.excess_per_member_year == pytest.approx(e(a, th), rel=1e-12)
    assert p.pmpm == pytest.approx(e(a, th) / 12, rel=1e-12)
    assert p.claimants_per_1000 == pytest.approx(1000 * q * np.exp(-a / th), rel=1e-12)
    assert p.cost_trend == pytest.approx(t - 1)
    assert p.leveraged_trend == pytest.approx(e(a, th) / e(a, THETA * rho) - 1, rel=1e-12)
    assert p.leveraged_trend > p.cost_trend
    expected = (m - 2) * e(a, th) + e(80_000.0, th) + e(120_000.0, th)
    assert p.expected == pytest.approx(expected, rel=1e-12)
    assert p.laser_credit == pytest.approx(2 * e(a, th) - e(80_000.0, th) - e(120_000.0, th), rel=1e-10)

    def var(att):
        s = np.exp(-att / th)
        ey2 = 2 * s * th**2 * (1 - np.exp(-l / th) * (1 + l / th))
        return q * ey2 - e(att, th) ** 2

    assert p.sd == pytest.approx(np.sqrt((m - 2) * var(a) + var(80_000.0) + var(120_000.0)), rel=1e-9)
    text = p.summary.to_csv() + repr(p)
    assert "pseudo" not in text


def test_specific_premium_tvar_loading_uses_payout_distribution():
    loads = Loadings(expense_pct=0.1, sd_multiple=0.05, coc_rate=0.06, tvar_level=0.99)
    p = specific_premium(Gamma(1.0, THETA), 2000, 40_000.0, claimant_rate=0.5, loadings=loads)
    n_exceed = Binomial(2000, 0.5 * np.exp(-4.0))
    ref = compound(n_exceed, Gamma(1.0, THETA), method="panjer", h=50.0, upper=400_000.0)
    assert p.tvar == pytest.approx(ref.tvar(0.99), rel=2e-3)
    assert p.gross == pytest.approx((p.expected + 0.05 * p.sd + 0.06 * (p.tvar - p.expected)) / 0.9, rel=1e-12)


def test_specific_tvar_includes_lasered_members_expected_payout():
    loads = Loadings(coc_rate=0.1, tvar_level=0.99)
    lasers = {"k1": 60_000.0, "k2": 80_000.0}
    # every member lasered: the un-lasered payout is 0, so TVaR = the lasers' expected payout
    # q * theta * exp(-a / theta) and the cost-of-capital margin is 0
    p = specific_premium(Gamma(1.0, THETA), 2, 40_000.0, claimant_rate=0.5, lasers=lasers, loadings=loads)
    laser_mean = 0.5 * THETA * (np.exp(-6.0) + np.exp(-8.0))
    assert p.expected == pytest.approx(laser_mean, rel=1e-12)
    assert p.tvar == pytest.approx(laser_mean, rel=1e-12)
    assert p.gross == pytest.approx(laser_mean, rel=1e-12)
    # with other members: TVaR of the 1,998 un-lasered members' compound binomial + the lasers' mean
    q = specific_premium(Gamma(1.0, THETA), 2000, 40_000.0, claimant_rate=0.5, lasers=lasers, loadings=loads)
    ref = compound(Binomial(1998, 0.5 * np.exp(-4.0)), Gamma(1.0, THETA), method="panjer", h=50.0,
                   upper=400_000.0)
    assert q.tvar == pytest.approx(ref.tvar(0.99) + laser_mean, rel=2e-3)
    assert q.tvar - q.expected == pytest.approx(ref.tvar(0.99) - 1998 * 0.5 * THETA * np.exp(-4.0), rel=2e-3)


def test_loadings_hand_worked():
    assert Loadings(0.2, 0.1, 0.06, 0.99).gross(800.0, 1000.0, 5000.0) == pytest.approx((900 + 0.06 * 4200) / 0.8)
    with pytest.raises(StopLossError):
        Loadings(expense_pct=1.0)


def test_aggregate_premium_matches_gamma_closed_form():
    # three members who always claim, exponential cost: S ~ Gamma(3, theta) exactly
    p = aggregate_premium(Gamma(1.0, THETA), 3, 1.25, claimant_rate=1.0)
    d = 1.25 * 3 * THETA
    exact = 3 * THETA * gammaincc(4, d / THETA) - d * gammaincc(3, d / THETA)
    assert p.expected_retained == pytest.approx(3 * THETA, rel=1e-12)
    assert p.expected == pytest.approx(exact, rel=1e-6)
    assert p.prob_exceed == pytest.approx(gammaincc(3, d / THETA), rel=1e-3)


def test_aggregate_retained_is_net_of_specific():
    a = 25_000.0
    p = aggregate_premium(Gamma(1.0, THETA), 400, 1.2, claimant_rate=0.6, specific_attachment=a)
    assert p.expected_retained == pytest.approx(400 * 0.6 * THETA * (1 - np.exp(-a / THETA)), rel=1e-12)


def test_common_shock_mixture_against_quadrature():
    dist = compound(Binomial(3, 1.0), Gamma(1.0, THETA))
    cv, d = 0.2, 1.25 * 3 * THETA
    s = np.sqrt(np.log1p(cv * cv))
    shock = stats.lognorm(s, scale=np.exp(-0.5 * s * s))

    def pi0(x):
        return 3 * THETA * gammaincc(4, x / THETA) - x * gammaincc(3, x / THETA)

    ref = integrate.quad(lambda t: t * pi0(d / t) * shock.pdf(t), 0, np.inf, epsrel=1e-10)[0]
    got, _ = mixed_stop_loss(dist, [d], cv)
    assert got[0] == pytest.approx(ref, rel=1e-5)
    with_shock = aggregate_premium(Gamma(1.0, THETA), 3, 1.25, common_shock_cv=cv)
    assert with_shock.expected == pytest.approx(ref, rel=1e-5)


def test_independence_makes_large_group_premium_negligible_and_shock_does_not():
    kw = dict(claimant_rate=0.8, specific_attachment=100_000.0)
    none = aggregate_premium(Gamma(0.5, 8000.0), 100_000, 1.25, **kw)
    shocked = aggregate_premium(Gamma(0.5, 8000.0), 100_000, 1.25, common_shock_cv=0.1, **kw)
    assert none.expected < 1e-6 * none.expected_retained
    assert shocked.expected > 1e-4 * shocked.expected_retained


def test_buhlmann_straub_hand_worked():
    df = pd.DataFrame({"group": ["A", "A", "B", "B"], "exposure": [100, 100, 50, 50],
                       "rate": [10.0, 14.0, 20.0, 24.0]})
    cred = buhlmann_straub(df, manual=16.0)
    # A: w=200, mean 12; B: w=100, mean 22; overall 46/3
    assert cred.s2 == pytest.approx((100 * 8 + 50 * 8) / 2)
    xbar = 46 / 3
    a = (200 * (12 - xbar) ** 2 + 100 * (22 - xbar) ** 2 - 600) / (300 - (200**2 + 100**2) / 300)
    assert cred.a == pytest.approx(a)
    z_a = 200 / (200 + 600 / a)
    assert cred.summary.loc["A", "Z"] == pytest.approx(z_a)
    assert cred.summary.loc["A", "blended_rate"] == pytest.approx(z_a * 12 + (1 - z_a) * 16)
    assert credibility_weight([0.0, 100.0], 100.0).tolist() == [0.0, 0.5]
    with pytest.raises(StopLossError, match="row 1"):
        buhlmann_straub(df.assign(exposure=[1, -1, 1, 1]))
    with pytest.raises(StopLossError, match=r"row 2 has no 'group'; fill in the group id"):
        buhlmann_straub(df.assign(group=["A", "A", None, "B"]))
    with pytest.raises(StopLossError, match="row 0 has no 'group'"):
        buhlmann_straub(df.assign(group=[np.nan, "A", "B", "B"]))


def test_trend_factor():
    assert trend_factor(0.1, 24) == pytest.approx(1.21)
