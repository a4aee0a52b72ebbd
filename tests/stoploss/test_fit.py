"""Fitting: maximum likelihood against closed forms / scipy, goodness of fit, spliced threshold."""

import numpy as np
import pytest
from scipy import stats

from stoploss import GeneralizedPareto, Lognormal
from stoploss.fit import fit_severity, fit_spliced, goodness_of_fit


def test_lognormal_mle_is_the_closed_form_and_ks_matches_scipy():
    x = Lognormal(8.0, 1.5).sample(1500, seed=11)
    fit = fit_severity(x, "lognormal")
    assert fit.distribution.mu == pytest.approx(np.log(x).mean(), rel=1e-12)
    assert fit.distribution.sigma == pytest.approx(np.log(x).std(), rel=1e-12)
    ks = stats.kstest(x, stats.lognorm(fit.distribution.sigma, scale=np.exp(fit.distribution.mu)).cdf).statistic
    assert fit.ks == pytest.approx(ks, rel=1e-10)


def test_anderson_darling_matches_definition():
    x = np.sort(Lognormal(0.0, 1.0).sample(50, seed=1))
    dist = Lognormal(0.1, 0.9)
    f = dist.cdf(x)
    n = x.size
    ref = -n - sum((2 * i - 1) * (np.log(f[i - 1]) + np.log(1 - f[n - i])) for i in range(1, n + 1)) / n
    assert goodness_of_fit(x, dist)[1] == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("family, truth", [("gamma", stats.gamma(2.0, scale=500.0)),
                                           ("weibull", stats.weibull_min(0.8, scale=900.0)),
                                           ("pareto", stats.lomax(4.0, scale=3000.0))])
def test_mle_recovers_parameters(family, truth):
    x = truth.rvs(size=4000, random_state=np.random.default_rng(5))
    fit = fit_severity(x, family)
    assert fit.distribution.mean() == pytest.approx(x.mean(), rel=0.05)
    assert fit.ks < 0.03
    ll = fit.loglik
    refit = {"gamma": stats.gamma, "weibull": stats.weibull_min, "pareto": stats.lomax}[family].fit(x, floc=0)
    ref_ll = np.sum({"gamma": stats.gamma, "weibull": stats.weibull_min, "pareto": stats.lomax}[family]
                    .logpdf(x, *refit))
    assert ll >= ref_ll - 1e-4


def test_spliced_fit_reports_threshold_and_recovers_tail():
    rng = np.random.default_rng(8)
    body = rng.lognormal(7.0, 0.6, size=9000)
    tail = 3000.0 + GeneralizedPareto(0.3, 2000.0).sample(1000, seed=9)
    x = np.concatenate([body[body < 3000.0], tail])
    fit = fit_spliced(x)
    assert fit.summary["chosen"].sum() == 1
    assert fit.threshold == fit.summary.loc[fit.summary["chosen"], "threshold"].item()
    assert 0.1 < fit.distribution.tail.xi < 0.5
    assert fit.ks < 0.02
    lognormal_body = fit_spliced(x, body="lognormal")
    assert lognormal_body.distribution.body.sigma > 0
