"""Mack standard errors: published figures, parity with chainladder 0.10.1, the naive closed form."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reserving import TailConstant, TailCurve, TriangleSet, mack
from tests.reserving import naive
from tests.reserving.conftest import SAMPLES, anchor_mack, cl, rel_err, to_chainladder

TOL = 1e-8


# Published figures. Source of every number below: R ChainLadder 0.2.21 documentation
# (github.com/mages/ChainLadder), whose printed output reproduces Mack's papers:
# - reference/MackChainLadder.md, `MackChainLadder(GenIns, est.sigma = "Mack")`, commented
#   "compare to table 2 and 3 in Mack's 1993 paper" (Taylor-Ashe data, Mack 1993 ASTIN Bulletin
#   23(2)): Mack.S.E per origin 2..10 rounded to units, total 2,447,094.86;
# - articles/ChainLadder.md (vignette), `MackChainLadder(RAA, est.sigma = "Mack")`: Mack.S.E per
#   origin 1982..1990 to one decimal (summary ByOrigin), total 26,909.01, IBNR 52,135.23;
# - reference/MackChainLadder.md, `MackChainLadder(RAA, mse.method = "Mack")` with the default
#   log-linear sigma: total Mack S.E. 26,880.74;
# - reference/MackChainLadder.md, `CDR(MackChainLadder(MW2014, est.sigma = "Mack"))`: Mack.S.E.
#   per origin to 7 decimals, total 3,233.6807352.
def test_taylor_ashe_published_figures(samples):
    published = [75535, 121699, 133549, 261406, 411010, 558317, 875328, 971258, 1363155]
    res = mack(samples["genins"][1], sigma="mack")
    assert np.abs(res.std_err[0, 1:] - published).max() <= 0.5
    assert res.std_err[0, 0] == 0
    assert abs(res.total_std_err[0] - 2447094.86) <= 0.005
    assert abs(res.totals["ibnr"].iloc[0] - 18680855.61) <= 0.005


def test_raa_published_figures(samples):
    published = [206.2, 623.4, 747.2, 1469.5, 2001.9, 2209.2, 5357.9, 6333.2, 24566.3]
    res = mack(samples["raa"][1], sigma="mack")
    assert np.abs(res.std_err[0, 1:] - published).max() <= 0.05
    assert abs(res.total_std_err[0] - 26909.01) <= 0.005
    assert abs(res.totals["ibnr"].iloc[0] - 52135.23) <= 0.005
    assert abs(mack(samples["raa"][1], sigma="log-linear").total_std_err[0] - 26880.74) <= 0.005


def test_mw2014_published_figures(samples):
    published = [0.0, 0.4083149, 2.5652899, 16.8984949, 157.2756452, 207.1650862, 261.9266093, 292.2622285,
                 390.5874717, 502.0606072, 486.0911099, 806.9028971, 793.9381916, 891.6613403, 916.4940218,
                 1106.1262716, 1295.6909824]
    res = mack(samples["mw2014"][1], sigma="mack")
    assert np.abs(res.std_err[0] - published).max() <= 5e-8
    assert abs(res.total_std_err[0] - 3233.6807352) <= 5e-8


TAILS = [
    (None, None),
    (1.05, cl.TailConstant(1.05)),
    (TailConstant(1.1, decay=0.8, attachment_age=72), cl.TailConstant(1.1, decay=0.8, attachment_age=72)),
    (TailCurve("exponential"), cl.TailCurve("exponential")),
    (TailCurve("inverse_power", extrap_periods=50), cl.TailCurve("inverse_power", extrap_periods=50)),
]


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("sigma", ["log-linear", "mack"])
@pytest.mark.parametrize("tail", range(len(TAILS)))
def test_samples_match_chainladder(samples, name, sigma, tail):
    ours_tail, their_tail = TAILS[tail]
    triangle, tri = samples[name]
    ref = anchor_mack(triangle, sigma, their_tail)
    res = mack(tri, sigma=sigma, tail=ours_tail)
    ldf = res.chain_ladder.development.ldf_values
    assert rel_err(ldf, ref["ldf"][:, : ldf.shape[1]]).max() < TOL
    assert rel_err(res.chain_ladder.ultimate, ref["ultimate"]).max() < TOL
    assert rel_err(res.std_err, np.nan_to_num(ref["std_err"])).max() < TOL
    assert rel_err(res.total_std_err, ref["total"]).max() < TOL


@pytest.mark.parametrize("opts", [{"average": "simple"}, {"average": "regression"}, {"n_periods": 5}])
def test_options_match_chainladder(samples, opts):
    triangle, tri = samples["genins"]
    ref = anchor_mack(triangle, "log-linear", None, **opts)
    res = mack(tri, **opts)
    assert rel_err(res.std_err, np.nan_to_num(ref["std_err"])).max() < TOL
    assert rel_err(res.total_std_err, ref["total"]).max() < TOL


@pytest.fixture(scope="module")
def clrd_anchor(clrd):
    """chainladder's Mack on all 775 clrd triangles, per column, sigma and tail: one call each."""
    out = {}
    for col, (triangle, _) in clrd.items():
        for sigma in ["log-linear", "mack"]:
            for tail in [None, 1.05]:
                out[col, sigma, tail] = anchor_mack(triangle, sigma, None if tail is None else cl.TailConstant(tail))
    return out


