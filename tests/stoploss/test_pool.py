"""Pool-risk simulator: cost model calibration, exactness against references, reproducibility.

References: closed forms and numerical integration (cost model),
``stoploss.compound`` by FFT (group total), a patient-by-patient numpy simulation in
``naive_pool.py`` (the whole model), and the normal approximation from per-patient moments (large N).
Monte Carlo tolerances are stated in standard errors of the simulation.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from stoploss import Binomial, GeneralizedPareto, Lognormal, Retained, Spliced, compound
from stoploss.pool.cost_model import CostModel, default_cost_model
from stoploss.errors import StopLossError
from stoploss.pool.simulate import PoolAssumptions, _band_edges, _simulate, simulate_pool, sweep
from stoploss.cli import main
from tests.stoploss.naive_pool import naive_costs, naive_pool_deviation

Z95 = stats.norm.ppf(0.95)


# ----- cost model ---------------------------------------------------------------------------------------
def test_default_cost_model_calibration_one_percent_above_100k_hold_a_third():
    cm = default_cost_model()
    assert cm.population_share_above(100_000) == pytest.approx(0.01, rel=1e-9)
    assert cm.spend_share_above(100_000) == pytest.approx(1 / 3, rel=1e-9)
    # the documented consequence: mean = 1% x alpha u / (alpha - 1) / (1/3)
    assert cm.mean == pytest.approx(0.01 * 2.5 * 100_000 / 1.5 * 3, rel=1e-9)


def test_calibration_holds_on_two_million_simulated_patients():
    cm = default_cost_model()
    x = naive_costs(cm, 2_000_000, seed=5)
    above = x > 100_000
    share = above.mean()
    assert abs(share - 0.01) < 4 * np.sqrt(0.01 * 0.99 / x.size)
    # spend share: ratio estimator; its error is dominated by the Pareto tail, so a 4% band (about
    # 3 standard errors of the tail total for alpha = 2.5 at this sample size)
    assert x[above].sum() / x.sum() == pytest.approx(1 / 3, rel=0.04)


def test_cost_model_agrees_with_stoploss_spliced_and_quadrature():
    """Per class: E[X], E[X^2], E[(X - a)+] against stoploss.Spliced and direct integration of the density."""
    cm = default_cost_model()
    for k in range(len(cm.classes)):
        sev = Spliced(Lognormal(cm.log_mu[k], cm.sigma), GeneralizedPareto(1 / cm.tail_alpha, cm.tail_threshold
                                                                              / cm.tail_alpha),
                      cm.tail_threshold, float(cm.tail_probability[k]))
        p_pos = 1 - cm.zero_probability[k]
        assert cm.class_mean[k] == pytest.approx(p_pos * sev.moment(1), rel=1e-10)
        assert cm.class_var[k] + cm.class_mean[k] ** 2 == pytest.approx(p_pos * sev.moment(2), rel=1e-9)
        for a in (25_000.0, 100_000.0, 350_000.0):
            assert cm.partial_moment(1, a, np.inf)[k] - a * cm.partial_moment(0, a, np.inf)[k] == pytest.approx(
                float(sev.excess(a)), rel=1e-9)
        dens = stats.lognorm(cm.sigma, scale=np.exp(cm.log_mu[k])).pdf
        body, _ = integrate.quad(lambda x: x * dens(x), 0, cm.tail_threshold, limit=200)
        assert cm.partial_moment(1, 0.0, cm.tail_threshold)[k] == pytest.approx(body, rel=1e-8)


def test_band_moments_add_up_to_class_moments():
    cm = default_cost_model()
    prob, mean, var = cm.band_moments([25_000, 50_000, 100_000, 200_000, 500_000])
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose((prob * mean).sum(axis=1), cm.class_mean, rtol=1e-10)
    second = (prob * (var + mean**2)).sum(axis=1)
    np.testing.assert_allclose(second - cm.class_mean**2, cm.class_var, rtol=1e-8)


def test_cost_model_rejects_infinite_variance_and_bad_shares():
    with pytest.raises(StopLossError, match="tail_alpha must exceed 2"):
        CostModel(("a",), [1.0], [0.1], [8.0], 1.5, 1e5, 1.8)
    with pytest.raises(StopLossError, match="sum to 1"):
        CostModel(("a", "b"), [0.5, 0.6], [0.1, 0.1], [8.0, 9.0], 1.5, 1e5, 2.5)


# ----- the simulator against references -----------------------------------------------------------------
def _limited_moments(cm, a):
    """E[min(X, a)] and E[min(X, a)^2] per class (a = inf: no limit)."""
    p_pos = 1 - cm.zero_probability
    if np.isinf(a):
        return cm.class_mean, cm.class_var + cm.class_mean**2
    s = cm.partial_moment(0, a, np.inf)
    m1 = p_pos * (cm.partial_moment(1, 0.0, a) + a * s)
    m2 = p_pos * (cm.partial_moment(2, 0.0, a) + a * a * s)
    return m1, m2


@pytest.mark.parametrize("attachment, r2, alpha", [(100_000.0, 0.0, 2.5), (100_000.0, 0.126, 2.5),
                                                    (None, 0.126, 6.0)])
def test_large_group_spread_matches_normal_approximation(attachment, r2, alpha):
    """N = 1,000,000, 20,000 years: the 5-95% spread of (outturn - budget) / E[budget] against
    2 z_0.95 sqrt(N Var(min(X, a) - prediction)) / (N E[X]).

    Var(min(X,a) - pred) = Var(min(X,a)) - 2 Cov(min(X,a), pred) + Var(pred), with pred = E[X|class]
    for a recognised patient (probability rho) and E[X] otherwise: Var(pred) = rho B and
    Cov = rho (sum_k share_k E[min(X,a)|k] E[X|k] - E[min(X,a)] E[X]).
    Standard error of the spread: sqrt(0.09 / Y) / phi(z_0.95) sd (two nearly independent quantiles);
    tolerance 4 standard errors (2.5%). Without an attachment the default Pareto index 2.5 converges
    too slowly for this (the spread is about 2% narrower than normal at N = 1,000,000), so that case
    uses a lighter tail (index 6).
    """
    base = default_cost_model()
    cm = base if alpha == 2.5 else CostModel(base.classes, base.share, base.zero_probability, base.log_mu,
                                              base.sigma, base.tail_threshold, alpha)
    n, years = 1_000_000, 20_000
    res = simulate_pool(n, attachment=attachment, risk_model=r2, assumptions=PoolAssumptions(cost_model=cm),
                        n_years=years, seed=21)
    a = np.inf if attachment is None else attachment
    m1, m2 = _limited_moments(cm, a)
    mean_lim = cm.share @ m1
    var_lim = cm.share @ m2 - mean_lim**2
    rho = r2 / cm.between_share
    cov = rho * (cm.share @ (m1 * cm.class_mean) - mean_lim * cm.mean)
    var_pred = rho * cm.between_share * cm.var
    sd = np.sqrt(n * (var_lim - 2 * cov + var_pred)) / (n * cm.mean)
    x = (res.outturn - res.budget) / (n * cm.mean)
    q05, q95 = np.quantile(x, [0.05, 0.95])
    se = np.sqrt(0.09 / years) / stats.norm.pdf(Z95) * sd
    assert abs((q95 - q05) - 2 * Z95 * sd) < 4 * se


@pytest.mark.parametrize("attachment", [None, 100_000.0])
def test_simulated_total_matches_stoploss_compound(attachment):
    """One class (zero cost w.p. 0.3, lognormal(8, 1.5) body, Pareto 2.5 above 100,000), N = 5,000.

    Its annual total is compound Binomial(5000, 0.7) with the Spliced severity (or its Retained part
    at the attachment). Quantiles: each simulated quantile at level p lies between the FFT quantiles at
    p -+ 4 sqrt(p (1 - p) / Y) (distribution-free order-statistic band). Stop-loss values E[(S - d)+]
    of the retained total (all moments finite) within 4 simulation standard errors.
    """
    cm = CostModel(("all",), [1.0], [0.3], [8.0], 1.5, 100_000.0, 2.5)
    n, years = 5_000, 40_000
    res = simulate_pool(n, attachment=attachment, risk_model=0.0, assumptions=PoolAssumptions(cost_model=cm),
                        n_years=years, seed=11)
    total = res.outturn - res.totals["specific_premium"]
    sev = Spliced(Lognormal(8.0, 1.5), GeneralizedPareto(0.4, 40_000.0), 100_000.0, float(cm.tail_probability[0]))
    if attachment is not None:
        sev = Retained(sev, attachment)
    fft = compound(Binomial(n, 0.7), sev)
    p = np.array([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    band = 4 * np.sqrt(p * (1 - p) / years)
    q = np.quantile(total, p, method="inverted_cdf")
    assert np.all(q >= fft.quantile(p - band)) and np.all(q <= fft.quantile(p + band))
    if attachment is not None:
        d = fft.mean() * np.array([1.0, 1.03, 1.06])
        excess = np.maximum(total[:, None] - d, 0.0)
        se = excess.std(axis=0, ddof=1) / np.sqrt(years)
        assert np.all(np.abs(excess.mean(axis=0) - fft.stop_loss(d)) < 4 * se)


def test_whole_model_matches_patient_by_patient_simulation():
    """Every option on (group mix, recognition, stop-loss with loading, shocks, epidemic, IBNR error):
    kernel and naive samples of (outturn - budget) / budget agree by a two-sample KS test (p > 0.001)
    and in mean (4 standard errors); with an aggregate cover at 108% of budget, the kernel's premium
    agrees with the naive sample's 1.2 x mean payment within 4 standard errors of the difference."""
    a = PoolAssumptions(loading=0.1, shock_cv=0.02, epidemic_probability=0.1, epidemic_uplift=0.05,
                        ibnr_cv=0.01, mix_cv=0.05)
    covered = replace(a, aggregate_attachment=1.08, aggregate_loading=0.2)
    n, years = 2_500, 3_000
    for attachment, r2 in ((50_000.0, 0.1), (None, 0.0)):
        fast = simulate_pool(n, attachment=attachment, risk_model=r2, assumptions=a, n_years=years, seed=2).deviation
        slow = naive_pool_deviation(n, attachment, r2, a, years, seed=3)
        assert stats.ks_2samp(fast, slow).pvalue > 1e-3
        se = np.sqrt(fast.var() / years + slow.var() / years)
        assert abs(fast.mean() - slow.mean()) < 4 * se
        premium = simulate_pool(n, attachment=attachment, risk_model=r2, assumptions=covered, n_years=years,
                                seed=2).totals["aggregate_premium_pct"]
        paid_fast, paid_slow = np.maximum(fast - 0.08, 0.0), np.maximum(slow - 0.08, 0.0)
        se = 1.2 * np.hypot(paid_fast.std(), paid_slow.std()) / np.sqrt(years)
        assert premium == pytest.approx(1.2 * paid_fast.mean(), rel=1e-12)
        assert abs(premium - 1.2 * paid_slow.mean()) < 4 * se


