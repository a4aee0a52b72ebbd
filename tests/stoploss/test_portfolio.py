"""The national pool: FFT against a direct convolution and a seeded simulation, Euler allocations that
add up, thread-count invariance, and a common shock against its exact mixture."""

import math

import numba
import numpy as np
import pytest
from scipy import stats

from stoploss import Gamma, Lognormal, NegativeBinomial, Poisson, StopLossError
from stoploss.layers import ExcessOver
from stoploss.portfolio import portfolio

GROUPS = [(Poisson(30.0), Gamma(2.0, 400.0)), (NegativeBinomial(5.0, 8.0), Gamma(1.0, 600.0)),
          (Poisson(12.0), ExcessOver(Lognormal(8.0, 1.4), 5_000.0, 50_000.0))]
NAMES = ["north", "south", "east"]


def test_fft_pool_equals_direct_convolution_and_allocation_equals_double_sum():
    p = portfolio(GROUPS[:2], names=NAMES[:2], n=2**11)
    f1, f2 = p.margins[0].p, p.margins[1].p
    g = np.convolve(f1, f2)[: p.pool.p.size]
    np.testing.assert_allclose(p.pool.p, g, atol=1e-15)
    # naive co-TVaR of consortium 1: sum over lattice pairs (i, j) with weight w(i + j)
    h, q = p.pool.h, p.level
    cum = np.cumsum(g)
    j = int(np.searchsorted(cum, q - 1e-15))
    w = np.zeros(g.size)
    w[j + 1:], w[j] = 1.0, (cum[j] - q) / g[j]
    f2 = np.pad(f2, (0, g.size))
    co1 = sum(h * i * f1[i] * np.dot(f2[: g.size - i], w[i:]) for i in range(min(f1.size, g.size))) / (1 - q)
    assert p.allocation[0] == pytest.approx(co1, rel=1e-10)
    assert p.var == pytest.approx(h * j)
    assert math.fsum(p.allocation) == p.tvar
    assert abs(p.tvar_rounding) < 1e-9 * p.tvar


def test_fft_capital_equals_seeded_monte_carlo_within_error():
    fft = portfolio(GROUPS, names=NAMES, n=2**13)
    mc = portfolio(GROUPS, names=NAMES, n=2**13, method="mc", n_sims=400_000, seed=7)
    assert abs(fft.var - mc.var) < 4 * mc.var_se, (fft.var, mc.var, mc.var_se)
    assert abs(fft.tvar - mc.tvar) < 4 * mc.tvar_se, (fft.tvar, mc.tvar, mc.tvar_se)
    np.testing.assert_allclose(mc.allocation, fft.allocation, rtol=0.05)
    assert math.fsum(mc.allocation) == mc.tvar
    assert abs(mc.tvar_rounding) < 1e-9 * mc.tvar
    assert fft.summary["share_of_capital"].sum() == pytest.approx(1.0, rel=1e-12)


def test_copula_with_identity_correlation_is_the_independent_pool():
    fft = portfolio(GROUPS, names=NAMES, n=2**12)
    cop = portfolio(GROUPS, names=NAMES, n=2**12, correlation=np.eye(3), n_sims=300_000, seed=3)
    assert cop.method == "mc"
    assert abs(fft.tvar - cop.tvar) < 4 * cop.tvar_se


def test_positive_correlation_raises_capital_and_allocations_add_up():
    r = np.full((3, 3), 0.6) + 0.4 * np.eye(3)
    ind = portfolio(GROUPS, names=NAMES, n=2**12)
    dep = portfolio(GROUPS, names=NAMES, n=2**12, correlation=r, n_sims=200_000, seed=5)
    assert dep.tvar > ind.tvar + 4 * dep.tvar_se
    assert math.fsum(dep.allocation) == dep.tvar
    assert dep.pool.exact_mean == pytest.approx(ind.mean)
    assert dep.pool.x.mean() == pytest.approx(ind.mean, rel=3 * math.sqrt(dep.pool.exact_var / 2e5) / ind.mean)


def test_common_shock_equals_exact_gamma_mixture():
    c = 0.2
    one = portfolio(GROUPS[:1], names=["north"], shock_cv=c, n=2**12, n_sims=400_000, seed=11)
    y, f = one.margins[0].x, one.margins[0].p
    shock = stats.gamma(1 / c**2, scale=c**2)

    def cdf(s):
        with np.errstate(divide="ignore"):
            return float(np.sum(f * np.where(y > 0, shock.cdf(s / np.where(y > 0, y, 1.0)), 1.0)))
    lo, hi = 0.0, float(y[-1]) * 3
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if cdf(mid) < one.level else (lo, mid)
    assert abs(one.var - hi) < 4 * one.var_se, (one.var, hi, one.var_se)


def test_same_numbers_on_any_thread_count():
    r = np.full((3, 3), 0.3) + 0.7 * np.eye(3)
    kwargs = dict(names=NAMES, regions=["a", "a", "b"], shock_cv=0.1, correlation=r, n=2**11, n_sims=50_000,
                  seed=2)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = portfolio(GROUPS, **kwargs)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = portfolio(GROUPS, **kwargs)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.pool.x, two.pool.x)
    np.testing.assert_array_equal(one.allocation, two.allocation)


def test_portfolio_errors_name_the_problem():
    with pytest.raises(StopLossError, match="distinct names"):
        portfolio(GROUPS, names=["a", "a", "b"])
    with pytest.raises(StopLossError, match="positive definite"):
        portfolio(GROUPS, correlation=[[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    with pytest.raises(StopLossError, match="independent"):
        portfolio(GROUPS, shock_cv=0.1, method="fft")
    with pytest.raises(StopLossError, match="n_sims"):
        portfolio(GROUPS, shock_cv=0.1, n_sims=1000)
