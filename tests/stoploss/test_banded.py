"""Trend and contract basis by claim-size band (``stoploss.banded``).

References: numerical integration of the definition Y = c_k X over the base density, band by band
(a slow, obvious reference, scipy ``quad``, relative tolerance 1e-8); the plain scaled severity when
every band has the same factor (1e-12); the single-parameter Pareto's closed form
(1 + r)^alpha - 1 for the leveraged trend of an excess or a layer above its threshold (1e-12, 1e-10).
"""

from __future__ import annotations

from math import inf

import numpy as np
import pytest
from scipy import integrate, stats

from stoploss import Lognormal, SingleParameterPareto, specific_premium
from stoploss.banded import BandScaled, basis_by_size, leveraged_trend, trend_by_size
from stoploss.contract import covered_fraction
from stoploss.errors import StopLossError

BASE = Lognormal(9.5, 1.3)
PDF = stats.lognorm(s=1.3, scale=np.exp(9.5)).pdf


def _pieces(sev: BandScaled):
    lo = (0.0, *sev.edges)
    hi = (*sev.edges, inf)
    return zip(lo, hi, sev.factors)


def _quad(f, lo, hi):
    """Integral over (lo, hi]; an infinite hi is cut at 1e10, where the lognormal's mass is below 1e-24."""
    hi = min(hi, 1e10)
    points = [p for p in (1e4, 5e4, 2e5, 1e6, 1e7, 1e8) if lo < p < hi]
    val, _ = integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-11, limit=400, points=points or None)
    return val


def naive_excess(sev: BandScaled, a: float) -> float:
    """E[(Y - a)+] = sum_k integral over band k of (c_k x - a)+ f(x) dx, integrated from max(a / c_k, lo)."""
    total = 0.0
    for lo, hi, c in _pieces(sev):
        start = max(a / c, lo)
        if start < hi:
            total += _quad(lambda x: (c * x - a) * PDF(x), start, hi)
    return total


def naive_sf(sev: BandScaled, y: float) -> float:
    return sum(_quad(PDF, max(y / c, lo), hi) for lo, hi, c in _pieces(sev) if max(y / c, lo) < hi)


def naive_second_moment(sev: BandScaled) -> float:
    return sum(_quad(lambda x: (c * x) ** 2 * PDF(x), lo, hi) for lo, hi, c in _pieces(sev))


CASES = [
    BandScaled(BASE, (50_000.0,), (1.03, 1.09)),                    # larger claims trend faster
    BandScaled(BASE, (25_000.0, 100_000.0), (0.97, 0.90, 0.80)),    # larger claims paid later: not monotone
]


@pytest.mark.parametrize("sev", CASES)
@pytest.mark.parametrize("a", [0.0, 10_000.0, 50_000.0, 80_000.0, 250_000.0])
def test_excess_and_survival_equal_integration_of_the_definition(sev, a):
    assert float(sev.excess(a)) == pytest.approx(naive_excess(sev, a), rel=1e-8)
    if a > 0:
        assert float(sev.sf(a)) == pytest.approx(naive_sf(sev, a), rel=1e-8)


@pytest.mark.parametrize("sev", CASES)
def test_moments_layer_and_quantile(sev):
    assert sev.moment(2) == pytest.approx(naive_second_moment(sev), rel=1e-8)
    layer = float(sev.layer(50_000.0, 150_000.0))
    assert layer == pytest.approx(naive_excess(sev, 50_000.0) - naive_excess(sev, 200_000.0), rel=1e-8)
    p = np.array([0.1, 0.5, 0.9, 0.999])
    assert np.allclose(sev.cdf(sev.quantile(p)), p, rtol=0, atol=1e-10)