def test_aggregate_cover_caps_the_overspend_and_is_priced_at_its_mean():
    base = PoolAssumptions(shock_cv=0.03)
    covered = PoolAssumptions(shock_cv=0.03, aggregate_attachment=1.05, aggregate_loading=0.25)
    raw = simulate_pool(20_000, risk_model="age-sex", assumptions=base, n_years=5_000, seed=4).deviation
    res = simulate_pool(20_000, risk_model="age-sex", assumptions=covered, n_years=5_000, seed=4)
    paid = np.maximum(raw - 0.05, 0.0)
    premium = 1.25 * paid.mean()
    assert res.totals["aggregate_premium_pct"] == pytest.approx(premium, rel=1e-12)
    np.testing.assert_allclose(res.deviation, raw - paid + premium, rtol=0, atol=1e-12)
    assert res.deviation.max() <= 0.05 + premium + 1e-12


def test_summary_figures_follow_from_the_sample():
    res = simulate_pool(30_000, attachment=150_000.0, risk_model="age-sex + diagnoses",
                        assumptions=PoolAssumptions(loading=0.15), n_years=4_000, seed=8)
    row, dev, cm = res.totals, res.deviation, default_cost_model()
    x = np.sort(dev)
    assert row["p_over_5pct"] == np.mean(dev > 0.05)
    assert row["q95"] == x[int(np.ceil(0.95 * dev.size)) - 1]
    assert row["var_995"] == x[int(np.ceil(0.995 * dev.size)) - 1]
    assert row["tvar_995"] == pytest.approx(x[-20:].mean(), rel=1e-12)
    assert row["specific_premium"] == pytest.approx(1.15 * 30_000 * float(cm.excess(150_000.0)), rel=1e-12)
    assert row["groups_over_5pct"] == pytest.approx(56_000_000 / 30_000 * row["p_over_5pct"], rel=1e-12)


