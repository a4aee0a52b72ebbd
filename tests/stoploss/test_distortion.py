"""Distortion pricing against aggregate's Distortion.price on the same compound distribution, and
against closed forms: PH on a geometric lattice, Wang on a normal, PH on an exponential."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from stoploss import Gamma, Poisson, StopLossError, compound
from stoploss.distortion import calibrate, distortion_price, proportional_hazard, wang

agg = pytest.importorskip("aggregate")


@pytest.mark.parametrize("ours, theirs", [(wang(0.3), ("wang", 0.3)), (wang(1.1), ("wang", 1.1)),
                                          (proportional_hazard(0.7), ("ph", 0.7)),
                                          (proportional_hazard(0.35), ("ph", 0.35))], ids=str)
def test_equals_aggregate_on_the_same_distribution(ours, theirs):
    s = compound(Poisson(8.0), Gamma(1.5, 1_000.0), lower=0.0, upper=60_000.0, n=2**13, richardson=False)
    ser = pd.Series(s.p, index=s.x)
    prem, loss = agg.Distortion(*theirs).price(ser, S_calculation="backwards")
    forwards, _ = agg.Distortion(*theirs).price(ser)
    assert forwards == pytest.approx(prem, rel=1e-9)
    assert s.x[0] == 0.0
    assert distortion_price(s.x, s.p, ours) == pytest.approx(prem, rel=1e-12)
    assert distortion_price(s.x, s.p, proportional_hazard(1.0)) == pytest.approx(loss, rel=1e-12)
    # a layer priced by its own limits equals aggregate on the layer's distribution
    a, l = 20_000.0, 15_000.0
    layer = np.minimum(np.maximum(s.x - a, 0.0), l)
    lser = pd.Series(s.p, index=layer).groupby(level=0).sum()
    lprem, _ = agg.Distortion(*theirs).price(lser, S_calculation="backwards")
    assert distortion_price(s.x, s.p, ours, attachment=a, limit=l) == pytest.approx(lprem, rel=1e-10)


def test_proportional_hazard_on_geometric_is_exact():
    q, rho = 0.8, 0.6
    k = np.arange(400)
    p = (1 - q) * q**k
    assert distortion_price(k, p, proportional_hazard(rho)) == pytest.approx(q**rho / (1 - q**rho), rel=1e-12)


def test_wang_on_normal_and_ph_on_exponential():
    n = 2_000_000
    mu, sigma, lam = 100.0, 15.0, 0.7
    x = mu + sigma * stats.norm.ppf((np.arange(n) + 0.5) / n)
    assert distortion_price(x, np.full(n, 1 / n), wang(lam)) == pytest.approx(mu + lam * sigma, rel=2e-5)
    # rounding each amount up to the lattice gives X <= X' <= X + h, and rho_g is monotone and
    # translation-equivariant, so theta / rho <= rho_g(X') <= theta / rho + h
    h, theta, rho = 0.01, 50.0, 0.8
    upper = h * (np.arange(int(40 * theta / (rho * h))) + 1)
    p = np.diff(np.concatenate([[0.0], stats.expon(scale=theta).cdf(upper)]))
    price = distortion_price(upper, p, proportional_hazard(rho))
    assert theta / rho - 1e-9 <= price <= theta / rho + h


def test_calibrate_round_trip_and_errors():
    s = compound(Poisson(8.0), Gamma(1.5, 1_000.0), lower=0.0, upper=60_000.0, n=2**12, richardson=False)
    target = 1.1 * s.exact_mean
    for family in ("wang", "proportional hazard"):
        d = calibrate(s.x, s.p, family, target)
        assert distortion_price(s.x, s.p, d) == pytest.approx(target, rel=1e-10)
    with pytest.raises(StopLossError, match="between the mean"):
        calibrate(s.x, s.p, "wang", 0.5 * s.exact_mean)
    with pytest.raises(StopLossError, match="rho"):
        proportional_hazard(1.5)
    sims = np.sort(np.random.default_rng(1).integers(0, 20, size=5_000).astype(float))
    assert distortion_price(sims, np.full(sims.size, 1 / sims.size), proportional_hazard(1.0)) == pytest.approx(
        sims.mean(), rel=1e-12)
    with pytest.raises(StopLossError, match="increasing"):
        distortion_price([1.0, 0.0], [0.5, 0.5], wang(0.1))
