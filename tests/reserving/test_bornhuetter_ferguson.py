"""Bornhuetter-Ferguson against chainladder-python, the blend against its closed form, and the priors."""

import chainladder as cl
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reserving import TriangleSet, chain_ladder
from reserving.bornhuetter_ferguson import bornhuetter_ferguson, budget_prior, mature, trended_prior


@pytest.mark.parametrize("sample,apriori", [("raa", 20_000.0), ("genins", 5_000_000.0)])
def test_bf_matches_chainladder(sample, apriori):
    raw = cl.load_sample(sample)
    ref = cl.BornhuetterFerguson(apriori=1.0).fit(raw, sample_weight=raw.latest_diagonal * 0 + apriori)
    tri = TriangleSet.from_chainladder(raw)
    res = bornhuetter_ferguson(tri, np.full((1, tri.n_origins), apriori), chain_ladder(tri).cdf)
    expected = np.nan_to_num(np.asarray(ref.ibnr_.values, dtype=float).ravel())
    np.testing.assert_allclose(res.ibnr.ravel(), expected, rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(res.ultimate.ravel(), np.asarray(ref.ultimate_.values, dtype=float).ravel(), rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(paid=st.floats(0, 1e6), prior=st.floats(0, 1e6), cdf=st.floats(1.0, 50.0), cl_ult=st.floats(0, 1e7),
       threshold=st.floats(0.05, 1.0))
def test_blend_is_the_completion_weighted_mix(paid, prior, cdf, cl_ult, threshold):
    tri = TriangleSet.from_array([[paid]], origin_start="2024-01", grain="M")
    res = bornhuetter_ferguson(tri, [[prior]], [[cdf]], cl_ultimate=[[cl_ult]], method="blend", threshold=threshold)
    z = 1 / cdf
    w = min(z / threshold, 1.0)
    bf = paid + prior * (1 - z)
    assert res.weight_cl[0, 0] == pytest.approx(w, rel=1e-12)
    assert res.ultimate[0, 0] == pytest.approx(w * cl_ult + (1 - w) * bf, rel=1e-9, abs=1e-6)
    assert res.method_used[0, 0] == ("chain_ladder" if w >= 1 else "bf" if w <= 0 else "blend")


def test_switches_and_missing_prior():
    tri = TriangleSet.from_array([[100., 150.], [90., np.nan]], origin_start="2024-01", grain="M")
    cdf, ult = [[1.0, 1.5]], [[150.0, 135.0]]
    off = bornhuetter_ferguson(tri, [[160., 160.]], cdf, cl_ultimate=ult, method="chain_ladder")
    assert off.ultimate.tolist() == ult
    none = bornhuetter_ferguson(tri, [[np.nan, np.nan]], cdf, cl_ultimate=ult, method="blend")
    assert none.ultimate.tolist() == ult and none.method_used[0, 1] == "chain_ladder (no prior)"
    with pytest.raises(ValueError, match="needs cl_ultimate"):
        bornhuetter_ferguson(tri, [[1., 1.]], cdf, method="blend")
    with pytest.raises(ValueError, match="shape"):
        bornhuetter_ferguson(tri, [[1., 1., 1.]], cdf)


def test_trended_prior_recovers_an_exact_trend_with_exposure():
    t = np.arange(24)
    members = 1000 + 10 * t
    pmpm = 50 * 1.01 ** t
    ult = (pmpm * members)[None, :]
    completion = np.where(t < 20, 1.0, 0.3)[None, :]
    prior = trended_prior(ult, completion, members[None, :].astype(float), threshold=0.75, n_months=12)
    np.testing.assert_allclose(prior[0], ult[0], rtol=1e-10)
    assert mature(completion, 0.75, 12)[0].sum() == 12


def test_budget_prior_splits_by_mature_share():
    seg = pd.MultiIndex.from_tuples([("A", "er"), ("A", "ip"), ("B", "er")], names=["consortium", "service"])
    tri = TriangleSet.from_array(np.full((3, 3, 3), np.nan), origin_start="2024-01", grain="M", segments=seg)
    budget = pd.DataFrame({"consortium": ["A"] * 3 + ["B"] * 2, "month": ["2024-01", "2024-02", "2024-03"] * 1
                           + ["2024-01", "2024-02"], "budget": [100., 100., 200., 50., 60.]})
    ult = np.array([[10., 10., 0.], [30., 30., 0.], [5., 5., 0.]])
    completion = np.array([[1., 1., .2], [1., 1., .2], [1., 1., .2]])
    prior = budget_prior(tri, budget, ult, completion)
    np.testing.assert_allclose(prior[:2], [[25., 25., 50.], [75., 75., 150.]])
    np.testing.assert_allclose(prior[2], [50., 60., np.nan])
