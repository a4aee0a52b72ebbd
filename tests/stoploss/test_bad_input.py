"""Bad input to ``python -m stoploss price|pool`` and the public premium functions: a named error with exit
1, or a correct result; never a traceback, never a member key in a message or output. Also the lasers in
both premiums against a member-by-member simulation, and an aggregate attachment beyond the lattice window."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stoploss.aggregate_premium import aggregate_premium
from stoploss.cli import main, sample_groups
from stoploss.credibility import credibility_weight
from stoploss.errors import StopLossError
from stoploss.pricing import lognormal_from_mean_cv, price_groups
from stoploss.specific import specific_premium

SECRET = "SECRETID-"


def _run(tmp_path, capsys, argv):
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    assert status in (0, 1) and "Traceback" not in err and SECRET not in out + err
    for path in tmp_path.rglob("*"):
        if path.is_file() and "in" not in path.relative_to(tmp_path).parts:
            assert SECRET.encode() not in path.read_bytes()
    return status, err


def _price(tmp_path, capsys, groups, lasers=None, html=False):
    gpath = tmp_path / "in" / "groups.csv"
    gpath.parent.mkdir(exist_ok=True)
    groups.to_csv(gpath, index=False) if isinstance(groups, pd.DataFrame) else gpath.write_bytes(groups)
    argv = ["price", "--groups", str(gpath), "--out", str(tmp_path / "out"), "--threads", "1"]
    if lasers is not None:
        lpath = tmp_path / "in" / "lasers.csv"
        lasers.to_csv(lpath, index=False) if isinstance(lasers, pd.DataFrame) else lpath.write_bytes(lasers)
        argv += ["--lasers", str(lpath)]
    return _run(tmp_path, capsys, argv + ([] if html else ["--no-html"]))


def _set(column, value, row=0):
    def change(frame):
        frame = frame.copy()
        frame[column] = frame[column].astype(object) if column in frame else None
        frame.loc[row, column] = value
        return frame
    return change


GROUP_FAULTS = {
    "claimant rate -0.5": (_set("claimant_rate", -0.5), "claimant_rate"),
    "claimant rate 1.5": (_set("claimant_rate", 1.5), "claimant_rate"),
    "claimant rate nan": (_set("claimant_rate", "nan"), "claimant_rate"),
    "mean cost nan": (_set("mean_cost", "nan"), "mean_cost"),
    "mean cost inf": (_set("mean_cost", "inf"), "mean_cost"),
    "cv zero": (_set("cv", 0), "cv"),
    "cv text": (_set("cv", "high"), "cv"),
    "members inf": (_set("members", "inf"), "members"),
    "members empty": (_set("members", None), "members"),
    "members fractional": (_set("members", 10.5), "members"),
    "members negative": (_set("members", -3), "members"),
    "attachment nan": (_set("specific_attachment", "nan"), "specific_attachment"),
    "attachment inf": (_set("specific_attachment", "inf"), "specific_attachment"),
    "limit zero": (_set("specific_limit", 0), "specific_limit"),
    "aggregate pct zero": (_set("aggregate_pct", 0), "aggregate_pct"),
    "trend -1": (_set("annual_trend", -1), "annual_trend"),
    "shock cv negative": (_set("common_shock_cv", -0.1), "common_shock_cv"),
    "expense 100%": (_set("expense_pct", 1.0), "expense_pct"),
    "basis unknown": (_set("basis", "12/99"), "basis"),
    "duplicate group": (_set("group", "G002"), "appears again"),
    "misspelt column": (lambda f: f.assign(anual_trend=0.1), "anual_trend"),
    "missing column": (lambda f: f.drop(columns="cv"), "missing column"),
}


@pytest.mark.parametrize("fault", sorted(GROUP_FAULTS))
def test_groups_fault_is_a_named_error(tmp_path, capsys, fault):
    change, expected = GROUP_FAULTS[fault]
    status, err = _price(tmp_path, capsys, change(sample_groups().head(2)))
    assert status == 1 and expected in err and "groups.csv" in err
    assert not (tmp_path / "out" / "priced.csv").exists()


@pytest.mark.parametrize("content", [b"", b"\x00\x01\xff\xfe binary \x00",
                                     "group,members\nG\xe9,10\n".encode("latin-1"), b'group,members\n"G1,10\n'])
def test_unreadable_groups_file_is_named(tmp_path, capsys, content):
    status, err = _price(tmp_path, capsys, content)
    assert status == 1 and "groups.csv" in err


def _lasers(*rows):
    return pd.DataFrame(rows, columns=["group", "member_key", "attachment"])


LASER_FAULTS = {
    "unknown group": (_lasers(("G999", f"{SECRET}1", 300000)), "not in the groups file"),
    "below attachment": (_lasers(("G001", f"{SECRET}1", 10)), "below the group's specific attachment"),
    "attachment text": (_lasers(("G001", f"{SECRET}1", "oops")), "attachment"),
    "attachment nan": (_lasers(("G001", f"{SECRET}1", "nan")), "attachment"),
    "empty key": (_lasers(("G001", "", 300000)), "member_key is empty"),
    "repeated key": (_lasers(("G001", f"{SECRET}1", 300000), ("G001", f"{SECRET}1", 400000)), "lasered again"),
    "no attachment column": (_lasers(("G001", f"{SECRET}1", 1)).drop(columns="attachment"), "missing column"),
}


@pytest.mark.parametrize("fault", sorted(LASER_FAULTS))
def test_lasers_fault_is_named_without_the_key(tmp_path, capsys, fault):
    lasers, expected = LASER_FAULTS[fault]
    status, err = _price(tmp_path, capsys, sample_groups().head(2), lasers)
    assert status == 1 and expected in err and "lasers.csv" in err


def test_lasered_group_prices_without_writing_keys(tmp_path, capsys):
    groups = sample_groups().head(2)
    lasers = _lasers(("G001", f"{SECRET}1", 400000), ("G002", f"{SECRET}2", 300000))
    status, _ = _price(tmp_path, capsys, groups, lasers)
    assert status == 0
    table = pd.read_csv(tmp_path / "out" / "priced.csv")
    assert table["lasers"].tolist() == [1, 1]


def test_dollar_in_group_name_renders_as_text(tmp_path, capsys):
    groups = sample_groups().head(1).assign(group="Acme $5M $x^2$ <b>")
    status, err = _price(tmp_path, capsys, groups, html=True)
    assert status == 0, err
    html = (tmp_path / "out" / "priced.html").read_text(encoding="utf-8")
    assert "Acme $5M $x^2$ &lt;b&gt;" in html and "Acme $5M $x^2$ <b>" not in html


@pytest.mark.parametrize("argv, expected", [
    (["pool", "--out", "o", "--years", "0"], "--years"),
    (["pool", "--out", "o", "--years", "-5"], "--years"),
    (["pool", "--out", "o", "--years", "many"], "--years"),
    (["pool", "--out", "o", "--level", "x"], "--level"),
    (["price", "--out", "o"], "--groups"),
    (["price", "--groups", "no/such.csv", "--out", "o"], "does not exist"),
    (["price", "--groups", "in", "--out", "o"], "folder"),
])
def test_cli_options_are_named(tmp_path, capsys, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    status, err = _run(tmp_path, capsys, argv)
    assert status == 1 and expected in err


SEVERITY = lognormal_from_mean_cv(5_000.0, 3.0)


@pytest.mark.parametrize("kwargs, name", [
    ({"claimant_rate": -0.5}, "claimant_rate"), ({"claimant_rate": np.nan}, "claimant_rate"),
    ({"members": np.nan}, "members"), ({"members": np.inf}, "members"), ({"annual_trend": np.nan}, "annual_trend"),
    ({"trend_months": np.inf}, "trend_months"), ({"attachment": np.nan}, "attachment"),
])
def test_specific_premium_rejects_bad_settings(kwargs, name):
    args = {"members": 100, "attachment": 100_000.0, "claimant_rate": 0.5} | kwargs
    with pytest.raises(StopLossError, match=name):
        specific_premium(SEVERITY, args.pop("members"), args.pop("attachment"), **args)


@pytest.mark.parametrize("kwargs, name", [
    ({"claimant_rate": -0.5}, "claimant_rate"), ({"claimant_rate": np.nan}, "claimant_rate"),
    ({"attachment_pct": np.nan}, "attachment_pct"), ({"specific_attachment": np.nan}, "specific_attachment"),
    ({"annual_trend": np.nan}, "annual_trend"), ({"lasers": [10.0]}, "laser"),
])
def test_aggregate_premium_rejects_bad_settings(kwargs, name):
    args = {"claimant_rate": 0.5, "specific_attachment": 100_000.0} | kwargs
    with pytest.raises(StopLossError, match=name):
        aggregate_premium(SEVERITY, 100, args.pop("attachment_pct", 1.25), **args)


@pytest.mark.parametrize("exposure, k", [(100, np.nan), (np.nan, 10.0), (np.inf, 10.0), (-1, 10.0), (100, -1.0)])
def test_credibility_weight_rejects_nan_and_negative(exposure, k):
    with pytest.raises(StopLossError, match="credibility_weight"):
        credibility_weight(exposure, k)


@settings(max_examples=20, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4), st.none()))
def test_any_claimant_rate_prices_or_is_named(value):
    groups = sample_groups().head(1).astype({"claimant_rate": object})
    groups.loc[0, "claimant_rate"] = value
    try:
        table = price_groups(groups, threads=1, groups_source="groups.csv")
    except StopLossError as exc:
        assert "claimant_rate" in str(exc) and "groups.csv" in str(exc)
    else:
        assert np.isfinite(table["specific_expected"]).all() and (table["aggregate_expected"] >= 0).all()


def _simulated(members, q, attachments, pct, years=200_000, seed=7):
    """Per-year specific payout and aggregate payout at ``pct`` of mean retained, member by member."""
    rng = np.random.default_rng(seed)
    s2 = np.log1p(9.0)
    mu = np.log(5_000.0) - s2 / 2
    cost = np.exp(mu + np.sqrt(s2) * rng.standard_normal((years, members))) * (rng.random((years, members)) < q)
    retained = np.minimum(cost, attachments).sum(axis=1)
    specific = np.maximum(cost - attachments, 0.0).sum(axis=1)
    return specific, retained


def test_lasers_in_both_premiums_against_member_by_member_simulation():
    members, q, lasers = 50, 0.5, [300_000.0, 150_000.0]
    attachments = np.r_[np.full(members - len(lasers), 100_000.0), lasers]
    specific, retained = _simulated(members, q, attachments, 1.25)
    se = lambda x: x.std() / np.sqrt(x.size)  # noqa: E731
    spec = specific_premium(SEVERITY, members, 100_000.0, claimant_rate=q,
                            lasers={f"{SECRET}{i}": a for i, a in enumerate(lasers)})
    assert abs(spec.expected - specific.mean()) < 4 * se(specific)
    for pct in (1.25, 2.0):
        agg = aggregate_premium(SEVERITY, members, pct, claimant_rate=q, specific_attachment=100_000.0, lasers=lasers,
                                max_buckets=2**14)
        assert abs(agg.expected_retained - retained.mean()) < 4 * se(retained)
        payout = np.maximum(retained - agg.attachment, 0.0)
        assert abs(agg.expected - payout.mean()) < 4 * se(payout)
    without = aggregate_premium(SEVERITY, members, 1.25, claimant_rate=q, specific_attachment=100_000.0,
                                max_buckets=2**14)
    assert agg.expected_retained > without.expected_retained


def test_aggregate_attachment_beyond_the_window_is_not_clipped():
    kwargs = dict(claimant_rate=0.5, specific_attachment=100_000.0, max_buckets=2**14)
    near, far = (aggregate_premium(SEVERITY, 50, pct, **kwargs) for pct in (6.0, 10.0))
    assert far.attachment > near.retained.x[-1]
    assert far.retained.x[-1] >= far.attachment
    assert 0.0 <= far.expected < near.expected
