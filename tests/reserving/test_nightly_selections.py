"""The nightly job with ``--selections``: applied, stored in the history database, shown in the report.

Checks: the selections table read back from the history database rebuilds the same
:class:`Selections`; one selected factor for one segment changes that segment's chain-ladder IBNR
for the affected incurred months only (every other estimate bitwise equal to the run without
selections); the report shows the indicated and the selected factor with who and why; a run
without selections stores none and reports none. Per-origin ``method`` and ``prior`` selections:
each changes exactly its own incurred month (and the totals), equal to the method's closed form
(Bornhuetter-Ferguson ``paid + prior (1 - c)``, Benktander-Hovinen ``paid + q (paid + q prior)``, the
expected loss ratio ``prior``, Cape Cod against :func:`reserving.cape_cod`) to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reserving import ReservingError, Selections, calendar_year_test, cape_cod, chain_ladder
from reserving.nightly import run_nightly_job
from reserving.cli import main
from reserving.nightly.history import load_runs, load_table
from reserving.nightly.ranges import simulate_ranges
from reserving.nightly.selection import select
from reserving.nightly.synthetic import generate_claims

#: The job's fixture develops the claims as paid, so its estimates are those of ``chain_ladder(run.triangles)``
#: (large claims developed apart: tests/reserving/test_large_claims.py).
PAID = "in-triangle"


@pytest.fixture(scope="module")
def claims():
    return generate_claims(n_consortia=2, services=["emergency"], n_months=12, as_of="2024-06-30",
                           lines_per_cell=20, seed=11)


def test_selections_applied_stored_and_reported(tmp_path, claims):
    path = tmp_path / "selections.csv"
    pd.DataFrame({"segment": ["C001/emergency", ""], "item": ["factor", "prior"], "development": ["3", ""],
                  "origin": ["", "2024-06"], "value": ["1.05", "250"], "who": ["A. Actuary", "B. Finance"],
                  "why": ["benchmark: slower payment runs in the quarter", "budget PMPM"]}).to_csv(path, index=False)
    base = run_nightly_job(claims.lines, tmp_path / "base", n_sims=50, progress=False)
    run = run_nightly_job(claims.lines, tmp_path / "sel", n_sims=50, progress=False, selections=path)

    stored = load_table(run.outputs["db"], run.run_id, "selections")
    assert Selections.from_frame(stored).table.sort_values(["item"]).reset_index(drop=True).equals(
        Selections.read(path).table.sort_values(["item"]).reset_index(drop=True))
    assert load_table(base.outputs["db"], base.run_id, "selections").empty
    assert run.parameters["selections"] == str(path) and base.parameters["selections"] is None

    key = ["consortium", "service", "origin"]
    a, b = base.estimates.set_index(key), run.estimates.set_index(key)
    # unchanged means equal to the last bits or so: which compiled specialisation (array layout) a
    # kernel runs under depends on what ran before in the process, and moves a sum by an ulp
    differs = pd.Series(~np.isclose(a["ibnr_chain_ladder"], b["ibnr_chain_ladder"], rtol=1e-12, atol=1e-9), a.index)
    changed = differs[differs].index
    assert set(changed.get_level_values("consortium")) == {"C001"}
    months = pd.period_range("2024-01", "2024-06", freq="M")
    ages = {m.to_timestamp(): (pd.Period("2024-06", "M") - m).n + 1 for m in months}
    assert all(ages.get(pd.Timestamp(o), 99) <= 3 for o in changed.get_level_values("origin"))
    assert len(changed) >= 1

    factors = run.selected_factors
    assert factors[["segment", "development", "selected", "who"]].values.tolist() == [
        ["C001/emergency", 3, 1.05, "A. Actuary"]]
    html = run.outputs["report"].read_text()
    assert "Development factors: indicated and selected" in html and "slower payment runs" in html
    assert "The actuary&#x27;s selections" in html or "The actuary's selections" in html
    assert "actuary" not in base.outputs["report"].read_text().lower()
    tests = run.assumption_tests
    assert len(tests) == run.triangles.n_segments and "Chain-ladder assumptions" in html
    assert tests["cy_z"].tolist() == calendar_year_test(run.triangles).summary["z"].tolist()


def test_cli_takes_selections_and_names_a_bad_file(tmp_path, claims, capsys):
    lines = tmp_path / "claims.csv"
    claims.lines.to_csv(lines, index=False)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"item": ["factor"], "development": ["3"], "value": ["1.1"], "who": ["A"], "why": [""]}).to_csv(
        bad, index=False)
    code = main(["nightly", "--claims", str(lines), "--out", str(tmp_path / "o"), "--sims", "20", "--quiet",
                 "--selections", str(bad)])
    assert code == 1
    assert "bad.csv, line 2, column 'why'" in capsys.readouterr().err
    assert not (tmp_path / "o" / "report.html").exists()


@pytest.fixture(scope="module")
def reserved(tmp_path_factory, claims):
    run = run_nightly_job(claims.lines, tmp_path_factory.mktemp("base"), n_sims=50, progress=False,
                          members=claims.members, budget=claims.budget, large_claims=PAID)
    return run, chain_ladder(run.triangles)


def _choices(*rows):
    return Selections.from_frame(pd.DataFrame(rows, columns=["segment", "item", "origin", "value", "who", "why"]))


@pytest.mark.parametrize("name", ["chain_ladder", "bf", "benktander", "elr", "cape_cod"])
@pytest.mark.parametrize("with_members", [True, False])
def test_a_selected_method_changes_that_month_only_and_equals_its_closed_form(reserved, claims, name, with_members):
    run, cl = reserved
    tri = run.triangles
    members = claims.members if with_members else None
    base = select(tri, cl, claims.budget, members, method="blend", threshold=0.75)
    s, i = 1, tri.n_origins - 1   # C002/emergency, the latest month: 29% complete, blended
    month = str(tri.origins[i])
    rows = [["C002/emergency", "method", month, name, "A. Actuary", "new provider contract"]]
    if name != "cape_cod":
        rows.append(["C002/emergency", "prior", month, "0.9", "B. Finance", "budget revised"])
    res = select(tri, cl, claims.budget, members, method="blend", threshold=0.75, selections=_choices(*rows))
    changed = res.bf.ultimate != base.bf.ultimate
    assert np.argwhere(changed).tolist() == [[s, i]]
    np.testing.assert_array_equal(res.bf.ultimate[~changed], base.bf.ultimate[~changed])
    paid, c = tri.latest[s, i], 1.0 / cl.cdf[s, i]
    mm = _member_months(claims.members, "C002", tri.origins)
    exposure = mm if with_members else base.prior[s]
    prior = 0.9 * exposure[i]
    if name == "cape_cod":
        prior = cape_cod(tri[s], exposure=exposure).loss_ratio[0, i] * exposure[i]
    expected = {"chain_ladder": cl.ultimate[s, i], "bf": paid + prior * (1 - c),
                "benktander": paid + (1 - c) * (paid + (1 - c) * prior), "elr": prior,
                "cape_cod": paid + prior * (1 - c)}[name]
    assert res.bf.ultimate[s, i] == pytest.approx(expected, rel=1e-12)
    assert res.bf.ibnr[s, i] == pytest.approx(expected - paid, rel=1e-12)
    table = res.overrides
    assert table[["segment", "origin", "indicated_method", "selected_method"]].values.tolist() == [
        ["C002/emergency", month, base.bf.method_used[s, i], {"elr": "expected_loss_ratio"}.get(name, name)]]
    assert table["selected_ultimate"].iloc[0] == res.bf.ultimate[s, i]
    assert table["indicated_ultimate"].iloc[0] == base.bf.ultimate[s, i]
    assert "A. Actuary" in table["who"].iloc[0]


def _member_months(members, consortium, origins):
    m = members[members["consortium"].astype(str) == consortium]
    return m.groupby(pd.PeriodIndex(m["month"].astype(str), freq="M"))["members"].sum().reindex(origins).to_numpy(float)


def test_an_expected_loss_ratio_on_a_complete_month_is_refused_with_its_line(tmp_path, reserved, claims):
    run, cl = reserved
    tri = run.triangles
    path = tmp_path / "sel.csv"
    pd.DataFrame({"segment": ["C001/emergency"], "item": ["method"], "origin": [str(tri.origins[0])],
                  "value": ["elr"], "who": ["A"], "why": ["x"]}).to_csv(path, index=False)
    assert cl.cdf[0, 0] == 1.0
    with pytest.raises(ReservingError, match=r"sel.csv, line 2, column 'value'.*complete by the pattern"):
        select(tri, cl, claims.budget, claims.members, method="blend", threshold=0.75,
               selections=Selections.read(path))


def test_nightly_job_applies_reports_and_stores_origin_selections(tmp_path, reserved, claims):
    base, _ = reserved
    tri = base.triangles
    latest, before = str(tri.origins[-1]), str(tri.origins[-2])
    path = tmp_path / "origins.csv"
    pd.DataFrame({"segment": ["C001/emergency", "C002/emergency", "C002/emergency"],
                  "item": ["method", "method", "prior"], "origin": [latest, before, before],
                  "value": ["benktander", "bf", "0.8"], "who": ["A. Actuary", "B. Finance", "B. Finance"],
                  "why": ["thin month", "provider change", "revised budget"]}).to_csv(path, index=False)
    run = run_nightly_job(claims.lines, tmp_path / "sel", n_sims=50, progress=False, members=claims.members,
                          budget=claims.budget, selections=path, large_claims=PAID)
    key = ["consortium", "service", "origin"]
    a, b = base.estimates.set_index(key), run.estimates.set_index(key)
    # unchanged: equal to an ulp or so (the compiled specialisation a kernel runs under depends on what
    # ran before in the process, see above); the changed months move by far more
    columns = ["paid", "ibnr", "ultimate", "prior"]
    close = pd.DataFrame(np.isclose(a[columns], b[columns], rtol=1e-12, atol=1e-9), a.index, columns)
    differs = ~close.all(axis=1) | (a["method"] != b["method"])
    changed = sorted((c, str(pd.Period(o, "M"))) for c, _, o in differs[differs].index)
    assert changed == [("C001", latest), ("C002", before)]
    assert (np.abs(b.loc[differs, "ibnr"] - a.loc[differs, "ibnr"]) > 1.0).all()
    seg = run.segment_totals.set_index(["consortium", "service"])["ibnr"] - \
        base.segment_totals.set_index(["consortium", "service"])["ibnr"]
    np.testing.assert_allclose(seg.to_numpy(), (b["ibnr"] - a["ibnr"]).groupby(level=[0, 1]).sum().to_numpy(),
                               rtol=1e-9, atol=1e-6)
    assert b.loc[("C001", "emergency", pd.Period(latest, "M").to_timestamp()), "method"] == "benktander"
    origins = run.selected_origins
    assert origins[["segment", "origin", "selected_method"]].values.tolist() == [
        ["C001/emergency", latest, "benktander"], ["C002/emergency", before, "bf"]]
    assert origins["who"].tolist() == ["A. Actuary", "B. Finance"]
    html = run.outputs["report"].read_text()
    assert "Incurred months: method and prior indicated and selected" in html and "provider change" in html
    assert "Incurred months" not in base.outputs["report"].read_text()
    stored = load_table(run.outputs["db"], run.run_id, "selections")
    assert Selections.from_frame(stored).table.equals(Selections.read(path).table)


def test_a_selected_prior_alone_goes_through_the_jobs_blend(reserved, claims):
    run, cl = reserved
    tri = run.triangles
    s, i = 0, tri.n_origins - 1
    sel = _choices(["C001/emergency", "prior", str(tri.origins[i]), "1.1", "B. Finance", "budget raised"])
    base = select(tri, cl, claims.budget, None, method="blend", threshold=0.75)
    res = select(tri, cl, claims.budget, None, method="blend", threshold=0.75, selections=sel)
    assert np.argwhere(res.bf.ultimate != base.bf.ultimate).tolist() == [[s, i]]
    w, c, paid = base.bf.weight_cl[s, i], 1.0 / cl.cdf[s, i], tri.latest[s, i]
    assert 0 < w < 1 and res.bf.weight_cl[s, i] == w and res.bf.method_used[s, i] == "blend"
    prior = 1.1 * base.prior[s, i]                 # a ratio to the job's (budget) prior without members
    expected = w * cl.ultimate[s, i] + (1 - w) * (paid + prior * (1 - c))
    assert res.bf.ultimate[s, i] == pytest.approx(expected, rel=1e-12)
    assert res.prior[s, i] == prior and res.overrides["selected_prior"].tolist() == [prior]


def test_a_selected_method_leaves_every_other_months_range_unchanged(tmp_path, reserved, claims):
    """Issue #16: one month's method selected (a blended month set to the chain ladder, so it no longer
    draws the prior's error) changes that month's 75th and 95th percentiles and no other month's of any
    segment: each incurred month draws its prior, process and large claims from a stream of its own
    (:mod:`reserving._stochastic_bf_kernels`); totals over months legitimately change. Bit for bit
    where the simulation gets the same triangles and chain ladder (:func:`simulate_ranges`); through
    the whole job to 1e-12 relative, as the chain-ladder estimates above, since a run with selections
    computes its chain ladder under other compiled specialisations (ulps); the selected month moves
    by far more (its prior's error gone)."""
    base, cl = reserved
    tri = base.triangles
    indicated = select(tri, cl, claims.budget, claims.members, method="blend", threshold=0.75)
    i = int(np.flatnonzero(indicated.bf.weight_cl[0] < 1)[0])   # C001/emergency's oldest month blending a prior
    assert i < tri.n_origins - 1                  # later months, whose draws a shared stream would shift
    rows = ["C001/emergency", "method", str(tri.origins[i]), "chain_ladder", "A. Actuary", "trust the pattern"]
    chosen = select(tri, cl, claims.budget, claims.members, method="blend", threshold=0.75, selections=_choices(rows))
    options = dict(threshold=0.75, average="volume", n_periods=None, n_sims=200, seed=3, chunk_mb=400, progress=False)
    q_base, q_chosen = (simulate_ranges(tri, cl, sel, np.ones(tri.n_origins, bool), [], **options).segment_q
                        for sel in (indicated, chosen))
    other = np.ones(tri.shape[:2], bool)
    other[0, i] = False
    np.testing.assert_array_equal(q_chosen[:, other], q_base[:, other])
    assert (q_chosen[:, 0, i] != q_base[:, 0, i]).all()

    path = tmp_path / "method.csv"
    pd.DataFrame([rows], columns=["segment", "item", "origin", "value", "who", "why"]).to_csv(path, index=False)
    run = run_nightly_job(claims.lines, tmp_path / "sel", n_sims=50, progress=False, members=claims.members,
                          budget=claims.budget, selections=path, large_claims=PAID)
    key = ["consortium", "service", "origin"]
    a, b = base.estimates.set_index(key), run.estimates.set_index(key)
    assert a.index.equals(b.index)
    mine = (a.index.get_level_values("consortium") == "C001") & (
        a.index.get_level_values("origin") == tri.origins[i].to_timestamp())
    assert mine.sum() == 1
    for column in ["ibnr_p75", "ibnr_p95"]:
        np.testing.assert_allclose(b.loc[~mine, column], a.loc[~mine, column], rtol=1e-12, atol=1e-9)
        assert abs(b.loc[mine, column].iloc[0] / a.loc[mine, column].iloc[0] - 1) > 1e-3
