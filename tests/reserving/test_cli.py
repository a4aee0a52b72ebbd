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
