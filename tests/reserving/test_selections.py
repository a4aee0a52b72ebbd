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

from reserving import (ReservingError, Selections, TriangleSet, benktander, bootstrap_odp, bornhuetter_ferguson,
                       cape_cod, chain_ladder, expected_loss_ratio, mack)
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


def test_a_method_name_not_known_is_named_with_file_line_and_column(tmp_path, two):
    path = tmp_path / "sel.csv"
    pd.DataFrame({"item": ["prior", "method"], "origin": ["1990", "1990"], "value": ["0.7", "mack"],
                  "who": ["A", "A"], "why": ["x", "y"]}).to_csv(path, index=False)
    with pytest.raises(ReservingError, match=r"sel.csv, line 3, column 'value'.*method 'mack' is not one of"):
        Selections.read(path)
    aliases = _sel(["", "method", "", "1989", "elr", "A", "x"], ["", "method", "", "1990", "cl", "A", "x"])
    assert set(aliases.origin_choices(two)["method"]) == {"expected_loss_ratio", "chain_ladder"}


# Each exposure method of ``two`` with a priori values per origin; ``sel`` goes to ``selections=``.
_EXPOSURE = np.linspace(30_000.0, 48_000.0, 10)


def _bf(tri, sel=None):
    return bornhuetter_ferguson(tri, np.tile(0.6 * _EXPOSURE, (2, 1)), selections=sel)


def _benktander(tri, sel=None):
    return benktander(tri, 0.6, _EXPOSURE, n_iters=2, selections=sel)


def _elr(tri, sel=None):
    return expected_loss_ratio(tri, _EXPOSURE, 0.6, selections=sel)


def _cape_cod(tri, sel=None):
    return cape_cod(tri, _EXPOSURE, selections=sel)


def _closed_form(name, latest, cdf, prior_ultimate):
    """The method's ultimate from its a priori ultimate (currency) and the pattern, by hand."""
    q = 1.0 - 1.0 / cdf
    return {"bf": latest + q * prior_ultimate, "cape_cod": latest + q * prior_ultimate,
            "benktander": latest + q * (latest + q * prior_ultimate), "elr": prior_ultimate}[name]


METHOD_RUNS = {"bf": _bf, "benktander": _benktander, "elr": _elr, "cape_cod": _cape_cod}


@pytest.mark.parametrize("name", list(METHOD_RUNS))
def test_one_prior_selection_changes_that_origin_only_and_equals_the_closed_form(two, name):
    run = METHOD_RUNS[name]
    # bf takes a prior ultimate (currency); the others a loss ratio on the exposure
    value = 30_000.0 if name == "bf" else 0.75
    sel = _sel(["raa", "prior", "", "1988", str(value), "A. Actuary", "pricing basis"])
    base, res = run(two), run(two, sel)
    changed = res.ultimate != base.ultimate
    assert np.argwhere(changed).tolist() == [[0, 7]]
    np.testing.assert_array_equal(res.ultimate[~changed], base.ultimate[~changed])
    totals = res.totals["ultimate"].to_numpy() - base.totals["ultimate"].to_numpy()
    assert totals[1] == 0 and totals[0] == pytest.approx(res.ultimate[0, 7] - base.ultimate[0, 7], rel=1e-9)
    prior_ultimate = value if name == "bf" else value * _EXPOSURE[7]
    cdf = chain_ladder(two).cdf[0, 7]
    expected = _closed_form(name, two.latest[0, 7], cdf, prior_ultimate)
    assert res.ultimate[0, 7] == pytest.approx(expected, rel=1e-12)
    rows = res.diagnostics.loc[["raa"]]
    assert rows["issue"].tolist() == ["selected_prior"]
    assert "origin 1988" in rows["detail"].iloc[0] and "A. Actuary: pricing basis" in rows["detail"].iloc[0]
    assert run(two, None).diagnostics.equals(base.diagnostics)


@pytest.mark.parametrize("name", list(METHOD_RUNS))
def test_development_selections_act_on_the_pattern_of_every_method(two, name):
    run = METHOD_RUNS[name]
    sel = _sel(["genins", "factor", "24", "", "1.9", "AB", "benchmark"],
               ["", "exclude", "12", "1982", "", "CD", "recovery"],
               ["raa", "prior", "", "1990", "0.9" if name != "bf" else "50000", "EF", "new business"])
    res = run(two, sel)
    cl_sel = chain_ladder(two, selections=sel)
    np.testing.assert_array_equal(res.chain_ladder.cdf if name != "bf" else 1.0 / res.completion, cl_sel.cdf)
    base_prior = 0.6 * _EXPOSURE
    if name == "cape_cod":   # the Cape Cod loss ratio, by hand from the selected pattern
        lr = np.nansum(two.latest, axis=1) / np.nansum(np.where(np.isfinite(two.latest), _EXPOSURE / cl_sel.cdf, 0),
                                                       axis=1)
        base_prior = lr[:, None] * _EXPOSURE
    prior = np.array(np.broadcast_to(base_prior, (2, 10)))
    prior[0, 9] = 50_000.0 if name == "bf" else 0.9 * _EXPOSURE[9]
    expected = _closed_form(name, two.latest, cl_sel.cdf, prior)
    np.testing.assert_allclose(res.ultimate, expected, rtol=1e-12)
    issues = sorted(res.diagnostics["issue"])
    assert issues == ["selected_factor", "selected_prior"]


def test_bf_with_a_given_cdf_takes_priors_but_refuses_development_rows(two):
    cdf = chain_ladder(two).cdf
    prior = np.full((2, 10), 20_000.0)
    only_prior = _sel(["genins", "prior", "", "1985", "25000", "AB", "budget"])
    res = bornhuetter_ferguson(two, prior, cdf, selections=only_prior)
    assert res.ultimate[1, 4] == pytest.approx(two.latest[1, 4] + 25_000.0 * (1 - 1 / cdf[1, 4]), rel=1e-12)
    np.testing.assert_array_equal(np.delete(res.ultimate.ravel(), 14),
                                  np.delete(bornhuetter_ferguson(two, prior, cdf).ultimate.ravel(), 14))
    with pytest.raises(ReservingError, match="pass cdf=None"):
        bornhuetter_ferguson(two, prior, cdf, selections=_sel(["", "factor", "12", "", "2", "AB", "x"]))
