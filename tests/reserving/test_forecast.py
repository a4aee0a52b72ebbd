"""Full-year forecast: the trend fit against statsmodels, the simulation against a patient-by-patient
reference, cover pricing against stoploss, seeding, and the month-12 identity with the outturn."""

import json
import tempfile

import numba
import numpy as np
import pandas as pd
import pytest

from reserving.nightly.cover import cover_for, price, read_cover
from reserving.nightly.forecast import (Cover, claimant_severity, fit_claimant_severity, fit_trend, future_expected,
                                        patient_costs, simulate)
from reserving.nightly.job import run_nightly_job
from reserving.nightly.synthetic import generate_year
from reserving.errors import ReservingError
from stoploss import Lognormal
from tests.reserving.naive_forecast import simulate_year_patients

sm = pytest.importorskip("statsmodels.api")


def test_trend_fit_matches_statsmodels_quasi_poisson():
    rng = np.random.default_rng(3)
    t = np.arange(30)
    month = (t + 3) % 12 + 1
    e = rng.uniform(500, 2000, (4, 30))
    season = 0.1 * np.cos(2 * np.pi * (month - 1) / 12)
    mu = e * np.array([[8.0], [10.0], [12.0], [9.0]]) * np.exp(0.06 * t / 12 + season)
    y = rng.gamma(20.0, mu / 20.0)
    use = rng.random((4, 30)) > 0.1
    f = fit_trend(y, e, t, month, use)
    c, i = np.nonzero(use)
    w = 2 * np.pi * (month[i] - 1) / 12
    x = np.column_stack([np.eye(4)[c], (t[i] - t[use.any(axis=0)].mean()) / 12, np.cos(w), np.sin(w)])
    ref = sm.GLM(y[c, i], x, family=sm.families.Poisson(), offset=np.log(e[c, i])).fit(scale="X2")
    np.testing.assert_allclose(f.theta, ref.params[4:], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(f.level, ref.params[:4], rtol=1e-8)
    robust = sm.GLM(y[c, i], x, family=sm.families.Poisson(), offset=np.log(e[c, i])).fit(cov_type="HC0")
    np.testing.assert_allclose(f.cov, robust.cov_params()[4:, 4:] * c.size / (c.size - 7), rtol=1e-6)  # HC1
    np.testing.assert_allclose(f.level_var, np.diag(ref.cov_params())[:4], rtol=1e-6)
    assert f.phi == pytest.approx(ref.scale, rel=1e-8)


def _buhlmann_straub(cost, weight, phi):
    """Slow reference: the nonparametric Buhlmann-Straub estimators (Loss Models, 4th ed., section
    19.2) written out consortium by consortium; returns the credibility PMPMs and Z."""
    r = len(cost)
    means = [cost[c] / weight[c] for c in range(r)]
    total = sum(weight)
    m = sum(cost) / total
    v = phi * m
    between = sum(weight[c] * (means[c] - m) ** 2 for c in range(r))
    a = max(0.0, (between - (r - 1) * v) / (total - sum(w * w for w in weight) / total))
    z = [weight[c] / (weight[c] + v / a) if a > 0 else 0.0 for c in range(r)]
    return [z[c] * means[c] + (1 - z[c]) * m for c in range(r)], z


@pytest.mark.parametrize("spread", [0.0, 0.3])
def test_credibility_levels_match_buhlmann_straub_reference(spread):
    """Levels after credibility against the slow reference to 1e-10: consortia with the same PMPM
    (spread 0: the between variance estimates to 0 here, every level the collective's) and with
    PMPMs 30% apart (credibility near 1)."""
    from reserving.nightly.forecast import credibility_levels
    rng = np.random.default_rng(5)
    t = np.arange(24)
    month = (t + 3) % 12 + 1
    e = rng.uniform(500, 2000, (6, 1)) * np.ones((1, 24))
    pmpm = 10.0 * np.exp(spread * rng.standard_normal((6, 1)))
    y = rng.gamma(50.0, e * pmpm * np.exp(0.04 * t / 12) / 50.0)
    f = fit_trend(y, e, t, month, np.ones((6, 24), bool))
    g = credibility_levels(f)
    trended = (e * np.exp(f.covariates(t, month) @ f.theta)).sum(axis=1)
    want, z = _buhlmann_straub(list(y.sum(axis=1)), list(trended), f.phi)
    np.testing.assert_allclose(np.exp(g.level), want, rtol=1e-10)
    np.testing.assert_allclose(f.weight, trended, rtol=1e-10)
    assert (max(z) == 0.0) if spread == 0 else (min(z) > 0.9)
    assert np.all(g.shared_var >= 0) and np.all(g.level_var >= 0)


def test_trend_terms_are_dropped_with_few_months():
    t = np.arange(8)
    f = fit_trend(np.full((1, 8), 100.0), np.ones((1, 8)), t, t % 12 + 1, np.ones((1, 8), bool))
    assert f.theta.size == 1 and f.n_months == 8
    f = fit_trend(np.full((1, 4), 100.0), np.ones((1, 4)), t[:4], t[:4] + 1, np.ones((1, 4), bool))
    assert f.theta.size == 0 and f.level[0] == pytest.approx(np.log(100.0))


def test_parameter_draws_keep_the_mean():
    """Mean-preserving lognormal draws: the simulated mean is the plug-in mean within 4 standard errors."""
    from reserving.nightly.forecast import TrendFit
    fit = TrendFit(np.log([10.0, 20.0]), np.array([0.01, 0.04]), np.array([0.05, 0.1, 0.0]),
                   np.diag([0.02, 0.01, 0.01]), 1.0, 0.0, 24, None, np.array([0.01, 0.01]))
    m, s = future_expected({"er": fit}, {"er": np.full((2, 6), 100.0)}, np.arange(1, 7), np.arange(4, 10),
                           40_000, seed=4)
    se = s.std(axis=1) / np.sqrt(s.shape[1])
    assert np.all(np.abs(s.mean(axis=1) - m) < 4 * se)
    assert s.std(axis=1)[1] > s.std(axis=1)[0]  # the larger level variance shows


def _spliced_severity(seed=1, n=4000):
    return fit_claimant_severity([Lognormal(8.0, 1.3).sample(n, seed=seed)])


@pytest.mark.parametrize("remaining, claimants", [(0.75, 800), (0.25, 800), (0.0, 800), (0.5, 30_000)])  # a year
def test_recoveries_and_net_agree_with_patient_by_patient_simulation(remaining, claimants):
    """Kernel (gamma below the split, claimants above drawn one by one) against every claimant drawn
    from the fitted severity's own quantile function; means and a deficit probability within 4
    standard errors of the difference (Monte Carlo error of both). With 30,000 claimants the split is
    raised into the Pareto tail (at most 100 drawn one by one)."""
    dist = _spliced_severity()
    d = dist[0]
    year = claimants * d.mean()
    todate = year * (1 - remaining)
    q = 0.995 if claimants < 1000 else 0.9995
    att, lim, coins = float(d.quantile(q)), float(d.quantile(1 - (1 - q) / 10) - d.quantile(q)), 0.9
    budget = year * 1.02
    agg_att, agg_lim = 1.05 * budget, 0.1 * budget
    cover = Cover(np.array([att]), np.array([lim]), np.array([coins]), np.array([agg_att]), np.array([agg_lim]),
                  np.array([1000.0]))
    sev = claimant_severity(dist, cover.attachment, [claimants])
    assert claimants * sev.p_tail[0] <= 100 + 1e-9 and (claimants < 1000 or sev.split[0] > d.threshold)
    rng = np.random.default_rng(7)
    n_k, n_n = 20_000, 2_500 if claimants < 1000 else 1_000
    ibnr_k = rng.normal(0.05 * todate, 0.01 * year + 1, n_k)
    ibnr_n = rng.normal(0.05 * todate, 0.01 * year + 1, n_n)
    paid = 0.95 * todate
    fut_k = np.full(n_k, year * remaining)
    k = simulate(["A"], [paid], ibnr_k[None], fut_k[None], [todate], sev, cover, seed=3)
    g_n, r_n = simulate_year_patients(paid, ibnr_n, np.full(n_n, year * remaining), todate, d, att, lim,
                                      coins, agg_att, agg_lim, np.random.default_rng(11))
    g_k, r_k = k.gross[0], k.recovered[0]

    def close(a, b):
        se = np.sqrt(a.var() / a.size + b.var() / b.size)
        assert abs(a.mean() - b.mean()) < 4 * se + 1e-9 * abs(b.mean()), (a.mean(), b.mean(), se)

    close(g_k, g_n)
    close(r_k, r_n)
    close(g_k - r_k, g_n - r_n)
    close((g_k - r_k + 1000 > budget).astype(float), (g_n - r_n + 1000 > budget).astype(float))
    assert r_n.mean() > 0
    if remaining > 0:
        assert np.mean(g_k > np.quantile(g_n, 0.95)) == pytest.approx(0.05, abs=4 * np.sqrt(
            0.05 * 0.95 / n_n) + 4 * np.sqrt(0.05 * 0.95 / n_k))


def test_premium_priced_by_stoploss_is_the_simulated_expected_recovery():
    """At the start of the year (all of it to come) the kernel's mean recoveries are the expected
    cost stoploss prices (specific exactly in expectation; aggregate up to its binomial claimant count)."""
    dist = _spliced_severity(seed=2, n=3000)
    d = dist[0]
    year = 300 * d.mean()
    att = float(d.quantile(0.99))
    table = read_cover(pd.DataFrame({"consortium": ["A"], "specific_attachment": [att],
                                     "aggregate_attachment_pct": [1.1]}))
    cover = cover_for(table, ["A"])(dist, np.array([year]), np.array([year]))
    sev = claimant_severity(dist, cover.attachment)
    n = 40_000
    s = simulate(["A"], [0.0], np.zeros((1, n)), np.full((1, n), year), [0.0], sev, cover, seed=5)
    se = s.recovered.std() / np.sqrt(n)
    assert s.recovered.mean() == pytest.approx(cover.premium[0], abs=4 * se + 0.002 * cover.premium[0])
    assert cover.premium[0] == pytest.approx(price(d, year, att, np.inf, 1.0, 1.1 * year))


def test_same_seed_same_numbers_with_one_or_two_threads():
    dist = _spliced_severity(n=1000) * 3
    sev = claimant_severity(dist)
    args = (["A", "B", "C"], [1.0, 2.0, 3.0], np.ones((3, 500)), np.full((3, 500), 5e5), [5e5] * 3, sev,
            Cover.none(3))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(*args, seed=9).gross
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = simulate(*args, seed=9).gross
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, simulate(*args, seed=10).gross)
    assert np.array_equal(one[1], simulate(["B"], [2.0], np.ones((1, 500)), np.full((1, 500), 5e5), [5e5],
                                           claimant_severity(dist[:1]), Cover.none(1), seed=9).gross[0])


