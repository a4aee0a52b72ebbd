"""Mack standard errors: published figures, parity with chainladder 0.10.1, the naive closed form."""

from __future__ import annotations

import numpy as np
import pytest

from reserving import TailConstant, TailCurve, TriangleSet, mack
from tests.reserving import naive
from tests.reserving.conftest import SAMPLES, anchor_mack, cl, rel_err

TOL = 1e-8


def test_taylor_ashe_published_figures(samples):
    # Mack (1993), ASTIN Bulletin 23(2), Taylor-Ashe data, Mack's sigma extrapolation:
    # standard errors per origin 2..10 and total 2,447,095 (the same figures are printed by
    # R ChainLadder's MackChainLadder(GenIns, est.sigma = "Mack")).
    published = [75535, 121699, 133549, 261406, 411010, 558317, 875328, 971258, 1363155]
    res = mack(samples["genins"][1], sigma="mack")
    assert np.abs(res.std_err[0, 1:] - published).max() <= 0.5
    assert res.std_err[0, 0] == 0
    assert abs(res.total_std_err[0] - 2447095) <= 0.5


def test_raa_published_figures(samples):
    # Mack (1994), "Measuring the variability of chain ladder reserve estimates", RAA data;
    # figures as printed by R ChainLadder's MackChainLadder(RAA, est.sigma = "Mack").
    published = [206, 623, 747, 1469, 2002, 2209, 5358, 6333, 24566]
    res = mack(samples["raa"][1], sigma="mack")
    assert np.abs(res.std_err[0, 1:] - published).max() <= 0.5
    assert abs(res.total_std_err[0] - 26909) <= 0.5


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
    assert clean.sum() > 250
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


def test_summary_columns_and_single_triangle(samples):
    res = mack(samples["ukmotor"][1])
    assert {"latest", "ultimate", "ibnr", "std_err", "process_std_err", "parameter_std_err", "cv"} <= set(res.summary.columns)
    assert np.isclose(res.totals["std_err"].iloc[0], 1424.531543, rtol=1e-9)  # chainladder's documented figure


def test_undetermined_sigma_is_nan_with_diagnostic():
    tri = TriangleSet.from_array([[10.0, 20.0], [12.0, np.nan]], origin_start="2020")
    res = mack(tri)
    assert np.isnan(res.total_std_err[0])
    assert res.diagnostics["issue"].tolist() == ["sigma_undetermined"]


def test_drop_high_low_sigmas_match_and_error_is_not_below_chainladder(samples):
    # With drop_high/drop_low chainladder's weights are 0 (not missing) on the latest
    # diagonal, and its Mack process term multiplies by them, dropping the first projected
    # step's process variance; and for a single-link lag it fills the standard error from the
    # first origin's cell, not the used link's. Factors and sigmas still agree exactly.
    triangle, tri = samples["genins"]
    ref = anchor_mack(triangle, "log-linear", None, drop_high=1, drop_low=1)
    res = mack(tri, drop_high=1, drop_low=1)
    dev = res.chain_ladder.development
    assert rel_err(dev.ldf_values, ref["ldf"][:, : tri.n_lags - 1]).max() < TOL
    assert rel_err(dev.sigma, ref["sigma"]).max() < TOL
    assert (res.std_err >= np.nan_to_num(ref["std_err"]) - 1e-6).all()
