"""CLI round trips, bundled sample provenance and the HTML report."""

import numpy as np
import pandas as pd
import pytest

from riskadjust import Population, score
from riskadjust.cli import main
from riskadjust.report import funding_gap, render
from riskadjust.synthetic import SAMPLE_SEED, home_model, load_sample, synthetic_population


def test_bundled_sample_is_the_documented_draw():
    members, dx = load_sample()
    m2, d2 = synthetic_population(len(members), seed=SAMPLE_SEED)
    pd.testing.assert_frame_equal(members, m2, check_dtype=False)
    pd.testing.assert_frame_equal(dx, d2, check_dtype=False)


def test_synthetic_is_reproducible_and_skewed():
    a, da = synthetic_population(2000, seed=9)
    b, db = synthetic_population(2000, seed=9)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(da, db)
    annual = a["cost"] / a["exposure"]
    assert annual.mean() > 1.5 * annual.median()  # right-skewed like claims


def test_cli_score_writes_rows_without_identifiers(tmp_path, home):
    members, dx = synthetic_population(500, seed=2)
    members.to_csv(tmp_path / "m.csv", index=False)
    dx.to_parquet(tmp_path / "d.parquet")
    assert main(["score", "--members", str(tmp_path / "m.csv"), "--diagnoses", str(tmp_path / "d.parquet"),
                 "--out", str(tmp_path / "s.parquet"), "--components", str(tmp_path / "c.csv")]) == 0
    out = pd.read_parquet(tmp_path / "s.parquet")
    want = score(home, Population.from_frames(home, members, dx)).raw
    np.testing.assert_array_equal(out["raw"].to_numpy(), want)
    assert list(out.columns) == ["segment", "raw", "normalised", "payment"]
    for f in ("s.parquet", "c.csv"):
        text = (tmp_path / f).read_bytes()
        assert b"S000000" not in text


def test_cli_allocate_and_settle(tmp_path):
    pd.DataFrame({"group": ["A", "B"], "exposure": [1000, 1000], "risk": [1.2, 0.8],
                  "baseline": [480_000, 520_000]}).to_csv(tmp_path / "g.csv", index=False)
    assert main(["allocate", "--groups", str(tmp_path / "g.csv"), "--envelope", "1030000", "--min-growth", "0.01",
                 "--out", str(tmp_path / "a.csv")]) == 0
    a = pd.read_csv(tmp_path / "a.csv")
    assert a["allocation"].tolist() == [504_800.0, 525_200.0]
    pd.DataFrame({"contract": ["X"], "budget": [1_000_000], "actual": [1_100_000], "carve_outs": [20_000]}).to_csv(
        tmp_path / "c.csv", index=False)
    assert main(["settle", "--contracts", str(tmp_path / "c.csv"), "--withhold", "0.1",
                 "--corridors", "0:0.02:0,0.02:0.05:0.5,0.05:inf:0.8", "--out", str(tmp_path / "s.csv")]) == 0
    assert pd.read_csv(tmp_path / "s.csv")["due_to_provider"].tolist() == [139_000.0]


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    pd.DataFrame({"patient_id": ["p"], "age": [-3], "sex": ["F"], "segment": ["community"]}).to_csv(
        tmp_path / "m.csv", index=False)
    assert main(["score", "--members", str(tmp_path / "m.csv"), "--out", str(tmp_path / "s.csv")]) == 2
    assert "row 0" in capsys.readouterr().err


def test_report_shows_age_sex_gap_closing():
    members, dx = load_sample()
    rep = funding_gap(home_model(), members, dx)
    g = rep.groups
    # the sickest groups are under-funded by age-sex budgets and much less so with diagnoses
    assert g["ratio_age_sex"].min() < 0.85
    assert (g["ratio_full"] - 1).abs().max() < (g["ratio_age_sex"] - 1).abs().max()
    assert rep.totals["r2_full"] > rep.totals["r2_age_sex"]
    page = render(rep)
    assert page.startswith("<!doctype html>") and "<svg" in page and "SYNTHETIC" in page
    assert "S000" not in page and "<script" not in page