def test_patient_costs_group_by_patient_and_never_return_ids():
    lines = pd.DataFrame({"consortium": ["A", "A", "A", "B", "A"],
                          "incurred_date": ["2024-05-01", "2024-05-03", "2024-06-01", "2024-06-02", "2023-01-01"],
                          "paid_date": ["2024-05-20", "2024-05-21", "2024-07-09", "2024-06-20", "2023-02-01"],
                          "amount": ["10", "5", "7", "3", "100"], "patient_id": ["P1", "P2", "P1", "P1", "P1"]})
    names = ("consortium", "incurred_date", "paid_date", "amount", "patient_id")
    got, by_patient = patient_costs(lines, *names, "2024-06-30")
    assert {k: sorted(v.tolist()) for k, v in got.items()} == {"A": [5.0, 10.0], "B": [3.0]} and by_patient
    by_line, by_patient = patient_costs(lines.drop(columns="patient_id"), *names, "2024-06-30")
    assert sorted(by_line["A"].tolist()) == [5.0, 10.0] and not by_patient


def test_cover_file_errors_name_the_column():
    with pytest.raises(ReservingError, match="unknown column"):
        read_cover(pd.DataFrame({"consortium": ["A"], "specfic_attachment": [1.0]}))
    with pytest.raises(ReservingError, match="twice"):
        read_cover(pd.DataFrame({"consortium": ["A", "A"]}))
    with pytest.raises(ReservingError, match="no budget"):
        cover_for(read_cover(pd.DataFrame({"consortium": ["A"], "aggregate_attachment_pct": [1.1]})), ["A"])(
            _spliced_severity(n=500), np.array([1e6]), np.array([np.nan]))