@pytest.mark.parametrize("col", ["CumPaidLoss", "IncurLoss"])
@pytest.mark.parametrize("sigma", ["log-linear", "mack"])
@pytest.mark.parametrize("tail", [None, 1.05])
def test_clrd_matches_chainladder_where_defined(clrd, clrd_anchor, col, sigma, tail):
    """Exact parity where chainladder's inputs to Mack are all defined; elsewhere finite or diagnosed.

    chainladder has no number (NaN factors, NaN ultimates, NaN or zero-reset sigmas) when a
    triangle has a lag without link ratios, a missing diagonal cell, a sigma or tail sigma it
    cannot fill, zero sigmas, or negative cumulatives; our answer there is checked to be finite
    or to carry a diagnostic for the segment.
    """
    _, tri = clrd[col]
    ref = clrd_anchor[col, sigma, tail]
    res = mack(tri, sigma=sigma, tail=tail)
    has_data = res.chain_ladder.latest_lag >= 0
    clean = (
        np.isfinite(ref["ldf"]).all(axis=1)
        & (np.isfinite(ref["ultimate"]) | ~has_data).all(axis=1)
        & np.isfinite(ref["sigma"]).all(axis=1)
        & (ref["sigma"][:, :-1] > 1e-300).all(axis=1)  # chainladder keeps a zero sigma as 1e-320 with "mack"
        & np.isfinite(ref["std_err_ldf"]).all(axis=1)
        & ~(np.nan_to_num(tri.values) < 0).any(axis=(1, 2))
        # a far-extrapolated tail sigma (1e150+) overflows the variances: chainladder shows inf or
        # sqrt(largest float) = 1.34e154, ours is NaN with a std_err_overflow diagnostic
        & (ref["total"] < np.sqrt(np.finfo(float).max))
    )
    # a tail sigma extrapolated above every observed sigma is replaced by Mack's rule (ours) and
    # diagnosed; chainladder keeps the runaway value there
    wild = res.diagnostics.index[res.diagnostics["issue"] == "tail_sigma_extrapolated"]
    replaced = np.asarray(tri.segments.isin(wild))
    ours = res.chain_ladder.development.sigma
    assert (~(ours[replaced, -1] > np.nanmax(ours[replaced, :-1], axis=1))).all()  # bounded, or NaN (undetermined)
    both = clean & replaced  # where the observed sigmas agree, chainladder's tail sigma is the runaway one
    assert (both.sum() > 5) == (tail is not None)
    assert (ref["sigma"][both, -1] > ref["sigma"][both, :-1].max(axis=1)).all()
    clean &= ~replaced
    assert clean.sum() > 150
    assert rel_err(res.std_err[clean], np.nan_to_num(ref["std_err"][clean])).max() < TOL
    assert rel_err(res.total_std_err[clean], ref["total"][clean]).max() < TOL
    assert rel_err(res.chain_ladder.ultimate[clean & has_data.all(axis=1)],
                   ref["ultimate"][clean & has_data.all(axis=1)]).max() < TOL
    undefined = ~np.isfinite(res.total_std_err)
    diagnosed = res.diagnostics["issue"].isin(["sigma_undetermined", "tail_sigma_undetermined", "std_err_overflow"])
    assert set(tri.segments[undefined]) <= set(res.diagnostics.index[diagnosed])
    assert np.isfinite(res.std_err[~undefined][has_data[~undefined]]).all()


