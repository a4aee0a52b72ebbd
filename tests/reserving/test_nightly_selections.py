"""The nightly job with ``--selections``: applied, stored in the history database, shown in the report.

Checks: the selections table read back from the history database rebuilds the same
:class:`Selections`; one selected factor for one segment changes that segment's chain-ladder IBNR
for the affected incurred months only (every other estimate bitwise equal to the run without
selections); the report shows the indicated and the selected factor with who and why; a run
without selections stores none and reports none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reserving import Selections, calendar_year_test
from reserving.nightly import run_nightly_job
from reserving.cli import main
from reserving.nightly.history import load_runs, load_table
from reserving.nightly.synthetic import generate_claims


@pytest.fixture(scope="module")
def claims():
    return generate_claims(n_consortia=2, services=["emergency"], n_months=12, as_of="2024-06-30",
                           lines_per_cell=20, seed=11)


def test_selections_applied_stored_and_reported(tmp_path, claims):
    path = tmp_path / "selections.csv"
    pd.DataFrame({"segment": ["C001/emergency", ""], "item": ["factor", "prior"], "development": ["3", ""],
                  "origin": ["", "2024-06"], "value": ["1.05", "250"], "who": ["A. Actuary", "B. Finance"],
                  "why": ["benchmark: slower payment runs in the quarter", "budget PMPM"]}).to_csv(path, index=False)
    base = run_nightly_job(claims.lines, tmp_path / "base", n_sims=50, progress=False)
    run = run_nightly_job(claims.lines, tmp_path / "sel", n_sims=50, progress=False, selections=path)

    stored = load_table(run.outputs["db"], run.run_id, "selections")
    assert Selections.from_frame(stored).table.sort_values(["item"]).reset_index(drop=True).equals(
        Selections.read(path).table.sort_values(["item"]).reset_index(drop=True))
    assert load_table(base.outputs["db"], base.run_id, "selections").empty
    assert run.parameters["selections"] == str(path) and base.parameters["selections"] is None

    key = ["consortium", "service", "origin"]
    a, b = base.estimates.set_index(key), run.estimates.set_index(key)
    # unchanged means equal to the last bits or so: which compiled specialisation (array layout) a
    # kernel runs under depends on what ran before in the process, and moves a sum by an ulp
    differs = pd.Series(~np.isclose(a["ibnr_chain_ladder"], b["ibnr_chain_ladder"], rtol=1e-12, atol=1e-9), a.index)
    changed = differs[differs].index
    assert set(changed.get_level_values("consortium")) == {"C001"}
    months = pd.period_range("2024-01", "2024-06", freq="M")
    ages = {m.to_timestamp(): (pd.Period("2024-06", "M") - m).n + 1 for m in months}
    assert all(ages.get(pd.Timestamp(o), 99) <= 3 for o in changed.get_level_values("origin"))
    assert len(changed) >= 1

    factors = run.selected_factors
    assert factors[["segment", "development", "selected", "who"]].values.tolist() == [
        ["C001/emergency", 3, 1.05, "A. Actuary"]]
    html = run.outputs["report"].read_text()
    assert "Development factors: indicated and selected" in html and "slower payment runs" in html
    assert "The actuary&#x27;s selections" in html or "The actuary's selections" in html
    assert "actuary" not in base.outputs["report"].read_text().lower()
    tests = run.assumption_tests
    assert len(tests) == run.triangles.n_segments and "Chain-ladder assumptions" in html
    assert tests["cy_z"].tolist() == calendar_year_test(run.triangles).summary["z"].tolist()


def test_cli_takes_selections_and_names_a_bad_file(tmp_path, claims, capsys):
    lines = tmp_path / "claims.csv"
    claims.lines.to_csv(lines, index=False)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"item": ["factor"], "development": ["3"], "value": ["1.1"], "who": ["A"], "why": [""]}).to_csv(
        bad, index=False)
    code = main(["nightly", "--claims", str(lines), "--out", str(tmp_path / "o"), "--sims", "20", "--quiet",
                 "--selections", str(bad)])
    assert code == 1
    assert "bad.csv, line 2, column 'why'" in capsys.readouterr().err
    assert not (tmp_path / "o" / "report.html").exists()