def test_month_12_without_cover_is_the_year_to_date_outturn():
    y = generate_year(12, n_consortia=3, services=["emergency"], history_months=12, seed=4)
    run = run_nightly_job(y.claims.lines, tempfile.mkdtemp(), n_sims=300, budget=y.claims.budget,
                          members=y.claims.members, progress=False)
    f = run.forecast.summary.set_index("consortium")
    o = run.outturn.summary.set_index("consortium").loc[f.index]
    assert (f["future_mean"] == 0).all()
    np.testing.assert_allclose(f["budget_year"], o["budget"], rtol=1e-12)
    np.testing.assert_allclose(f["outturn_mean"], o["outturn"], rtol=1e-12)
    np.testing.assert_allclose(f["outturn_net_mean"], o["outturn"], rtol=1e-12)
    np.testing.assert_allclose(f["outturn_p75"], o["outturn_p75"], rtol=1e-12)
    np.testing.assert_allclose(f["outturn_p95"], o["outturn_p95"], rtol=1e-12)
    np.testing.assert_array_equal(f["prob_deficit"], o["prob_overspend"])
    np.testing.assert_array_equal(f["prob_deficit_net"], o["prob_overspend"])
    assert (f["recoveries_mean"] == 0).all()
    assert run.outputs["forecast"].name == "forecast.csv"
    no_ids = run_nightly_job(y.claims.lines.drop(columns="patient_id"), tempfile.mkdtemp(), n_sims=50,
                             budget=y.claims.budget, progress=False)
    assert any("no patient id column" in a for a in no_ids.forecast.assumptions)
    text = run.outputs["summary"].read_text()
    assert "NaN" not in text and json.loads(text)["forecast"]["national"]["outturn_mean"] == pytest.approx(
        f["outturn_mean"].sum(), rel=1e-12)


def test_summary_json_has_null_not_nan_without_a_budget():
    from reserving.nightly.forecast import financial_year, forecast
    from reserving.nightly.outputs import forecast_summary
    sev = claimant_severity(fit_claimant_severity([np.full(50, 2.0)]))
    r = forecast(["A"], [90.0], [10.0], [[0.0, 10.0]], [0.0], [[0.0, 0.0]], sev, [np.nan], financial_year("2025-03-31"))
    assert r.summary["flag"].tolist() == ["no budget"]
    national = json.loads(json.dumps(forecast_summary(r), allow_nan=False))["national"]
    assert national["prob_deficit"] is None and national["outturn_mean"] == 100.0
