"""CLI: the demo prices the bundled groups, writes CSV + HTML atomically, never prints laser keys."""

import pandas as pd
import pytest

from stoploss.cli import main, sample_groups, sample_lasers
from stoploss.errors import StopLossError
from stoploss.pricing import price_groups, validate_groups


def test_demo_writes_table_and_report(tmp_path, capsys):
    assert main(["price", "--demo", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "priced.csv")
    html = (tmp_path / "priced.html").read_text()
    assert len(table) == len(sample_groups())
    assert html.count("data:image/png;base64,") == len(table)
    keys = sample_lasers()["member_key"]
    out = capsys.readouterr().out
    for key in keys:
        assert key not in html and key not in out and key not in (tmp_path / "priced.csv").read_text()
    assert table.loc[table["group"] == "G002", "lasers"].item() == 2
    assert (table["specific_gross"] >= table["specific_expected"]).all()
    assert not list(tmp_path.glob("*.tmp"))


def test_priced_table_matches_the_premium_functions():
    groups = sample_groups().head(3)
    table = price_groups(groups, threads=1)
    assert (table["specific_pmpm"] * 12).to_numpy() == pytest.approx(table["specific_excess_per_member_year"].to_numpy())
    blended = table["credibility_z"] * groups["experience_pmpm"] + (1 - table["credibility_z"]) * table["specific_pmpm"]
    assert table["specific_blended_pmpm"].to_numpy() == pytest.approx(blended.to_numpy())


def test_bad_rows_are_reported_with_row_and_column(tmp_path, capsys):
    bad = sample_groups().head(3)
    bad.loc[1, "cv"] = -1.0
    with pytest.raises(StopLossError, match=r"row 3 \(group G002\), column cv"):
        validate_groups(bad)
    path = tmp_path / "g.csv"
    bad.to_csv(path, index=False)
    assert main(["price", "--groups", str(path), "--out", str(tmp_path), "--no-html"]) == 2
    assert "column cv" in capsys.readouterr().err
