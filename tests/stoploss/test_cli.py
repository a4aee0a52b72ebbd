"""CLI: the demo prices the bundled groups, writes CSV + HTML atomically, never prints laser keys;
bad input is one line on stderr and exit status 1."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from stoploss.cli import main, sample_groups, sample_lasers
from stoploss.errors import StopLossError
from stoploss.pricing import price_groups, validate_groups


def test_demo_writes_table_and_report(tmp_path, capsys):
    assert main(["price", "--demo", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "priced.csv")
    html = (tmp_path / "priced.html").read_text()
    assert len(table) == len(sample_groups())
    assert html.count('<svg class="chart loss-chart"') == html.count('<svg class="chart premium-chart"') == len(table)
    assert "<img" not in html and "Settings and thresholds" in html
    keys = sample_lasers()["member_key"]
    out = capsys.readouterr().out
    for key in keys:
        assert key not in html and key not in out and key not in (tmp_path / "priced.csv").read_text()
    assert table.loc[table["group"] == "G002", "lasers"].item() == 2
    assert (table["specific_gross"] >= table["specific_expected"]).all()
    assert not list(tmp_path.glob("*.tmp"))


def test_priced_table_against_lognormal_closed_form_and_hand_worked_credibility():
    # lognormal with mean 2,000 and CV 3: sigma^2 = ln 10, mu = ln 2000 - sigma^2 / 2, and
    # E[(X - a)+] = E[X] Phi((mu + sigma^2 - ln a) / sigma) - a Phi((mu - ln a) / sigma)
    # 250,000 member-years against k = 2,000,000 gives Z = 250,000 / 2,250,000 = 1/9 exactly
    group = pd.DataFrame([{"group": "H1", "members": 1000, "claimant_rate": 0.8, "mean_cost": 2000.0, "cv": 3.0,
                           "specific_attachment": 50_000.0, "experience_pmpm": 3.0,
                           "experience_member_years": 250_000.0, "credibility_k": 2_000_000.0}])
    table = price_groups(group, threads=1)
    sigma = np.sqrt(np.log(10.0))
    mu = np.log(2000.0) - sigma**2 / 2
    a = 50_000.0
    excess = 2000.0 * norm.cdf((mu + sigma**2 - np.log(a)) / sigma) - a * norm.cdf((mu - np.log(a)) / sigma)
    pmpm = 0.8 * excess / 12
    assert table["specific_pmpm"].item() == pytest.approx(pmpm, rel=1e-10)
    assert table["credibility_z"].item() == pytest.approx(1 / 9, rel=1e-14)
    assert table["specific_blended_pmpm"].item() == pytest.approx(3.0 / 9 + 8 / 9 * pmpm, rel=1e-10)


def test_bad_rows_are_reported_with_row_and_column(tmp_path, capsys):
    bad = sample_groups().head(3)
    bad.loc[1, "cv"] = -1.0
    with pytest.raises(StopLossError, match=r"^groups table, column 'cv', segment G002: value -1.0 is not valid "
                                            r"\(must be positive\) \(row 1\)$"):
        validate_groups(bad)
    path = tmp_path / "g.csv"
    bad.to_csv(path, index=False)
    assert main(["price", "--groups", str(path), "--out", str(tmp_path), "--no-html"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {path}, line 3, column 'cv', segment G002: value -1.0 is not valid (must be positive)\n"


@pytest.mark.parametrize("column, value, message", [
    ("basis", "12/18", r"line 3, column 'basis', segment G002: value '12/18' is not valid \(must be one of incurred"),
    ("expense_pct", 1.5, r"line 3, column 'expense_pct', segment G002: value 1.5 is not valid \(must be a share"),
    ("aggregate_pct", "abc", r"line 3, column 'aggregate_pct', segment G002: value 'abc' is not valid"),
    ("annual_trend", -1.0, r"line 3, column 'annual_trend', segment G002"),
    ("specific_limit", 0.0, r"line 3, column 'specific_limit', segment G002"),
    ("credibility_k", "x", r"line 3, column 'credibility_k', segment G002"),
])
def test_optional_columns_are_validated_with_row_and_group(tmp_path, capsys, column, value, message):
    bad = sample_groups().head(3).astype({column: object})
    bad.loc[1, column] = value
    with pytest.raises(StopLossError, match="^groups.csv, " + message):
        validate_groups(bad, "groups.csv")
    path = tmp_path / "g.csv"
    bad.to_csv(path, index=False)
    assert main(["price", "--groups", str(path), "--out", str(tmp_path), "--no-html"]) == 1
    err = capsys.readouterr().err
    assert f"column '{column}'" in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "priced.csv").exists()


def test_blank_optional_cells_take_defaults():
    groups = sample_groups().head(2).astype({"basis": object})
    groups.loc[0, ["basis", "expense_pct", "credibility_k"]] = [np.nan, np.nan, np.nan]
    valid = validate_groups(groups)
    assert valid.loc[0, "basis"] == "incurred" and valid.loc[0, "expense_pct"] == 0.0
    assert np.isnan(valid.loc[0, "credibility_k"])


def _lasers(rows):
    return pd.DataFrame(rows, columns=["group", "member_key", "attachment"])


@pytest.mark.parametrize("rows, message", [
    ([("G002", "sec-1", 400_000), ("G999", "sec-2", 400_000)],
     r"^l.csv, line 3, column 'group', segment G999: the group is not in the groups file"),
    ([("G002", "sec-1", 400_000), ("G003", "sec-2", 400_000), ("G002", "sec-1", 500_000)],
     r"^l.csv, line 4, column 'member_key', segment G002: the same member is lasered again \(first at line 2\)"),
    ([("G002", "sec-1", "four hundred")],
     r"^l.csv, line 2, column 'attachment', segment G002: value 'four hundred' is not a positive number"),
    ([("G002", "sec-1", 400_000), ("G002", "sec-2", 1000)],
     r"^l.csv, line 3, column 'attachment', segment G002: laser attachment 1,000 is below the group's specific "
     r"attachment 250,000"),
])
def test_laser_rows_are_checked_by_row_and_group_without_the_key(tmp_path, capsys, rows, message):
    groups = sample_groups().head(3)
    lasers = _lasers(rows)
    with pytest.raises(StopLossError, match=message) as caught:
        price_groups(groups, lasers, threads=1, lasers_source="l.csv")
    assert "sec-" not in str(caught.value)
    gpath, lpath = tmp_path / "g.csv", tmp_path / "l.csv"
    groups.to_csv(gpath, index=False)
    lasers.to_csv(lpath, index=False)
    assert main(["price", "--groups", str(gpath), "--lasers", str(lpath), "--out", str(tmp_path), "--no-html"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {lpath}, line ") and captured.err.count("\n") == 1
    assert "sec-" not in captured.err + captured.out


@pytest.mark.parametrize("content, message", [
    (None, "the groups file does not exist"),
    (b"", "the groups file is empty (no header line)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "the groups file is not UTF-8 text"),
])
def test_unreadable_groups_file_is_one_line_and_status_1(tmp_path, capsys, content, message):
    path = tmp_path / "groups.csv"
    if content is not None:
        path.write_bytes(content)
    assert main(["price", "--groups", str(path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: {message}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_misspelt_optional_column_and_usage_errors_are_status_1(tmp_path, capsys):
    groups = sample_groups().head(2).rename(columns={"annual_trend": "anual_trend"})
    with pytest.raises(StopLossError, match="column 'anual_trend': unknown column"):
        validate_groups(groups, "groups.csv")
    assert main(["price", "--out", str(tmp_path)]) == 1
    assert "give --groups FILE or --demo" in capsys.readouterr().err
    assert main(["price", "--demo", "--lasers", "lasers.csv", "--out", str(tmp_path)]) == 1
    assert "leave out --groups and --lasers" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["price", "--no-such-option"])
    assert caught.value.code == 1


def test_help_states_the_exit_statuses(capsys):
    for argv in (["--help"], ["price", "--help"], ["pool", "--help"]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 0
        out = capsys.readouterr().out
        assert "exit status:" in out and "1  bad input" in out
