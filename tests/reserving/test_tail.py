"""Tails: every TailConstant / TailCurve option against chainladder 0.10.1, and closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from reserving import TailConstant, TailCurve, TriangleError, TriangleSet, chain_ladder, mack
from tests.reserving.conftest import anchor_mack, cl, rel_err

TOL = 1e-8
FLAGS = [False, True, True, True, False, True, True, True, True]

# (sample, sigma interpolation, our tail, chainladder's tail); one sample per option keeps the suite fast.
CASES = [
    ("genins", "log-linear", TailCurve(fit_period=(36, None)), cl.TailCurve(fit_period=(36, None))),
    ("raa", "mack", TailCurve(fit_period=(None, 96)), cl.TailCurve(fit_period=(None, 96))),
    ("abc", "log-linear", TailCurve(fit_period=(24, 84)), cl.TailCurve(fit_period=(24, 84))),
    ("raa", "log-linear", TailCurve(fit_period=FLAGS), cl.TailCurve(fit_period=FLAGS)),
    ("genins", "mack", TailCurve(attachment_age=84), cl.TailCurve(attachment_age=84)),
    ("abc", "mack", TailCurve("inverse_power", attachment_age=60, extrap_periods=30),
     cl.TailCurve("inverse_power", attachment_age=60, extrap_periods=30)),
    ("genins", "log-linear", TailCurve(reg_threshold=(1.01, 1.5)), cl.TailCurve(reg_threshold=(1.01, 1.5))),
    ("raa", "mack", TailCurve(projection_period=36), cl.TailCurve(projection_period=36)),
    ("abc", "log-linear", TailConstant(1.08, decay=0.3, projection_period=24),
     cl.TailConstant(1.08, decay=0.3, projection_period=24)),
    ("genins", "mack", TailConstant(0.98), cl.TailConstant(0.98)),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_tail_options_match_chainladder(samples, case):
    name, sigma, ours, theirs = CASES[case]
    triangle, tri = samples[name]
    ref = anchor_mack(triangle, sigma, theirs)
    res = mack(tri, sigma=sigma, tail=ours)
    dev = res.chain_ladder.development
    assert dev.ldf_values.shape == ref["ldf"].shape
    assert rel_err(dev.ldf_values, ref["ldf"]).max() < TOL
    assert rel_err(res.chain_ladder.ultimate, ref["ultimate"]).max() < TOL
    assert rel_err(res.std_err, np.nan_to_num(ref["std_err"])).max() < TOL
    assert rel_err(res.total_std_err, ref["total"]).max() < TOL


def test_constant_tail_multiplies_to_the_factor(samples):
    tri = samples["raa"][1]
    dev = chain_ladder(tri, tail=TailConstant(1.07, decay=0.6, projection_period=36)).development
    tail = dev.ldf_values[0, tri.n_lags - 1:]
    assert tail.size == 3 + 1  # 36 months of annual factors, then the rest to ultimate
    assert np.isclose(np.prod(tail), 1.07, rtol=1e-15, atol=0)
    assert np.allclose(np.diff(np.log(tail[:-1] - 1)), np.log(0.6), rtol=1e-12)  # (f - 1) decays by 0.6
    assert np.isclose(dev.cdf_values[0, -1], 1.07, rtol=1e-15)


def test_exponential_curve_recovers_an_exact_decay():
    # Factors f_t = 1 + exp(a + b t) exactly: the fitted tail is prod over t = J .. J + 99 of f_t.
    a, b, n = -0.5, -0.4, 8
    f = 1 + np.exp(a + b * np.arange(1, n))
    values = np.full((n, n), np.nan)
    for i in range(n):
        values[i, 0] = 100.0 + 10 * i
        for j in range(1, n - i):
            values[i, j] = values[i, j - 1] * f[j - 1]
    tri = TriangleSet.from_array(values, origin_start="2001")
    res = chain_ladder(tri, tail=TailCurve("exponential", extrap_periods=100))
    expected = np.prod(1 + np.exp(a + b * np.arange(n, n + 100)))
    assert np.isclose(res.development.cdf_values[0, -1], expected, rtol=1e-12)
    assert res.diagnostics.empty


def test_monthly_grain_projects_twelve_tail_factors():
    values = np.where(np.add.outer(np.arange(4), np.arange(4)) <= 3, 1.0, np.nan) * np.array([100.0, 150, 170, 175])
    tri = TriangleSet.from_array(values, origin_start="2024-01", grain="M")
    dev = chain_ladder(tri, tail=TailConstant(1.02)).development
    assert dev.ldf_values.shape == (1, 3 + 12 + 1)
    assert np.isclose(np.prod(dev.ldf_values[0, 3:]), 1.02, rtol=1e-15)


def test_curve_without_two_factors_to_fit_is_diagnosed():
    values = np.array([[100.0, 100, 100], [100, 100, np.nan], [100, np.nan, np.nan]])
    res = mack(TriangleSet.from_array(values, origin_start="2001"), tail=TailCurve())
    assert (res.chain_ladder.development.ldf_values == 1).all()
    assert "tail_undetermined" in set(res.diagnostics["issue"])


def test_tail_errors_name_the_problem(samples):
    tri = samples["raa"][1]
    with pytest.raises(TriangleError, match="curve 'cubic'"):
        TailCurve("cubic")
    with pytest.raises(TriangleError, match="fit_period has 3 flags for 9"):
        chain_ladder(tri, tail=TailCurve(fit_period=[True, True, True]))
    with pytest.raises(TriangleError, match="attachment_age 240 is after"):
        chain_ladder(tri, tail=TailConstant(1.05, attachment_age=240))
    with pytest.raises(TriangleError, match="tail must be"):
        chain_ladder(tri, tail=-1.0)
