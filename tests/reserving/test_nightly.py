"""The nightly job end to end: outputs, isolation of bad segments, history, accuracy against known truth."""

import json

import numpy as np
import pandas as pd
import pytest

from _kit.cli import Parser
from reserving.nightly import run_nightly_job
from reserving.nightly.cli import add_nightly_parser, run_nightly
from reserving.nightly.synthetic import generate_claims

SERVICES = ["acute_inpatient", "emergency", "prescribing"]


def _parse(argv):
    parser = Parser(prog="python -m reserving")
    add_nightly_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_demo_via_cli_writes_every_output_and_no_patient_id_anywhere(tmp_path, capsys):
    out = tmp_path / "out"
    status = run_nightly(_parse(["nightly", "--demo", "--out", str(out), "--sims", "200"]))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    for name in ("estimates.csv", "estimates.parquet", "rejects.csv", "outturn.csv", "summary.json",
                 "report.html", "history.duckdb", "segment_errors.csv"):
        assert (out / name).exists(), name
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    est = pd.read_csv(out / "estimates.csv")
    for col in ("consortium", "service", "origin", "paid", "ibnr", "ultimate", "ibnr_p75", "ibnr_p95"):
        assert col in est.columns
    np.testing.assert_allclose(est["ultimate"], est["paid"] + est["ibnr"], rtol=1e-9)
    open_ = est["ibnr"] > 0
    assert (est.loc[open_, "ibnr_p95"] >= est.loc[open_, "ibnr_p75"]).all()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "estimates.parquet"), est, check_dtype=False)
    rejects = pd.read_csv(out / "rejects.csv")
    assert len(rejects) == 12 and rejects["line"].min() > 1
    assert "simulate [" in captured.err   # progress bar

    from importlib import resources
    lines = pd.read_csv(resources.files("reserving") / "data" / "sample_claims.csv", usecols=["patient_id"])
    patients = set(lines["patient_id"])
    texts = [p.read_bytes().decode("latin-1") for p in out.iterdir()] + [captured.out, captured.err]
    for text in texts:
        found = set(pd.Series(list(set(_tokens(text)))).loc[lambda s: s.isin(patients)])
        assert not found, f"patient ids in an output: {sorted(found)[:3]}"


