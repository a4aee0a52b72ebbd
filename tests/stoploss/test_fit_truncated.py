"""Truncated / censored severity fits and count fits: recovery of known parameters within sampling
error (standard errors from the observed information) and agreement with a direct maximisation of
the likelihood written out here with scipy.stats, to 1e-6 relative."""

import numpy as np
import pytest
from scipy import optimize, stats

from stoploss import GeneralizedPareto, Lognormal, NegativeBinomial, StopLossError
from stoploss.fit import fit, fit_frequency
from stoploss.severity import Gamma, Pareto, Spliced, Weibull

D, U = 2_000.0, 60_000.0


def _claims(dist, n, seed, d=D, u=U):
    x = dist.sample(n, seed=seed)
    x = x[x > d]
    return np.minimum(x, u), x >= u


def _hessian(f, p, rel=1e-4):
    """Central-difference Hessian of f at p with steps rel * |p_i|."""
    p = np.asarray(p, dtype=float)
    k = p.size
    step = rel * np.maximum(np.abs(p), 1e-3)
    h = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * step[i], np.eye(k)[j] * step[j]
            h[i, j] = (f(p + ei + ej) - f(p + ei - ej) - f(p - ei + ej) + f(p - ei - ej)) / (4 * step[i] * step[j])
    return h


def _direct(scipy_dist, x, cens, d, start):
    """The same likelihood written directly: sum ln f (uncensored) + sum ln S (censored) - n ln S(d)."""
    def nll(p):
        dist = scipy_dist(*p)
        with np.errstate(all="ignore"):
            v = np.sum(dist.logpdf(x[~cens])) + np.sum(dist.logsf(x[cens])) - x.size * dist.logsf(d)
        return -v / x.size if np.isfinite(v) else np.inf
    res = optimize.minimize(nll, start, method="Nelder-Mead",
                            options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 50_000, "maxfev": 50_000})
    return res.x, nll


CASES = [
    ("lognormal", Lognormal(8.0, 1.5), lambda mu, s: stats.lognorm(s, scale=np.exp(mu)), (8.0, 1.5),
     lambda f: (f.mu, f.sigma)),
    ("gamma", Gamma(0.8, 15_000.0), lambda a, th: stats.gamma(a, scale=th), (0.8, 15_000.0),
     lambda f: (f.alpha, f.theta)),
    ("weibull", Weibull(0.7, 6_000.0), lambda c, th: stats.weibull_min(c, scale=th), (0.7, 6_000.0),
     lambda f: (f.tau, f.theta)),
    ("pareto", Pareto(2.5, 8_000.0), lambda a, th: stats.lomax(a, scale=th), (2.5, 8_000.0),
     lambda f: (f.alpha, f.theta)),
    ("gpd", GeneralizedPareto(0.3, 4_000.0), lambda xi, b: stats.genpareto(xi, scale=b), (0.3, 4_000.0),
     lambda f: (f.xi, f.beta)),
]


@pytest.mark.parametrize("family, truth, scipy_dist, params, get", CASES, ids=[c[0] for c in CASES])
def test_truncated_censored_fit_recovers_truth_and_equals_direct_maximisation(family, truth, scipy_dist, params, get):
    x, cens = _claims(truth, 40_000, seed=3)
    assert 0.002 < cens.mean() < 0.2
    fitted = fit(family, x, truncation=D, censored=U)
    assert fitted.n_censored == int(cens.sum())
    est = np.array(get(fitted.distribution))
    direct, nll = _direct(scipy_dist, x, cens, D, np.array(params, dtype=float))
    np.testing.assert_allclose(est, direct, rtol=1e-6, atol=1e-8)
    assert -fitted.loglik / x.size == pytest.approx(nll(direct), rel=1e-10)
    # within sampling error: 4 standard errors from the observed information
    se = np.sqrt(np.diag(np.linalg.inv(_hessian(lambda p: x.size * nll(p), est))))
    assert np.all(np.abs(est - np.array(params)) < 4 * se), (est, params, se)


def test_ignoring_truncation_is_biased_and_mask_equals_limit():
    x, cens = _claims(Lognormal(8.0, 1.5), 30_000, seed=4)
    by_limit = fit("lognormal", x, truncation=D, censored=U)
    by_mask = fit("lognormal", x, truncation=np.full(x.size, D), censored=cens)
    assert by_mask.distribution.mu == pytest.approx(by_limit.distribution.mu, rel=1e-9)
    naive = fit("lognormal", x)
    assert naive.distribution.mu - 8.0 > 5 * abs(by_limit.distribution.mu - 8.0)


def test_per_claim_thresholds_and_limits():
    truth = Lognormal(8.0, 1.5)
    rng = np.random.default_rng(12)
    x = truth.sample(60_000, seed=5)
    d = rng.choice([1_000.0, 5_000.0], size=x.size)
    u = rng.choice([40_000.0, 100_000.0], size=x.size)
    keep = x > d
    x, d, u = np.minimum(x[keep], u[keep]), d[keep], u[keep]
    fitted = fit("lognormal", x, truncation=d, censored=u)

    def nll(p):
        dist = stats.lognorm(p[1], scale=np.exp(p[0]))
        c = x >= u
        return -(np.sum(dist.logpdf(x[~c])) + np.sum(dist.logsf(u[c])) - np.sum(dist.logsf(d))) / x.size
    ref = optimize.minimize(nll, [8.0, 1.5], method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-15}).x
    np.testing.assert_allclose([fitted.distribution.mu, fitted.distribution.sigma], ref, rtol=1e-6)


