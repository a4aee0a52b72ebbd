"""`python -m reserving demo`: runs on the bundled sample and prints what the API computes."""

import pandas as pd
import pytest

from reserving import mack
from reserving.nightly.claims import read_claims
from reserving.cli import main, sample_path


def test_demo_prints_every_segment_and_the_national_ibnr(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    claims = read_claims(sample_path("sample_claims.csv"), known_segments=pd.read_csv(sample_path("sample_segments.csv")))
    totals = mack(claims.triangles).totals
    for consortium, service in totals.index:
        assert service in out and consortium in out
    assert f"{totals['ibnr'].sum():,.0f}" in out
    assert f"{claims.lines_rejected:,} rejected" in out
    assert "PT0" not in out  # no patient identifier in the output


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit):
        main(["reserve-everything"])
    assert "invalid choice" in capsys.readouterr().err


def test_a_missing_claims_file_is_one_line_and_status_1_with_nothing_published(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["nightly", "--claims", str(tmp_path / "nonexistent.csv"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nonexistent.csv: no such file" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_help_ends_with_the_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        main(["nightly", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "2  partial success" in text


def test_a_budget_file_without_its_columns_is_named(tmp_path, capsys):
    budget = tmp_path / "budget.csv"
    budget.write_text("consortium,month,budgt\nC001,2024-01,1\n")
    assert main(["nightly", "--demo", "--out", str(tmp_path / "out"), "--budget", str(budget)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {budget}: missing column(s) 'budget' (it has 'consortium', 'month', 'budgt')\n"


def test_backtest_writes_its_three_outputs_and_names_a_missing_column(tmp_path, capsys):
    """Two generated squares: the outputs have the stated columns, and the summary equals summarize()."""
    import json

    import numpy as np

    from reserving.backtest import summarize

    rows = pd.DataFrame({"company": np.repeat(["a", "b"], 16), "year": np.tile(np.repeat([2001, 2002, 2003, 2004], 4), 2),
                         "dev": np.tile([1, 2, 3, 4], 8),
                         "paid": np.tile([50., 80., 95., 100.], 8) * np.repeat([1., 1.1, 1.2, 1.3, 2., 2.1, 2.5, 2.3], 4)})
    squares = tmp_path / "squares.csv"
    rows.to_csv(squares, index=False)
    args = ["backtest", "--squares", str(squares), "--value", "paid", "--group-column", "company", "--origin-column",
            "year", "--lag-column", "dev", "--premium-column", "none", "--method", "mack", "--method", "bootstrap",
            "--sims", "200", "--out", str(tmp_path / "bt"), "--quiet"]
    assert main(args) == 0
    table = pd.read_csv(tmp_path / "bt" / "backtest.csv")
    assert list(table.columns) == ["method", "group", "actual", "mean", "percentile"] and len(table) == 4
    summary = json.loads((tmp_path / "bt" / "summary.json").read_text())
    mack_rows = table[(table["method"] == "mack") & table["percentile"].notna()]
    expected = summarize(mack_rows["percentile"].to_numpy(), mack_rows["actual"].to_numpy(), mack_rows["mean"].to_numpy())
    assert summary["methods"]["mack"]["ks_statistic"] == pytest.approx(expected["ks_statistic"], rel=1e-12)
    assert "PP plot" in (tmp_path / "bt" / "backtest.html").read_text()
    capsys.readouterr()
    assert main([*args[:3], "--out", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    assert "squares.csv" in err and "'GroupCode'" in err and not (tmp_path / "bad").exists()
