"""Run history: atomic replacement of an as-of date, interrupted runs, movements."""

import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from reserving.nightly.history import drop_superseded, load_runs, load_table, movements, previous_run, save_run


def _estimates(scale=1.0, origins=("2024-01-01", "2024-02-01")):
    n = len(origins)
    return pd.DataFrame({"consortium": ["A"] * n, "service": ["er"] * n, "origin": pd.to_datetime(list(origins)),
                         "paid": [90.0 * scale] * n, "ibnr": [10.0 * scale] * n, "ultimate": [100.0 * scale] * n,
                         "ibnr_p75": [12.0] * n, "ibnr_p95": [20.0] * n, "expected_next": [3.0] * n})


def test_rerun_of_an_as_of_date_replaces_it(tmp_path):
    db = tmp_path / "h.duckdb"
    first = save_run(db, "2024-01-31", {"n": 1}, _estimates(1.0))
    save_run(db, "2024-02-29", {"n": 1}, _estimates(1.0))
    second = save_run(db, "2024-01-31", {"n": 2}, _estimates(2.0))
    assert first in load_runs(db)["run_id"].tolist()     # kept until the new run's outputs are published
    drop_superseded(db, second)
    runs = load_runs(db)
    assert runs["as_of"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-31", "2024-02-29"]
    assert first not in runs["run_id"].tolist() and second in runs["run_id"].tolist()
    assert load_table(db, first).empty
    assert load_table(db, second)["ultimate"].tolist() == [200.0, 200.0]
    assert previous_run(db, "2024-02-29")["run_id"] == second
    assert previous_run(db, "2024-01-31") is None


def test_failed_insert_rolls_back_to_the_previous_results(tmp_path):
    db = tmp_path / "h.duckdb"
    kept = save_run(db, "2024-01-31", {"n": 1}, _estimates())
    broken = _estimates().astype({"paid": object})
    broken.loc[1, "paid"] = "not a number"
    with pytest.raises(ValueError):
        save_run(db, "2024-01-31", {"n": 2}, broken)
    assert load_runs(db)["run_id"].tolist() == [kept]
    assert len(load_table(db, kept)) == 2


def test_process_killed_mid_transaction_leaves_previous_results(tmp_path):
    db = tmp_path / "h.duckdb"
    kept = save_run(db, "2024-01-31", {"n": 1}, _estimates())
    script = textwrap.dedent(f"""
        import os, pandas as pd, duckdb
        import reserving.nightly.history as h
        real = duckdb.DuckDBPyConnection.register
        def die_after_delete(self, name, frame):
            os._exit(3)   # killed after the old rows were deleted, before the commit
        duckdb.DuckDBPyConnection.register = die_after_delete
        est = pd.DataFrame({{"consortium": ["A"], "service": ["er"], "origin": [pd.Timestamp("2024-01-01")],
                            "paid": [1.0], "ibnr": [1.0], "ultimate": [2.0]}})
        h.save_run({str(db)!r}, "2024-01-31", {{}}, est)
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert load_runs(db)["run_id"].tolist() == [kept]
    assert load_table(db, kept)["ultimate"].tolist() == [100.0, 100.0]


def test_movements_compare_common_origins_only():
    prev = _estimates(1.0)
    cur = pd.concat([_estimates(1.5), _estimates(1.0, origins=("2024-03-01",))], ignore_index=True)
    m = movements(cur, prev).set_index("consortium")
    assert m.loc["A", "ultimate_move"] == pytest.approx(100.0)
    assert m.loc["A", "ibnr_move"] == pytest.approx(10.0)
    assert m.loc["A", "paid_in_period"] == pytest.approx(90.0)


def test_docstring_names_the_default_database_the_nightly_job_uses():
    import inspect

    import reserving.nightly.history
    from reserving.nightly import run_nightly_job

    assert "OUT/history.duckdb" in reserving.nightly.history.__doc__
    assert "reserving_history" not in reserving.nightly.history.__doc__
    assert 'out_dir / "history.duckdb"' in inspect.getsource(run_nightly_job)