def test_recursion_matches_mack_closed_form(clrd):
    # Mack (1993) Theorem 3 and its total, in closed form (tests/reserving/naive.py), against
    # the recursive kernel, using the kernel's own sigmas and standard errors.
    _, tri = clrd["CumPaidLoss"]
    res = mack(tri[:60])
    dev = res.chain_ladder.development
    full = (res.chain_ladder.latest_lag == tri.n_lags - 1 - np.arange(tri.n_origins)).all(axis=1)
    checked = 0
    for s in np.flatnonzero(full & np.isfinite(res.total_std_err) & (tri.values[:60] > 0).any(axis=(1, 2))):
        if (np.nan_to_num(tri.values[s], nan=1.0) <= 0).any() or (dev.n_links[s] == 0).any():
            continue
        f = dev.ldf_values[s].tolist()
        proc, par, total = naive.mack_volume(tri.values[s].tolist(), f, dev.sigma[s].tolist(), dev.std_err[s].tolist())
        ok = np.array(proc) > 0
        assert np.allclose(res.process[s][ok], np.array(proc)[ok], rtol=1e-10)
        assert np.allclose(res.parameter[s], par, rtol=1e-10)
        assert np.isclose(res.total_std_err[s], total, rtol=1e-10)
        checked += 1
    assert checked > 10


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 8), data=st.data())
def test_mack_matches_closed_form_on_random_triangles(n, data):
    # Random positive triangles (first values 1..1000, link ratios 0.8..3): the batched kernel
    # against Mack's closed form in tests/reserving/naive.py, both sigma interpolations.
    first = data.draw(st.lists(st.floats(1.0, 1000.0), min_size=n, max_size=n))
    ratios = data.draw(st.lists(st.floats(0.8, 3.0), min_size=n * n, max_size=n * n))
    values = np.full((n, n), np.nan)
    for i in range(n):
        values[i, 0] = first[i]
        for j in range(1, n - i):
            values[i, j] = values[i, j - 1] * ratios[i * n + j]
    for sigma in ("log-linear", "mack"):
        res = mack(TriangleSet.from_array(values, origin_start="2001"), sigma=sigma)
        dev = res.chain_ladder.development
        if not np.isfinite(dev.sigma).all():
            assert "sigma_undetermined" in set(res.diagnostics["issue"])
            continue
        proc, par, total = naive.mack_volume(values.tolist(), dev.ldf_values[0].tolist(), dev.sigma[0].tolist(),
                                             dev.std_err[0].tolist())
        assert np.allclose(res.process[0], proc, rtol=1e-10, atol=1e-9)
        assert np.allclose(res.parameter[0], par, rtol=1e-10, atol=1e-9)
        assert np.isclose(res.total_std_err[0], total, rtol=1e-10, atol=1e-9)


def test_summary_columns_and_single_triangle(samples):
    res = mack(samples["ukmotor"][1])
    assert {"latest", "ultimate", "ibnr", "std_err", "process_std_err", "parameter_std_err", "cv"} <= set(res.summary.columns)
    assert np.isclose(res.totals["std_err"].iloc[0], 1424.531543, rtol=1e-9)  # chainladder's documented figure


