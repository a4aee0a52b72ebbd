"""``python -m riskadjust validate``: the validation.csv contract the stop-loss pool simulator reads."""

import numpy as np
import pandas as pd
import pytest

from _kit.random import generator
from riskadjust import Population, score
from riskadjust.cli import VALIDATION_COLUMNS, main
from riskadjust.funding_gap import funding_gap
from riskadjust.synthetic import home_model, load_sample


def test_validation_csv_has_the_contract_columns_and_held_out_fit(tmp_path, capsys):
    assert main(["validate", "--demo", "--out", str(tmp_path / "out")]) == 0
    v = pd.read_csv(tmp_path / "out" / "validation.csv")
    assert list(v.columns) == ["risk_model", "r_squared", "cpm", "mape", "n_members"] == VALIDATION_COLUMNS
    model = home_model()
    assert v["risk_model"].tolist() == [model.name, model.demographic_only().name]
    members, dx = load_sample()
    rep = funding_gap(model, members, dx, cap=50_000, holdout=0.3, seed=1)
    held = generator(1, "holdout").random(len(members)) < 0.3
    assert v["n_members"].tolist() == [int(held.sum())] * 2
    for row, result, m, d in ((0, rep.full, model, dx), (1, rep.age_sex, model.demographic_only(), None)):
        # R-squared, CPM and MAPE recomputed with numpy from the fitted model's held-out scores
        pop = Population.from_frames(m, members, d).take(held)
        p = score(result.model, pop).raw * result.denominator
        h = members[held]
        w = h["exposure"].to_numpy()
        y = np.minimum(h["cost"].to_numpy() / w, 50_000)
        ybar = np.sum(w * y) / np.sum(w)
        assert v.loc[row, "r_squared"] == pytest.approx(1 - np.sum(w * (y - p) ** 2) / np.sum(w * (y - ybar) ** 2),
                                                        abs=1e-12)
        assert v.loc[row, "cpm"] == pytest.approx(1 - np.sum(w * abs(y - p)) / np.sum(w * abs(y - ybar)), abs=1e-12)
        assert v.loc[row, "mape"] == pytest.approx(np.sum(w * abs(y - p)) / np.sum(w), rel=1e-12)
    assert v.loc[0, "r_squared"] > v.loc[1, "r_squared"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["validation.csv"]


def test_validate_one_row_per_model_and_bad_input(tmp_path, capsys):
    assert main(["validate", "--demo", "--no-age-sex", "--model", "home", "--model", "home", "--cap", "80000",
                 "--out", str(tmp_path)]) == 0
    assert len(pd.read_csv(tmp_path / "validation.csv")) == 2
    capsys.readouterr()
    assert main(["validate", "--model", "no/such/model", "--demo", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and not (tmp_path / "x" / "validation.csv").exists()
