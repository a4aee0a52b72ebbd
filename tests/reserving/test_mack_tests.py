"""Mack's calendar-year and development-factor correlation tests: chainladder parity, published figures.

Anchor: chainladder-python 0.10 ``ValuationCorrelation`` (Z, E[Z], Var[Z] per diagonal and in
total) and ``DevelopmentCorrelation`` (T_k and T), to 1e-12. Not compared: chainladder's
``z_critical`` with ``total=True``, which tests ``Var[Z]`` against a band centred on ``Var[Z]``
instead of ``Z`` against a band centred on ``E[Z]`` (read in its source); ours is Mack's rule,
hand-checked below. Published: chainladder's documented RAA figures (T = 0.0696 in
(-0.1275, 0.1275) at 50%, Z = 14, E[Z] = 12.875); E[Z] re-derived by hand from the counts.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import norm

from reserving import ReservingError, TriangleSet, calendar_year_test, development_correlation_test, mack
from tests.reserving.conftest import cl

SAMPLES = ["raa", "genins", "abc", "ukmotor", "mw2008", "mw2014"]


def _sample(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = cl.load_sample(name)
    return raw, TriangleSet.from_chainladder(raw)


@pytest.mark.parametrize("name", SAMPLES)
def test_calendar_year_matches_chainladder(name):
    raw, tri = _sample(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        total = cl.ValuationCorrelation(raw, total=True)
        per = cl.ValuationCorrelation(raw, total=False)
    res = calendar_year_test(tri)
    row = res.summary.iloc[0]
    assert row["z"] == pytest.approx(total.z.values[0, 0], abs=1e-12)
    assert row["expected"] == pytest.approx(total.z_expectation.values[0, 0], rel=1e-12)
    assert row["variance"] == pytest.approx(total.z_variance.values[0, 0], rel=1e-12)
    theirs = per.z.values.ravel()
    np.testing.assert_allclose(res.z[0][: theirs.size], theirs, atol=1e-12)


@pytest.mark.parametrize("name", SAMPLES)
def test_development_correlation_matches_chainladder(name):
    raw, tri = _sample(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cl.DevelopmentCorrelation(raw)
    res = development_correlation_test(tri)
    row = res.summary.iloc[0]
    assert row["t"] == pytest.approx(theirs.t_expectation.values[0, 0], rel=1e-12)
    assert row["variance"] == pytest.approx(theirs.t_variance, rel=1e-12)
    assert row["upper"] == pytest.approx(theirs.confidence_interval[1], rel=1e-12)
    t_k = theirs.t.values.ravel()
    np.testing.assert_allclose(res.t_k[0][: t_k.size], t_k, rtol=1e-12)


def test_published_raa_figures():
    tri = _sample("raa")[1]
    cy = calendar_year_test(tri).summary.iloc[0]
    dc = development_correlation_test(tri).summary.iloc[0]
    assert cy["z"] == 14.0 and cy["expected"] == pytest.approx(12.875, rel=1e-13) and not cy["calendar_year_effect"]
    assert round(dc["t"], 4) == 0.0696 and round(dc["upper"], 4) == 0.1275 and not dc["correlated"]


def test_expected_z_by_hand():
    """Mack's E[Z_j] from the counts of factors off their column's median, diagonal by diagonal."""
    tri = _sample("genins")[1]
    res = calendar_year_test(tri)

    def e(n):
        m = (n - 1) // 2
        return n / 2 - math.comb(n - 1, m) * n / 2**n

    factors = tri.link_ratios[0]
    at_median = np.zeros(factors.shape, bool)
    for k in range(factors.shape[1]):
        col = factors[:, k]
        at_median[:, k] = col == np.nanmedian(col)
    counts = [sum(1 for i in range(10) for k in range(9) if i + k == d and np.isfinite(factors[i, k])
                  and not at_median[i, k]) for d in range(18)]
    np.testing.assert_array_equal(res.count[0], counts)
    assert res.summary["expected"].iloc[0] == pytest.approx(sum(e(n) for n in counts if n), rel=1e-13)


def test_ranges_and_flags_by_hand():
    tri = _sample("raa")[1]
    row = calendar_year_test(tri, ci=0.5).summary.iloc[0]
    half = norm.ppf(0.75) * math.sqrt(row["variance"])
    assert row["lower"] == pytest.approx(row["expected"] - half)
    assert row["upper"] == pytest.approx(row["expected"] + half)
    assert row["calendar_year_effect"] == (not row["lower"] <= row["z"] <= row["upper"])
    # a calendar-year effect planted: factors on even diagonals x 1.3, on odd diagonals / 1.3
    factors = tri.link_ratios[0]
    n = factors.shape[0]
    shift = np.where((np.arange(n)[:, None] + np.arange(n - 1)[None, :]) % 2 == 0, 1.3, 1 / 1.3)
    values = tri.values[0].copy()
    values[:, 1:] = values[:, :1] * np.cumprod(factors * shift, axis=1)
    planted = TriangleSet.from_array(values, origin_start="1981", grain="Y")
    assert bool(calendar_year_test(planted).summary["calendar_year_effect"].iloc[0])


def test_batched_and_in_mack_results():
    tris = [_sample(n)[1] for n in ("raa", "genins")]
    both = TriangleSet.from_array(np.stack([t.values[0] for t in tris]), origin_start="1981", grain="Y")
    cy, dc = calendar_year_test(both), development_correlation_test(both)
    for s, one in enumerate(tris):
        np.testing.assert_allclose(cy.summary.iloc[s].to_numpy(float), calendar_year_test(one).summary.iloc[0]
                                   .to_numpy(float), rtol=1e-14)
        np.testing.assert_allclose(dc.summary.iloc[s].to_numpy(float), development_correlation_test(one).summary
                                   .iloc[0].to_numpy(float), rtol=1e-14)
    tests = mack(both).assumption_tests
    assert list(tests["cy_z"]) == list(cy.summary["z"])
    assert list(tests["dfcor_t"]) == list(dc.summary["t"])
    assert len(cy.by_diagonal) == int((cy.count > 0).sum())


def test_bad_input():
    tri = _sample("raa")[1]
    with pytest.raises(ReservingError, match="ci 1"):
        calendar_year_test(tri, ci=1)
    with pytest.raises(ReservingError, match="expected a TriangleSet"):
        development_correlation_test(np.ones((3, 3)))