def test_no_variation_gives_zero_std_err():
    # Nothing ever develops (clrd has such triangles): every estimated sigma is 0, there is no
    # log-linear line through positive sigmas, and Mack's rule (R ChainLadder's fallback) fills
    # the last one with 0: standard errors are exactly 0 (chainladder: NaN).
    values = np.array([[204.0, 204, 204, 204], [284, 284, 284, np.nan], [251, 251, np.nan, np.nan], [90, np.nan, np.nan, np.nan]])
    res = mack(TriangleSet.from_array(values, origin_start="2001"))
    assert (res.std_err == 0).all() and res.total_std_err[0] == 0
    assert res.diagnostics["issue"].tolist() == ["sigma_mack_fallback"]


def test_log_linear_falls_back_to_mack_with_one_positive_sigma():
    # One positive sigma, then zeros, then a single-link lag: no line can be fitted; the
    # fallback gives min(0, ...) = 0 for the last sigma, the same as sigma='mack'.
    values = np.array([[311.0, 311, 311, 311], [458, 457, 457, np.nan], [81, 81, np.nan, np.nan], [149, np.nan, np.nan, np.nan]])
    tri = TriangleSet.from_array(values, origin_start="2001")
    res, ref = mack(tri), mack(tri, sigma="mack")
    assert np.array_equal(res.chain_ladder.development.sigma, ref.chain_ladder.development.sigma)
    assert np.array_equal(res.std_err, ref.std_err) and np.isfinite(res.total_std_err).all()


def test_undetermined_sigma_is_nan_with_diagnostic():
    tri = TriangleSet.from_array([[10.0, 20.0], [12.0, np.nan]], origin_start="2020")
    res = mack(tri)
    assert np.isnan(res.total_std_err[0])
    assert res.diagnostics["issue"].tolist() == ["sigma_undetermined"]


# ---------------------------------------------------------------- deliberate differences from chainladder
# Each test builds a small triangle, shows what chainladder 0.10.1 returns, what we return, and
# checks ours against Mack's (1993) definitions directly.
SMALL = np.array([
    [100.0, 180, 220, 240, 245],
    [110, 200, 235, 250, np.nan],
    [120, 230, 280, np.nan, np.nan],
    [130, 220, np.nan, np.nan, np.nan],
    [140, np.nan, np.nan, np.nan, np.nan],
])


def _small(values=SMALL):
    return to_chainladder(values), TriangleSet.from_array(values, origin_start="2001")


def test_single_link_std_err_uses_the_used_link():
    # Excluding origin 2001's 36-48 link leaves one link (origin 2002's) in that lag. The factor's
    # standard error is sigma / sqrt(sum of C over the used links) (Mack 1993, eq. (5) and
    # Theorem 3), so its denominator is C[2002, 36] = 235. chainladder divides by the first
    # origin's cell, C[2001, 36] = 220, whose link is not used.
    triangle, tri = _small()
    ref = anchor_mack(triangle, "mack", None, drop=[("2001", 36)])
    dev = mack(tri, sigma="mack", exclude=[("2001", 36)]).chain_ladder.development
    assert rel_err(dev.sigma[0, 2], ref["sigma"][0, 2]) < TOL  # same filled sigma
    assert rel_err(ref["std_err_ldf"][0, 2], dev.sigma[0, 2] / np.sqrt(220.0)) < TOL
    assert rel_err(dev.std_err[0, 2], dev.sigma[0, 2] / np.sqrt(235.0)) < 1e-14


