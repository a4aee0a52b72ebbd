"""Stochastic Bornhuetter-Ferguson: against a slow reference, the bootstrap, closed forms; seeding; the prior's error.

References: ``naive_stochastic_bf`` (England & Verrall 2002 written out with numpy's generator);
with every weight 1 the model is the ODP bootstrap (:func:`reserving.bootstrap_odp`); a month with
nothing paid and a fixed pattern has the closed-form variance of a lognormal prior plus ODP process.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import pytest

from reserving import TriangleSet, bootstrap_odp, chain_ladder
from reserving.errors import ReservingError
from reserving.stochastic_bf import LargeClaims, PriorError, prior_error, stochastic_bf
from tests.reserving import naive_bootstrap as nb
from tests.reserving import naive_stochastic_bf as naive


@pytest.fixture(scope="module")
def genins():
    return TriangleSet.from_array(nb.genins(), origin_start="2001", grain="Y")


def _prior_and_weight(tri):
    ult = chain_ladder(tri).ultimate
    prior = 1.1 * ult                                   # a prior 10% above the chain ladder
    weight = np.linspace(1.0, 0.0, tri.n_origins)[None, :]
    return prior, weight


def test_matches_the_naive_reference(genins):
    """Mean (before bias correction) and standard deviation per origin and in total, against 2,000
    reference simulations: the mean within 4 reference standard errors, the sd within 7% (the sd of a
    sd estimated from 2,000 draws is about 1.6%, plus our 20,000 draws' own)."""
    prior, weight = _prior_and_weight(genins)
    ours = stochastic_bf(genins, prior, weight, prior_error=PriorError(np.array([0.15]), 0.0, 0.0, 0),
                         n_sims=20_000, seed=3)
    ref = naive.stochastic_bf(nb.genins(), prior[0], weight[0], 0.15, 2_000, np.random.default_rng(3))
    raw_mean = ours.ibnr[0] + ours.bias[0]           # the simulations' mean before the bias correction
    se = ref.std(axis=0, ddof=1) / np.sqrt(len(ref))
    for i in range(1, 10):
        assert abs(raw_mean[i] - ref[:, i].mean()) < 4 * se[i] + 1e-9, i
        assert ours.samples[0, i].std() == pytest.approx(ref[:, i].std(), rel=0.07), i
    total_ref = ref.sum(axis=1)
    assert ours.samples[0].sum(axis=0).std() == pytest.approx(total_ref.std(), rel=0.07)
    assert abs(raw_mean.sum() - total_ref.mean()) < 4 * total_ref.std() / np.sqrt(len(ref))


def test_large_claims_match_the_naive_reference(genins):
    """A fifth of each mean in large claims of three sizes (a compound Poisson with from 0.03 to 3
    claims per origin): per origin the mean (before bias correction) and the variance each within 4
    standard errors (the variance's from the fourth central moment, ``sqrt((m4 - v^2) / n)``, ours
    and the reference's combined: rare large claims make a sample variance noisy); the total's 75th
    and 95th percentiles within 4% (the standard error of a reference 95th percentile from 4,000
    draws is about 1.5%, its 75th less)."""
    prior, weight = _prior_and_weight(genins)
    amounts = np.array([2e5, 5e5, 1.5e6])
    large = LargeClaims(np.array([0.2]), (amounts,), np.array([0]))
    err = PriorError(np.array([0.15]), 0.0, 0.0, 0)
    ours = stochastic_bf(genins, prior, weight, prior_error=err, large=large, n_sims=20_000, seed=4)
    ref = naive.stochastic_bf(nb.genins(), prior[0], weight[0], 0.15, 4_000, np.random.default_rng(4),
                              large_share=0.2, large=amounts)
    raw_mean = ours.ibnr[0] + ours.bias[0]
    se = ref.std(axis=0, ddof=1) / np.sqrt(len(ref))

    def var_se(x):
        return np.sqrt((np.mean((x - x.mean()) ** 4) - x.var() ** 2) / len(x))

    for i in range(1, 10):
        assert abs(raw_mean[i] - ref[:, i].mean()) < 4 * se[i] + 1e-9, i
        x, y = ours.samples[0, i], ref[:, i]
        assert abs(x.var() - y.var()) < 4 * np.hypot(var_se(x), var_se(y)), i
    total = (ours.samples[0] + ours.bias[0][:, None]).sum(axis=0)
    np.testing.assert_allclose(np.quantile(total, [0.75, 0.95]), np.quantile(ref.sum(axis=1), [0.75, 0.95]),
                               rtol=0.04)
    plain = stochastic_bf(genins, prior, weight, prior_error=err, n_sims=20_000, seed=4)
    assert np.quantile(ours.samples[0, -1], 0.95) > np.quantile(plain.samples[0, -1], 0.95)   # a heavier tail


def test_chain_ladder_weights_give_the_odp_bootstrap(genins):
    """Every weight 1: the centre is the chain-ladder IBNR exactly and the spread the bootstrap's (within 4%)."""
    ours = stochastic_bf(genins, np.full((1, 10), np.nan), np.ones((1, 10)),
                         prior_error=PriorError(np.zeros(1), 0.0, 0.0, 0), n_sims=20_000, seed=5)
    boot = bootstrap_odp(genins, n_sims=20_000, seed=5)
    np.testing.assert_allclose(ours.ibnr[0], boot.ibnr[0], rtol=1e-12)
    np.testing.assert_allclose(ours.samples[0].mean(axis=1)[1:], boot.mean[0, 1:], rtol=0.03)
    np.testing.assert_allclose(ours.samples[0].std(axis=1, ddof=1)[1:], boot.std_err[0, 1:], rtol=0.04)
    assert ours.samples[0].sum(axis=0).std(ddof=1) == pytest.approx(boot.total_std_err[0], rel=0.04)


def _smooth_triangle(n: int) -> np.ndarray:
    """An n x n cumulative triangle (1e6 a month, each origin 1% off) whose increments halve each lag:
    a pattern known almost exactly."""
    pattern = np.cumsum(0.5 ** np.arange(1, n + 1))
    pattern /= pattern[-1]
    rng = np.random.default_rng(0)
    cum = np.array([1e6 * (1 + 0.01 * rng.standard_normal()) * pattern for _ in range(n)])
    return np.where(np.arange(n)[None, :] <= (n - 1 - np.arange(n))[:, None], cum, np.nan)


def test_the_paid_large_claims_are_redrawn_for_the_chain_ladder():
    """Pure chain ladder, no ODP process (scale 0), a pattern known almost exactly, a tenth of the
    amounts in large claims of three sizes: the paid to date ``C`` is given its large claims afresh
    (``(1 - a) C`` plus a compound Poisson of mean ``a C``), so each origin's variance is the
    pattern's (the same run without large claims) plus ``(CDF - 1)^2 a C E[L^2] / E[L]`` (the
    redraw, projected) plus ``a m E[L^2] / E[L]`` (the large claims still to come, ``m = C (CDF - 1)``):
    within 4 standard errors of the sample variance (from its fourth moment) at every origin not
    fully developed. Without the redraw the newest origins are 9 to 57 standard errors below; with
    ``redraw_paid=False`` the variance is the pattern's plus the large claims still to come, within 4
    standard errors."""
    n = 12
    tri = TriangleSet.from_array(_smooth_triangle(n), origin_start="2024-01", grain="M")
    amounts, a = np.array([2e4, 5e4, 1e5]), 0.1
    kwargs = dict(prior_error=PriorError(np.zeros(1), 0.0, 0.0, 0), scale=np.zeros(1), n_sims=40_000, seed=6)
    ours = stochastic_bf(tri, np.full((1, n), np.nan), np.ones((1, n)),
                         large=LargeClaims(np.array([a]), (amounts,), np.array([0])), **kwargs).samples[0]
    pattern_only = stochastic_bf(tri, np.full((1, n), np.nan), np.ones((1, n)), **kwargs).samples[0]
    cdf = np.take_along_axis(chain_ladder(tri).development.cdf_values, tri.latest_lag, axis=1)[0]
    paid, e2 = tri.latest[0], (amounts**2).mean() / amounts.mean()
    expected = pattern_only.var(axis=1) + (cdf - 1) ** 2 * a * paid * e2 + a * paid * (cdf - 1) * e2
    dev = ours - ours.mean(axis=1, keepdims=True)
    se = np.sqrt(((dev**4).mean(axis=1) - ours.var(axis=1) ** 2) / ours.shape[1])
    open_ = cdf > 1
    assert open_.sum() == n - 1
    np.testing.assert_array_less(np.abs(ours.var(axis=1) - expected)[open_], 4 * se[open_])
    kept = stochastic_bf(tri, np.full((1, n), np.nan), np.ones((1, n)), redraw_paid=False,
                         large=LargeClaims(np.array([a]), (amounts,), np.array([0])), **kwargs).samples[0]
    without = pattern_only.var(axis=1) + a * paid * (cdf - 1) * e2          # redraw_paid=False: no redraw term
    dev = kept - kept.mean(axis=1, keepdims=True)
    se = np.sqrt(((dev**4).mean(axis=1) - kept.var(axis=1) ** 2) / kept.shape[1])
    np.testing.assert_array_less(np.abs(kept.var(axis=1) - without)[open_], 4 * se[open_])


def test_a_month_with_nothing_paid_has_the_prior_and_process_spread():
    """Newest month, nothing paid, pure BF: with a pattern known almost exactly (large, smooth
    triangle), Var = (U0 s)^2 (exp(sigma^2) - 1) + phi U0 s, s = 1 - 1/CDF (lognormal prior times a
    fixed share, plus ODP process); the simulated sd is at least that and at most 10% above it
    (pattern error). The 95th percentile is well above the 75th: never a zero-width range."""
    n = 12
    cum = _smooth_triangle(n)
    cum[-1, 0] = 0.0
    tri = TriangleSet.from_array(cum, origin_start="2024-01", grain="M")
    prior = np.full((1, n), 1e6)
    weight = np.zeros((1, n))
    r = stochastic_bf(tri, prior, weight, prior_error=PriorError(np.array([0.2]), 0.0, 0.0, 0), n_sims=20_000, seed=2)
    share = 1 - 1 / np.prod(chain_ladder(tri).development.ldf_values[0, : n - 1])
    phi = r.scale[0]
    sd = np.sqrt((1e6 * share) ** 2 * np.expm1(0.04) + phi * 1e6 * share)
    got = r.samples[0, -1].std(ddof=1)
    assert sd * 0.98 <= got <= sd * 1.10, (got, sd)
    p75, p95 = np.quantile(r.samples[0, -1], [0.75, 0.95])
    assert p95 - p75 > 0.1 * sd


def _two_segments(genins, groups=("A", "A")):
    values = np.stack([nb.genins(), nb.genins() * 1.5])
    return TriangleSet.from_array(values, origin_start="2001", grain="Y",
                                  segments=pd.MultiIndex.from_tuples([(groups[0], "x"), (groups[1], "y")]))


def test_shared_shocks_correlate_segments_and_leave_each_one_alone(genins):
    """A large consortium shock: with dependence the newest origins of two service lines correlate
    strongly; without, not (|corr| < 0.05 from 8,000 draws); each segment's own spread is the same
    either way within 7% (two independent estimates of a skewed sd, each about 2.5% from 8,000 draws)."""
    tri = _two_segments(genins)
    prior = np.tile(chain_ladder(tri).ultimate[:, :], 1)
    weight = np.zeros((2, 10))
    err = PriorError(np.array([0.05, 0.05]), 0.3, 0.1, 0)
    dep = stochastic_bf(tri, prior, weight, prior_error=err, n_sims=8000, seed=1)
    ind = stochastic_bf(tri, prior, weight, prior_error=err, dependence=False, n_sims=8000, seed=1)
    a, b = dep.samples[:, -1], ind.samples[:, -1]
    assert np.corrcoef(a)[0, 1] > 0.6
    assert abs(np.corrcoef(b)[0, 1]) < 0.05
    np.testing.assert_allclose(a.std(axis=1), b.std(axis=1), rtol=0.07)


def test_numbers_depend_neither_on_the_batch_nor_on_threads(genins):
    tri = _two_segments(genins)
    prior, weight = chain_ladder(tri).ultimate, np.full((2, 10), 0.5)
    err = PriorError(np.array([0.1, 0.2]), 0.1, 0.05, 0)
    large = LargeClaims(np.array([0.1, 0.2]), (np.array([1e4, 5e4, 2e5]),), np.array([0, 0]))
    both = stochastic_bf(tri, prior, weight, prior_error=err, large=large, n_sims=600, seed=7)
    alone = stochastic_bf(tri[1:], prior[1:], weight[1:], prior_error=err.take([1]), large=large.take([1]),
                          n_sims=600, seed=7)
    np.testing.assert_array_equal(both.samples[1], alone.samples[0])
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = stochastic_bf(tri, prior, weight, prior_error=err, large=large, n_sims=600, seed=7)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(both.samples, one.samples)


def test_one_origins_weight_and_prior_leave_the_other_origins_alone(genins):
    """Each origin draws its prior, process and large claims from its own stream: setting one blended
    origin to the chain ladder (no normal drawn any more) and another's prior 30% higher (other gamma
    and Poisson draws) changes those two origins' simulations and leaves every other origin's bit for
    bit, bias correction included, in each of two segments and over three blocks of simulations."""
    tri = _two_segments(genins)
    prior, weight = chain_ladder(tri).ultimate * 1.1, np.tile(np.linspace(1.0, 0.0, 10), (2, 1))
    err = PriorError(np.array([0.1, 0.2]), 0.1, 0.05, 0)
    large = LargeClaims(np.array([0.1, 0.2]), (np.array([1e4, 5e4, 2e5]),), np.array([0, 0]))
    base = stochastic_bf(tri, prior, weight, prior_error=err, large=large, n_sims=600, seed=8)
    weight2, prior2 = weight.copy(), prior.copy()
    weight2[0, 4] = 1.0
    prior2[1, 6] *= 1.3
    moved = stochastic_bf(tri, prior2, weight2, prior_error=err, large=large, n_sims=600, seed=8)
    other = np.ones((2, 10), bool)
    other[0, 4] = other[1, 6] = False
    np.testing.assert_array_equal(moved.samples[other], base.samples[other])
    assert (moved.samples[0, 4] != base.samples[0, 4]).mean() > 0.99
    assert (moved.samples[1, 6] != base.samples[1, 6]).mean() > 0.99


def test_prior_error_recovers_its_three_parts():
    """Log ratios made of known parts (group 0.10, month 0.05, segment 0.08 and process with
    phi / actual = 0.0036, i.e. 0.06): each estimated within 20% from 40 groups x 4 kinds x 48 months."""
    rng = np.random.default_rng(11)
    n_g, n_k, n_m = 40, 4, 48
    groups, kinds = np.repeat(np.arange(n_g), n_k), np.tile(np.arange(n_k), n_g)
    x = (0.10 * rng.standard_normal(n_g)[groups][:, None] + 0.05 * rng.standard_normal(n_m)[None, :]
         + 0.08 * rng.standard_normal((n_g * n_k, n_m)) + 0.06 * rng.standard_normal((n_g * n_k, n_m)))
    actual = np.full((n_g * n_k, n_m), 1e4)
    err = prior_error(actual, actual * np.exp(-x), np.ones_like(actual, bool), groups, kinds,
                      np.full(n_g * n_k, 1e4 * 0.06**2))
    assert err.n_cells == n_g * n_k * n_m
    assert err.group_sd == pytest.approx(0.10, rel=0.2)
    assert err.calendar_sd == pytest.approx(0.05, rel=0.2)
    np.testing.assert_allclose(err.segment_sd, 0.08, rtol=0.2)


def test_bad_input_is_refused(genins):
    err = PriorError(np.zeros(1), 0.0, 0.0, 0)
    with pytest.raises(ReservingError, match="weight_cl must lie in"):
        stochastic_bf(genins, np.ones((1, 10)), np.full((1, 10), 1.5), prior_error=err, n_sims=10)
    with pytest.raises(ReservingError, match="no prior at origin 2001"):
        stochastic_bf(genins, np.full((1, 10), np.nan), np.zeros((1, 10)), prior_error=err, n_sims=10)
    with pytest.raises(ReservingError, match="large-claim share but no large-claim amounts"):
        stochastic_bf(genins, np.ones((1, 10)), np.zeros((1, 10)), prior_error=err, n_sims=10,
                      large=LargeClaims(np.array([0.1]), (np.zeros(0),), np.array([0])))
    with pytest.raises(ReservingError, match="share in"):
        stochastic_bf(genins, np.ones((1, 10)), np.zeros((1, 10)), prior_error=err, n_sims=10,
                      large=LargeClaims(np.array([1.0]), (np.ones(2),), np.array([0])))
    with pytest.raises(ReservingError, match="prior_error has 2 segments"):
        stochastic_bf(genins, np.ones((1, 10)), np.zeros((1, 10)), prior_error=PriorError(np.zeros(2), 0, 0, 0),
                      n_sims=10)