def test_one_factor_everywhere_is_the_plain_scaling():
    c = 1.07
    sev = BandScaled(BASE, (20_000.0, 90_000.0), (c, c, c))
    plain = BASE.scaled(c)
    a = np.array([0.0, 5_000.0, 20_000.0, 95_000.0, 1e6])
    assert np.allclose(sev.excess(a), plain.excess(a), rtol=1e-12, atol=0)
    assert np.allclose(sev.sf(a[1:]), plain.sf(a[1:]), rtol=1e-12, atol=0)
    assert sev.moment(2) == pytest.approx(plain.moment(2), rel=1e-10)
    assert np.allclose(sev.quantile([0.2, 0.9]), plain.quantile(np.array([0.2, 0.9])), rtol=1e-9)


def test_leveraged_trend_on_pareto_is_the_closed_form_and_a_layer_caps_it():
    x = SingleParameterPareto(2.2, 10_000.0)
    r = 0.06
    lev = leveraged_trend(x, trend_by_size(x, [40_000.0], [r, r], 12.0), 100_000.0)
    assert lev == pytest.approx((1 + r) ** 2.2 - 1, rel=1e-12)
    # scale-free: every layer above the Pareto's threshold levers the same, (1 + r)^alpha
    layer = leveraged_trend(x, trend_by_size(x, [40_000.0], [r, r], 12.0), 100_000.0, 50_000.0)
    assert layer == pytest.approx((1 + r) ** 2.2 - 1, rel=1e-10)
    # on a lognormal a limit caps the leverage: r < layer < unlimited excess
    lognormal = BASE.scaled(1 + r)
    assert r < leveraged_trend(BASE, lognormal, 100_000.0, 100_000.0) < leveraged_trend(BASE, lognormal, 100_000.0)
    # trend by size: a faster trend on the large band levers the layer more than the small band's rate
    banded = trend_by_size(BASE, [50_000.0], [0.03, 0.09], 12.0)
    lev_banded = leveraged_trend(BASE, banded, 100_000.0, 400_000.0)
    assert lev_banded == pytest.approx(
        (naive_excess(banded, 100_000.0) - naive_excess(banded, 500_000.0))
        / float(BASE.layer(100_000.0, 400_000.0)) - 1, rel=1e-7)
    assert lev_banded > leveraged_trend(BASE, BASE.scaled(1.03), 100_000.0, 400_000.0)


def test_basis_by_size_uses_each_bands_pattern_and_prices():
    slow = [0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0]
    sev = basis_by_size(BASE, [50_000.0], "12/12", [None, slow])
    assert sev.factors == (covered_fraction("12/12"), covered_fraction("12/12", slow))
    assert covered_fraction("12/24", slow) == 1.0
    assert basis_by_size(BASE, [50_000.0], "12/24", [None, slow]).factors[1] == 1.0
    premium = specific_premium(sev, members=10_000, attachment=100_000.0, claimant_rate=0.8)
    assert premium.excess_per_member_year == pytest.approx(0.8 * naive_excess(sev, 100_000.0), rel=1e-8)
    # slower payment of large claims lowers the covered excess below the uniform 12/12 basis
    uniform = specific_premium(BASE, members=10_000, attachment=100_000.0, claimant_rate=0.8, basis="12/12")
    assert premium.excess_per_member_year < uniform.excess_per_member_year


def test_bad_bands_are_named():
    with pytest.raises(StopLossError, match="increasing positive"):
        BandScaled(BASE, (5.0, 1.0), (1.0, 1.0, 1.0))
    with pytest.raises(StopLossError, match="give 2 positive factors"):
        BandScaled(BASE, (5.0,), (1.0,))
    with pytest.raises(StopLossError, match="trend"):
        trend_by_size(BASE, [5.0], [0.1, -2.0], 12.0)


def naive_lev2(sev: BandScaled, u: float) -> float:
    """E[min(Y, u)^2] band by band: integral of min(c_k x, u)^2 f(x)."""
    return sum(_quad(lambda x: min(c * x, u) ** 2 * PDF(x), lo, hi) for lo, hi, c in _pieces(sev))


@pytest.mark.parametrize("sev", CASES)
@pytest.mark.parametrize("u", [20_000.0, 60_000.0, 300_000.0])
def test_limited_second_moment_equals_integration(sev, u):
    assert float(sev.lev2(u)) == pytest.approx(naive_lev2(sev, u), rel=1e-8)