def test_zero_sigma_is_left_out_of_the_log_linear_fit():
    # Lag 36-48 has two link ratios of exactly 1.25, so its sigma is 0; lag 48-60 has one link and
    # its sigma is extrapolated. chainladder fits log(1e-320) for the zero, shows that sigma as
    # NaN and ends with NaN standard errors for 2002 and 2003. We fit the line through the
    # positive sigmas only (lags 1, 2) and evaluate it at lag 4.
    values = SMALL.copy()
    values[0, 2:] = [200.0, 250.0, 255.0]
    values[1, 2:4] = [240.0, 300.0]
    triangle, tri = _small(values)
    ref = anchor_mack(triangle, "log-linear")
    res = mack(tri, sigma="log-linear")
    sigma = res.chain_ladder.development.sigma[0]
    assert np.isnan(ref["std_err"][0, 1:3]).all() and np.isnan(ref["sigma"][0, 2:4]).all()
    assert sigma[2] == 0.0
    line = np.polyfit([1.0, 2.0], np.log(sigma[:2]), 1)
    assert rel_err(sigma[3], np.exp(np.polyval(line, 4.0))) < 1e-12
    assert np.isfinite(res.std_err[0]).all() and res.diagnostics.empty


def test_mack_interpolation_fills_consecutive_missing_sigmas():
    # Excluding origin 2001's 36-48 link leaves lags 36-48 and 48-60 with one link each.
    # chainladder's 'mack' fills the first and leaves the second NaN (NaN std errors for
    # 2001-2002); Mack (1993) p. 218's rule applied lag after lag fills both.
    triangle, tri = _small()
    ref = anchor_mack(triangle, "mack", None, drop=[("2001", 36)])
    res = mack(tri, sigma="mack", exclude=[("2001", 36)])
    sigma = res.chain_ladder.development.sigma[0]
    assert np.isnan(ref["sigma"][0, 3]) and np.isnan(ref["std_err"][0, 1])
    for j in (2, 3):
        assert np.isclose(sigma[j] ** 2, min(sigma[j - 1] ** 4 / sigma[j - 2] ** 2, sigma[j - 2] ** 2, sigma[j - 1] ** 2),
                          rtol=1e-14)
    assert np.isfinite(res.std_err[0]).all() and res.std_err[0, 1] > 0


def test_no_tail_has_no_tail_variance(samples):
    # Without a tail (or a tail of exactly 1.0) the step past the last age adds nothing: the
    # tail's sigma and standard error are 0, as in chainladder without a tail or with
    # TailConstant(1.0).
    triangle, tri = samples["genins"]
    for ours, theirs in [(None, None), (1.0, cl.TailConstant(1.0))]:
        res = mack(tri, tail=ours)
        dev = res.chain_ladder.development
        assert dev.sigma[0, -1] == 0 and dev.std_err[0, -1] == 0
        assert rel_err(res.std_err, np.nan_to_num(anchor_mack(triangle, tail=theirs)["std_err"])).max() < TOL


def test_drop_high_keeps_the_first_projected_step_process_variance():
    # With drop_high chainladder stores 0 (not missing) weights on the latest diagonal and its Mack
    # process term multiplies by them, so origin 2002's single projected step (48 -> 60) shows
    # no process variance at all. Mack (1993) Theorem 3: process variance of that step is
    # C[2002, 48] * sigma[48]**2 (volume weights); the parameter part is the same on both sides.
    triangle, tri = _small()
    ref = anchor_mack(triangle, "log-linear", None, drop_high=1)
    res = mack(tri, drop_high=1)
    dev = res.chain_ladder.development
    assert rel_err(dev.ldf_values[0], ref["ldf"][0, :4]).max() < TOL
    assert rel_err(dev.sigma[0, :4], ref["sigma"][0, :4]).max() < TOL
    assert rel_err(res.process[0, 1], np.sqrt(250.0) * dev.sigma[0, 3]) < 1e-14
    assert rel_err(res.parameter[0, 1], ref["std_err"][0, 1]) < TOL  # chainladder's is parameter only
    assert (res.std_err[0, 1:] > ref["std_err"][0, 1:]).all()


