"""The pool simulator fed by the other packages' files: riskadjust's validation.csv, a nightly run's consortia.csv.

The files are written here to the documented column contracts (the commands that write them are
tested in their own packages). Checks: the values read are the values written; the IBNR error CV
is the median of ibnr_sd / (paid + ibnr) computed by hand; the command simulates the formulas and
the CV read (equal to the same run with the typed values); every contract breach is a named error.
"""

from __future__ import annotations

import pandas as pd
import pytest

from stoploss.cli import main
from stoploss.errors import StopLossError
from stoploss.pool.feeds import read_ibnr_error, read_risk_models

VALIDATION = pd.DataFrame({"risk_model": ["age-sex", "age-sex + diagnoses"], "r_squared": [0.041, 0.118],
                           "cpm": [0.031, 0.094], "mape": [4_410.0, 4_080.0], "n_members": [500_000, 500_000]})
CONSORTIA = pd.DataFrame({"consortium": ["north", "south", "east"], "paid": [90e6, 40e6, 150e6],
                          "ibnr": [10e6, 5e6, 30e6], "ibnr_sd": [1.5e6, 0.45e6, 4.5e6],
                          "ibnr_p75": [11e6, 5.3e6, 33e6], "ibnr_p95": [12.5e6, 5.8e6, 37e6]})


def _write(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def test_risk_models_are_read_as_written(tmp_path):
    models, table = read_risk_models(_write(VALIDATION, tmp_path / "validation.csv"))
    assert models == {"age-sex": 0.041, "age-sex + diagnoses": 0.118}
    assert list(table.columns) == ["risk_model", "r_squared", "cpm", "mape", "n_members"]
    extra = VALIDATION.assign(segment="all")          # another tool's extra column is not ours to refuse
    assert read_risk_models(_write(extra, tmp_path / "v2.csv"))[0] == models


def test_ibnr_cv_is_the_median_of_sd_over_estimated_outturn(tmp_path):
    _write(CONSORTIA, tmp_path / "consortia.csv")
    err = read_ibnr_error(tmp_path)
    by_hand = sorted([1.5 / 100, 0.45 / 45, 4.5 / 180])      # 1.5%, 1.0%, 2.5%
    assert err.cv == pytest.approx(by_hand[1], rel=1e-12)
    assert err.totals["cv_min"] == pytest.approx(0.01) and err.totals["cv_max"] == pytest.approx(0.025)
    assert "consortium" not in err.by_consortium          # names are not carried


def test_a_consortium_without_figures_is_left_out_and_counted(tmp_path):
    failed = pd.DataFrame({"consortium": ["west"], "paid": [None], "ibnr": [None], "ibnr_sd": [None],
                           "ibnr_p75": [None], "ibnr_p95": [None]})
    _write(pd.concat([CONSORTIA, failed], ignore_index=True), tmp_path / "consortia.csv")
    err = read_ibnr_error(tmp_path)
    assert err.without_figures == 1 and len(err.by_consortium) == 3 and err.cv == pytest.approx(0.015)
    only_failed = failed.assign(consortium="x")
    _write(only_failed, tmp_path / "consortia.csv")
    with pytest.raises(StopLossError, match="no consortium has figures"):
        read_ibnr_error(tmp_path)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.assign(paid=[1.0, None, 2.0]), "line 3, column 'paid': empty; a value is required"),
    (lambda f: f.drop(columns="ibnr_sd"), r"missing column\(s\) 'ibnr_sd'"),
    (lambda f: f.assign(paid=[1.0, "lots", 2.0]), "line 3, column 'paid': not a number"),
    (lambda f: f.assign(ibnr_p95=[12.5e6, 5.8e6, None]), "line 4, column 'ibnr_p95': empty"),
    (lambda f: f.assign(ibnr_sd=[1.0, -1.0, 2.0]), "line 3, column 'ibnr_sd': below 0"),
    (lambda f: f.assign(ibnr_p95=[1.0, 1e9, 1e9]), "line 2, column 'ibnr_p95': below ibnr_p75"),
    (lambda f: f.assign(paid=[0.0, 40e6, 150e6], ibnr=[0.0, 5e6, 30e6]), "line 2, column 'ibnr': paid \\+ ibnr"),
    (lambda f: f.assign(consortium=["north", "north", "east"]), "line 3, column 'consortium': repeats"),
    (lambda f: f.iloc[:0], "no rows"),
])
def test_ibnr_file_breaches_are_named(tmp_path, change, message):
    _write(change(CONSORTIA.copy()), tmp_path / "consortia.csv")
    with pytest.raises(StopLossError, match=message) as info:
        read_ibnr_error(tmp_path)
    assert "north" not in str(info.value)                # a consortium's name is never quoted
    assert "consortia.csv" in str(info.value)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(columns=["cpm", "n_members"]), r"missing column\(s\) 'cpm', 'n_members'"),
    (lambda f: f.assign(r_squared=[0.04, 1.5]), "line 3, column 'r_squared': above 1.0"),
    (lambda f: f.assign(n_members=[0, 10]), "line 2, column 'n_members': below 1.0"),
    (lambda f: f.assign(risk_model=["", "x"]), "line 2, column 'risk_model': empty"),
])
def test_risk_model_file_breaches_are_named(tmp_path, change, message):
    path = _write(change(VALIDATION.copy()), tmp_path / "validation.csv")
    with pytest.raises(StopLossError, match=message):
        read_risk_models(path)


def test_missing_run_directory_is_named(tmp_path):
    with pytest.raises(StopLossError, match="not a directory"):
        read_ibnr_error(tmp_path / "nowhere")
    with pytest.raises(StopLossError, match="does not exist"):
        read_ibnr_error(tmp_path)


def test_pool_command_reads_both_files_and_equals_the_typed_run(tmp_path, capsys):
    validation = _write(VALIDATION, tmp_path / "validation.csv")
    run = tmp_path / "nightly"
    run.mkdir()
    _write(CONSORTIA, run / "consortia.csv")
    common = ["--sizes", "20000,80000", "--attachments", "none", "--years", "2000", "--no-html"]
    assert main(["pool", "--out", str(tmp_path / "fed"), "--risk-models", validation, "--ibnr-from", str(run),
                 *common]) == 0
    assert main(["pool", "--out", str(tmp_path / "typed"), "--risk-model", "age-sex=0.041",
                 "--risk-model", "age-sex + diagnoses=0.118", "--ibnr-cv", "0.015", *common]) == 0
    fed = pd.read_csv(tmp_path / "fed" / "pool_summary.csv")
    typed = pd.read_csv(tmp_path / "typed" / "pool_summary.csv")
    pd.testing.assert_frame_equal(fed, typed)
    assert set(fed["risk_model"]) == {"age-sex", "age-sex + diagnoses"}
    capsys.readouterr()
    assert main(["pool", "--out", str(tmp_path / "both"), "--risk-models", validation, "--risk-model", "a=0.1",
                 *common]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["pool", "--out", str(tmp_path / "page"), "--risk-models", validation, "--ibnr-from", str(run),
                 "--sizes", "20000,80000", "--attachments", "none", "--years", "1000"]) == 0
    page = (tmp_path / "page" / "pool.html").read_text()
    assert "Read from the other packages" in page and "1.50%" in page and ">CPM<" in page
    assert 'id="validation"' in page and "500,000" in page
    assert main(["pool", "--out", str(tmp_path / "gone"), "--ibnr-from", str(tmp_path / "none"), *common]) == 1
    assert "not a directory" in capsys.readouterr().err and not (tmp_path / "gone").exists()
