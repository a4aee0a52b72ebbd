"""Treaties: aggregate deductible/limit, reinstatements and quota share against closed forms on a
lattice and a simulation of claims (numpy generator from _kit.random)."""

import numpy as np
import pytest

from _kit.random import generator
from stoploss import Empirical, ExcessOver, Lognormal, Poisson, StopLossError, compound
from stoploss.treaty import Treaty, price_treaty


def _unit_claims():
    return compound(Poisson(1.5), Empirical([100.0]), method="panjer", h=100.0, upper=3000.0)


def test_closed_forms_on_a_lattice():
    s = _unit_claims()  # S = 100 N, N ~ Poisson(1.5)
    n = np.arange(0, 31)
    pn = np.exp(-1.5) * 1.5**n / np.cumprod(np.concatenate([[1.0], n[1:]]))

    def e(f):
        return float(np.sum(pn * f(100.0 * n)))
    t = Treaty(cover=100.0, aggregate_deductible=100.0, reinstatements=2, percentages=[1.0, 0.5], share=0.4)
    p = price_treaty(s, t)
    loss = e(lambda x: np.minimum(np.maximum(x - 100.0, 0.0), 300.0))
    b1 = e(lambda x: np.minimum(np.maximum(x - 100.0, 0.0), 100.0))
    b2 = e(lambda x: np.minimum(np.maximum(x - 200.0, 0.0), 100.0))
    assert p.expected_loss == pytest.approx(0.4 * loss, rel=1e-12)
    np.testing.assert_allclose(p.bands, [b1, b2], rtol=1e-12)
    assert p.initial_premium == pytest.approx(0.4 * loss / (1 + (1.0 * b1 + 0.5 * b2) / 100.0), rel=1e-12)
    assert p.summary["expected_premium"].sum() == pytest.approx(p.expected_reinstatement_premium, rel=1e-12)
    free = price_treaty(s, Treaty(cover=100.0, aggregate_deductible=100.0, reinstatements=2))
    assert free.initial_premium == free.expected_loss == pytest.approx(loss, rel=1e-12)
    same = price_treaty(s, Treaty(cover=100.0, aggregate_deductible=100.0, aggregate_limit=300.0))
    assert same.expected_loss == pytest.approx(free.expected_loss, rel=1e-14)
    unlimited = price_treaty(s, Treaty(cover=100.0))
    assert unlimited.expected_loss == pytest.approx(150.0, rel=1e-12)


def test_reinstatements_against_simulated_claims():
    sev, d, m = Lognormal(9.0, 1.3), 20_000.0, 80_000.0
    freq = Poisson(6.0)
    s = compound(freq.thinned(float(sev.sf(d))), ExcessOver(sev, d, m))
    t = Treaty(cover=m, aggregate_deductible=30_000.0, reinstatements=2, percentages=[1.0, 0.5], share=0.6)
    price = price_treaty(s, t)
    rng = generator(17, "treaty test")
    n_years = 200_000
    counts = rng.poisson(6.0, size=n_years)
    x = sev.quantile(rng.random(counts.sum()))
    y = np.minimum(np.maximum(x - d, 0.0), m)
    totals = np.bincount(np.repeat(np.arange(n_years), counts), weights=y, minlength=n_years)
    loss = 0.6 * np.minimum(np.maximum(totals - 30_000.0, 0.0), 3 * m)
    bands = [np.minimum(np.maximum(totals - 30_000.0 - k * m, 0.0), m) for k in range(2)]
    income = price.initial_premium * (1 + (1.0 * bands[0] + 0.5 * bands[1]) / m)
    se = loss.std() / np.sqrt(n_years)
    assert abs(loss.mean() - price.expected_loss) < 4 * se
    # the pure premium balances: expected premium income equals expected loss
    diff = income - loss
    assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(n_years)


def test_treaty_errors_name_the_problem():
    with pytest.raises(StopLossError, match="not both"):
        Treaty(cover=1.0, reinstatements=1, aggregate_limit=2.0)
    with pytest.raises(StopLossError, match="percentages for 2"):
        Treaty(cover=1.0, reinstatements=2, percentages=[1.0, 0.5, 0.2])
    with pytest.raises(StopLossError, match="quota share"):
        Treaty(cover=1.0, share=1.5)
    with pytest.raises(StopLossError, match="stop_loss"):
        price_treaty([1.0, 2.0], Treaty(cover=1.0))


def test_equals_gemact_reinstatement_costing_on_the_same_distribution():
    gemact = pytest.importorskip("gemact.lossmodel")
    from types import SimpleNamespace

    sev, d, m = Lognormal(9.0, 1.3), 20_000.0, 80_000.0
    s = compound(Poisson(6.0).thinned(float(sev.sf(d))), ExcessOver(sev, d, m))
    dist = SimpleNamespace(lev=lambda v: s.exact_mean - s.stop_loss(np.asarray(v, dtype=float)))
    model = SimpleNamespace(_stop_loss_costing=lambda dist, cover, deductible:
                            gemact.LossModel._stop_loss_costing(None, dist, cover, deductible))
    for k, c in [(1, np.array([1.0])), (3, np.array([1.0, 0.5, 0.25]))]:
        t = Treaty(cover=m, aggregate_deductible=30_000.0, reinstatements=k, percentages=c)
        premium = gemact.LossModel._stop_loss_costing(None, dist, (k + 1) * m, 30_000.0)
        theirs = gemact.LossModel._reinstatements_costing_adjuster(model, premium, dist, 30_000.0, k, m, c)
        assert price_treaty(s, t).initial_premium == pytest.approx(float(np.squeeze(theirs)), rel=1e-12)
