"""Cape Cod, Benktander and expected loss ratio: parity with chainladder 0.10, hand checks, errors.

Parity domain: clrd paid triangles (CumPaidLoss) with EarnedPremDIR as exposure, every segment
whose origins all have a value on the valuation diagonal and a positive exposure (405 of 775).
Outside it we differ from chainladder on purpose, in two places (both hand-checked below):

* an origin with no claims data at all: chainladder counts its exposure / CDF in the Cape Cod
  denominator and gives it a BF ultimate; we leave it out (NaN ultimate, as chain_ladder does),
  so the empty origin's used-up exposure does not pull the loss ratio down;
* an origin whose valuation-diagonal cell is missing: chainladder takes latest = 0 at the
  diagonal's CDF, we project from its last finite cell (the chain_ladder convention, with a
  ``latest_before_diagonal`` diagnostic). Covered by test_chain_ladder; not repeated here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from reserving import ReservingError, TriangleSet, benktander, cape_cod, chain_ladder, expected_loss_ratio
from reserving.cape_cod import trend_factors
from tests.reserving.conftest import cl, rel_err

TOL = 1e-8


@pytest.fixture(scope="module")
def clrd_paid():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = cl.load_sample("clrd")
        tri = TriangleSet.from_chainladder(full, column="CumPaidLoss")
        exposure = full["EarnedPremDIR"].latest_diagonal.values[:, 0, :, 0]
    diagonal = np.minimum(tri.valuation_index - np.arange(tri.n_origins), tri.n_lags - 1)
    clean = (tri.latest_lag == diagonal).all(axis=1) & (np.isfinite(exposure) & (exposure > 0)).all(axis=1)
    idx = np.flatnonzero(clean)
    return full, tri, exposure, idx


def _fit(model, full, idx, **development):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = full["CumPaidLoss"].iloc[idx]
        if development:
            x = cl.Development(**development).fit_transform(x)
        return model.fit(x, sample_weight=full["EarnedPremDIR"].latest_diagonal.iloc[idx])


CAPE_COD = [{}, {"decay": 0.5}, {"trend": 0.03}, {"decay": 0.75, "trend": -0.02}, {"decay": 0.0}, {"n_iters": 3}]
DEVELOPMENT = [{}, {"n_periods": 3}, {"average": "simple", "drop_high": True}]


@pytest.mark.parametrize("opts", CAPE_COD, ids=str)
@pytest.mark.parametrize("dev", DEVELOPMENT, ids=str)
def test_cape_cod_matches_chainladder_on_clrd(clrd_paid, opts, dev):
    full, tri, exposure, idx = clrd_paid
    assert len(idx) == 405
    ref = _fit(cl.CapeCod(**opts), full, idx, **dev)
    res = cape_cod(tri[idx], exposure[idx], **dev, **opts)
    assert rel_err(res.ultimate, ref.ultimate_.values[:, 0, :, 0]).max() < TOL
    assert rel_err(res.loss_ratio, ref.detrended_apriori_.values[:, 0, :, 0]).max() < TOL
    assert np.allclose(res.totals["ibnr"], np.nansum(res.ibnr, axis=1))


@pytest.mark.parametrize("n_iters", [0, 1, 2, 5])
@pytest.mark.parametrize("dev", DEVELOPMENT, ids=str)
def test_benktander_matches_chainladder_on_clrd(clrd_paid, n_iters, dev):
    full, tri, exposure, idx = clrd_paid
    ref = _fit(cl.Benktander(apriori=0.7, n_iters=n_iters), full, idx, **dev)
    res = benktander(tri[idx], 0.7, exposure[idx], **dev, n_iters=n_iters)
    assert rel_err(res.ultimate, ref.ultimate_.values[:, 0, :, 0]).max() < TOL
    by_ultimate = benktander(tri[idx], 0.7 * exposure[idx], **dev, n_iters=n_iters)
    assert np.array_equal(by_ultimate.ultimate, res.ultimate)


def test_expected_loss_ratio_matches_chainladder(clrd_paid):
    full, tri, exposure, idx = clrd_paid
    ref = _fit(cl.ExpectedLoss(apriori=0.65), full, idx)
    res = expected_loss_ratio(tri[idx], exposure[idx], 0.65)
    assert rel_err(res.ultimate, ref.ultimate_.values[:, 0, :, 0]).max() < TOL
    assert np.allclose(res.ibnr, res.ultimate - res.latest)


def test_cape_cod_xyz_published_apriori():
    # chainladder 0.10 CapeCod docstring (xyz Paid, Premium latest diagonal): 0.763919 for every
    # origin with decay=1; 0.797751 ... 0.830368 with decay=0.5; trended 1.027105 ... 0.890327.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xyz = cl.load_sample("xyz")
        tri = TriangleSet.from_chainladder(xyz, column="Paid")
        premium = xyz["Premium"].latest_diagonal.values[0, 0, :, 0]
    assert np.allclose(cape_cod(tri, premium).loss_ratio[0, 1:], 0.763919, atol=5e-7)
    half = cape_cod(tri, premium, decay=0.5)
    assert abs(half.loss_ratio[0, 1] - 0.799990) < 5e-7 and abs(half.loss_ratio[0, -1] - 0.830368) < 5e-7
    trended = cape_cod(tri, premium, decay=0.5, trend=0.03)
    assert abs(trended.loss_ratio[0, -1] * trend_factors(tri, 0.03)[-1] - 0.890327) < 5e-7
    assert abs(trended.loss_ratio[0, 1] * trend_factors(tri, 0.03)[1] - 1.014959) < 5e-7


def test_cape_cod_hand_computed():
    # Two origins: latest 150 (cdf 1) and 90 (cdf 1.5), exposure 200 each, trend 10% a year.
    tri = TriangleSet.from_array([[100., 150.], [90., np.nan]], origin_start="2023", grain="Y")
    res = cape_cod(tri, [200., 200.], trend=0.10, decay=0.5)
    t = np.array([1.1, 1.0])
    w = np.array([[1.0, 0.5], [0.5, 1.0]])
    used = np.array([200.0, 200.0 / 1.5])
    lr = (w @ (np.array([150.0, 90.0]) * t)) / (w @ used) / t
    assert np.allclose(res.loss_ratio[0], lr, rtol=1e-14)
    assert np.allclose(res.ultimate[0], [150.0, 90.0 + lr[1] * 200.0 / 3.0], rtol=1e-14)


def test_decay_zero_is_the_chain_ladder(clrd_paid):
    _, tri, exposure, idx = clrd_paid
    sub = idx[:50]
    res = cape_cod(tri[sub], exposure[sub], decay=0.0)
    assert rel_err(res.ultimate, chain_ladder(tri[sub]).ultimate).max() < 1e-12


def test_many_benktander_iterations_approach_the_chain_ladder(samples):
    _, tri = samples["raa"]
    res = benktander(tri, 20_000.0, n_iters=400)
    assert rel_err(res.ultimate, chain_ladder(tri).ultimate).max() < 1e-8


def test_origin_without_data_differs_from_chainladder_as_stated(clrd_paid):
    full, tri, exposure, _ = clrd_paid
    diagonal = np.minimum(tri.valuation_index - np.arange(tri.n_origins), tri.n_lags - 1)
    has = tri.latest_lag >= 0
    pick = np.flatnonzero(((tri.latest_lag == diagonal) | ~has).all(axis=1) & (~has).any(axis=1) & has[:, -1]
                          & (np.isfinite(exposure) & (exposure > 0)).all(axis=1))
    assert pick.size > 0
    s = pick[0]
    ref = _fit(cl.CapeCod(), full, [s])
    s = np.array([s])
    ours = cape_cod(tri[s], exposure[s])
    cdf_diag = chain_ladder(tri[s]).development.cdf_values[0, diagonal]
    empty = ~has[s[0]]
    used = exposure[s[0]] / cdf_diag
    theirs_lr = ours.loss_ratio[0, ~empty][0] * used[~empty].sum() / used.sum()
    assert rel_err(ref.apriori_.values[0, 0, :, 0], theirs_lr).max() < TOL
    lat = np.nan_to_num(tri[s].latest[0])
    assert rel_err(ref.ultimate_.values[0, 0, :, 0], lat + (1 - 1 / cdf_diag) * theirs_lr * exposure[s[0]]).max() < TOL
    assert np.isnan(ours.ultimate[0, empty]).all()


def test_summary_totals_and_errors(clrd_paid):
    _, tri, exposure, idx = clrd_paid
    res = cape_cod(tri[idx[:3]], exposure[idx[:3]])
    assert list(res.summary.columns) == ["latest", "exposure", "loss_ratio", "prior", "cdf", "ultimate", "ibnr"]
    assert len(res.summary) == 3 * tri.n_origins and list(res.totals.index) == list(tri.segments[idx[:3]])
    bad = exposure[idx[:3]].copy()
    bad[1, 4] = np.nan
    with pytest.raises(ReservingError, match=f"exposure at origin {tri.origins[4]}.*segment|segment.*origin {tri.origins[4]}"):
        cape_cod(tri[idx[:3]], bad)
    with pytest.raises(ReservingError, match="decay"):
        cape_cod(tri[idx[:3]], exposure[idx[:3]], decay=1.5)
    with pytest.raises(ReservingError, match="n_iters"):
        benktander(tri[idx[:3]], 1.0, exposure[idx[:3]], n_iters=-1)
    with pytest.raises(ReservingError, match="shape"):
        expected_loss_ratio(tri[idx[:3]], exposure[idx[:3], :4], 0.7)


def test_monthly_trend_months():
    # Origins Jan-Mar 2024 valued at the end of March: 2, 1 and 0 months of trend.
    tri = TriangleSet.from_array([[1., 2., 3.], [1., 2., np.nan], [1., np.nan, np.nan]], origin_start="2024-01",
                                 grain="M")
    assert np.allclose(trend_factors(tri, 0.12), 1.12 ** (np.array([2.0, 1.0, 0.0]) / 12), rtol=1e-15)
