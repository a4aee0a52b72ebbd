"""Fitting severities to cost data by maximum likelihood, with goodness of fit.

``fit_severity(costs, family)`` fits one parametric family; ``fit_spliced(costs)`` fits an
empirical (or lognormal) body with a generalised Pareto tail and reports how the threshold was
chosen. Goodness of fit is given by the Kolmogorov-Smirnov distance D = sup |F_n - F| and the
Anderson-Darling statistic A^2 = -n - (1/n) sum (2i - 1) [ln F(x_(i)) + ln S(x_(n+1-i))].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from stoploss.errors import StopLossError
from stoploss.severity import Empirical, Gamma, GeneralizedPareto, Lognormal, Pareto, Severity, Spliced, Weibull

FAMILIES = ("lognormal", "gamma", "weibull", "pareto", "gpd")


@dataclass(frozen=True, eq=False)
class SeverityFit:
    """A fitted severity with its log-likelihood and goodness-of-fit statistics."""

    distribution: Severity
    family: str
    n: int
    loglik: float
    n_params: int
    ks: float
    ad: float

    @property
    def aic(self) -> float:
        return 2 * self.n_params - 2 * self.loglik

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"family": self.family, "n": self.n, "loglik": self.loglik, "aic": self.aic,
                              "ks": self.ks, "ad": self.ad, "distribution": repr(self.distribution)}])

    @property
    def totals(self) -> pd.Series:
        return self.summary.iloc[0]


def goodness_of_fit(x: np.ndarray, dist: Severity) -> tuple[float, float]:
    """Kolmogorov-Smirnov D and Anderson-Darling A^2 of sorted data ``x`` against ``dist``."""
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    f = np.clip(np.asarray(dist.cdf(x), dtype=float), 1e-300, 1 - 1e-16)
    i = np.arange(1, n + 1)
    ks = float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))
    ad = float(-n - np.sum((2 * i - 1) * (np.log(f) + np.log1p(-f[::-1]))) / n)
    return ks, ad


def _clean(costs, what: str, positive: bool = True) -> np.ndarray:
    x = np.asarray(costs, dtype=float).ravel()
    bad = ~np.isfinite(x) | ((x <= 0) if positive else (x < 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StopLossError(f"{what}: value at position {i} ({x[i]!r}) is not a positive finite cost; "
                            "remove zero and missing costs before fitting.")
    if x.size < 5:
        raise StopLossError(f"{what}: need at least 5 costs to fit, got {x.size}.")
    return x


def _loglik(dist: Severity, family: str, x: np.ndarray) -> float:
    frozen = {
        "lognormal": lambda d: stats.lognorm(d.sigma, scale=np.exp(d.mu)),
        "gamma": lambda d: stats.gamma(d.alpha, scale=d.theta),
        "weibull": lambda d: stats.weibull_min(d.tau, scale=d.theta),
        "pareto": lambda d: stats.lomax(d.alpha, scale=d.theta),
        "gpd": lambda d: stats.genpareto(d.xi, scale=d.beta),
    }[family](dist)
    return float(np.sum(frozen.logpdf(x)))


def fit_severity(costs, family: str = "lognormal") -> SeverityFit:
    """Maximum-likelihood fit of one family to positive costs.

    Parameters
    ----------
    costs : array-like
        Positive amounts (currency), e.g. claimants' annual costs.
    family : {"lognormal", "gamma", "weibull", "pareto", "gpd"}

    Examples
    --------
    >>> x = Lognormal(8.0, 1.5).sample(2000, seed=1)
    >>> fit = fit_severity(x, "lognormal")
    >>> round(fit.distribution.sigma, 1)
    1.5
    """
    if family not in FAMILIES:
        raise StopLossError(f"fit_severity: family must be one of {FAMILIES}, got {family!r}.")
    x = _clean(costs, "fit_severity", positive=family != "gpd")
    if family == "lognormal":
        lx = np.log(x)
        dist: Severity = Lognormal(float(lx.mean()), float(lx.std()))
    elif family == "gamma":
        a, _, scale = stats.gamma.fit(x, floc=0)
        dist = Gamma(a, scale)
    elif family == "weibull":
        c, _, scale = stats.weibull_min.fit(x, floc=0)
        dist = Weibull(c, scale)
    elif family == "pareto":
        dist = _fit_lomax(x)
    else:
        dist = _fit_gpd(x)
    ks, ad = goodness_of_fit(x, dist)
    return SeverityFit(dist, family, int(x.size), _loglik(dist, family, x), 2, ks, ad)


def _fit_lomax(x: np.ndarray) -> Pareto:
    def nll(p):
        alpha, theta = np.exp(p)
        return -np.sum(np.log(alpha) + alpha * np.log(theta) - (alpha + 1) * np.log(x + theta))
    m = x.mean()
    res = optimize.minimize(nll, np.log([3.0, 2.0 * m]), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000})
    alpha, theta = np.exp(res.x)
    return Pareto(float(alpha), float(theta))


def _fit_gpd(y: np.ndarray) -> GeneralizedPareto:
    xi, _, beta = stats.genpareto.fit(y, floc=0)
    return GeneralizedPareto(float(xi), float(beta))


@dataclass(frozen=True, eq=False)
class SplicedFit:
    """A spliced body + generalised Pareto tail fit and the threshold search that chose it."""

    distribution: Spliced
    threshold: float
    n_tail: int
    ks: float
    ad: float
    candidates: pd.DataFrame

    @property
    def summary(self) -> pd.DataFrame:
        """One row per candidate threshold: exceedances, xi, beta, tail A^2, and which was chosen."""
        return self.candidates

    @property
    def totals(self) -> pd.Series:
        return pd.Series({"threshold": self.threshold, "n_tail": self.n_tail, "xi": self.distribution.tail.xi,
                          "beta": self.distribution.tail.beta, "tail_prob": self.distribution.tail_prob,
                          "ks": self.ks, "ad": self.ad})


def fit_spliced(costs, *, body: str = "empirical", quantiles=None, min_tail: int = 30) -> SplicedFit:
    """Body + generalised Pareto tail, threshold chosen by the tail's Anderson-Darling statistic.

    For each candidate threshold t (default: the 80%, 82.5%, ..., 97.5% sample quantiles with at
    least ``min_tail`` exceedances) the GPD is fitted to the excesses x - t by maximum likelihood
    and scored by the Anderson-Darling A^2 of the excesses against it divided by their number
    (a scale-free measure of tail fit). The threshold with the smallest score is chosen; the
    table of all candidates is kept in ``summary``. The body is the empirical distribution of
    the costs below t, or a lognormal fitted to them by truncated maximum likelihood.

    Examples
    --------
    >>> x = Lognormal(8.0, 1.5).sample(3000, seed=2)
    >>> fit = fit_spliced(x)
    >>> bool(fit.summary["chosen"].sum() == 1)
    True
    """
    if body not in ("empirical", "lognormal"):
        raise StopLossError(f"fit_spliced: body must be 'empirical' or 'lognormal', got {body!r}.")
    x = np.sort(_clean(costs, "fit_spliced"))
    qs = np.arange(0.80, 0.976, 0.025) if quantiles is None else np.asarray(quantiles, dtype=float)
    rows = []
    for q in qs:
        t = float(np.quantile(x, q))
        y = x[x > t] - t
        if y.size < min_tail:
            continue
        gpd = _fit_gpd(y)
        _, ad = goodness_of_fit(y, gpd)
        rows.append({"quantile": float(q), "threshold": t, "n_tail": int(y.size), "xi": gpd.xi,
                     "beta": gpd.beta, "tail_ad_per_point": ad / y.size})
    if not rows:
        raise StopLossError(f"fit_spliced: no candidate threshold leaves {min_tail} exceedances; "
                            "supply more data or lower min_tail.")
    table = pd.DataFrame(rows)
    best = int(table["tail_ad_per_point"].idxmin())
    table["chosen"] = table.index == best
    t = float(table.loc[best, "threshold"])
    below = x[x <= t]
    body_dist = Empirical(below) if body == "empirical" else _fit_truncated_lognormal(below, t)
    tail = GeneralizedPareto(float(table.loc[best, "xi"]), float(table.loc[best, "beta"]))
    dist = Spliced(body_dist, tail, t, float(np.mean(x > t)))
    ks, ad = goodness_of_fit(x, dist)
    return SplicedFit(dist, t, int(table.loc[best, "n_tail"]), ks, ad, table)


def _fit_truncated_lognormal(x: np.ndarray, t: float) -> Lognormal:
    lx, lt = np.log(x), np.log(t)

    def nll(p):
        mu, log_s = p
        s = np.exp(log_s)
        return -(np.sum(stats.norm.logpdf(lx, mu, s)) - x.size * stats.norm.logcdf(lt, mu, s))
    res = optimize.minimize(nll, [lx.mean(), np.log(lx.std())], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000})
    return Lognormal(float(res.x[0]), float(np.exp(res.x[1])))
