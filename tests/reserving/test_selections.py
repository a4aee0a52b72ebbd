"""Selections: a file that round-trips, each selection changing exactly the numbers it should.

References: the chain ladder itself (an ``exclude`` selection equals the ``exclude=`` argument;
an ``average`` selection equals that lag's factor under ``average=``), hand products of factors for
a selected factor, and bitwise equality everywhere a selection does not reach.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from reserving import ReservingError, Selections, TriangleSet, bootstrap_odp, chain_ladder, mack
from reserving.selections import factor_table
from tests.reserving.conftest import cl


@pytest.fixture(scope="module")
def two():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raa = TriangleSet.from_chainladder(cl.load_sample("raa")).values[0]
        genins = TriangleSet.from_chainladder(cl.load_sample("genins")).values[0]
    return TriangleSet.from_array(np.stack([raa, genins / 100.0]), origin_start="1981", grain="Y",
                                  segments=pd.Index(["raa", "genins"], name="book"))


def _sel(*rows):
    return Selections.from_frame(pd.DataFrame(rows, columns=["segment", "item", "development", "origin", "value",
                                                             "who", "why"]).astype(str))


def test_round_trip_through_csv(tmp_path, two):
    frame = pd.DataFrame({
        "segment": ["raa", "", "genins", "raa"], "item": ["factor", "average", "exclude", "prior"],
        "development": ["24", "36", "12", ""], "origin": ["", "", "1982", "1990"],
        "value": ["1.7", "simple", "", "0.8"], "who": ["AB", "AB", "CD", "CD"],
        "why": ["benchmark, thin data", "volatile lag", "one large claim", "pricing basis"]})
    path = tmp_path / "selections.csv"
    frame.to_csv(path, index=False)
    sel = Selections.read(path)
    assert sel.table.drop(columns="development").equals(
        frame.assign(segment=frame["segment"].replace("", "*")).drop(columns="development")[sel.table.columns.drop(
            "development")].astype("string"))
    assert sel.table["development"].tolist() == [24, 36, 12, pd.NA]
    choices = sel.origin_choices(two)
    assert choices[["segment", "prior", "who"]].values.tolist() == [["raa", 0.8, "CD"]]


def test_without_selections_results_are_unchanged(two):
    base = mack(two)
    only_origin = _sel(["raa", "method", "", "1990", "bf", "AB", "young origin"])
    same = mack(two, selections=only_origin)
    np.testing.assert_array_equal(same.chain_ladder.ultimate, base.chain_ladder.ultimate)
    np.testing.assert_array_equal(same.std_err, base.std_err)
    assert same.diagnostics.equals(base.diagnostics)


def test_one_factor_changes_exactly_the_affected_numbers(two):
    base = chain_ladder(two)
    sel = _sel(["raa", "factor", "48", "", "1.2", "A. Actuary", "benchmark"])
    res = chain_ladder(two, selections=sel)
    changed_ldf = res.development.ldf_values != base.development.ldf_values
    assert np.argwhere(changed_ldf).tolist() == [[0, 3]]
    assert res.development.ldf_values[0, 3] == 1.2
    ldf = res.development.ldf_values[0]
    expected = two.latest[0] * np.array([np.prod(ldf[lag:]) for lag in two.latest_lag[0]])
    np.testing.assert_allclose(res.ultimate[0], expected, rtol=1e-13)
    affected = two.latest_lag[0] <= 3
    np.testing.assert_array_equal(res.ultimate[0][~affected], base.ultimate[0][~affected])
    assert (res.ultimate[0][affected] != base.ultimate[0][affected]).all()
    np.testing.assert_array_equal(res.ultimate[1], base.ultimate[1])
    row = res.diagnostics.loc["raa"]
    assert row["issue"] == "selected_factor" and "A. Actuary: benchmark" in row["detail"]
    table = factor_table(base.development, res.development, sel)
    assert table[["segment", "development", "selected"]].values.tolist() == [["raa", 48, 1.2]]
    assert table["indicated"].iloc[0] == base.development.ldf_values[0, 3]


def test_mack_uses_the_selected_factor_and_keeps_other_segments(two):
    sel = _sel(["genins", "factor", "12", "", "3.6", "AB", "market benchmark"])
    base, res = mack(two), mack(two, selections=sel)
    np.testing.assert_array_equal(res.chain_ladder.ultimate, chain_ladder(two, selections=sel).ultimate)
    np.testing.assert_array_equal(res.std_err[0], base.std_err[0])
    assert not np.array_equal(res.std_err[1], base.std_err[1])


def test_exclusion_equals_exclude_argument_and_default_rows(two):
    sel = _sel(["", "exclude", "12", "1982", "", "AB", "reinsurance recovery in 1983"])
    np.testing.assert_array_equal(chain_ladder(two, selections=sel).ultimate,
                                  chain_ladder(two, exclude=("1982", 12)).ultimate)
    boot_sel = bootstrap_odp(two, n_sims=50, seed=3, selections=sel)
    boot_arg = bootstrap_odp(two, n_sims=50, seed=3, exclude=("1982", 12))
    np.testing.assert_array_equal(boot_sel.total_quantiles, boot_arg.total_quantiles)


def test_average_rule_and_segment_override(two):
    sel = _sel(["", "average", "24", "", "simple", "AB", "outliers"],
               ["genins", "average", "24", "", "regression", "CD", "size-related"])
    res = chain_ladder(two, selections=sel)
    simple, regression = chain_ladder(two, average="simple"), chain_ladder(two, average="regression")
    assert res.development.ldf_values[0, 1] == simple.development.ldf_values[0, 1]
    assert res.development.ldf_values[1, 1] == regression.development.ldf_values[1, 1]
    base = chain_ladder(two)
    np.testing.assert_array_equal(np.delete(res.development.ldf_values, 1, axis=1),
                                  np.delete(base.development.ldf_values, 1, axis=1))


@pytest.mark.parametrize("row, message", [
    (["", "factr", "12", "", "1.1", "AB", "x"], "item 'factr'"),
    (["", "factor", "12", "", "1.1", "AB", ""], "the reason"),
    (["", "factor", "12", "", "-1", "AB", "x"], "positive number"),
    (["", "factor", "", "", "1.1", "AB", "x"], "needs a development"),
    (["", "average", "12", "", "median", "AB", "x"], "average must be one of"),
    (["", "exclude", "12", "1982", "1", "AB", "x"], "takes no value"),
    (["", "method", "12", "1990", "bf", "AB", "x"], "takes no development"),
    (["", "method", "", "1990", "mack", "AB", "x"], "method 'mack' is not one of"),
])
def test_bad_rows_are_named(row, message):
    with pytest.raises(ReservingError, match=message):
        _sel(row)


def test_unknown_places_and_duplicates(tmp_path, two):
    with pytest.raises(ReservingError, match="segment 'north'"):
        chain_ladder(two, selections=_sel(["north", "factor", "12", "", "1.1", "AB", "x"]))
    with pytest.raises(ReservingError, match="development 120"):
        chain_ladder(two, selections=_sel(["", "factor", "120", "", "1.1", "AB", "x"]))
    with pytest.raises(ReservingError, match="origin '1975'"):
        chain_ladder(two, selections=_sel(["", "exclude", "12", "1975", "", "AB", "x"]))
    path = tmp_path / "dup.csv"
    pd.DataFrame({"item": ["factor", "factor"], "development": ["12", "12"], "value": ["1", "2"],
                  "who": ["A", "B"], "why": ["x", "y"]}).to_csv(path, index=False)
    with pytest.raises(ReservingError, match=r"dup.csv: two selections .*lines \[2, 3\]"):
        Selections.read(path)


def test_selected_factor_with_a_tail_keeps_the_tail_and_says_so(two):
    sel = _sel(["raa", "factor", "24", "", "1.5", "AB", "benchmark"])
    base, res = chain_ladder(two, tail=1.05), chain_ladder(two, tail=1.05, selections=sel)
    np.testing.assert_array_equal(res.development.ldf_values[:, 9:], base.development.ldf_values[:, 9:])
    issues = res.diagnostics.loc[["raa"], "issue"].tolist()
    assert issues == ["selected_factor", "selected_before_tail"]
