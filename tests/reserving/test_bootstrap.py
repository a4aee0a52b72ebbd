"""ODP bootstrap: kernels against slow references, statistics against published and analytic figures.

References: England & Verrall (2002) and England (2002) on Taylor-Ashe (chainladder's 'genins');
the analytic ODP prediction error from a quasi-Poisson GLM (statsmodels) in ``naive_bootstrap``;
chainladder-python's ``BootstrapODPSample`` for the defects ours avoids.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from reserving import Selections, TriangleError, TriangleSet, bootstrap_odp, chain_ladder
from _kit import random as _random
from reserving import _bootstrap_kernels as bk
from reserving._kernels import select_ldf_into
from reserving.bootstrap import _odp_fit
from reserving.development import develop
from tests.reserving import naive as naive_cl
from tests.reserving import naive_bootstrap as naive

ENGLAND_2002_PERCENT = [117, 47, 37, 31, 27, 23, 21, 25, 44]  # origins 2..10, bootstrap prediction error %


@pytest.fixture(scope="module")
def genins():
    return TriangleSet.from_array(naive.genins(), origin_start="2001", grain="Y")


@pytest.fixture(scope="module")
def analytic():
    return naive.analytic_prediction_error(naive.genins())


@pytest.fixture(scope="module")
def genins_dof(genins):
    return bootstrap_odp(genins, n_sims=60_000, seed=2002, residuals="dof")


@pytest.fixture(scope="module")
def genins_hat(genins):
    return bootstrap_odp(genins, n_sims=60_000, seed=2003, residuals="hat")


# ----------------------------------------------------------------- model fit against the dense GLM
def test_residuals_scale_and_hat_match_dense_glm(genins):
    fit = _odp_fit(genins, genins.latest_lag, chain_ladder(genins).development.ldf_values[:, :9], "hat")
    r_ref, phi_ref, h_ref = naive.residuals_scale_hat(naive.genins())
    for (i, j), r in r_ref.items():
        assert fit["residuals"][0, i, j] == pytest.approx(r, rel=1e-9, abs=1e-9)
        assert fit["hat"][0, i, j] == pytest.approx(h_ref[(i, j)], rel=1e-9, abs=1e-9)
    assert fit["phi"][0] == pytest.approx(phi_ref, rel=1e-12)
    assert fit["phi"][0] == pytest.approx(52_601.4, abs=0.1)  # England & Verrall (2002), Taylor-Ashe
    assert fit["n_par"][0] == 19 and fit["n_obs"][0] == 55


def test_expected_future_is_the_chain_ladder_reserve(genins):
    cl = chain_ladder(genins)
    by_origin, by_calendar = bk.expected_future(
        genins.values, genins.latest_lag, np.ascontiguousarray(cl.development.ldf_values[:, :9]), genins.valuation_index
    )
    np.testing.assert_allclose(by_origin[0, 1:], cl.ibnr[0, 1:], rtol=1e-12)
    assert by_calendar.sum() == pytest.approx(np.nansum(cl.ibnr), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 9), code=st.sampled_from([0, 1, 2]), seed=st.integers(0, 2**32 - 1))
def test_factors_on_pseudo_triangles_equal_naive(n, code, seed):
    """The bootstrap's in-place factors, with zero denominators the weights don't know of."""
    rng = np.random.default_rng(seed)
    c = np.cumsum(rng.normal(100.0, 60.0, size=(n, n)), axis=1)
    c[rng.random((n, n)) < 0.1] = 0.0
    c[np.add.outer(np.arange(n), np.arange(n)) > n - 1] = np.nan
    w = (rng.random((n, n - 1)) < 0.8) * np.isfinite(c[:, 1:]) * np.isfinite(c[:, :-1])
    ours = np.empty(n - 1)
    select_ldf_into(c, w.astype(float), code, n - 1, ours)
    used = w.astype(bool) & (np.nan_to_num(c[:, :-1]) != 0)
    ref = naive_cl.ldf(np.where(np.isnan(c), np.nan, c), used, ["volume", "simple", "regression"][code])
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)


def _project_cell_by_cell(c, latest_lag, ldf, valuation_index, n_cal):
    """Each future cell's increment by repeated multiplication, split by sign into origin and calendar sums."""
    n_org, n_lag = c.shape
    pos_o, neg_o, pos_c, neg_c = np.zeros(n_org), np.zeros(n_org), np.zeros(n_cal), np.zeros(n_cal)
    for i in range(n_org):
        k = latest_lag[i]
        if k < 0:
            continue
        cum = c[i, k]
        for j in range(k + 1, n_lag):
            inc = cum * (ldf[j - 1] - 1.0)
            cum *= ldf[j - 1]
            cal = i + j - valuation_index - 1
            if inc > 0:
                pos_o[i] += inc
                pos_c[cal] += inc
            else:
                neg_o[i] -= inc
                neg_c[cal] -= inc
    return pos_o, neg_o, pos_c, neg_c


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 12), zero_factor=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_project_sign_split_matches_cell_by_cell(n, zero_factor, seed):
    rng = np.random.default_rng(seed)
    c = rng.normal(100.0, 80.0, size=(n, n))  # some negative latest cumulatives
    ldf = rng.uniform(0.7, 1.6, size=n - 1)  # factors either side of 1
    if zero_factor:
        ldf[rng.integers(n - 1)] = 0.0  # rows whose factor product to their latest lag is 0 go the serial way
    latest_lag = np.where(rng.random(n) < 0.2, -1, n - 1 - np.arange(n))
    n_cal = n - 1
    out = [np.full(n, np.nan), np.full(n, np.nan), np.full(n_cal, np.nan), np.full(n_cal, np.nan)]
    bk.project(c, latest_lag, ldf, n - 1, *out, np.full((5, n + 1), np.nan))
    for ours, ref in zip(out, _project_cell_by_cell(c, latest_lag, ldf, n - 1, n_cal)):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 3000), ties=st.booleans(), crowded=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_column_statistics_match_numpy(n, ties, crowded, seed):
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0.0, 2.0, size=(2, 3, n))
    if crowded:  # a few huge values squeeze the rest into one bin: the select_ranks path
        x[:, :, : max(1, n // 200)] *= 1e9
    if ties:
        x = np.round(x)
    x[1, 2] = 7.0
    x[0, 1] = np.where(rng.random(n) < 0.5, 0.0, 1e-320)  # tiny gamma draws: a range of subnormal width
    probs = np.array([0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 1.0])
    shift = rng.normal(0.0, 1.0, size=(2, 3))
    mean, std, q = bk.column_statistics(x, probs, shift)
    shifted = x - shift[:, :, None]
    scale = np.maximum(np.abs(x).max(axis=2), np.abs(shift))  # shifting before or after rounds differently
    assert np.all(np.abs(mean - shifted.mean(axis=2)) <= 1e-12 * scale)
    np.testing.assert_allclose(std, x.std(axis=2, ddof=1), rtol=1e-10, atol=1e-12)
    ref = np.moveaxis(np.quantile(shifted, probs, axis=2), 0, -1)
    assert np.all(np.abs(q - ref) <= 1e-12 * scale[:, :, None])


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 5000), n_distinct=st.integers(1, 50), n_ranks=st.integers(1, 14), seed=st.integers(0, 2**32 - 1))
def test_select_ranks_puts_each_order_statistic_in_place(n, n_distinct, n_ranks, seed):
    """Against a full sort; few distinct values (ties everywhere), sorted and reversed inputs, repeated ranks."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=n_distinct)
    for a in (values[rng.integers(n_distinct, size=n)], rng.lognormal(0.0, 3.0, size=n)):
        for order in ("random", "sorted", "reversed"):
            x = np.sort(a) if order == "sorted" else (np.sort(a)[::-1].copy() if order == "reversed" else a.copy())
            ranks = np.sort(rng.integers(n, size=n_ranks))
            bk.select_ranks(x, ranks)
            np.testing.assert_array_equal(x[ranks], np.sort(a)[ranks])
            np.testing.assert_array_equal(np.sort(x), np.sort(a))  # a permutation


# ----------------------------------------------------------------- Taylor-Ashe against published and analytic figures
def test_mean_reserve_is_the_chain_ladder_reserve(genins, genins_hat):
    cl_total = np.nansum(chain_ladder(genins).ibnr)
    assert abs(genins_hat.total_mean[0] / cl_total - 1) < 0.005
    np.testing.assert_allclose(genins_hat.mean[0, 1:], chain_ladder(genins).ibnr[0, 1:], rtol=0.02)


def test_prediction_error_matches_analytic_odp(genins_hat, analytic):
    reserves, errors, total, total_error = analytic
    assert genins_hat.total_std_err[0] == pytest.approx(total_error, rel=0.02)
    np.testing.assert_allclose(genins_hat.std_err[0, 1:], errors[1:], rtol=0.04)


def test_prediction_error_percentages_match_england_2002(genins_dof):
    percent = 100 * genins_dof.std_err[0, 1:] / genins_dof.ibnr[0, 1:]
    np.testing.assert_allclose(percent, ENGLAND_2002_PERCENT, rtol=0.05)
    assert round(100 * genins_dof.total_std_err[0] / genins_dof.ibnr[0].sum()) == 16


def test_uncorrected_simulation_matches_naive_bootstrap(genins):
    ours = bootstrap_odp(genins, n_sims=40_000, seed=5, residuals="dof", bias_correction=False)
    ref = naive.bootstrap(naive.genins(), 2_000, np.random.default_rng(5), residuals="dof").sum(axis=1)
    se = ref.std() / np.sqrt(len(ref))
    assert abs(ours.total_mean[0] - ref.mean()) < 3.5 * se
    assert ours.total_std_err[0] == pytest.approx(ref.std(ddof=1), rel=0.06)
    assert ours.bias[0].sum() == pytest.approx(ours.total_mean[0] - ours.ibnr[0].sum(), rel=0.15)
    assert 0.007 < ours.bias[0].sum() / ours.ibnr[0].sum() < 0.013  # the chain ladder's own bias, ~1%


def test_statistics_do_not_depend_on_keeping_samples():
    # kept samples are shifted by the bias in place; otherwise the statistics take the shift
    tri = _stack(["north", "south", "east"])
    kept = bootstrap_odp(tri, n_sims=2_000, seed=4)
    dropped = bootstrap_odp(tri, n_sims=2_000, seed=4, keep_samples=False)
    for name in ("mean", "std_err", "quantiles", "total_mean", "total_std_err", "total_quantiles", "cash_mean",
                 "cash_std_err", "cash_quantiles"):
        np.testing.assert_allclose(getattr(dropped, name), getattr(kept, name), rtol=1e-12, atol=1e-9, err_msg=name)


def test_samples_totals_and_cash_flow_are_consistent(genins):
    res = bootstrap_odp(genins, n_sims=4_000, seed=9)
    assert res.samples.shape == (1, 4_000, 10)
    total = res.samples[0].sum(axis=1)
    assert res.total_mean[0] == pytest.approx(total.mean(), rel=1e-12)
    np.testing.assert_allclose(res.total_quantiles[0], np.quantile(total, [0.5, 0.75, 0.9, 0.95, 0.99, 0.995]), rtol=1e-12)
    assert res.cash_mean[0].sum() == pytest.approx(res.total_mean[0], rel=0.01)
    np.testing.assert_allclose(res.cash_expected[0].sum(), res.ibnr[0].sum(), rtol=1e-12)
    assert list(res.summary.columns[:5]) == ["latest", "ibnr", "bias", "mean", "std_err"]
    assert res.cash_flow.index.get_level_values("calendar")[0] == res.origins[-1] + 1


def test_odp_process_gives_multiples_of_the_scale(genins):
    res = bootstrap_odp(genins, n_sims=3_000, seed=4, process="odp", bias_correction=False)
    units = res.samples[0, :, 1:] / res.scale[0]
    assert np.abs(units - np.round(units)).max() < 1e-6
    assert res.total_mean[0] == pytest.approx(res.ibnr[0].sum() + res.bias[0].sum(), rel=0.02)


# ----------------------------------------------------------------- reproducibility
def test_bit_identical_whatever_the_number_of_threads(genins, on_threads):
    one, two = on_threads(lambda: bootstrap_odp(genins, n_sims=3_000, seed=17, process="odp"))
    assert np.array_equal(one.samples, two.samples)
    assert np.array_equal(one.cash_flow_samples, two.cash_flow_samples)


def _stack(labels):
    base = naive.genins()
    scales = {"north": 1.0, "south": 0.5, "east": 2.0}
    return TriangleSet.from_array(np.stack([base * scales[k] for k in labels]), origin_start="2001", segments=labels)


def test_segment_results_do_not_depend_on_other_segments():
    full = bootstrap_odp(_stack(["north", "south", "east"]), n_sims=1_000, seed=3)
    alone = bootstrap_odp(_stack(["east"]), n_sims=1_000, seed=3)
    assert np.array_equal(full.samples[2], alone.samples[0])
    assert not np.array_equal(full.samples[0] * 2, full.samples[2])


def test_dask_client_gives_the_local_result():
    distributed = pytest.importorskip("distributed")
    tri = _stack(["north", "south", "east"])
    local = bootstrap_odp(tri, n_sims=1_000, seed=8, exclude=[("2003", 24)])
    # a selection naming one segment reaches that segment's worker only
    sel = Selections.from_frame(pd.DataFrame({"segment": ["east", ""], "item": ["factor", "average"],
                                              "development": ["24", "36"], "value": ["1.6", "simple"],
                                              "who": ["A", "A"], "why": ["benchmark", "outlier"]}))
    local_sel = bootstrap_odp(tri, n_sims=1_000, seed=8, selections=sel)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = bootstrap_odp(tri, n_sims=1_000, seed=8, exclude=[("2003", 24)], client=client)
            remote_sel = bootstrap_odp(tri, n_sims=1_000, seed=8, selections=sel, client=client)
    assert np.array_equal(local.samples, remote.samples)
    assert local.totals.equals(remote.totals)
    assert np.array_equal(local_sel.samples, remote_sel.samples)
    np.testing.assert_array_equal(local_sel.factor_adjustment, remote_sel.factor_adjustment)
    assert (local_sel.factor_adjustment[2, 1] != 1) and (local_sel.factor_adjustment[:2, 1] == 1).all()


# ----------------------------------------------------------------- awkward data (Shapland 2016)
def _awkward():
    """Taylor-Ashe with a recovery (negative increment), a zero cell and a falling last lag."""
    inc = naive.genins().copy()
    inc[:, 1:] = naive.genins()[:, 1:] - naive.genins()[:, :-1]
    inc[2, 4] = -150_000.0
    inc[5, 2] = 0.0
    inc[0, 9] = -60_000.0
    return TriangleSet.from_array(inc, origin_start="2001", cumulative=False)


def test_negative_increments_and_zero_cells():
    tri = _awkward()
    res = bootstrap_odp(tri, n_sims=4_000, seed=6)
    assert np.isfinite(res.samples).all() and np.isfinite(res.cash_flow_samples).all()
    cl = chain_ladder(tri)
    assert res.total_mean[0] == pytest.approx(np.nansum(cl.ibnr), rel=0.01)
    # The last factor is below 1: the payments expected in the last calendar period are negative, and
    # their simulated process error is the sign-reversed gamma (the factor itself varies by simulation).
    assert res.cash_expected[0, -1] < 0 and res.cash_mean[0, -1] == pytest.approx(res.cash_expected[0, -1], rel=0.1)
    # Mostly negative. (Not a tighter bound: these samples sit near zero and the bias correction
    # shifts them all by a seed-dependent constant; seeds 6, 7, 8 gave 0.65, 0.63, 0.63.)
    assert (res.cash_flow_samples[0, :, -1] < 0).mean() > 0.55
    fit = _odp_fit(tri, tri.latest_lag, np.ascontiguousarray(cl.development.ldf_values[:, :9]), "hat")
    m = fit["fitted"][0]
    assert (m[tri.observed] < 0).any()
    i, j = np.argwhere((m < 0) & tri.observed)[0]
    q = tri.incremental[0, i, j]
    assert fit["residuals"][0, i, j] == pytest.approx((q - m[i, j]) / np.sqrt(-m[i, j]), rel=1e-12)


def test_zero_fitted_cells_have_no_residual():
    inc = naive.genins().copy()
    inc[:, 1:] = naive.genins()[:, 1:] - naive.genins()[:, :-1]
    inc[:2, 8] = 0.0  # nothing paid at lag 8: factor 1, fitted increments 0 there
    tri = TriangleSet.from_array(inc, origin_start="2001", cumulative=False)
    ldf = np.ascontiguousarray(chain_ladder(tri).development.ldf_values[:, :9])
    fit = _odp_fit(tri, tri.latest_lag, ldf, "hat")
    assert (fit["fitted"][0, :2, 8] == 0).all() and fit["n_obs"][0] == 53
    assert fit["pool_start"][1] == 51  # the two corner cells the chain ladder fits exactly are left out too
    res = bootstrap_odp(tri, n_sims=2_000, seed=1)
    assert np.isfinite(res.samples).all()


def test_errors_name_the_problem(genins):
    values = naive.genins().copy()
    values[3, 2] = np.nan
    with pytest.raises(TriangleError, match="origin 2004, development 36 is missing"):
        bootstrap_odp(TriangleSet.from_array(values, origin_start="2001"), n_sims=10, seed=1)
    with pytest.raises(TriangleError, match="no degrees of freedom"):
        bootstrap_odp(TriangleSet.from_array([[1.0, 2.0], [1.5, np.nan]]), n_sims=10, seed=1)
    with pytest.raises(ValueError, match="process"):
        bootstrap_odp(genins, process="normal")
    with pytest.raises(ValueError, match="samples were not kept"):
        bootstrap_odp(genins, n_sims=10, seed=1, keep_samples=False).samples


def test_factor_options_are_refitted_on_every_pseudo_triangle(genins):
    dropped = bootstrap_odp(genins, n_sims=3_000, seed=12, drop_high=1, drop_low=1)
    cl = chain_ladder(genins, drop_high=1, drop_low=1)
    np.testing.assert_allclose(dropped.ibnr[0, 1:], cl.ibnr[0, 1:], rtol=1e-12)
    assert dropped.total_mean[0] == pytest.approx(np.nansum(cl.ibnr), rel=0.01)


@njit
def _resampling_indices(key, n_cells, n_pool, n_sims):
    """The indices one block of the simulation kernel draws, in its order (pairs from one word)."""
    state = _random.stream(key, 0)
    out = np.empty((n_sims, n_cells), dtype=np.int64)
    spare = -1
    for sim in range(n_sims):
        for t in range(n_cells):
            if spare < 0:
                out[sim, t], spare, state = _random.bounded_pair(state, n_pool)
            else:
                out[sim, t], spare = spare, -1
    return out


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("drops, n_periods, average", [((1, 1), -1, "volume"), ((2, 0), 5, "simple"), ((0, 0), 4, "regression")])
def test_simulations_without_process_error_equal_a_naive_refit(genins, drops, n_periods, average, scaled):
    """Every simulation of the kernel, with process error off (phi = 0), against resampling,
    refitting with the factor options, scaling the factors by the selections' adjustment (``scaled``)
    and projecting done cell by cell in Python with the same indices."""
    n_sims = 60
    n_org, n_lag = genins.shape[1:]
    vi = genins.valuation_index
    ldf = np.ascontiguousarray(develop(genins, average=average, n_periods=n_periods,
                                       drop_high=drops[0], drop_low=drops[1]).ldf_values[:, : n_lag - 1])
    fit = _odp_fit(genins, genins.latest_lag, ldf, "hat")
    observed = np.isfinite(genins.values[0])  # each draws an index, in row-major order
    dh = np.full(n_lag - 1, drops[0], dtype=np.int64)
    dl = np.full(n_lag - 1, drops[1], dtype=np.int64)
    exclude = np.zeros((1, n_org, n_lag - 1))
    adjust = np.random.default_rng(8).uniform(0.9, 1.1, (1, n_lag - 1)) if scaled else np.ones((1, n_lag - 1))
    key = _random.stream_keys(3, ["naive"])
    n_cal = n_org + n_lag - 2 - vi
    ibnr, cash, total = np.empty((1, n_org, n_sims)), np.empty((1, n_cal, n_sims)), np.empty((1, 1, n_sims))
    bk.simulate(fit["fitted"], fit["scale_sd"], genins.latest_lag, fit["pool"], fit["pool_start"], exclude, exclude,
                dh, dl, True, n_periods, vi, {"volume": 0, "simple": 1, "regression": 2}[average], np.zeros(1), bk.GAMMA,
                key, n_sims, n_sims, ibnr, cash, total, np.zeros((1, 1, n_org)), np.zeros((1, 1, n_cal)),
                adjust=adjust)

    pool = fit["pool"]
    indices = _resampling_indices(key[0], int(observed.sum()), len(pool), n_sims)
    for sim in range(n_sims):
        inc = fit["fitted"][0].copy()
        resampled = observed & (fit["scale_sd"][0] != 0)
        inc[resampled] += pool[indices[sim][fit["scale_sd"][0][observed] != 0]] * fit["scale_sd"][0][resampled]
        c = np.where(np.isfinite(genins.values[0]), np.cumsum(inc, axis=1), np.nan)
        w = naive_cl.link_weights(c.tolist(), vi, n_periods, dh.tolist(), dl.tolist(), exclude[0].tolist())
        f = naive_cl.ldf(c.tolist(), w, average)
        pos_o, neg_o, pos_c, neg_c = _project_cell_by_cell(c, genins.latest_lag[0], np.array(f) * adjust[0], vi, n_cal)
        np.testing.assert_allclose(ibnr[0, :, sim], pos_o - neg_o, rtol=1e-10, atol=1e-6)
        np.testing.assert_allclose(cash[0, :, sim], pos_c - neg_c, rtol=1e-10, atol=1e-6)
        assert total[0, 0, sim] == pytest.approx((pos_o - neg_o).sum(), rel=1e-12)


# ----------------------------------------------------------------- chainladder-python's BootstrapODPSample defects
cl = pytest.importorskip("chainladder")


def _chainladder_ibnr(n_sims, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sims = cl.BootstrapODPSample(n_sims=n_sims, **kwargs).fit_transform(cl.load_sample("genins"))
        return cl.Chainladder().fit(sims).ibnr_.sum("origin").values.ravel()


def test_chainladder_mean_sits_above_the_reserve_ours_does_not(genins, genins_hat):
    theirs = _chainladder_ibnr(2_000, random_state=42)
    reserve = np.nansum(chain_ladder(genins).ibnr)
    ours_plain = bootstrap_odp(genins, n_sims=20_000, seed=42, bias_correction=False)
    se = theirs.std() / np.sqrt(len(theirs))
    # chainladder's mean is the uncorrected bootstrap mean (about 1% high), not the chain-ladder reserve.
    assert abs(theirs.mean() - ours_plain.total_mean[0]) < 3 * se
    assert ours_plain.total_mean[0] / reserve - 1 > 0.007
    assert abs(genins_hat.total_mean[0] / reserve - 1) < 0.005


def test_chainladder_without_hat_misses_the_dof_adjustment(genins_dof, analytic):
    theirs = _chainladder_ibnr(2_000, random_state=42, hat_adj=False)
    total_error = analytic[3]
    assert theirs.std(ddof=1) < 0.92 * total_error
    assert genins_dof.total_std_err[0] == pytest.approx(total_error, rel=0.03)


def test_chainladder_seed_zero_leaves_process_error_unseeded(genins):
    first = _chainladder_ibnr(200, random_state=0)
    second = _chainladder_ibnr(200, random_state=0)
    assert not np.array_equal(first, second)
    ours = [bootstrap_odp(genins, n_sims=200, seed=0).samples for _ in range(2)]
    assert np.array_equal(*ours)


# ----------------------------------------------------------------- the actuary's selected factors
def _selected(rows):
    return Selections.from_frame(pd.DataFrame(rows, columns=["item", "development", "value", "who", "why"]))


def test_selected_factors_centre_the_bootstrap_on_the_selected_chain_ladder(genins):
    """Mean simulated IBNR against the chain ladder with the same selections: within 4 Monte Carlo
    standard errors (std_err / sqrt(n_sims)) per origin and in total with the bias correction;
    without it, the chain ladder's own bias of about 1% (as on the indicated factors)."""
    sel = _selected([["factor", "24", "1.9", "A. Actuary", "benchmark"],
                     ["average", "48", "simple", "A. Actuary", "one large origin"]])
    target = chain_ladder(genins, selections=sel).ibnr[0]
    assert abs(target.sum() / np.nansum(chain_ladder(genins).ibnr) - 1) > 0.05   # the selection moves it
    n_sims = 20_000
    res = bootstrap_odp(genins, n_sims=n_sims, seed=16, selections=sel)
    np.testing.assert_allclose(res.ibnr[0], target, rtol=1e-12)
    mc = res.std_err[0, 1:] / np.sqrt(n_sims)
    assert (np.abs(res.mean[0, 1:] - target[1:]) < 4 * mc).all()
    assert abs(res.total_mean[0] - target.sum()) < 4 * res.total_std_err[0] / np.sqrt(n_sims)
    volume, simple = develop(genins).ldf_values[0], develop(genins, average="simple").ldf_values[0]
    expected = np.ones(9)
    expected[1], expected[3] = 1.9 / volume[1], simple[3] / volume[3]
    np.testing.assert_allclose(res.factor_adjustment[0], expected, rtol=1e-15)
    plain = bootstrap_odp(genins, n_sims=n_sims, seed=16, selections=sel, bias_correction=False)
    assert 0.005 < plain.bias[0].sum() / target.sum() < 0.02
    # the data keep the spread: the coefficient of variation of the total moves little
    indicated = bootstrap_odp(genins, n_sims=n_sims, seed=16)
    cv = res.total_std_err[0] / target.sum(), indicated.total_std_err[0] / indicated.ibnr[0].sum()
    assert cv[0] == pytest.approx(cv[1], rel=0.15)


def test_selecting_the_indicated_factor_changes_nothing(genins):
    indicated = develop(genins).ldf_values[0, 2]
    same = _selected([["factor", "36", repr(float(indicated)), "A", "agrees with the data"]])
    base = bootstrap_odp(genins, n_sims=500, seed=3)
    res = bootstrap_odp(genins, n_sims=500, seed=3, selections=same)
    for name in ("ibnr", "mean", "std_err", "quantiles", "total_quantiles", "cash_quantiles", "bias"):
        np.testing.assert_array_equal(getattr(res, name), getattr(base, name), err_msg=name)
    assert (res.factor_adjustment == 1).all()