def test_specific_premium_with_equal_bands_is_the_uniform_premium():
    from stoploss import Loadings
    from stoploss.banded import SizeBands
    kw = dict(members=5_000, attachment=100_000.0, limit=400_000.0, claimant_rate=0.7, annual_trend=0.06,
              trend_months=18.0, basis="12/15", loadings=Loadings(0.0, 0.0, 0.1))
    uniform = specific_premium(BASE, **kw)
    banded = specific_premium(BASE, size_bands=SizeBands((40_000.0, 150_000.0)), **kw)
    for field in ("excess_per_member_year", "leveraged_trend", "cost_trend", "covered_share", "sd"):
        assert getattr(banded, field) == pytest.approx(getattr(uniform, field), rel=1e-10)
    assert banded.tvar == pytest.approx(uniform.tvar, rel=1e-3)      # both on a 2^11 lattice


@pytest.mark.parametrize("basis", ["12/12", "12/15", "12/24"])
def test_trend_and_basis_by_band_price_as_the_definition(basis):
    """Large claims (above 80,000) trend at 10% and are paid three months later than the rest."""
    from stoploss.banded import SizeBands
    from stoploss.contract import DEFAULT_PAYMENT_PATTERN
    late = np.concatenate([np.zeros(3), DEFAULT_PAYMENT_PATTERN])
    bands = SizeBands((80_000.0,), annual_trends=(0.04, 0.10), payment_patterns=(None, late))
    p = specific_premium(BASE, members=5_000, attachment=100_000.0, claimant_rate=0.7, trend_months=12.0,
                         basis=basis, size_bands=bands)
    rho = (covered_fraction(basis), covered_fraction(basis, late))
    covered = BandScaled(BASE, (80_000.0,), (rho[0] * 1.04, rho[1] * 1.10))
    before = BandScaled(BASE, (80_000.0,), rho)
    assert p.excess_per_member_year == pytest.approx(0.7 * naive_excess(covered, 100_000.0), rel=1e-8)
    assert p.leveraged_trend == pytest.approx(naive_excess(covered, 100_000.0) / naive_excess(before, 100_000.0) - 1,
                                              rel=1e-7)
    assert rho[1] < rho[0]                # the late band is covered less on every basis


def test_groups_table_prices_by_claim_size_band():
    """A large-claim threshold with the same trend and no lag prices as the uniform group (specific and
    aggregate); a faster trend and a lag above it change the specific excess to the band-scaled one."""
    from stoploss.cli import sample_groups
    from stoploss.pricing import covered_severity, price_groups, validate_groups
    groups = sample_groups().head(2)
    plain = price_groups(groups)
    same = price_groups(groups.assign(large_claim_threshold=80_000.0))
    for col in ("specific_excess_per_member_year", "leveraged_trend", "expected_retained"):
        assert np.allclose(same[col], plain[col], rtol=1e-9, atol=0), col
    # the aggregate lattice sees the same distribution through other closed forms: 1e-6, far inside its own
    # error estimate (1e-3 of the premium)
    for col in ("aggregate_expected", "aggregate_gross", "aggregate_sd"):
        assert np.allclose(same[col], plain[col], rtol=1e-6, atol=0), col
    banded = groups.assign(large_claim_threshold=80_000.0, large_claim_trend=0.12, large_claim_lag_months=2)
    priced = price_groups(banded)
    assert np.all(priced["leveraged_trend"] > plain["leveraged_trend"])
    for r, got in zip(validate_groups(banded).itertuples(index=False), priced["specific_excess_per_member_year"]):
        sev = covered_severity(r)
        assert isinstance(sev, BandScaled) and sev.edges == (80_000.0,)
        assert got == pytest.approx(r.claimant_rate * float(sev.excess(r.specific_attachment)), rel=1e-12)
    with pytest.raises(StopLossError, match="large_claim_lag_months"):
        validate_groups(groups.assign(large_claim_lag_months=1.5), "groups.csv")
