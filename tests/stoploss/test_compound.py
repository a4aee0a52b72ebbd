"""Compound distributions: the issue's accuracy targets, against exact series and closed forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stoploss import Binomial, Empirical, Gamma, Lognormal, NegativeBinomial, Pareto, Poisson, StopLossError, compound
from stoploss._discretise import discretise
from stoploss._panjer_kernels import panjer_ab0
from tests.stoploss import naive

KPW_SEVERITY = Empirical([100.0, 500.0, 1000.0], [0.8, 0.16, 0.04])


@pytest.mark.parametrize("lam, theta, d, issue_value", [
    (5.0, 1.0, 2.0, 3.1460867550471524),
    (5.0, 1.0, 5.0, 1.2454800927394206),
    (50.0, 10_000.0, 500_000.0, 39_844.266162113468),
])
def test_poisson_exponential_matches_exact_series_to_1e6(lam, theta, d, issue_value):
    exact = naive.poisson_exponential_stop_loss(lam, theta, d)
    assert exact == pytest.approx(issue_value, rel=1e-14)
    s = compound(Poisson(lam), Gamma(1.0, theta))
    assert float(s.stop_loss(d)) == pytest.approx(exact, rel=1e-6)
    assert float(s.stop_loss_error(d)) < 1e-3 * exact


@pytest.mark.parametrize("method", ["fft", "panjer"])
def test_kpw_9_34_is_exact(method):
    d = np.array([500.0, 1000.0, 2000.0])
    issue = np.array([551.8821918929581, 262.38540061800229, 39.927048285132974])
    g = naive.compound_poisson_lattice(5.0, [100.0, 500.0, 1000.0], [0.8, 0.16, 0.04], 100.0, 40, 25)
    ref = np.array([naive.stop_loss_from_lattice(g, 100.0, 1000.0, x) for x in d])
    np.testing.assert_allclose(ref, issue, rtol=1e-14)
    s = compound(Poisson(5.0), KPW_SEVERITY, method=method, h=100.0, upper=20_000.0)
    np.testing.assert_allclose(s.stop_loss(d), ref, rtol=1e-13)
    assert s.coarse is None and np.all(s.stop_loss_error(d) == 0)


def test_lognormal_layer_closed_form():
    ref = naive.lognormal_layer(8.0, 1.5, 100_000.0, 400_000.0)
    assert ref == pytest.approx(781.07918058486693, rel=1e-14)
    assert float(Lognormal(8.0, 1.5).layer(100_000.0, 400_000.0)) == pytest.approx(ref, rel=1e-12)


def test_panjer_kernel_matches_naive_and_fft():
    sev = Gamma(2.0, 1.0)
    f, _ = discretise(sev, 0.1, 400)
    for freq in (Poisson(3.0), Binomial(12, 0.3), NegativeBinomial(2.5, 1.2)):
        a, b = freq.ab
        g0 = float(np.real(freq.pgf(f[0])))
        got = panjer_ab0(np.array([a]), np.array([b]), np.array([g0]), f[None, :], 300)[0]
        np.testing.assert_allclose(got, naive.panjer(a, b, g0, f, 300), rtol=1e-12, atol=1e-300)
        fft = compound(freq, sev, method="fft", h=0.1, lower=0.0, upper=29.95, richardson=False)
        np.testing.assert_allclose(fft.p[:300], got, rtol=1e-9, atol=5e-14)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8), st.floats(0.1, 4.0), st.integers(1, 40))
def test_panjer_kernel_property(weights, lam, n_out):
    f = np.asarray(weights) + 1e-3
    f = f / f.sum()
    g0 = float(np.exp(lam * (f[0] - 1.0)))
    got = panjer_ab0(np.array([0.0]), np.array([lam]), np.array([g0]), f[None, :], n_out)[0]
    np.testing.assert_allclose(got, naive.panjer(0.0, lam, g0, f, n_out), rtol=1e-12, atol=1e-300)


def test_discretisation_is_mean_preserving_rounding():
    sev = Lognormal(0.0, 0.5)
    f, added = discretise(sev, 0.05, 400)
    ref = naive.rounding_probabilities(lambda x: float(np.exp(-np.log(x) ** 2 / 0.5) / (x * 0.5 * np.sqrt(2 * np.pi)))
                                       if x > 0 else 0.0, 0.05, 400)
    np.testing.assert_allclose(f, ref, atol=1e-12)
    f, added = discretise(sev, 0.05, 2000)
    x = 0.05 * np.arange(2000)
    assert np.dot(f, x) == pytest.approx(sev.mean(), rel=1e-10)
    assert np.dot(f, x**2) - sev.moment(2) == pytest.approx(added, rel=1e-6)


def test_result_reports_its_numerical_error():
    s = compound(NegativeBinomial(4.0, 2.5), Gamma(0.5, 2000.0))
    rel = s.summary["relative_error"]
    assert abs(rel["mean"]) < 1e-6 and abs(rel["variance + discretisation variance"]) < 1e-4
    assert s.totals["richardson"]
    assert s.mean() == pytest.approx(10.0 * 1000.0)
    q = s.quantile(0.99)
    assert float(s.cdf(q)) >= 0.99 > float(s.cdf(q - s.h))
    tv = s.tvar(0.99)
    assert tv > q


def test_binomial_compound_matches_panjer_and_moments():
    sev = Gamma(3.0, 100.0)
    freq = Binomial(40, 0.25)
    fft = compound(freq, sev)
    pan = compound(freq, sev, method="panjer", n=2**13)
    d = np.array([500.0, 1000.0, 2500.0])
    np.testing.assert_allclose(fft.stop_loss(d), pan.stop_loss(d), rtol=1e-7)


def test_monte_carlo_is_reproducible_across_threads_and_unbiased(on_threads):
    sev, freq = Gamma(1.0, 1.0), Poisson(5.0)
    one, two = on_threads(lambda: compound(freq, sev, method="mc", n_sims=20_000, seed=7))
    np.testing.assert_array_equal(one.x, two.x)
    se = np.sqrt(10.0 / 20_000)
    assert abs(one.x.mean() - 5.0) < 4 * se
    # tail premiums are sample means of (S - d)+: within 4 standard errors of the exact series, the
    # standard error sqrt((E[((S-d)+)^2] - pi(d)^2) / n) also from the exact series (4 SE is 45%
    # relative at d = 15 and 170% at d = 20 for 20,000 sims; exact mean minus sample E[S ^ d] was 16x off)
    d = np.array([15.0, 20.0])
    exact = np.array([naive.poisson_exponential_stop_loss(5.0, 1.0, x) for x in d])
    second = np.array([naive.poisson_exponential_stop_loss_second_moment(5.0, 1.0, x) for x in d])
    rel_se = np.sqrt((second - exact**2) / 20_000) / exact
    assert np.all(np.abs(one.stop_loss(d) / exact - 1.0) < 4 * rel_se)


def test_monte_carlo_tail_premiums_second_moment_and_tvar():
    n = 200_000
    s = compound(Poisson(5.0), Gamma(1.0, 1.0), method="mc", n_sims=n, seed=7)
    d = np.array([15.0, 20.0])
    exact = np.array([naive.poisson_exponential_stop_loss(5.0, 1.0, x) for x in d])
    second = np.array([naive.poisson_exponential_stop_loss_second_moment(5.0, 1.0, x) for x in d])
    rel_se = np.sqrt((second - exact**2) / n) / exact          # 3.6% at d = 15, 13.5% at d = 20
    assert np.all(np.abs(s.stop_loss(d) / exact - 1.0) < 4 * rel_se)
    # a vector of attachments agrees with plain sample means over the simulated totals
    grid = np.array([0.0, 2.5, 15.0, 20.0, float(s.x[-1]) + 1.0])
    excess = np.maximum(s.x[None, :] - grid[:, None], 0.0)
    np.testing.assert_allclose(s.stop_loss(grid), excess.mean(axis=1), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s.stop_loss_second_moment(grid), (excess**2).mean(axis=1), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(s.limited_mean(grid), np.minimum(s.x[None, :], grid[:, None]).mean(axis=1),
                               rtol=1e-12)
    # TVaR_0.99 against the exact VaR root and series; its standard error is about sd(tail) / sqrt(n (1 - q))
    # = 0.06 here, so 4 SE = 0.24 (exact mean minus sample E[S ^ d] put it 0.8 too high)
    tv = naive.poisson_exponential_tvar(5.0, 1.0, 0.99)
    assert abs(s.tvar(0.99) - tv) < 0.24


def test_clear_errors():
    with pytest.raises(StopLossError, match="method"):
        compound(Poisson(1.0), Gamma(1.0, 1.0), method="bogus")
    s = compound(Poisson(1.0), Gamma(1.0, 1.0), upper=20.0)
    with pytest.raises(StopLossError, match="beyond the computed window"):
        s.stop_loss(50.0)
    with pytest.raises(StopLossError, match="infinite"):
        compound(Poisson(1.0), Pareto(0.9, 1.0))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=20), st.integers(0, 2**63 - 1), st.integers(0, 10**6))
def test_monte_carlo_kernels_against_plain_python(counts, seed, first):
    from _kit.random import stream_keys
    from stoploss._mc_kernels import claim_uniforms, simulate_counts, sum_by_simulation

    counts_key, amounts_key = stream_keys(seed, ["counts", "amounts"])
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    u = claim_uniforms(amounts_key, first, offsets)
    assert u.size == counts.sum() and np.all((u > 0) & (u < 1))
    # each simulation's stream depends only on (key, simulation index): shifting the block keeps it
    if counts.size > 1:
        tail = claim_uniforms(amounts_key, first + 1, offsets[1:] - offsets[1])
        np.testing.assert_array_equal(tail, u[offsets[1]:])
    values = np.arange(u.size, dtype=float) * 0.5
    sums = sum_by_simulation(values, offsets)
    np.testing.assert_allclose(sums, [values[a:b].sum() for a, b in zip(offsets[:-1], offsets[1:])])
    expected_u = [x for i, k in enumerate(counts) for x in naive.stream_uniforms(amounts_key, first + i, int(k))]
    np.testing.assert_array_equal(u, expected_u)
    table = np.array([0.2, 0.5, 0.9, 1.0])
    n = simulate_counts(counts_key, first, counts.size, table)
    draws = [naive.stream_uniforms(counts_key, first + i, 1)[0] for i in range(counts.size)]
    np.testing.assert_array_equal(n, np.searchsorted(table, draws))