# ----- sweep ----------------------------------------------------------------------------------------------
def test_smallest_size_table_reads_the_summary():
    """The smallest size is the first from which every larger simulated size has P(overspend > 5%) < level."""
    sizes, atts, models = [5_000, 20_000, 80_000], [50_000.0, None], {"per head": 0.0, "age-sex": 0.037}
    res = sweep(sizes, atts, models, n_years=3_000, seed=9, level=0.05)
    assert len(res.summary) == 12
    table = res.smallest_size(0.05)
    for model in models:
        for att, label in ((50_000.0, "50,000"), (None, "none")):
            g = res.summary[(res.summary.risk_model == model)
                            & (res.summary.attachment.isna() if att is None else res.summary.attachment == att)]
            p = g.sort_values("n_patients")["p_over_5pct"].to_numpy()
            ok = [i for i in range(3) if np.all(p[i:] < 0.05)]
            expected = sizes[ok[0]] if ok else np.nan
            assert table.loc[model, label] == expected or (np.isnan(expected) and np.isnan(table.loc[model, label]))
    pd.testing.assert_frame_equal(res.totals, table)


def test_results_identical_whatever_the_number_of_threads(on_threads):
    args = dict(sizes=[5_000, 40_000], attachments=[100_000.0, None], risk_models={"age-sex": 0.037},
                assumptions=PoolAssumptions(mix_cv=0.03, shock_cv=0.02), n_years=1_500, seed=17)
    one, two = on_threads(lambda: sweep(**args).summary)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    other = sweep(**{**args, "seed": 18}).summary
    assert not other["mean"].equals(one["mean"])


