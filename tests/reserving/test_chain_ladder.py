"""Chain ladder: parity with chainladder 0.10.1, kernels against the naive reference, edge cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reserving import TriangleError, TriangleSet, chain_ladder
from reserving import _kernels
from tests.reserving import naive
from tests.reserving.conftest import SAMPLES, cl, rel_err

TOL = 1e-8

OPTIONS = [
    {},
    {"average": "simple"},
    {"average": "regression"},
    {"n_periods": 3},
    {"drop_high": True, "drop_low": 1},
    {"n_periods": 5, "drop_high": 1},
    {"drop_high": [2, 1, 1]},
]


def _anchor_cl(triangle, **opts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dev = cl.Development(**opts).fit_transform(triangle)
        model = cl.Chainladder().fit(dev)
        return model.X_.ldf_.values[0, 0, 0, : triangle.shape[3] - 1], model.ultimate_.values[0, 0, :, 0], model.ibnr_.values[0, 0, :, 0]


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_ldf_ultimate_ibnr_match_chainladder(samples, name, opts):
    triangle, tri = samples[name]
    ldf, ult, ibnr = _anchor_cl(triangle, **opts)
    res = chain_ladder(tri, **opts)
    assert rel_err(res.development.ldf_values[0], ldf).max() < TOL
    assert rel_err(res.ultimate[0], ult).max() < TOL
    has_ibnr = np.isfinite(ibnr)
    assert rel_err(res.ibnr[0][has_ibnr], ibnr[has_ibnr]).max() < TOL
    assert np.allclose(res.ibnr[0][~has_ibnr], 0.0)  # chainladder shows a zero IBNR as NaN


def test_exclude_matches_chainladder_drop(samples):
    triangle, tri = samples["raa"]
    drops = [("1982", 12), ("1985", 24), ("1981", 36)]
    ldf, ult, _ = _anchor_cl(triangle, drop=drops)
    res = chain_ladder(tri, exclude=drops)
    assert rel_err(res.development.ldf_values[0], ldf).max() < TOL
    assert rel_err(res.ultimate[0], ult).max() < TOL
    assert res.development.weights[0, 1, 0] == 0 and res.development.weights[0, 4, 1] == 0 and res.development.weights.sum() == 45 - 3


def test_raa_published_totals(samples):
    # R ChainLadder 0.2.21 vignette (github.com/mages/ChainLadder, articles/ChainLadder.md),
    # MackChainLadder(RAA) on the RAA data: IBNR total 52,135.23, ultimate 1990 18,402
    # (FullTriangle 18,402 for origin 1990), volume-weighted factors 2.999 1.624 1.271 ...
    res = chain_ladder(samples["raa"][1])
    assert abs(res.totals["ibnr"].iloc[0] - 52135.23) <= 0.005
    assert round(res.ultimate[0, -1]) == 18402
    assert np.allclose(res.development.ldf_values[0, :3], [2.999, 1.624, 1.271], atol=5e-4)


def test_summary_and_totals_shape(clrd):
    _, tri = clrd["CumPaidLoss"]
    res = chain_ladder(tri[:3])
    assert list(res.summary.index.names) == ["GRNAME", "LOB", "origin"]
    assert {"latest", "ultimate", "ibnr", "cdf"} <= set(res.summary.columns)
    assert len(res.summary) == 3 * tri.n_origins and len(res.totals) == 3
    assert res.ldf.shape == (3, tri.n_lags - 1)
    assert np.allclose(res.totals["ibnr"], np.nansum(res.ibnr, axis=1))


def test_clrd_matches_chainladder_or_is_diagnosed(clrd):
    # chainladder stores zeros as missing, so a lag with no link ratio gets a NaN factor and
    # NaN ultimates; ours is the factor 1.0 with a no_link_ratio diagnostic.
    for col, (triangle, tri) in clrd.items():
        ldf, ult, _ = _anchor_all(triangle)
        res = chain_ladder(tri)
        assert np.isfinite(res.development.ldf_values).all()
        defined = np.isfinite(ldf)
        assert rel_err(res.development.ldf_values[defined], ldf[defined]).max() < TOL, col
        ok = np.isfinite(ult)
        assert rel_err(res.ultimate[ok], ult[ok]).max() < TOL, col
        missing = np.unique(np.nonzero(~defined)[0])
        diagnosed = res.diagnostics[res.diagnostics["issue"] == "no_link_ratio"].index.unique()
        assert len(missing) > 20 and set(diagnosed) <= set(tri.segments[missing])
        for s in missing[~np.isin(tri.segments[missing], diagnosed)]:
            # the other NaN factors come from a link ratio 0 / x, which chainladder drops
            j = np.flatnonzero(~defined[s])
            used = res.development.weights[s][:, j] > 0
            assert (tri.values[s][:, j + 1][used] == 0).any()
        has_data = res.latest_lag >= 0
        assert np.isfinite(res.ultimate[has_data]).all()


def _anchor_all(triangle):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cl.Chainladder().fit(triangle)
    return model.X_.ldf_.values[:, 0, 0, :-2], model.ultimate_.values[:, 0, :, 0], None


# ---------------------------------------------------------------- kernels against the naive reference
@st.composite
def triangles(draw, max_n=7):
    n = draw(st.integers(2, max_n))
    first = draw(st.lists(st.floats(1.0, 1000.0), min_size=n, max_size=n))
    ratios = draw(st.lists(st.floats(0.5, 3.0), min_size=n * n, max_size=n * n))
    c = np.full((n, n), np.nan)
    for i in range(n):
        c[i, 0] = first[i]
        for j in range(1, n - i):
            c[i, j] = c[i, j - 1] * ratios[i * n + j]
    holes = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=2))
    for i, j in holes:
        if i + j < n - 1:
            c[i, j] = np.nan if draw(st.booleans()) else 0.0
    return c


@settings(max_examples=40, deadline=None)
@given(c=triangles(), n_periods=st.integers(-1, 6), high=st.integers(0, 2), low=st.integers(0, 2),
       average=st.sampled_from(["volume", "simple", "regression"]), data=st.data())
def test_kernels_match_naive(c, n_periods, high, low, average, data):
    n = c.shape[0]
    exclude = np.array(data.draw(st.lists(st.booleans(), min_size=n * (n - 1), max_size=n * (n - 1)))).reshape(n, n - 1)
    exclude &= np.array(data.draw(st.lists(st.booleans(), min_size=n * (n - 1), max_size=n * (n - 1)))).reshape(n, n - 1)
    dh = np.full(n - 1, high, dtype=np.int64)
    dl = np.full(n - 1, low, dtype=np.int64)
    w = _kernels.link_weights(c, n - 1, n_periods, dh, dl, exclude)
    assert w.tolist() == naive.link_weights(c.tolist(), n - 1, n_periods, dh.tolist(), dl.tolist(), exclude.tolist())
    code = {"volume": 0, "simple": 1, "regression": 2}[average]
    ldf, sigma, se, _ = _kernels.link_statistics(c, w, code)
    ref = naive.ldf(c.tolist(), w.tolist(), average)
    assert np.allclose(ldf, ref, rtol=1e-12, atol=0)
    ref_sigma, ref_se = naive.sigma_and_std_err(c.tolist(), w.tolist(), average, ref)
    assert np.allclose(sigma, ref_sigma, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.allclose(se, ref_se, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.array_equal(_kernels.select_ldf(c, w, code), ldf)


def test_batched_kernels_equal_single(clrd):
    _, tri = clrd["CumPaidLoss"]
    values = tri.values[:50]
    z = np.zeros(tri.n_lags - 1, dtype=np.int64)
    w = _kernels.link_weights_batch(values, tri.valuation_index, 4, z + 1, z, np.zeros(values.shape[:2] + (tri.n_lags - 1,), bool))
    ldf = _kernels.select_ldf_batch(values, w, 0)
    for s in range(0, 50, 7):
        w1 = _kernels.link_weights(values[s], tri.valuation_index, 4, z + 1, z, np.zeros((tri.n_origins, tri.n_lags - 1), bool))
        assert np.array_equal(w[s], w1)
        assert np.array_equal(ldf[s], _kernels.select_ldf(values[s], w1, 0))


# ---------------------------------------------------------------- irregular data
def _tri(values):
    return TriangleSet.from_array(np.array(values, dtype=float), origin_start="2020", grain="Y")


def test_zero_numerator_is_a_real_link_ratio():
    res = chain_ladder(_tri([[10.0, 0.0, 0.0], [20.0, 10.0, np.nan], [5.0, np.nan, np.nan]]))
    assert res.development.ldf_values[0].tolist() == [10.0 / 30.0, 1.0]  # 0/0 is not a link: 1.0
    assert res.diagnostics["issue"].tolist() == ["no_link_ratio"]
    assert np.allclose(res.ultimate[0], [0.0, 10.0, 5.0 / 3.0], rtol=1e-15)


def test_all_zero_segment_gives_zero_reserve_and_diagnostics():
    zero = np.where(np.add.outer(np.arange(4), np.arange(4)) <= 3, 0.0, np.nan)
    good = np.array([[100.0, 150, 160, 165], [110, 160, 170, np.nan], [120, 170, np.nan, np.nan], [130, np.nan, np.nan, np.nan]])
    tri = TriangleSet.from_array(np.stack([good, zero]), origin_start="2020", segments=["good", "zero"])
    res = chain_ladder(tri)
    assert np.array_equal(res.ultimate[1], np.zeros(4)) and (res.development.ldf_values[1] == 1).all()
    diag = res.diagnostics
    assert set(diag.loc["zero", "issue"]) == {"no_link_ratio"} and "good" not in diag.index
    assert np.isclose(res.ultimate[0, 3], 130 * res.cdf[0, 3])


def test_shorter_segment_and_missing_diagonal():
    long = np.array([[100.0, 150, 160], [110, 160, np.nan], [120, np.nan, np.nan]])
    short = np.array([[np.nan, np.nan, np.nan], [50.0, np.nan, np.nan], [60, np.nan, np.nan]])
    short[1, 1] = np.nan  # the diagonal cell of origin 2021 is missing
    short_full = short.copy()
    tri = TriangleSet.from_array(np.stack([long, short_full]), origin_start="2020", segments=["long", "short"])
    res = chain_ladder(tri)
    assert np.isnan(res.ultimate[1, 0]) and np.isnan(res.summary.loc[("short", "2020"), "ultimate"])
    assert res.totals.loc["short", "latest"] == 110.0
    issues = set(res.diagnostics.loc["short", "issue"])
    assert "latest_before_diagonal" in issues and "no_link_ratio" in issues


def test_negative_incrementals_are_allowed():
    tri = TriangleSet.from_array([[100.0, 90.0, 95.0], [80.0, 70.0, np.nan], [60.0, np.nan, np.nan]], origin_start="2020")
    res = chain_ladder(tri)
    assert np.isclose(res.development.ldf_values[0, 0], 160.0 / 180.0)
    assert res.diagnostics.empty


def test_option_errors_name_the_problem():
    tri = _tri([[1.0, 2.0], [1.0, np.nan]])
    with pytest.raises(TriangleError, match="average 'mean'"):
        chain_ladder(tri, average="mean")
    with pytest.raises(TriangleError, match="exclude"):
        chain_ladder(tri, exclude=("1999", 12))
    with pytest.raises(TriangleError, match="drop_high has 3 entries"):
        chain_ladder(tri, drop_high=[1, 1, 1])
    with pytest.raises(TriangleError, match="n_periods"):
        chain_ladder(tri, n_periods=0)
