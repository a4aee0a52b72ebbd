"""The shared random streams: every variate against its distribution, and the seeding scheme."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from scipy import stats

from _kit import random as _random


# ----------------------------------------------------------------- random variates
@njit
def _draws(key, kind, p, n, n_trials=0):
    state = _random.stream(key, 0)
    out = np.empty(n)
    for k in range(n):
        if kind == 0:
            if k % 2 == 0:
                first, second, state = _random.bounded_pair(state, np.int64(p))
                out[k] = first
            else:
                out[k] = second
        elif kind == 1:
            out[k], state = _random.gamma(state, p)
        elif kind == 3:
            out[k], state = _random.normal(state)
        elif kind == 4:
            out[k], state = _random.exponential(state)
        elif kind == 5:
            out[k], state = _random.binomial(state, np.int64(n_trials), p)
        elif kind == 6:
            out[k], state = _random.beta(state, p, 2.5)
        else:
            out[k], state = _random.poisson(state, p)
    return out


def test_variates_follow_their_distributions():
    key = _random.stream_keys(11, ["variates"])[0]
    for shape in (0.1, 0.3, 4.0, 300.0):
        x = _draws(key, 1, shape, 100_000)
        assert stats.kstest(x, stats.gamma(shape).cdf).pvalue > 1e-3
    # tiny shapes put most of the mass far below 1e-300, where the boost underflows to exactly 0
    edges = np.array([0.0, 1e-300, 1e-200, 1e-100, 1e-30, 1e-10, 1e-3, 0.1, 1.0, np.inf])
    for shape in (0.001, 0.01, 0.05, 0.149, 0.15, 0.6):  # GS below 0.15, the boosted Marsaglia-Tsang above
        x = _draws(key, 1, shape, 200_000)
        expected = np.diff(stats.gamma(shape).cdf(edges)) * len(x)
        keep = expected > 5
        observed = np.histogram(x, edges)[0]
        assert observed[~keep].sum() <= 5 and (x >= 0).all()
        assert stats.chisquare(observed[keep], expected[keep] * observed[keep].sum() / expected[keep].sum()).pvalue > 1e-3
    for lam in (3.0, 30.0, 1000.0):
        x = _draws(key, 2, lam, 100_000).astype(np.int64)
        lo, hi = int(stats.poisson(lam).ppf(1e-4)), int(stats.poisson(lam).ppf(1 - 1e-4))
        observed = np.bincount(np.clip(x, lo, hi) - lo, minlength=hi - lo + 1)
        pmf = stats.poisson(lam).pmf(np.arange(lo, hi + 1))
        pmf[0], pmf[-1] = stats.poisson(lam).cdf(lo), stats.poisson(lam).sf(hi - 1)
        assert stats.chisquare(observed, pmf / pmf.sum() * len(x)).pvalue > 1e-3
    z = _draws(key, 3, 0.0, 1_000_000)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    edges = np.concatenate([[-np.inf], np.linspace(-4.0, 4.0, 201), [np.inf]])
    assert stats.chisquare(np.histogram(z, edges)[0], np.diff(stats.norm.cdf(edges)) * len(z)).pvalue > 1e-3
    r = _random._ZIG_R  # the ziggurat's tail beyond r is sampled separately: its shape, conditionally
    tail = np.abs(z[np.abs(z) > r])
    assert stats.kstest(tail, lambda t: 1 - stats.norm.sf(t) / stats.norm.sf(r)).pvalue > 1e-3
    e = _draws(key, 4, 0.0, 1_000_000)
    assert stats.kstest(e, "expon").pvalue > 1e-3
    edges = np.concatenate([np.linspace(0.0, 9.0, 301), [np.inf]])
    assert stats.chisquare(np.histogram(e, edges)[0], np.diff(stats.expon.cdf(edges)) * len(e)).pvalue > 1e-3
    tail = e[e > _random._EXP_R] - _random._EXP_R  # beyond r: exponential again, by memorylessness
    assert len(tail) > 300 and stats.kstest(tail, "expon").pvalue > 1e-3
    x = _draws(key, 0, 53, 530_000).astype(np.int64)
    assert x.min() == 0 and x.max() == 52
    assert stats.chisquare(np.bincount(x, minlength=53)).pvalue > 1e-3
    # the two halves of a word are independent: pairs are uniform on 53 x 53
    assert stats.chisquare(np.bincount(x[0::2] * 53 + x[1::2], minlength=53 * 53)).pvalue > 1e-3
    # n = 3 2^30 rejects a quarter of the 32-bit halves; without rejection, k = 0 mod 3 would get half the mass
    x = _draws(key, 0, 3 * 2**30, 300_000).astype(np.int64)
    assert x.min() >= 0 and x.max() < 3 * 2**30
    assert stats.chisquare(np.bincount(x % 3, minlength=3)).pvalue > 1e-3


@pytest.mark.parametrize("n, p", [(7, 0.3), (40, 0.02), (200, 0.4), (5000, 0.9), (1, 0.5), (10**7, 1e-6)])
def test_binomial_follows_its_distribution(n, p):
    """Both methods (inversion below n min(p, 1-p) = 10, BTRS above) and the reflection for p > 1/2."""
    key = _random.stream_keys(12, [("binomial", n, p)])[0]
    x = _draws(key, 5, p, 100_000, n).astype(np.int64)
    dist = stats.binom(n, p)
    lo, hi = int(dist.ppf(1e-4)), int(dist.ppf(1 - 1e-4))
    observed = np.bincount(np.clip(x, lo, hi) - lo, minlength=hi - lo + 1)
    pmf = dist.pmf(np.arange(lo, hi + 1))
    pmf[0], pmf[-1] = dist.cdf(lo), dist.sf(hi - 1)
    assert x.min() >= 0 and x.max() <= n
    if hi > lo:
        assert stats.chisquare(observed, pmf / pmf.sum() * len(x)).pvalue > 1e-3


def test_binomial_edges_and_beta():
    key = _random.stream_keys(13, ["edges"])[0]
    assert (_draws(key, 5, 0.0, 100, 50) == 0).all() and (_draws(key, 5, 1.0, 100, 50) == 50).all()
    for a in (0.4, 3.0):
        assert stats.kstest(_draws(key, 6, a, 100_000), stats.beta(a, 2.5).cdf).pvalue > 1e-3


def test_keys_depend_only_on_seed_and_label():
    one = _random.stream_keys(5, ["a", ("b", 2), "c"])
    again = _random.stream_keys(5, [("b", 2)])
    assert (one[1] == again[0]).all() and len({tuple(k) for k in one}) == 3
    assert not (one == _random.stream_keys(6, ["a", ("b", 2), "c"])).all()
    assert _random.generator(5, "x").random() == _random.generator(5, "x").random()
    assert _random.generator(5, "x").random() != _random.generator(5, "y").random()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 10**7), p=st.floats(0.0, 1.0), seed=st.integers(0, 2**32))
def test_binomial_in_range_and_unbiased_for_any_n_and_p(n, p, seed):
    """The pool simulator draws binomials from n = 0 to millions at any p (moved from tests/stoploss)."""
    x = _draws(_random.stream_keys(seed, ["binomial"])[0], 5, p, 2000, n).astype(np.int64)
    assert x.min() >= 0 and x.max() <= n
    se = np.sqrt(n * p * (1 - p) / x.size)
    assert abs(x.mean() - n * p) <= 6 * se + 1e-9
