"""Calibration against statsmodels WLS on the naive design; normal equations against dense algebra.

These tests switch the order constraints off (``UNCONSTRAINED``) to compare with plain WLS; the
constrained fit is tested in test_constrained_calibration.py.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings

from _kit.random import generator
from riskadjust import Population
from riskadjust.calibrate import calibrate, normal_matrices
from riskadjust.errors import RiskModelError
from riskadjust.validate import validate
from tests.riskadjust.naive import naive_design
from tests.riskadjust.test_score import models_and_members

CAP = 60_000.0
UNCONSTRAINED = {"nonnegative": False, "monotone": False}


@pytest.fixture(scope="module")
def home(home):
    """The home model with only cell coefficients in the small institutional segment (too few
    institutional members in the sample to identify condition terms there)."""
    c = home.coefficients
    cells = set(home.cells["term"])
    return home.with_coefficients(c[(c["segment"] == "community") | c["term"].isin(cells)])


@pytest.fixture(scope="module")
def fitted(home, sample):
    members, dx = sample
    pop = Population.from_frames(home, members, dx)
    X = naive_design(home, members, dx)
    y = np.minimum(members["cost"].to_numpy() / members["exposure"].to_numpy(), CAP)
    return members, pop, X, y, members["exposure"].to_numpy()


def _rel(a, b):
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1.0))


def test_coefficients_equal_statsmodels_wls(fitted):
    members, pop, X, y, w = fitted
    r = calibrate(pop, members["cost"], members["exposure"], cap=CAP, **UNCONSTRAINED)
    seen = X.sum(axis=0) > 0
    ref = sm.WLS(y, X[:, seen], weights=w).fit().params
    assert _rel(r.coefficients["cost"].to_numpy()[seen], ref) < 1e-8
    assert np.all(r.coefficients["cost"].to_numpy()[~seen] == 0)
    assert len(r.unobserved) == int((~seen).sum())
    np.testing.assert_array_equal(r.coefficients["members"].to_numpy(), X.sum(axis=0).astype(int))


def test_equality_constraints_equal_merged_columns(fitted, home):
    members, pop, X, y, w = fitted
    idx = {t: i for i, t in enumerate(zip(home.coefficients["segment"], home.coefficients["term"]))}
    a, b, c = idx[("community", "DIAB")], idx[("community", "DIAB_COMP")], idx[("community", "HF")]
    cons = pd.DataFrame({"constraint": [1, 1, 2, 2], "segment": "community",
                         "term": ["DIAB", "DIAB_COMP", "HF", "DIAB"], "weight": [1.0, -1.0, 1.0, -1.0],
                         "value": [0.0, 0.0, 250.0, 250.0]})
    r = calibrate(pop, members["cost"], members["exposure"], cap=CAP, constraints=cons, **UNCONSTRAINED)
    # substitute b_A = b_B = t and b_HF = t + 250: column t = x_A + x_B + x_HF, response y - 250 x_HF
    seen = X.sum(axis=0) > 0
    Z = X.copy()
    Z[:, a] = X[:, a] + X[:, b] + X[:, c]
    keep = seen.copy()
    keep[[b, c]] = False
    ref = sm.WLS(y - 250.0 * X[:, c], Z[:, keep], weights=w).fit().params
    got = r.coefficients["cost"].to_numpy()
    assert _rel(got[keep], ref) < 1e-8
    assert got[a] == pytest.approx(got[b], rel=1e-12)
    assert got[c] - got[a] == pytest.approx(250.0, rel=1e-10)


def test_constraint_rows_must_agree_on_value(fitted):
    members, pop = fitted[:2]
    cons = pd.DataFrame({"constraint": ["tie", "tie"], "segment": "community", "term": ["DIAB", "DIAB_COMP"],
                         "weight": [1.0, -1.0], "value": [0.0, 5.0]})
    with pytest.raises(RiskModelError, match="constraint 'tie': its rows give different values"):
        calibrate(pop, members["cost"], members["exposure"], cap=CAP, constraints=cons)


def test_validate_ratios_against_uncapped_cost():
    # two members of one group, 1 member-year each: predicted 1 + 1 = 2, capped actual 1 + 2 = 3,
    # uncapped actual 1 + 4 = 5; deciles by predicted cost put them in deciles 1 and 6
    v = validate([1.0, 1.0], [1.0, 2.0], groups=["g", "g"], uncapped=[1.0, 4.0])
    assert v.by_group.loc["g", "predictive_ratio"] == pytest.approx(2 / 3, rel=1e-15)
    assert v.by_group_uncapped.loc["g", "predictive_ratio"] == pytest.approx(2 / 5, rel=1e-15)
    assert v.by_group_uncapped.loc["g", "actual_pmpy"] == pytest.approx(2.5, rel=1e-15)
    assert v.by_decile_uncapped["predictive_ratio"].tolist() == pytest.approx([1.0, 0.25], rel=1e-15)


def test_relative_model_and_holdout_metrics(fitted):
    members, pop, X, y, w = fitted
    r = calibrate(pop, members["cost"], members["exposure"], cap=CAP, holdout=0.3, seed=4,
                  groups=members["group"], **UNCONSTRAINED)
    test = generator(4, "holdout").random(len(members)) < 0.3
    train = ~test
    seen = X[train].sum(axis=0) > 0
    fit = sm.WLS(y[train], X[train][:, seen], weights=w[train]).fit()
    pred = X[test][:, seen] @ fit.params
    yt, wt = y[test], w[test]
    ybar = np.sum(wt * yt) / np.sum(wt)
    assert r.validation.r2 == pytest.approx(1 - np.sum(wt * (yt - pred) ** 2) / np.sum(wt * (yt - ybar) ** 2), abs=1e-9)
    assert r.validation.cpm == pytest.approx(1 - np.sum(wt * abs(yt - pred)) / np.sum(wt * abs(yt - ybar)), abs=1e-9)
    g = members["group"].to_numpy()[test]
    pr = {k: np.sum((wt * pred)[g == k]) / np.sum((wt * yt)[g == k]) for k in np.unique(g)}
    assert r.validation.by_group["predictive_ratio"].to_dict() == pytest.approx(pr, rel=1e-9)
    assert r.denominator == pytest.approx(np.sum(w[train] * y[train]) / np.sum(w[train]), rel=1e-12)
    np.testing.assert_allclose(r.coefficients["relative"], r.coefficients["cost"] / r.denominator, rtol=1e-15)
    assert r.model.coefficients["coefficient"].tolist() == r.coefficients["relative"].tolist()


def test_validate_hand_example():
    # w = (1, 1, 2), y = (0, 10, 4), p = (2, 6, 4): ybar = 18/4 = 4.5
    v = validate([2.0, 6.0, 4.0], [0.0, 10.0, 4.0], [1.0, 1.0, 2.0], groups=["a", "b", "b"])
    assert v.r2 == pytest.approx(1 - (4 + 16) / (20.25 + 30.25 + 2 * 0.25))
    assert v.cpm == pytest.approx(1 - 6 / (4.5 + 5.5 + 1.0))
    assert v.mape == pytest.approx(6 / 4)
    assert v.by_group.loc["b", "predictive_ratio"] == pytest.approx((6 + 8) / (10 + 8))


def test_same_coefficients_on_one_and_two_threads(fitted, on_threads):
    members, pop, *_ = fitted
    one, two = on_threads(
        lambda: calibrate(pop, members["cost"], members["exposure"], cap=CAP).coefficients["cost"].to_numpy())
    assert np.array_equal(one, two)


@settings(max_examples=30, deadline=None)
@given(models_and_members())
def test_normal_equations_equal_dense_algebra(case):
    model, members, dx = case
    pop = Population.from_frames(model, members, dx)
    rng = np.random.default_rng(len(members))
    w, y = rng.uniform(0.1, 1.0, len(members)), rng.gamma(1.0, 100.0, len(members))
    a, v, count = normal_matrices(model, pop, w, y)
    X = naive_design(model, members, dx)
    np.testing.assert_allclose(a, X.T @ (w[:, None] * X), atol=1e-12)
    np.testing.assert_allclose(v, X.T @ (w * y), rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(count, X.sum(axis=0))
