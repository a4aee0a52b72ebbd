"""Severity closed forms against numerical integration of the survival function and scipy.stats."""

import numpy as np
import pytest
from scipy import integrate, stats

from stoploss import (
    Empirical,
    ExcessOver,
    Gamma,
    GeneralizedPareto,
    Lognormal,
    Pareto,
    Retained,
    SingleParameterPareto,
    Spliced,
    StopLossError,
    Weibull,
)

# quadrature of the heavy tails cannot always certify 1e-12; the asserted tolerances are looser
pytestmark = pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")

FAMILIES = [
    (Lognormal(8.0, 1.5), stats.lognorm(1.5, scale=np.exp(8.0))),
    (Gamma(2.5, 1000.0), stats.gamma(2.5, scale=1000.0)),
    (Weibull(0.7, 2000.0), stats.weibull_min(0.7, scale=2000.0)),
    (Pareto(3.5, 5000.0), stats.lomax(3.5, scale=5000.0)),
    (GeneralizedPareto(0.25, 1500.0), stats.genpareto(0.25, scale=1500.0)),
    (GeneralizedPareto(-0.2, 1500.0), stats.genpareto(-0.2, scale=1500.0)),
    (SingleParameterPareto(2.8, 1000.0), stats.pareto(2.8, scale=1000.0)),
]
POINTS = np.array([300.0, 2500.0, 20_000.0])


def _int_sf(dist, a, b, weight=lambda x: 1.0):
    """Integral of weight(x) S(x) over [a, b] by adaptive quadrature on pieces."""
    edges = [a] + [p for p in (1000.0, 5000.0, 30_000.0, 50_000.0, 1e5, 1e6) if a < p < b] + [b]
    return sum(integrate.quad(lambda x: weight(x) * float(dist.sf(x)), lo, hi, limit=400, epsabs=0,
                              epsrel=1e-12)[0] for lo, hi in zip(edges[:-1], edges[1:]))


@pytest.mark.parametrize("dist, ref", FAMILIES, ids=lambda d: type(d).__name__)
def test_distribution_functions_match_scipy(dist, ref):
    np.testing.assert_allclose(dist.cdf(POINTS), ref.cdf(POINTS), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dist.sf(POINTS), ref.sf(POINTS), rtol=1e-10, atol=1e-14)
    p = np.array([0.01, 0.5, 0.99])
    np.testing.assert_allclose(dist.quantile(p), ref.ppf(p), rtol=1e-9)
    assert dist.mean() == pytest.approx(ref.mean(), rel=1e-10)
    assert dist.moment(2) == pytest.approx(ref.moment(2), rel=1e-9)


@pytest.mark.parametrize("dist, ref", FAMILIES, ids=lambda d: type(d).__name__)
def test_limited_expectations_match_quadrature(dist, ref):
    for u in POINTS:
        assert float(dist.lev(u)) == pytest.approx(_int_sf(dist, 0.0, u), rel=1e-9)
        assert float(dist.excess(u)) == pytest.approx(ref.mean() - _int_sf(dist, 0.0, u), rel=1e-8)
        assert float(dist.layer(u, 5000.0)) == pytest.approx(_int_sf(dist, u, u + 5000.0), rel=1e-9)
        lev2 = integrate.quad(lambda x: 2 * x * float(dist.sf(x)), 0, u, limit=400, epsrel=1e-12)[0]
        assert float(np.ravel(dist.lev2(u))[0]) == pytest.approx(lev2, rel=1e-8)


def test_scaling_is_the_distribution_of_c_x():
    for dist, _ in FAMILIES:
        c = 1.3
        np.testing.assert_allclose(dist.scaled(c).cdf(c * POINTS), dist.cdf(POINTS), rtol=1e-12, atol=1e-15)


def test_sample_is_reproducible_and_by_inversion():
    d = Lognormal(1.0, 0.5)
    a, b = d.sample(1000, seed=3), d.sample(1000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert stats.kstest(a, stats.lognorm(0.5, scale=np.e).cdf).pvalue > 1e-3


def test_spliced_and_contract_layers_match_quadrature():
    spliced = Spliced(Lognormal(8.0, 1.2), GeneralizedPareto(0.1, 20_000.0), 30_000.0, 0.05)
    for dist in (spliced, Retained(spliced, 50_000.0, 100_000.0), Retained(spliced, 50_000.0),
                 ExcessOver(spliced, 40_000.0, 200_000.0), ExcessOver(spliced, 40_000.0)):
        for u in (10_000.0, 45_000.0, 120_000.0):
            pts = [30_000.0, 50_000.0]
            ref = integrate.quad(lambda x: float(dist.sf(x)), 0, u, points=[p for p in pts if p < u],
                                 limit=400, epsrel=1e-12)[0]
            assert float(dist.lev(u)) == pytest.approx(ref, rel=1e-8)
            assert float(dist.lev(u) + dist.excess(u)) == pytest.approx(dist.mean(), rel=1e-10)
        m2 = _int_sf(dist, 0.0, np.inf, lambda x: 2 * x)
        assert dist.moment(2) == pytest.approx(m2, rel=1e-6)
    p = np.array([0.1, 0.94, 0.96, 0.999])
    np.testing.assert_allclose(spliced.cdf(spliced.quantile(p)), p, rtol=1e-10)


def test_empirical_kpw_example():
    x = Empirical([100.0, 500.0, 1000.0], [0.8, 0.16, 0.04])
    assert x.mean() == pytest.approx(200.0)
    assert float(x.excess(500.0)) == pytest.approx(0.04 * 500.0)
    assert float(x.lev(300.0)) == pytest.approx(0.8 * 100 + 0.2 * 300)
    assert float(x.quantile(0.9)) == 500.0
    with pytest.raises(StopLossError, match="position 1"):
        Empirical([1.0, -2.0])
