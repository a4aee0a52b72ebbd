"""The failure regimen: rules over consecutive runs and shares of budget, evaluated by the nightly job."""

import json

import numpy as np
import pandas as pd
import pytest

from reserving.errors import ReservingError
from reserving.nightly.job import run_nightly_job
from reserving.nightly.regimen import DEFAULT_RULES, evaluate, read_rules
from reserving.nightly.synthetic import generate_year


def _forecast(flags, probs, capital):
    return pd.DataFrame({"consortium": ["A", "B", "C"], "flag": flags, "prob_deficit_net": probs,
                         "capital_995": capital, "expected_deficit": [0.0, 0.0, 30.0], "budget_year": [100.0] * 3})


def _history(rows):
    return pd.DataFrame(rows, columns=["as_of", "consortium", "prob_deficit_net", "flag"])


def test_red_three_runs_running_needs_the_two_latest_earlier_runs_red():
    now = _forecast(["red", "red", "red"], [0.9, 0.8, 0.7], [0.0, 0.0, 0.0])
    hist = _history([("2024-04-30", "A", 0.1, "green"), ("2024-05-31", "A", 0.6, "red"), ("2024-06-30", "A", 0.6, "red"),
                     ("2024-04-30", "B", 0.6, "red"), ("2024-05-31", "B", 0.6, "red"), ("2024-06-30", "B", 0.1, "green"),
                     ("2024-06-30", "C", 0.6, "red")])
    acts = evaluate(read_rules(DEFAULT_RULES), now, hist)
    assert acts[["consortium", "action"]].values.tolist() == [["A", "recovery plan"]]
    assert evaluate(read_rules(DEFAULT_RULES), now, hist.iloc[2:3]).empty  # only two runs in all: no rule met


def test_shares_of_budget_and_probability_over_runs():
    rules = read_rules(pd.DataFrame({
        "rule": ["cap", "ed", "p2"], "measure": ["capital_share", "expected_deficit_share", "prob_deficit_net"],
        "threshold": [0.05, 0.3, 0.5], "runs": [None, 1, 2], "action": ["reinsurance review", "escalate", "watch"]}))
    now = _forecast(["green", "amber", "red"], [0.1, 0.55, 0.7], [5.0, 4.99, 0.0])
    hist = _history([("2024-06-30", "B", 0.5, "red"), ("2024-06-30", "C", 0.49, "amber")])
    acts = evaluate(rules, now, hist)
    assert acts[["consortium", "rule"]].values.tolist() == [["A", "cap"], ["C", "ed"], ["B", "p2"]]
    assert "5.0%" in acts["evidence"].iloc[0] and "latest 2 runs" in acts["evidence"].iloc[2]


def test_bad_rule_tables_are_refused_with_the_column_named():
    base = {"rule": ["x"], "measure": ["capital_share"], "threshold": [0.1], "action": ["a"]}
    with pytest.raises(ReservingError, match="runs 1"):
        read_rules(pd.DataFrame(base | {"runs": [2]}))
    with pytest.raises(ReservingError, match="needs a threshold"):
        read_rules(pd.DataFrame(base | {"threshold": [np.nan]}))
    with pytest.raises(ReservingError, match="unknown column"):
        read_rules(pd.DataFrame(base | {"window": [2]}))


def test_nightly_job_evaluates_the_regimen_run_by_run(tmp_path):
    rules = pd.DataFrame({"rule": ["three runs"], "measure": ["prob_deficit_net"], "threshold": [0.0], "runs": [3],
                          "action": ["review"]})
    seen = []
    for month in (3, 4, 5):
        y = generate_year(month, n_consortia=2, services=["emergency"], history_months=12, seed=6)
        run = run_nightly_job(y.claims.lines, tmp_path, n_sims=200, budget=y.claims.budget, members=y.claims.members,
                              regimen=rules, progress=False)
        seen.append(len(run.actions))
    assert seen == [0, 0, 2]
    summary = json.loads(run.outputs["summary"].read_text())
    assert [a["consortium"] for a in summary["actions"]] == ["C001", "C002"]
    assert len(run.forecast_history["as_of"].unique()) == 2
    html = run.outputs["report"].read_text()
    assert "Actions called for by the Board" in html and "forecast-chart" in html
