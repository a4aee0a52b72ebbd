"""Budgets from ``riskadjust allocate``: files alone from the allocation to the nightly forecast, with a cover file."""

import json

import numpy as np
import pandas as pd
import pytest

from reserving.cli import main as reserving_main
from reserving.nightly.forecast import financial_year, monthly_budget
from reserving.nightly.job import run_nightly_job
from reserving.nightly.synthetic import generate_year
from riskadjust.cli import main as riskadjust_main


@pytest.fixture(scope="module")
def year():
    return generate_year(6, n_consortia=3, services=["emergency"], history_months=15, seed=8)


def test_allocation_file_to_nightly_forecast_with_cover(year, tmp_path):
    y = year
    paths = y.claims.write(tmp_path, fmt="csv")
    members = y.claims.members[y.claims.members["month"].isin(y.year)].groupby("consortium")["members"].sum() / 12
    pd.DataFrame({"group": members.index, "exposure": members.to_numpy(), "risk": [1.0, 1.1, 0.9]}).to_csv(
        tmp_path / "groups.csv", index=False)
    envelope = float(y.outturn["budget_year"].sum())
    assert riskadjust_main(["allocate", "--groups", str(tmp_path / "groups.csv"), "--envelope", str(envelope),
                            "--out", str(tmp_path / "allocations.csv")]) == 0
    pd.DataFrame({"consortium": ["C001", "C002"], "specific_attachment": [8000, 8000],
                  "aggregate_attachment_pct": [1.05, None], "premium": [None, 1500]}).to_csv(
        tmp_path / "cover.csv", index=False)
    out = tmp_path / "out"
    status = reserving_main(["nightly", "--claims", str(paths["claims"]), "--budget", str(tmp_path / "allocations.csv"),
                             "--members", str(paths["members"]), "--cover", str(tmp_path / "cover.csv"),
                             "--as-of", str(y.claims.as_of.date()), "--sims", "300", "--out", str(out), "--quiet"])
    assert status == 0
    alloc = pd.read_csv(tmp_path / "allocations.csv").set_index("group")["allocation"]
    fc = pd.read_csv(out / "forecast.csv").set_index("consortium")
    np.testing.assert_allclose(fc["budget_year"], alloc.loc[fc.index], rtol=1e-12)
    assert fc.loc["C003", "recoveries_mean"] == 0 and fc.loc["C001", "recoveries_mean"] > 0
    c2, c3 = fc.loc["C002"], fc.loc["C003"]
    assert c2["outturn_net_mean"] == pytest.approx(c2["outturn_mean"] - c2["recoveries_mean"] + 1500, rel=1e-12)
    assert c3["outturn_net_mean"] == c3["outturn_mean"] and c3["prob_deficit_net"] == c3["prob_deficit"]
    assert fc.loc["C001", "outturn_net_mean"] > fc.loc["C001", "outturn_mean"] - fc.loc["C001", "recoveries_mean"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["budget_source"] == "riskadjust allocation"
    assert summary["forecast"]["national"]["budget_year"] == pytest.approx(envelope, rel=1e-12)
    outturn = pd.read_csv(out / "outturn.csv").set_index("consortium")
    np.testing.assert_allclose(outturn["budget"], alloc.loc[outturn.index] * 6 / 12, rtol=1e-12)  # flat, 6 months


def test_seasonal_phasing_keeps_the_year_and_follows_the_winter_peak(year, tmp_path):
    y = year
    alloc = y.outturn.rename(columns={"consortium": "group", "budget_year": "allocation"})[["group", "allocation"]]
    run = run_nightly_job(y.claims.lines, tmp_path, n_sims=200, budget=alloc, members=y.claims.members,
                          budget_phasing="seasonal", progress=False)
    fc = run.forecast.summary.set_index("consortium")
    np.testing.assert_allclose(fc["budget_year"], alloc.set_index("group")["allocation"].loc[fc.index], rtol=1e-12)
    # Apr-Sep are below the yearly average in a winter-peaking cycle: the half-year budget is under half the year.
    assert (run.outturn.summary.set_index("consortium")["budget"] < fc["budget_year"] * 6 / 12).all()
    flat = monthly_budget(alloc, financial_year(y.claims.as_of))
    assert flat.groupby("consortium")["budget"].sum().to_numpy() == pytest.approx(alloc["allocation"].to_numpy())
