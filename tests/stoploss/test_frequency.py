"""Frequencies: (a, b) recursion, pgf and moments against the probabilities from scipy.stats."""

import numpy as np
import pytest

from stoploss import Binomial, NegativeBinomial, Poisson, StopLossError


@pytest.mark.parametrize("freq", [Poisson(3.5), Binomial(20, 0.15), NegativeBinomial(2.5, 1.4)], ids=repr)
def test_ab_pgf_and_moments(freq):
    k = np.arange(0, 80)
    p = freq.pmf(k)
    a, b = freq.ab
    np.testing.assert_allclose(p[1:], (a + b / k[1:]) * p[:-1], rtol=1e-10, atol=1e-300)
    z = np.array([0.3, 0.9 + 0.2j, np.exp(0.7j)])
    np.testing.assert_allclose(freq.pgf(z), [np.sum(p * zi**k) for zi in z], rtol=1e-10)
    np.testing.assert_allclose(np.exp(freq.log_pgf(z)), freq.pgf(z), rtol=1e-12)
    assert np.sum(k * p) == pytest.approx(freq.mean(), rel=1e-10)
    assert np.sum((k - freq.mean()) ** 2 * p) == pytest.approx(freq.var(), rel=1e-9)
    thin = freq.thinned(0.3)
    assert thin.mean() == pytest.approx(0.3 * freq.mean())
    table = freq.count_table()
    assert table[-1] == 1.0 and np.all(np.diff(table) >= 0)


def test_invalid_parameters_are_named():
    with pytest.raises(StopLossError, match="lam"):
        Poisson(-1.0)
    with pytest.raises(StopLossError, match="members"):
        Binomial(10.5, 0.1)
    with pytest.raises(StopLossError, match="r and beta"):
        NegativeBinomial(0.0, 1.0)
