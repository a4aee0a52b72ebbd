"""Sensitivity of "how large must a group be?" to each assumption.

Reference: on the Crump 1991 scope (one class, per-head budget) the group's deviation is close to
normal with variance cv^2 / N + c^2 (per-person coefficient of variation cv, IBNR error CV c; the
product of two mean-one factors, to first order), so the smallest N with P(deviation > 5%) < 5% is

    N* = cv^2 / ((0.05 / z_0.95)^2 - c^2)

in closed form. The simulated answers lie within two steps (about 12%) of the size grid from N*.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from stoploss.cli import main
from stoploss.pool.presets import preset
from stoploss.pool.sensitivity import sensitivity
from stoploss.pool.simulate import PoolAssumptions, sweep

SIZES = np.round(np.geomspace(40_000, 200_000, 30), -2).astype(int)


def test_ibnr_error_moves_the_answer_as_the_normal_closed_form():
    p = preset("crump-1991")
    cm = p.cost_model
    table = sensitivity(p, PoolAssumptions(cost_model=cm), SIZES, ("per head", 0.0), n_years=10_000, seed=2)
    ibnr = table[table["assumption"] == "IBNR error CV"].set_index("value")
    limit = (0.05 / stats.norm.ppf(0.95)) ** 2
    step = SIZES[1] / SIZES[0]
    for c in (0.0, 0.01, 0.02):
        closed = cm.var / cm.mean**2 / (limit - c * c)
        assert closed / step**2 <= ibnr.loc[c, "smallest_size"] <= closed * step**2
    assert ibnr["smallest_size"].dropna().is_monotonic_increasing
    assert np.isnan(ibnr.loc[0.04, "smallest_size"])       # c^2 above the limit: no size is large enough
    assert table["possible"].all() and table["is_base"].sum() == 3     # one base value per assumption


def test_each_point_is_the_sweep_with_that_value_alone_and_impossible_values_are_marked():
    p = preset("default")
    base = PoolAssumptions(cost_model=p.cost_model, mix_cv=0.05)
    sizes = [20_000, 50_000, 100_000, 200_000, 500_000]
    table = sensitivity(p, base, sizes, ("age-sex + diagnoses", 0.126), n_years=2_000, seed=4)
    assert set(table["assumption"]) == {"between-group spread of cost per head (mix_cv)",
                                        "share of spend of the 1% above 100,000", "Pareto index of the largest costs",
                                        "budget formula R-squared", "IBNR error CV", "common year shock CV"}
    row = table[(table["assumption"] == "between-group spread of cost per head (mix_cv)")
                & np.isclose(table["value"], 0.10)].iloc[0]
    direct = sweep(sizes, [None], {"f": 0.126}, assumptions=PoolAssumptions(cost_model=p.cost_model, mix_cv=0.10),
                   n_years=2_000, seed=4).totals.iloc[0, 0]
    assert row["smallest_size"] == direct or (np.isnan(row["smallest_size"]) and np.isnan(direct))
    # a spend share of 40% leaves the classes explaining 11% of variance: R-squared 12.6% is not possible
    share40 = table[(table["assumption"] == "share of spend of the 1% above 100,000")
                    & np.isclose(table["value"], 0.40)].iloc[0]
    assert not share40["possible"] and np.isnan(share40["smallest_size"])
    assert table.groupby("assumption")["is_base"].sum().eq(1).all()


def test_report_draws_one_sensitivity_chart_per_assumption(tmp_path):
    assert main(["pool", "--out", str(tmp_path), "--sizes", "20000,100000,500000", "--attachments", "none",
                 "--risk-model", "age-sex=0.037", "--years", "1000"]) == 0
    page = (tmp_path / "pool.html").read_text()
    assert page.count('class="chart sensitivity-chart"') == 6
    assert "How the answer moves with each assumption" in page and "Kelly, Stoye" in page
    assert pd.read_csv(tmp_path / "pool_summary.csv").shape[0] == 3
