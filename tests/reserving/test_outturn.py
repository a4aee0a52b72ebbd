"""Outturn against budget: probabilities and percentiles against direct counts; flags; actual vs expected."""

import numpy as np
import pandas as pd
import pytest

from reserving.nightly.outturn import actual_vs_expected, expected_next_payments, financial_year_months, outturn, period_budget


def test_probability_and_percentiles_against_a_direct_count():
    rng = np.random.default_rng(5)
    samples = rng.gamma(4.0, 25.0, size=(3, 20_000))
    paid = np.array([900.0, 500.0, 100.0])
    budget = np.array([1000.0, 700.0, 150.0])
    r = outturn(["A", "B", "C"], paid, samples.mean(axis=1), samples, budget, financial_year_months("2024-09-30"))
    s = r.summary.set_index("consortium")
    for k, c in enumerate("ABC"):
        direct = np.count_nonzero(paid[k] + samples[k] > budget[k]) / samples.shape[1]
        assert s.loc[c, "prob_overspend"] == direct
        assert s.loc[c, "outturn_p95"] == pytest.approx(paid[k] + np.sort(samples[k])[int(0.95 * 19_999)], rel=1e-3)
    # A: P(gamma(4, 25) > 100) = 0.43 -> amber; B: P(> 200) = 0.04 -> green; C: P(> 50) = 0.86 -> red
    assert s["flag"].tolist() == ["amber", "green", "red"]
    assert (r.totals["red"], r.totals["amber"]) == (1, 1)
    national = paid.sum() + samples.sum(axis=0)
    assert r.totals["prob_overspend"] == np.mean(national > budget.sum())


def test_flags_thresholds_are_settable_and_missing_budget_is_flagged():
    samples = np.array([[0.0, 10.0, 20.0, 30.0]])
    months = financial_year_months("2024-04-30")
    assert outturn(["A"], [85.0], [15.0], samples, [100.0], months).summary["flag"].iloc[0] == "red"
    assert outturn(["A"], [85.0], [15.0], samples, [100.0], months, red=0.9).summary["flag"].iloc[0] == "amber"
    assert outturn(["A"], [85.0], [15.0], samples, [np.nan], months).summary["flag"].iloc[0] == "no budget"
    with pytest.raises(ValueError, match="amber"):
        outturn(["A"], [85.0], [15.0], samples, [100.0], months, amber=0.6, red=0.5)


def test_financial_year_and_period_budget():
    months = financial_year_months("2025-03-31", fy_start_month=4)
    assert (str(months[0]), str(months[-1]), len(months)) == ("2024-04", "2025-03", 12)
    months = financial_year_months("2025-01-31", fy_start_month=1)
    assert list(months.astype(str)) == ["2025-01"]
    b = pd.DataFrame({"consortium": ["A", "A", "B"], "month": ["2025-01", "2024-12", "2024-12"], "budget": [1., 2., 3.]})
    assert period_budget(b, ["A", "B"], months).tolist()[0] == 1.0
    assert np.isnan(period_budget(b, ["A", "B"], months)[1])


def test_expected_next_payments_follow_the_chain_ladder():
    # With completion c_k = 1/CDF_k, chain-ladder expects C_k (f_k - 1) next month; IBNR = C_k (CDF_k - 1).
    paid, cdf_now, cdf_next = 80.0, 2.0, 1.25
    ibnr = paid * (cdf_now - 1)
    f = cdf_now / cdf_next
    got = expected_next_payments([ibnr], [1 / cdf_now], [1 / cdf_next])[0]
    assert got == pytest.approx(paid * (f - 1), rel=1e-12)


def test_actual_vs_expected_only_on_months_the_previous_run_knew():
    prev = pd.DataFrame({"consortium": ["A", "A", "B"], "service": ["er", "op", "er"],
                         "origin": pd.to_datetime(["2024-01-01"] * 3), "paid": [10., 20., 5.],
                         "expected_next": [4., 6., 1.]})
    cur = pd.DataFrame({"consortium": ["A", "A", "B", "A"], "service": ["er", "op", "er", "er"],
                        "origin": pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"]), "paid": [15., 24., 5., 99.]})
    ave = actual_vs_expected(cur, prev).set_index("consortium")
    assert ave.loc["A", ["actual", "expected"]].tolist() == [9.0, 10.0]
    assert ave.loc["A", "ratio"] == pytest.approx(0.9)
    assert ave.loc["B", "actual_minus_expected"] == -1.0
