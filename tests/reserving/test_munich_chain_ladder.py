"""Munich chain ladder: parity with chainladder 0.10 MunichAdjustment on mcl and clrd, published lambdas, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from reserving import ReservingError, TriangleSet, munich_chain_ladder
from tests.reserving.conftest import cl, rel_err

TOL = 1e-8


def _anchor(triangle, paid, incurred, sigma="log-linear"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dev = cl.Development(sigma_interpolation=sigma).fit_transform(triangle)
        model = cl.MunichAdjustment(paid_to_incurred=(paid, incurred)).fit(dev)
        full = model.munich_full_triangle_
        return model, full[0, :, 0], full[1, :, 0]


@pytest.mark.parametrize("sigma", ["log-linear", "mack"])
def test_mcl_matches_chainladder(sigma):
    mcl = cl.load_sample("mcl")
    model, full_p, full_i = _anchor(mcl, "paid", "incurred", sigma)
    res = munich_chain_ladder(TriangleSet.from_chainladder(mcl, column="paid"),
                              TriangleSet.from_chainladder(mcl, column="incurred"), sigma=sigma)
    assert rel_err(res.full_paid, full_p).max() < TOL
    assert rel_err(res.full_incurred, full_i).max() < TOL
    assert rel_err([res.lambda_paid[0], res.lambda_incurred[0]], model.lambda_coef_.ravel()).max() < TOL
    assert rel_err(res.rho_paid[0], model.rho_sigma_[0].ravel()).max() < TOL
    assert rel_err(res.q_incurred[0], model.q_f_[1].ravel()).max() < TOL


def test_quarg_mack_published_lambdas():
    # Quarg & Mack (2004), fire portfolio (chainladder's mcl, R's MCLpaid/MCLincurred): lambda_P = 0.64,
    # lambda_I = 0.44 as printed (two decimals).
    mcl = cl.load_sample("mcl")
    res = munich_chain_ladder(TriangleSet.from_chainladder(mcl, column="paid"),
                              TriangleSet.from_chainladder(mcl, column="incurred"))
    assert round(res.lambda_paid[0], 2) == 0.64 and round(res.lambda_incurred[0], 2) == 0.44


def test_clrd_segments_match_chainladder():
    # clrd triangles whose observed paid and incurred cells are all positive (the method needs both
    # ratios), as one stack. Stated difference, hand-checked: chainladder fits both lambdas over the
    # cells where the INCURRED link residual is finite and exactly nonzero (its WeightedRegression
    # weights come from residual_[1]). The last lag has one link ratio, so its residual is zero up to
    # rounding: when the incurred one is -1e-17 instead of 0, chainladder keeps that cell (paid
    # residual 0, ratio residual x) and its lambda_P moves (e.g. 0.494785 vs 0.502487 for the first
    # segment). We leave single-link lags out of both regressions. The test recomputes chainladder's
    # lambda_P from its own paid residual arrays under our rule (must equal ours to 1e-8) and requires the
    # full triangles to match chainladder's to 1e-8 on every segment where the lambdas agree.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clrd = cl.load_sample("clrd")
        paid = TriangleSet.from_chainladder(clrd, column="CumPaidLoss")
        incurred = TriangleSet.from_chainladder(clrd, column="IncurLoss")
    obs = paid.observed[None]
    ok = ((np.isfinite(paid.values) & (paid.values > 0)) | ~obs).all(axis=(1, 2)) & (
        (np.isfinite(incurred.values) & (incurred.values > 0)) | ~obs).all(axis=(1, 2))
    idx = np.flatnonzero(ok)[:60]
    assert idx.size == 60
    res = munich_chain_ladder(paid[idx], incurred[idx])
    model, full_p, full_i = _anchor(clrd[["CumPaidLoss", "IncurLoss"]].iloc[idx], "CumPaidLoss", "IncurLoss")
    y = model.residual_[0][:, 0]  # paid link residuals (chainladder edits the incurred ones in place)
    x = model.q_resid_[0][:, 0, :-1, :-1]
    single = np.isfinite(y).sum(axis=1) < 2
    use = np.isfinite(x) & np.isfinite(y) & ~single[:, None, :]
    theirs_our_rule = np.where(use, x * y, 0).sum(axis=(1, 2)) / np.where(use, x * x, 0).sum(axis=(1, 2))
    assert rel_err(res.lambda_paid, theirs_our_rule).max() < TOL
    same = (rel_err(res.lambda_paid, model.lambda_coef_[0].ravel()) < TOL) & (
        rel_err(res.lambda_incurred, model.lambda_coef_[1].ravel()) < TOL)
    assert same.sum() >= 40
    for ours, theirs in ((res.full_paid[same], full_p[same]), (res.full_incurred[same], full_i[same])):
        finite = np.isfinite(theirs)
        assert np.isfinite(ours[finite]).all() and rel_err(ours[finite], theirs[finite]).max() < TOL
        # Where a lag's sigma or rho is 0 chainladder's correction is 0/0 = NaN (and so is every later
        # cell of the origin); ours takes it as 0, the plain chain-ladder step: finite everywhere.
        assert np.isfinite(ours).all()


def test_summary_totals_and_errors():
    mcl = cl.load_sample("mcl")
    paid = TriangleSet.from_chainladder(mcl, column="paid")
    incurred = TriangleSet.from_chainladder(mcl, column="incurred")
    res = munich_chain_ladder(paid, incurred)
    assert {"ultimate_paid", "ultimate_incurred", "paid_to_incurred"} <= set(res.summary.columns)
    assert {"lambda_paid", "lambda_incurred"} <= set(res.totals.columns)
    assert np.allclose(res.totals["ultimate_paid"], res.ultimate_paid.sum(axis=1))
    values = paid.values[0].copy()
    values[2, 1] = 0.0
    zero = TriangleSet.from_array(values[None], origin_start=str(paid.origins[0]), grain="Y", segments=paid.segments)
    with pytest.raises(ReservingError, match=f"paid at origin {paid.origins[2]}, development 24 is 0.0"):
        munich_chain_ladder(zero, incurred)
    with pytest.raises(ReservingError, match="same segments"):
        munich_chain_ladder(paid, TriangleSet.from_array(incurred.values[0, 1:, 1:], origin_start="2002", grain="Y"))


def test_zero_sigma_lag_takes_the_plain_chain_ladder_step():
    # Hand check of the stated difference: every paid link 12-24 is exactly 2.0, so sigma is 0 and the
    # Munich correction lambda * sigma / rho * (...) is 0/0 at worst; we take the chain-ladder step 2.0.
    paid = np.array([[100., 200., 230., 240.], [120., 240., 270., np.nan], [90., 180., np.nan, np.nan],
                     [110., np.nan, np.nan, np.nan]])
    incurred = np.array([[150., 230., 245., 242.], [160., 250., 275., np.nan], [170., 200., np.nan, np.nan],
                         [140., np.nan, np.nan, np.nan]])
    res = munich_chain_ladder(TriangleSet.from_array(paid, origin_start="2001", grain="Y"),
                              TriangleSet.from_array(incurred, origin_start="2001", grain="Y"))
    assert res.development_paid.sigma[0, 0] == 0.0
    assert res.full_paid[0, 3, 1] == pytest.approx(220.0, rel=1e-14)
    assert np.isfinite(res.full_paid).all() and np.isfinite(res.full_incurred).all()
