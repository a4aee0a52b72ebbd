"""Coverage of the nightly ranges against known truth, at segment, consortium and national level.

40 generated datasets (:func:`reserving.nightly.synthetic.generate_claims`, seeds 1-40; 6 consortia x
3 service lines x 36 months; budget prior; the job's defaults: blend at 75% completion,
volume-weighted factors, shared prior shocks), each reserved and simulated (300 simulations) as the
nightly job does. Coverage is the share of cases whose true outstanding total is at or below the
75th (95th) percentile: 720 segment totals, 240 consortium totals, 40 national totals, and the
720 newest months (nothing or little paid; the old ranges collapsed there).

The estimate and ranges here are the nightly job's defaults. Large claims are developed apart
(:mod:`reserving.nightly.large_claims`): each line capped at its service's 99.5% quantile, the
capped triangles grossed up by the service's excess share and developed, the ranges simulated on
them with the excess still to come as a compound Poisson sum of the service's excess amounts. With
``large_claims="in-triangle"`` the claims are developed as paid, the large claims still to come are
a compound Poisson sum of the service's large amounts and the chain ladder's paid to date has its
large claims redrawn in each simulation (:mod:`reserving._stochastic_bf_kernels`, step 3). Either
way the rest has ODP error at the triangles' Pearson scale and the pattern's error is the pseudo
estimates' reflected about the data's estimate (the basic bootstrap). Measured, seeds 1-40 here
and 1-400 in ``benchmarks/bench_ranges.py`` (300 simulations):

=============  ============  ============  ============  ============  ===================  ===============
level          separate      separate      in-triangle   in-triangle   in-triangle, no      aim (issue 13)
               (default),    (default),    seeds 1-400   seeds 1-40    redraw of the paid,
               seeds 1-400   seeds 1-40                                seeds 1-200
=============  ============  ============  ============  ============  ===================  ===============
segment        75.7%, 94.0%  75.0%, 94.0%  76.2%, 94.9%  74.3%, 95.0%  73.4%, 94.5%         72-78%, 93-97%
consortium     73.0%, 93.5%  68.8%, 92.9%  74.0%, 94.3%  69.2%, 93.3%  71.6%, 94.0%         72-78%, 93-97%
national       77.5%, 93.3%  75.0%, 90.0%  79.3%, 94.3%  75.0%, 92.5%  77.0%, 93.5%         72-78%, 93-97%
newest month   76.3%, 94.1%  77.1%, 94.4%  77.4%, 95.5%  77.1%, 95.6%  75.0%, 95.1%
point bias     +1.6%, +0.9%  -1.9%, -0.2%  +2.2%, +1.5%  -0.7%, +0.9%  +1.3%, +0.7%        within 2%
=============  ============  ============  ============  ============  ===================  ===============

(each cell: share at or below the 75th, the 95th percentile; point bias: the summed estimate
against the summed truth, and against its expectation ``truth.expected_ibnr``). Acute care's
severity has a Pareto tail (alpha 1.8) and dominates every consortium's IBNR. Against the exact
expected outstanding the chain ladder of the claims as paid ran 3% to 5% high in the months it
develops (ages 3 to 36) and its error there had about twice the spread the simulations gave it:
what a month has paid holds the large claims that happened to be paid, most months none (the
estimate's median error -10% to -34%), the odd one a large claim the chain ladder projects, and
the factors are ratios of sums that are mostly below their mean. Redrawing the paid's large claims
in each simulation widened the ranges to match (consortium p75 71.6% to 73.1% over seeds 1-200);
developing the large claims apart removes most of the error instead (the estimate's error sd
against the expectation 11.5% to 5.7% nationally, 30% to 13% per consortium, over 400 datasets) and
its ranges, simulated from the same model, are narrower. Tried and dropped: a prior error with a part shared by a segment's months (its budget
share; no change), resampling each service's residuals pooled over consortia (71.2%), a prior
error centred on its median (67.9%), the small claims' scale from the triangles of lines below the
threshold, the lines' full variance, and taking the large claims' variance out of the prior's
error (each narrower).

Forty datasets leave a binomial standard error of 3% at consortium level (p75) and 7% and 3.4%
nationally (p75, p95), and seeds 1-40 are an unlucky block: the consortium p75 of the ten blocks of
40 runs from 69% to 79% (in-triangle). Over 400 datasets the default meets the aim at every level,
the p95s narrowly (93.3% to 94.0%, standard errors 0.3 to 1.3 points); the point bias is within 2%
against the truth (+1.6%) and against its expectation (+0.9%). Heavy-tailed truth sums fall short
of their expectation in most samples, so the bias against the expectation is the steadier measure.

No cell with positive IBNR has a zero-width range in the 400 datasets (one immaterial cell of
25,920 on seeds 1-40 before the redraw: a few currency units still expected, where more than 95% of
simulations pay nothing more, as a compound Poisson with those severities would).
:func:`test_coverage_meets_the_aim_over_many_datasets` asserts the aim over seeds 1-400 when
``COVERAGE_DATASETS=400`` is set (too slow for every run of the suite);
:func:`test_coverage_meets_the_aim_at_every_level` states it on seeds 1-40 and stays an expected
failure; :func:`test_coverage_is_no_worse_than_measured` guards the measured figures (each bound
about 3 binomial standard deviations below the measured share).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from reserving import chain_ladder
from reserving.nightly.claims import read_claims
from reserving.nightly.large_claims import DEFAULT as DEFAULT_LARGE_CLAIMS
from reserving.nightly.large_claims import as_paid, separate
from reserving.nightly.ranges import simulate_ranges
from reserving.nightly.selection import select
from reserving.nightly.synthetic import generate_claims

SERVICES = ["acute_inpatient", "emergency", "prescribing"]
SEEDS = range(1, 41)


def _one(seed: int, large_claims: str = DEFAULT_LARGE_CLAIMS) -> pd.DataFrame:
    """One dataset reserved as the nightly job does (``run_nightly_job``'s estimate and ranges steps)."""
    s = generate_claims(n_consortia=6, services=SERVICES, n_months=36, seed=seed)
    claims = read_claims(s.lines, as_of=s.as_of)
    tri = claims.triangles
    cl = chain_ladder(tri)
    modelled = (tri, cl, None, claims.large_lines)
    if large_claims == "separate":
        separated = separate(claims.attritional, claims.large_lines)
        developed = chain_ladder(separated.triangles)
        modelled = (separated.triangles, developed, select(separated.triangles, developed, s.budget, None,
                                                           method="blend", threshold=0.75), separated.excess)
        cl = as_paid(developed, tri)
    sel = select(tri, cl, s.budget, None, method="blend", threshold=0.75)
    r = simulate_ranges(modelled[0], modelled[1], modelled[2] or sel, np.ones(tri.n_origins, bool), [],
                        threshold=0.75, average="volume", n_periods=None, n_sims=300, seed=1, chunk_mb=400,
                        large_lines=modelled[3], redraw_paid=large_claims != "separate", progress=False,
                        recentre=sel.bf.ibnr if large_claims == "separate" else None)
    seg = tri.segments
    est = np.nansum(sel.bf.ibnr, axis=1)
    by_seg = s.truth.groupby(["consortium", "service"])[["ibnr", "expected_ibnr"]].sum().reindex(seg)
    newest = s.truth[s.truth["origin"] == tri.origins[-1]].set_index(["consortium", "service"]).reindex(seg)
    cons = np.asarray(seg.get_level_values(0))
    by_cons = s.truth.groupby("consortium")[["ibnr", "expected_ibnr"]].sum().reindex(r.consortia)
    frames = [
        pd.DataFrame({"level": "segment", "truth": by_seg["ibnr"].to_numpy(), "expected": by_seg["expected_ibnr"],
                      "est": est, "p75": r.segment_total_q[0], "p95": r.segment_total_q[1]}),
        pd.DataFrame({"level": "consortium", "truth": by_cons["ibnr"].to_numpy(),
                      "expected": by_cons["expected_ibnr"].to_numpy(),
                      "est": [est[cons == c].sum() for c in r.consortia], "p75": r.consortium_total_q[:, 0],
                      "p95": r.consortium_total_q[:, 1]}),
        pd.DataFrame({"level": ["national"], "truth": [s.truth["ibnr"].sum()],
                      "expected": [s.truth["expected_ibnr"].sum()], "est": [est.sum()],
                      "p75": [r.national_total_q[0]], "p95": [r.national_total_q[1]]}),
        pd.DataFrame({"level": "newest", "truth": newest["ibnr"].to_numpy(), "expected": newest["expected_ibnr"],
                      "est": sel.bf.ibnr[:, -1], "p75": r.segment_q[0, :, -1], "p95": r.segment_q[1, :, -1]}),
    ]
    # a zero-width range counts where a payment is still expected: IBNR at least 1% of the service's process scale
    # (gamma shape >= 0.01); below it more than 95% of simulations pay nothing more, as a compound Poisson would
    phi = pd.Series(r.assumptions["process_scale"]["by_service"])[seg.get_level_values(1)].to_numpy()
    cells = pd.DataFrame({"est": sel.bf.ibnr.ravel(), "width": (r.segment_q[1] - r.segment_q[0]).ravel(),
                          "material": (sel.bf.ibnr >= phi[:, None] / 100).ravel()})
    zero = (cells["est"] > 0) & (cells["width"] <= 0)
    return pd.concat(frames, ignore_index=True), int((zero & cells["material"]).sum()), int(zero.sum())


def coverage_table(seeds, large_claims: str = DEFAULT_LARGE_CLAIMS) -> tuple[pd.DataFrame, pd.Series, int, int]:
    """Over the datasets of ``seeds``: per level the number of cases and the shares at or below p75
    and p95; the point bias (summed estimate against the summed truth, ``truth``, and against its
    expectation, ``expected``); zero-width ranges (material, immaterial). Also run by
    ``benchmarks/bench_ranges.py`` over 400 datasets."""
    runs = [_one(seed, large_claims) for seed in seeds]
    table = pd.concat([t for t, *_ in runs], ignore_index=True)
    g = table.groupby("level")
    shares = pd.DataFrame({"n": g.size(), "p75": g.apply(lambda d: (d.truth <= d.p75).mean()),
                           "p95": g.apply(lambda d: (d.truth <= d.p95).mean())})
    seg = table[table["level"] == "segment"]
    bias = pd.Series({"truth": seg["est"].sum() / seg["truth"].sum() - 1,
                      "expected": seg["est"].sum() / seg["expected"].sum() - 1})
    return shares, bias, sum(z for _, z, _ in runs), sum(z for *_, z in runs)


@pytest.fixture(scope="module")
def coverage():
    return coverage_table(SEEDS)


def test_no_zero_width_range_and_point_bias_within_two_percent(coverage):
    shares, bias, zero_width, zero_width_immaterial = coverage
    assert shares["n"].to_dict() == {"consortium": 240, "national": 40, "newest": 720, "segment": 720}
    assert zero_width == 0
    assert zero_width_immaterial <= 20, zero_width_immaterial      # of 25,920 cells; measured 0
    assert (bias.abs() <= 0.02).all(), bias.to_dict()               # measured -1.9% (truth), -0.2% (expected)


def test_coverage_is_no_worse_than_measured(coverage):
    """Bounds about 3 binomial sd below the measured shares (sd at 75%: 1.6% of 720, 2.8% of 240, 6.8% of 40;
    at 95%: 0.8%, 1.4%, 3.4%)."""
    shares = coverage[0]
    floor = {"segment": (0.68, 0.93), "consortium": (0.61, 0.91), "national": (0.55, 0.82), "newest": (0.70, 0.93)}
    for level, (p75, p95) in floor.items():
        assert shares.loc[level, "p75"] >= p75, (level, shares.loc[level].to_dict())
        assert shares.loc[level, "p95"] >= p95, (level, shares.loc[level].to_dict())
    assert (shares["p75"] <= 0.85).all() and (shares["p95"] <= 0.99).all(), shares   # not wide for safety


@pytest.mark.xfail(strict=True, reason="seeds 1-40: consortium p75 68.8% (aim at least 72%) and national p95 90.0% "
                                       "(4 datasets of 40 above it); over 400 datasets in benchmarks/bench_ranges.py "
                                       "every level meets the aim (module docstring)")
def test_coverage_meets_the_aim_at_every_level(coverage):
    shares = coverage[0]
    for level in ("segment", "consortium", "national"):
        assert 0.72 <= shares.loc[level, "p75"] <= 0.78, (level, shares.loc[level].to_dict())
        assert 0.93 <= shares.loc[level, "p95"] <= 0.97, (level, shares.loc[level].to_dict())


@pytest.mark.skipif(not os.environ.get("COVERAGE_DATASETS"), reason="set COVERAGE_DATASETS=400 to run (about 4 "
                    "minutes on 2 cores; benchmarks/bench_ranges.py measures the same)")
def test_coverage_meets_the_aim_over_many_datasets():
    """The aim of issue 13 over ``COVERAGE_DATASETS`` datasets (seeds 1 to N; 400 measured: segment 75.7%
    / 94.0%, consortium 73.0% / 93.5%, national 77.5% / 93.2%, bias +1.6% against the truth and +0.9%
    against its expectation, no zero-width range): binomial standard errors of 0.5 to 2.2 points, where
    40 datasets leave 3 to 7."""
    shares, bias, zero_width, zero_width_immaterial = coverage_table(range(1, int(os.environ["COVERAGE_DATASETS"]) + 1))
    for level in ("segment", "consortium", "national"):
        assert 0.72 <= shares.loc[level, "p75"] <= 0.78, (level, shares.loc[level].to_dict())
        assert 0.93 <= shares.loc[level, "p95"] <= 0.97, (level, shares.loc[level].to_dict())
    assert (bias.abs() <= 0.02).all(), bias.to_dict()
    assert zero_width == zero_width_immaterial == 0


def test_every_level_is_written_to_files_history_and_report(tmp_path):
    """segments.csv, consortia.csv, summary.json's national and ranges blocks, the history's ranges
    table and the report carry the same figures as the run; ``dependence=False`` is stated and changes
    the national range, not the estimate (on the claims developed as paid: this small sample's
    separated estimate measures no shared shock, so there is nothing to share)."""
    import json

    from reserving.nightly import run_nightly_job
    from reserving.nightly.history import load_table

    s = generate_claims(n_consortia=2, services=SERVICES, n_months=18, as_of="2024-06-30", lines_per_cell=30, seed=9)
    run = run_nightly_job(s.lines, tmp_path / "on", n_sims=200, seed=3, budget=s.budget, progress=False)
    cons = pd.read_csv(run.outputs["consortia"])
    for col in ("consortium", "paid", "ibnr", "ibnr_sd", "ibnr_p75", "ibnr_p95"):
        assert col in cons.columns
    np.testing.assert_allclose(cons["ibnr_p95"], run.consortium_summary["ibnr_p95"], rtol=1e-12)
    seg = pd.read_csv(run.outputs["segments"])
    np.testing.assert_allclose(seg["ibnr_sd"], run.segment_totals["ibnr_sd"], rtol=1e-12)
    summary = json.loads(run.outputs["summary"].read_text())
    nat = summary["national"]
    assert set(nat) == {"paid", "ibnr", "ibnr_sd", "ibnr_p75", "ibnr_p95"}
    assert nat["ibnr"] == pytest.approx(run.estimates["ibnr"].sum()) and nat["ibnr"] < nat["ibnr_p75"] < nat["ibnr_p95"]
    assert summary["ranges"]["prior_cv"] > 0 and summary["ranges"]["dependence"].startswith("shared")
    assert summary["ranges"]["process_scale"]["from"] == "per service, the triangles' Pearson scale"   # job default
    large = summary["ranges"]["large_claims"]                                                         # job default
    assert large["from"].startswith("the excess of lines over the 99.5% quantile") and set(large["by_service"]) == set(
        SERVICES)
    stored = load_table(run.outputs["db"], run.run_id, "ranges")
    assert stored["level"].value_counts().to_dict() == {"segment": 6, "consortium": 2, "national": 1}
    national = stored[stored["level"] == "national"].iloc[0]
    assert national["ibnr_p95"] == pytest.approx(nat["ibnr_p95"])
    assert national["ibnr_sd"] == pytest.approx(nat["ibnr_sd"])
    report = run.outputs["report"].read_text()
    assert "IBNR, std. dev." in report and "coefficient of variation" in report

    # the dependence needs shared shocks: this small sample's separated estimate measures none, the claims as paid do
    on, off = (run_nightly_job(s.lines, tmp_path / f"paid{dependence}", n_sims=200, seed=3, budget=s.budget,
                               dependence=dependence, large_claims="in-triangle", progress=False)
               for dependence in (True, False))
    assert on.range_assumptions["prior_log_sd"]["consortium"] > 0
    assert off.range_assumptions["dependence"].startswith("none")
    assert off.national_total["ibnr"] == pytest.approx(on.national_total["ibnr"])
    assert off.national_total["ibnr_sd"] != pytest.approx(on.national_total["ibnr_sd"], rel=1e-6)


def test_process_scale_is_the_larger_of_pearson_and_the_claim_lines():
    """The scale used per service against a reference from the generated lines themselves
    (``sum x^2 / sum x`` over the service's lines, pandas) and the mean Pearson scale of its triangles."""
    from reserving.stochastic_bf import odp_scale

    s = generate_claims(n_consortia=3, services=SERVICES, n_months=24, as_of="2024-12-31", seed=2)
    claims = read_claims(s.lines, as_of=s.as_of)
    tri = claims.triangles
    cl = chain_ladder(tri)
    sel = select(tri, cl, s.budget, None, method="blend", threshold=0.75)
    kwargs = dict(threshold=0.75, average="volume", n_periods=None, n_sims=50, seed=1, chunk_mb=400, progress=False)
    used = simulate_ranges(tri, cl, sel, np.ones(tri.n_origins, bool), [], line_moments=claims.line_moments,
                           **kwargs).assumptions["process_scale"]["by_service"]
    pearson = pd.Series(odp_scale(tri), index=tri.segments.get_level_values(1)).groupby(level=0).mean()
    x = s.lines.assign(sq=s.lines["amount"] ** 2).groupby("service")[["amount", "sq"]].sum()
    lines = x["sq"] / x["amount"]
    assert (lines > 1.5 * pearson).any()                   # the lines see more than the triangles here
    for svc in SERVICES:
        assert used[svc] == pytest.approx(max(lines[svc], pearson[svc]), abs=0.005), svc   # stated to the cent
    alone = simulate_ranges(tri, cl, sel, np.ones(tri.n_origins, bool), [], **kwargs).assumptions["process_scale"]
    assert alone["from"] == "per service, the triangles' Pearson scale"
    for svc in SERVICES:
        assert alone["by_service"][svc] == pytest.approx(pearson[svc], abs=0.005), svc