def test_runaway_tail_sigma_is_replaced_by_macks_rule(clrd):
    # Incurred comauto of "Brotherhood Mut Ins Co": factors hover around 1, the tail-sigma fit
    # counts those as log 0 and extrapolates a tail sigma near 1e243; chainladder's variances
    # overflow (inf). Ours takes the tail sigma and standard error by Mack's (1993) rule from
    # the last two lags, computed here by hand, and says so in a tail_sigma_extrapolated row.
    _, tri = clrd["IncurLoss"]
    s = tri.segments.get_loc(("Brotherhood Mut Ins Co", "comauto"))
    res = mack(tri[s : s + 1], tail=1.05)
    dev = res.chain_ladder.development
    for x in (dev.sigma[0], dev.std_err[0]):
        a, b = x[-3], x[-2]
        assert np.isclose(x[-1], np.sqrt(min(b**4 / a**2, a**2, b**2)), rtol=1e-12)
    assert res.diagnostics["issue"].tolist() == ["tail_sigma_extrapolated"]
    assert "is 4.4e+243, above every observed sigma (largest 3.5)" in res.diagnostics["detail"].iloc[0]
    assert np.isfinite(res.std_err).all() and np.isfinite(res.total_std_err).all()
    # the tail adds a little error, not orders of magnitude
    no_tail = mack(tri[s : s + 1]).total_std_err[0]
    assert no_tail < res.total_std_err[0] < 2 * no_tail


@pytest.mark.parametrize("opts", [{"drop_high": 1}, {"drop_low": 1}])
def test_drops_follow_mack_where_chainladder_misaligns_them(samples, opts):
    """With drop_high / drop_low: Mack's closed form, and the documented departure from chainladder.

    Factors and sigmas equal chainladder 0.10.1's to 1e-8, and ours equal Mack (1993) Theorem 3
    with only the links used (tests/reserving/naive.py) to 1e-10. chainladder applies the drop
    to the wrong origin in its errors: the factor standard error of lag 96 (drop_low=1, genins)
    divides by the dropped origin's cumulative, and the origin with one development to go gets
    a process error of 0 although its sigma is positive. README states this departure.
    """
    triangle, tri = samples["genins"]
    ref = anchor_mack(triangle, "log-linear", None, **opts)
    res = mack(tri, **opts)
    dev = res.chain_ladder.development
    assert rel_err(dev.ldf_values[0], ref["ldf"][0, :9]).max() < TOL
    assert rel_err(dev.sigma[0, :9], ref["sigma"][0, :9]).max() < TOL
    proc, par, total = naive.mack_volume(tri.values[0].tolist(), dev.ldf_values[0].tolist(), dev.sigma[0].tolist(),
                                         dev.std_err[0].tolist())
    assert np.allclose(res.process[0], proc, rtol=1e-10)
    assert np.allclose(res.parameter[0], par, rtol=1e-10)
    assert np.isclose(res.total_std_err[0], total, rtol=1e-10)
    # the departure: chainladder's process error of origin 2002 (one development to go) is 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cl.MackChainladder().fit(cl.Development(**opts).fit_transform(triangle))
    assert model.process_risk_.values[0, 0, 1, -1] == 0 and res.process[0, 1] > 0 and dev.sigma[0, 8] > 0
    assert rel_err(res.total_std_err[0], ref["total"][0]) > 0.1


def test_auto_incurred_exponential_tail_is_diagnosed_not_astronomical(samples):
    # The case reported: chainladder's `auto` sample, incurred, second segment, exponential tail:
    # a standard error of 9.2e43 on an IBNR of 145,278 before; now Mack's rule bounds the tail
    # sigma, the total is of the order of the no-tail error, and a row says what was done.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tri = TriangleSet.from_chainladder(cl.load_sample("auto"), column="incurred")[1:]
    res = mack(tri, tail=TailCurve("exponential"))
    assert np.isclose(res.chain_ladder.ibnr.sum(), 145_277.93, rtol=1e-6)
    assert res.diagnostics["issue"].tolist() == ["tail_sigma_extrapolated"]
    assert mack(tri).total_std_err[0] < res.total_std_err[0] < 1.5 * mack(tri).total_std_err[0]