def test_spliced_fit_with_truncation_and_censoring():
    t = 10_000.0
    truth = Spliced(Lognormal(7.5, 1.2), GeneralizedPareto(0.25, 12_000.0), t, 0.08)
    x, cens = _claims(truth, 80_000, seed=6, u=150_000.0)
    fitted = fit("spliced", x, truncation=D, censored=150_000.0, threshold=t)
    dist = fitted.distribution
    est = np.array([dist.body.mu, dist.body.sigma, dist.tail_prob, dist.tail.xi, dist.tail.beta])

    def nll(p):
        mu, s, q, xi, b = p
        if s <= 0 or not 0 < q < 1 or b <= 0:
            return np.inf
        body, tail = stats.lognorm(s, scale=np.exp(mu)), stats.genpareto(xi, scale=b)

        def sf(y):
            return np.where(y < t, 1 - (1 - q) * body.cdf(np.minimum(y, t)) / body.cdf(t), q * tail.sf(y - t))
        pdf_body = (1 - q) * body.pdf(x) / body.cdf(t)
        pdf = np.where(x < t, pdf_body, q * tail.pdf(np.maximum(x - t, 0)))
        with np.errstate(all="ignore"):
            v = np.sum(np.log(pdf[~cens])) + np.sum(np.log(sf(x[cens]))) - x.size * np.log(sf(D))
        return -v / x.size if np.isfinite(v) else np.inf
    ref = optimize.minimize(nll, [7.5, 1.2, 0.08, 0.25, 12_000.0], method="Nelder-Mead",
                            options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 100_000, "maxfev": 100_000}).x
    np.testing.assert_allclose(est, ref, rtol=1e-6, atol=1e-8)
    se = np.sqrt(np.diag(np.linalg.inv(_hessian(lambda p: x.size * nll(p), est))))
    assert np.all(np.abs(est - [7.5, 1.2, 0.08, 0.25, 12_000.0]) < 4 * se), (est, se)


def test_fit_errors_name_the_problem():
    x, _ = _claims(Lognormal(8.0, 1.5), 2_000, seed=7)
    with pytest.raises(StopLossError, match="below its reporting threshold"):
        fit("lognormal", np.append(x, 10.0), truncation=D)
    with pytest.raises(StopLossError, match="exceeds its policy limit"):
        fit("lognormal", np.append(x, 2 * U), censored=U)
    with pytest.raises(StopLossError, match="splice point"):
        fit("spliced", x, truncation=D, threshold=1_000.0)
    with pytest.raises(StopLossError, match="family"):
        fit("normal", x)


def test_frequency_fits_recover_and_equal_direct_maximisation():
    rng = np.random.default_rng(21)
    e = rng.uniform(0.5, 4.0, size=3_000)
    lam = 2.5
    counts = rng.poisson(lam * e)
    pf = fit_frequency(counts, e)
    assert pf.distribution.lam == pytest.approx(counts.sum() / e.sum(), rel=1e-14)
    assert abs(pf.distribution.lam - lam) < 4 * np.sqrt(lam / e.sum())

    r, beta = 3.0, 0.8
    counts = rng.poisson(rng.gamma(r, beta * e))
    nb = fit_frequency(counts, e, family="negbin")

    def nll(p):
        rr, bb = p
        if rr <= 0 or bb <= 0:
            return np.inf
        return -np.sum(stats.nbinom.logpmf(counts, rr, 1 / (1 + bb * e))) / counts.size
    ref = optimize.minimize(nll, [r, beta], method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-15}).x
    est = np.array([nb.distribution.r, nb.distribution.beta])
    np.testing.assert_allclose(est, ref, rtol=1e-6)
    assert nb.loglik == pytest.approx(-counts.size * nll(ref), rel=1e-10)
    se = np.sqrt(np.diag(np.linalg.inv(_hessian(lambda p: counts.size * nll(p), est))))
    assert np.all(np.abs(est - [r, beta]) < 4 * se), (est, se)
    assert isinstance(nb.for_exposure(2.0), NegativeBinomial) and nb.for_exposure(2.0).mean() == pytest.approx(
        2 * nb.distribution.mean())
    with pytest.raises(StopLossError, match="overdispersion"):
        fit_frequency(np.full(50, 3), family="negbin")


def test_truncated_ks_is_scipys_on_the_conditional_distribution_and_flags_a_wrong_family():
    x = Lognormal(8.0, 1.5).sample(20_000, seed=9)
    x = x[x > D]
    fitted = fit("lognormal", x, truncation=D)
    dist = fitted.distribution
    ref = stats.kstest(x, lambda v: (dist.sf(D) - dist.sf(v)) / dist.sf(D)).statistic
    assert fitted.ks == pytest.approx(ref, rel=1e-10)
    censored = fit("lognormal", np.minimum(x, U), truncation=D, censored=U)
    assert censored.ks < 0.02
    assert fit("gamma", np.minimum(x, U), truncation=D, censored=U).ks > 5 * censored.ks
    assert np.isnan(fit("lognormal", x, truncation=np.where(x > 3 * D, D, D / 2)).ks)