def _tokens(text):
    import re
    return re.findall(r"PT\d{9}", text)


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        _parse(["nightly", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "--demo" in text and "--budget" in text


def test_a_bad_segment_is_reported_and_the_others_run(tmp_path):
    s = generate_claims(n_consortia=2, services=SERVICES, n_months=18, as_of="2024-06-30", lines_per_cell=30, seed=3)
    lines = s.lines.copy()
    zero = (lines["consortium"] == "C001") & (lines["service"] == "emergency")
    lines.loc[zero, "amount"] = 0.0                          # a segment that never pays anything
    broken = (lines["consortium"] == "C002") & (lines["service"] == "prescribing")
    lines = lines.astype({"incurred_date": object})
    lines.loc[broken, "incurred_date"] = "not a date"        # a segment whose every line is unreadable
    generous = s.budget.assign(budget=10 * s.budget["budget"])  # every consortium would be green
    # the broken segment is known (so named) and its 14% of lines rejected are allowed here
    run = run_nightly_job(lines, tmp_path, n_sims=100, budget=generous, progress=False, max_rejected=0.2,
                          known_segments=s.lines[["consortium", "service"]].drop_duplicates())
    errors = run.segment_errors.set_index(["consortium", "service"])["error"]
    assert set(errors.index) == {("C001", "emergency"), ("C002", "prescribing")}
    # each consortium's totals leave out one service: marked, and not shown green
    assert run.consortium_summary.set_index("consortium")["services_failed"].to_dict() == {"C001": 1, "C002": 1}
    out = run.outturn.summary.set_index("consortium")
    assert out["services_failed"].to_dict() == {"C001": 1, "C002": 1}
    assert (out["prob_overspend"] < 0.2).all() and set(out["flag"]) == {"incomplete"}  # green without the mark
    assert "no payments" in errors[("C001", "emergency")]
    assert "all" in errors[("C002", "prescribing")] and "rejected" in errors[("C002", "prescribing")]
    assert run.triangles.n_segments == 4
    assert len(run.estimates.groupby(["consortium", "service"])) == 4
    assert run.claims.lines_rejected == int(broken.sum())
    assert "Segments that could not be reserved" in run.outputs["report"].read_text()


def test_history_replaces_reruns_and_reports_movements_and_actual_vs_expected(tmp_path):
    s = generate_claims(n_consortia=2, services=SERVICES, n_months=18, as_of="2024-06-30", lines_per_cell=30, seed=5)
    db = tmp_path / "h.duckdb"
    may = s.lines[s.lines["paid_date"] <= "2024-05-31"]
    first = run_nightly_job(may, tmp_path / "may", db=db, as_of="2024-05-31", n_sims=100, progress=False)
    again = run_nightly_job(may, tmp_path / "may", db=db, as_of="2024-05-31", n_sims=100, progress=False)
    june = run_nightly_job(s.lines, tmp_path / "june", db=db, n_sims=100, progress=False)
    from reserving.nightly.history import load_runs
    runs = load_runs(db)
    assert runs["run_id"].tolist() == [again.run_id, june.run_id]
    assert first.run_id not in runs["run_id"].tolist()
    assert june.previous_as_of == pd.Timestamp("2024-05-31")
    # actual = what the lines say was paid in June on months incurred by May (computed here from the lines)
    june_paid = s.lines[(s.lines["paid_date"] > "2024-05-31") & (s.lines["incurred_date"] <= "2024-05-31")]
    actual = june_paid.groupby("consortium")["amount"].sum()
    ave = june.actual_vs_expected.set_index("consortium")
    np.testing.assert_allclose(ave["actual"], actual.reindex(ave.index), rtol=1e-9)
    expected = again.estimates.groupby("consortium")["expected_next"].sum()
    np.testing.assert_allclose(ave["expected"], expected.reindex(ave.index), rtol=1e-9)
    assert 0.5 < ave["ratio"].mean() < 2.0
    assert set(june.movements.columns) >= {"consortium", "ultimate_move", "ibnr_move"}
    report = june.outputs["report"].read_text()
    assert "Actual against expected payments" in report and "Previous run: as at 2024-05-31" in report


def test_trended_pmpm_prior_uses_the_members_of_each_consortium_and_month(tmp_path):
    from reserving.bornhuetter_ferguson import trended_prior

    s = generate_claims(n_consortia=2, services=SERVICES, n_months=18, as_of="2024-06-30", lines_per_cell=30, seed=6)
    run = run_nightly_job(s.lines, tmp_path, n_sims=50, members=s.members, method="bf", progress=False)
    est = run.estimates
    for (cons, svc), g in est.groupby(["consortium", "service"]):
        members = s.members[s.members["consortium"] == cons]["members"].to_numpy(float)
        ult = (g["paid"] + g["ibnr_chain_ladder"]).to_numpy()[None, :]
        expected = trended_prior(ult, g["completion"].to_numpy()[None, :], members[None, :], threshold=0.75)
        np.testing.assert_allclose(g["prior"].to_numpy(), expected[0], rtol=1e-12)
    assert (est["method"] == "bf").all()
    np.testing.assert_allclose(est["ibnr"], est["prior"] * (1 - est["completion"]), rtol=1e-12)


def test_ibnr_accuracy_against_known_truth(tmp_path):
    """Bias and coverage of the default method (BF blend, budget prior, stochastic BF ranges).

    Three generated datasets of 72 segments (12 consortia x 6 services, 36 months, realistic lags,
    large claims; seeds 4, 5, 6), 216 segments together. Coverage: the share of segments whose
    true outstanding total lies at or below the 75th (95th) percentile; a binomial share of 216
    has a standard deviation of 0.029 at 75%, so [0.66, 0.84] is 3 sd; at 95%, >= 0.90 (3 sd is
    0.044). Bias: the total estimated IBNR of the three against their true total, within 15%.
    Large claims make one dataset's total noisy: over 16 datasets (seeds 1-8 before and after the
    engine's random streams became one) a single dataset's bias ran from -14% to +17% (sd about
    8%), so three together have a standard deviation near 4.6% and 15% is about 3 sd.
    """
    svc = ["acute_inpatient", "outpatient", "emergency", "mental_health", "community", "prescribing"]
    frames = []
    for seed in (4, 5, 6):
        s = generate_claims(n_consortia=12, services=svc, n_months=36, lines_per_cell=60, seed=seed)
        run = run_nightly_job(s.lines, tmp_path / str(seed), n_sims=300, seed=1, budget=s.budget, progress=False)
        truth = s.truth.groupby(["consortium", "service"])["ibnr"].sum().rename("truth")
        frames.append(run.segment_totals.set_index(["consortium", "service"]).join(truth))
    seg = pd.concat(frames)
    assert len(seg) == 216
    bias = seg["ibnr"].sum() / seg["truth"].sum() - 1
    assert abs(bias) < 0.15, bias
    cover75 = (seg["truth"] <= seg["ibnr_p75"]).mean()
    cover95 = (seg["truth"] <= seg["ibnr_p95"]).mean()
    assert 0.66 <= cover75 <= 0.84, cover75
    assert cover95 >= 0.90, cover95


def test_ranges_are_percentiles_of_sums_of_the_stochastic_bf_simulations(tmp_path):
    """Every level's percentiles, computed in batches of one consortium (``chunk_mb`` tiny), equal those of
    one explicit call of :func:`reserving.stochastic_bf` on every segment (large claims from the lines by hand),
    summed by hand."""
    from reserving import chain_ladder
    from reserving.nightly.selection import select
    from reserving.stochastic_bf import LargeClaims, odp_scale, prior_error, stochastic_bf

    s = generate_claims(n_consortia=2, services=SERVICES, n_months=18, as_of="2024-06-30", lines_per_cell=30, seed=9)
    run = run_nightly_job(s.lines, tmp_path, n_sims=400, seed=3, budget=s.budget, chunk_mb=1e-6, progress=False,
                          large_claims="in-triangle")      # the claims as paid (the separated estimate: test_large_claims)
    tri = run.triangles
    cl = chain_ladder(tri)
    sel = select(tri, cl, s.budget, None, method="blend", threshold=0.75)
    services = np.asarray(tri.segments.get_level_values(1))
    phi = odp_scale(tri)
    phi = np.array([phi[services == v].mean() for v in services])
    err = prior_error(cl.ultimate, sel.prior, sel.completion >= 0.75, tri.segments.get_level_values(0), services,
                      phi)
    assert run.range_assumptions["prior_cv"] == pytest.approx(err.cv, abs=1e-6)
    weight = np.where(np.isfinite(sel.bf.weight_cl), sel.bf.weight_cl, 1.0)
    names = list(dict.fromkeys(services))                  # large claims by hand: lines above the 99.5% quantile
    above = [g["amount"][g["amount"] > np.quantile(g["amount"], 0.995)] for g in (s.lines[s.lines["service"] == v]
                                                                              for v in names)]
    share = np.array([a.sum() / s.lines.loc[s.lines["service"] == v, "amount"].sum() for a, v in zip(above, names)])
    kind = pd.Index(names).get_indexer(services)
    large = LargeClaims(share[kind], tuple(np.sort(a.to_numpy()) for a in above), kind)
    samples = stochastic_bf(tri, sel.prior, weight, prior_error=err, scale=phi, large=large, n_sims=400,
                            seed=3).samples
    p75 = np.quantile(samples, 0.75, axis=2)
    np.testing.assert_allclose(run.estimates["ibnr_p75"].to_numpy(), p75.ravel(), rtol=1e-9, atol=1e-6)
    totals = samples.sum(axis=1)
    np.testing.assert_allclose(run.segment_totals["ibnr_p95"], np.quantile(totals, 0.95, axis=1), rtol=1e-9)
    np.testing.assert_allclose(run.segment_totals["ibnr_sd"], totals.std(axis=1, ddof=1), rtol=1e-9)
    c001 = samples[:3].sum(axis=0).T                                        # (n_sims, I)
    cons = run.consortium_summary.set_index("consortium")
    assert cons.loc["C001", "ibnr_p75"] == pytest.approx(np.quantile(c001.sum(axis=1), 0.75), rel=1e-9)
    assert cons.loc["C001", "ibnr_sd"] == pytest.approx(c001.sum(axis=1).std(ddof=1), rel=1e-9)
    national = totals.sum(axis=0)
    assert run.national_total["ibnr_p95"] == pytest.approx(np.quantile(national, 0.95), rel=1e-9)
    assert run.national_total["ibnr_sd"] == pytest.approx(national.std(ddof=1), rel=1e-9)
    open_ = run.estimates["ibnr"] > 0
    assert (run.estimates.loc[open_, "ibnr_p95"] > run.estimates.loc[open_, "ibnr_p75"]).all()
    months = run.outturn.months
    in_period = np.asarray(run.triangles.origins.isin(months))
    paid = run.estimates[run.estimates["consortium"] == "C001"]
    paid = paid[pd.PeriodIndex(paid["origin"], freq="M").isin(months)]["paid"].sum()
    budget = s.budget[(s.budget["consortium"] == "C001") & s.budget["month"].isin(months)]["budget"].sum()
    direct = np.mean(paid + c001[:, in_period].sum(axis=1) > budget)
    assert run.outturn.summary.set_index("consortium").loc["C001", "prob_overspend"] == pytest.approx(direct, abs=1e-12)


def test_a_batch_whose_every_segment_fails_the_simulation_does_not_stop_the_run(tmp_path, monkeypatch):
    """With a tiny chunk_mb each consortium is a batch of its own; C002's whole batch fails."""
    from reserving.nightly import ranges as nightly   # where the job calls the simulation

    s = generate_claims(n_consortia=3, services=SERVICES, n_months=18, as_of="2024-06-30", lines_per_cell=30, seed=3)
    clean = run_nightly_job(s.lines, tmp_path / "clean", n_sims=100, seed=2, chunk_mb=1e-6, budget=s.budget,
                            progress=False)
    real = nightly.stochastic_bf

    def failing_for_c002(tri, *args, **kwargs):
        if "C002" in tri.segments.get_level_values(0):
            raise ValueError("simulation broke")
        return real(tri, *args, **kwargs)

    monkeypatch.setattr(nightly, "stochastic_bf", failing_for_c002)
    run = run_nightly_job(s.lines, tmp_path / "failing", n_sims=100, seed=2, chunk_mb=1e-6, budget=s.budget,
                          progress=False)
    errors = run.segment_errors.set_index(["consortium", "service"])["error"]
    assert sorted(errors.index) == [("C002", svc) for svc in sorted(SERVICES)]
    assert errors.str.startswith("simulate: simulation broke").all()
    assert set(run.estimates["consortium"]) == {"C001", "C003"}
    # the surviving consortia are exactly as in a run where nothing failed
    expected = clean.estimates[clean.estimates["consortium"] != "C002"].reset_index(drop=True)
    pd.testing.assert_frame_equal(run.estimates, expected)
    # C002 keeps a row, marked, with no figures: its IBNR is missing, not zero
    summary = run.consortium_summary.set_index("consortium")
    assert summary.index.tolist() == ["C001", "C003", "C002"]
    assert summary["services_failed"].tolist() == [0, 0, 3] and summary.loc["C002", "services"] == 0
    assert np.isnan(summary.loc["C002", ["paid", "ibnr", "ultimate", "ibnr_p75"]].astype(float)).all()
    out = run.outturn.summary.set_index("consortium")
    assert out.loc["C002", "flag"] == "incomplete" and np.isnan(out.loc["C002", "outturn"])
    months = run.outturn.months.astype(str)
    budget = s.budget[(s.budget["consortium"] == "C002") & s.budget["month"].astype(str).isin(months)]["budget"].sum()
    assert out.loc["C002", "budget"] == pytest.approx(budget)
    assert (out.loc[["C001", "C003"], "services_failed"] == 0).all() and out.loc["C001", "flag"] != "incomplete"
    assert run.outturn.totals["incomplete"] == 1
    summary_json = json.loads((tmp_path / "failing" / "summary.json").read_text())
    assert {"consortium": "C002", "flag": "incomplete", "services_failed": 3} in summary_json["at_risk"]
    report = run.outputs["report"].read_text()
    assert "C002: incomplete" in report and "3 service line(s) could not be reserved" in report

    def always_failing(tri, *args, **kwargs):
        raise ValueError("simulation broke")

    monkeypatch.setattr(nightly, "stochastic_bf", always_failing)
    with pytest.raises(RuntimeError, match="the simulation failed for every segment"):
        run_nightly_job(s.lines, tmp_path / "none", n_sims=100, chunk_mb=1e-6, progress=False)


def test_default_as_of_is_the_last_complete_month_and_is_logged(tmp_path, capsys):
    s = generate_claims(n_consortia=1, services=SERVICES, n_months=18, as_of="2024-06-30", lines_per_cell=30, seed=7)
    lines = s.lines[s.lines["paid_date"] <= "2024-06-20"]
    run = run_nightly_job(lines, tmp_path, n_sims=50, today="2024-06-22")
    assert run.as_of == pd.Timestamp("2024-05-31")
    assert run.claims.rejects["reason"].str.contains("is after the as-of date 2024-05-31").all()
    assert "as-of date 2024-05-31: the last complete month end" in capsys.readouterr().err


def test_chain_ladder_diagnostics_are_written(tmp_path):
    from reserving.mack import mack

    s = generate_claims(n_consortia=2, services=SERVICES, n_months=18, as_of="2024-06-30", lines_per_cell=30, seed=3)
    lines = s.lines.copy()
    sparse = (lines["consortium"] == "C001") & (lines["service"] == "emergency")
    inc, paid = pd.to_datetime(lines["incurred_date"]), pd.to_datetime(lines["paid_date"])
    same_month = (inc.dt.year == paid.dt.year) & (inc.dt.month == paid.dt.month)
    lines = lines[~(sparse & same_month)]             # C001 emergency pays nothing in the incurred month
    run = run_nightly_job(lines, tmp_path, n_sims=50, progress=False)
    written = pd.read_csv(tmp_path / "diagnostics.csv", dtype={"consortium": str, "service": str})
    assert list(written.columns) == ["consortium", "service", "development", "issue", "detail"]
    ref = mack(run.triangles).diagnostics
    assert len(written) == len(ref) > 0
    assert list(map(tuple, written[["consortium", "service"]].to_numpy())) == list(ref.index)
    assert written["issue"].tolist() == ref["issue"].tolist()
    assert written["detail"].tolist() == ref["detail"].tolist()
    assert ("C001", "emergency") in set(ref.index)
    assert "no_link_ratio" in set(written["issue"])
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    report = run.outputs["report"].read_text()
    assert f"Chain-ladder diagnostics (assumptions where data were missing): {len(ref)}" in report
    assert 'id="diagnostics"' in report


def test_a_failed_run_publishes_nothing_and_leaves_the_previous_outputs(tmp_path, monkeypatch):
    from reserving.nightly import ranges
    from reserving.nightly.history import load_runs

    s = generate_claims(n_consortia=1, services=SERVICES, n_months=12, as_of="2024-06-30", lines_per_cell=20, seed=8)
    first = run_nightly_job(s.lines, tmp_path, n_sims=50, progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(tri, *args, **kwargs):
        raise ValueError("simulation broke")

    monkeypatch.setattr(ranges, "stochastic_bf", broken)
    with pytest.raises(RuntimeError, match="the simulation failed for every segment"):
        run_nightly_job(s.lines.iloc[:-50], tmp_path, n_sims=50, progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before     # no staging folder left either
    assert load_runs(tmp_path / "history.duckdb")["run_id"].tolist() == [first.run_id]


def test_the_progress_bar_counts_consortia_after_a_compile_notice(tmp_path, capsys, monkeypatch):
    from reserving import _bootstrap_kernels, _kernels, _stochastic_bf_kernels
    from reserving.nightly import job

    notices = []
    monkeypatch.setattr(job, "compile_notice", lambda what, seconds, *modules, enabled: notices.append(modules))
    s = generate_claims(n_consortia=3, services=SERVICES, n_months=12, as_of="2024-06-30", lines_per_cell=20, seed=8)
    run_nightly_job(s.lines, tmp_path, n_sims=50, chunk_mb=1e-6)
    assert "simulate [##############################] 3/3" in capsys.readouterr().err
    assert notices == [(_kernels, _bootstrap_kernels, _stochastic_bf_kernels)]