def test_invalid_inputs_are_named():
    with pytest.raises(StopLossError, match="R-squared 0.5"):
        simulate_pool(1000, risk_model=0.5, n_years=1000)
    with pytest.raises(StopLossError, match="increasing order"):
        sweep([10_000, 5_000], n_years=1000)
    with pytest.raises(StopLossError, match="mix_cv"):
        PoolAssumptions(mix_cv=5.0)
    with pytest.raises(StopLossError, match="attachment"):
        simulate_pool(1000, attachment=-5.0, n_years=1000)
    with pytest.raises(StopLossError, match="not one of"):
        simulate_pool(1000, risk_model="perfect", n_years=1000)


# ----- command line and report ------------------------------------------------------------------------------
def test_pool_command_writes_tables_and_report(tmp_path, capsys):
    argv = ["pool", "--out", str(tmp_path), "--sizes", "9000,179400", "--attachments", "100000,none",
            "--risk-model", "age-sex=0.037", "--years", "2000", "--mix-cv", "0.03"]
    assert main(argv) == 0
    summary = pd.read_csv(tmp_path / "pool_summary.csv")
    assert len(summary) == 4 and set(summary["n_patients"]) == {9000, 179400}
    smallest = pd.read_csv(tmp_path / "pool_smallest.csv")
    assert list(smallest.columns) == ["risk_model", "100,000", "none"] and list(smallest["risk_model"]) == ["age-sex"]
    page = (tmp_path / "pool.html").read_text()
    assert page.count('class="chart pool-chart"') == 2 and "27.5%" in page and "5.7%" in page and "Settings and thresholds" in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.html", "pool_smallest.csv", "pool_summary.csv"]
    capsys.readouterr()
    out = tmp_path / "bad"
    assert main(["pool", "--out", str(out), "--risk-model", "age-sex=0.9", "--years", "1000"]) == 1
    err = capsys.readouterr().err
    assert "R-squared 0.9" in err and err.strip().splitlines()[-1].startswith("error: ") and not out.exists()


@pytest.mark.parametrize("attachments", [[25_000.0, 100_000.0, 500_000.0], [10_000.0, 1_000_000.0], [],
                                         [37_000.0, 123_456.7, 777_777.0]])
def test_band_edges_hold_attachments_and_are_at_most_a_factor_two_apart(attachments):
    cm = default_cost_model()
    e = _band_edges(cm, attachments)
    assert set(attachments + [cm.tail_threshold]) <= set(e.tolist())
    assert e[0] == min([25_000.0] + attachments) and e[-1] >= max([500_000.0] + attachments)
    assert np.all(e[1:] / e[:-1] <= 2.0 + 1e-12)


@settings(max_examples=30, deadline=None)
@given(increments=st.lists(st.integers(1, 20_000), min_size=1, max_size=3),
       attachments=st.lists(st.sampled_from([10_000.0, 25_000.0, 60_000.0, 100_000.0, 123_456.7, 700_000.0]),
                            min_size=1, max_size=4, unique=True),
       seed=st.integers(0, 2**31))
def test_kernel_properties(increments, attachments, seed):
    """Retained cost never falls as the attachment rises (every patient's cost stays in its band) and is
    at most N x attachment; it never falls as the nested group grows; a per-head budget is N x E[X]."""
    sizes = np.cumsum(increments).astype(np.int64)
    atts = sorted(attachments) + [None]
    a = PoolAssumptions()
    sim = _simulate(sizes, atts, np.array([0.0, 0.5]), a, 1000, seed)
    r = sim.retained
    tol = 1e-9 * r.max()
    assert np.all(np.diff(r, axis=1) >= -tol)
    assert np.all(np.diff(r, axis=0) >= -tol)
    assert np.all(r[:, :-1, :] <= (sizes[:, None] * np.array(atts[:-1]))[:, :, None] + tol)
    np.testing.assert_allclose(sim.budget[:, 0, :], np.broadcast_to((sizes * a.cost_model.mean)[:, None],
                                                                    (sizes.size, 1000)), rtol=1e-12)
    assert np.all(sim.factor == 1.0)
