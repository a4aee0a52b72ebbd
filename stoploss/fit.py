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
from scipy import optimize, special, stats

from stoploss.errors import StopLossError
from stoploss.frequency import Frequency, NegativeBinomial, Poisson
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


# --- left-truncated, right-censored maximum likelihood ------------------------------------------

#: Unconstrained parameters of each family: (to scipy frozen distribution, to Severity, from Severity).
_PARAMS = {
    "lognormal": (lambda p: stats.lognorm(np.exp(p[1]), scale=np.exp(p[0])),
                  lambda p: Lognormal(float(p[0]), float(np.exp(p[1]))),
                  lambda d: [d.mu, np.log(d.sigma)]),
    "gamma": (lambda p: stats.gamma(np.exp(p[0]), scale=np.exp(p[1])),
              lambda p: Gamma(float(np.exp(p[0])), float(np.exp(p[1]))),
              lambda d: np.log([d.alpha, d.theta])),
    "weibull": (lambda p: stats.weibull_min(np.exp(p[0]), scale=np.exp(p[1])),
                lambda p: Weibull(float(np.exp(p[0])), float(np.exp(p[1]))),
                lambda d: np.log([d.tau, d.theta])),
    "pareto": (lambda p: stats.lomax(np.exp(p[0]), scale=np.exp(p[1])),
               lambda p: Pareto(float(np.exp(p[0])), float(np.exp(p[1]))),
               lambda d: np.log([d.alpha, d.theta])),
    "gpd": (lambda p: stats.genpareto(p[0], scale=np.exp(p[1])),
            lambda p: GeneralizedPareto(float(p[0]), float(np.exp(p[1]))),
            lambda d: [d.xi, np.log(d.beta)]),
}


@dataclass(frozen=True, eq=False)
class TruncatedFit:
    """A ground-up severity fitted to truncated and censored claims, with its likelihood.

    ``distribution`` is the ground-up severity X (before the reporting threshold and the limits);
    ``loglik`` is the maximised log-likelihood of the observed data (see :func:`fit`);
    ``n_censored`` claims were at their limit and ``truncation`` is the (largest) reporting threshold.
    ``ks`` is the Kolmogorov-Smirnov distance between the listed claims and the fitted
    distribution of X given X > d, F*(x) = (S(d) - S(x)) / S(d), over the uncensored range (below
    the limit); NaN when thresholds or limits differ between claims.
    """

    distribution: Severity
    family: str
    n: int
    n_censored: int
    truncation: float
    loglik: float
    n_params: int
    ks: float = float("nan")

    @property
    def aic(self) -> float:
        return 2 * self.n_params - 2 * self.loglik

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"family": self.family, "n": self.n, "n_censored": self.n_censored,
                              "truncation": self.truncation, "loglik": self.loglik, "aic": self.aic,
                              "ks": self.ks, "distribution": repr(self.distribution)}])

    @property
    def totals(self) -> pd.Series:
        return self.summary.iloc[0]


def _per_claim(value, n: int, name: str) -> np.ndarray:
    """A scalar or one value per claim, as a float array of length n."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise StopLossError(f"fit: {name} must be one number or one per claim ({n}), got shape {arr.shape}.")
    return arr


def _observations(data, truncation, censored):
    """Claims, per-claim thresholds and the censoring mask, checked against each other."""
    x = _clean(data, "fit")
    d = _per_claim(truncation, x.size, "truncation")
    if np.any(~np.isfinite(d) | (d < 0)):
        raise StopLossError("fit: truncation (reporting threshold) must be finite and >= 0.")
    below = x < d
    if below.any():
        i = int(np.flatnonzero(below)[0])
        raise StopLossError(f"fit: claim at position {i} is below its reporting threshold; a truncated sample "
                            "lists only claims above it. Check the threshold or remove the claim.")
    if censored is None:
        mask = np.zeros(x.size, dtype=bool)
    elif np.asarray(censored).dtype == bool:
        mask = _per_claim(censored, x.size, "censored").astype(bool)
    else:
        limit = _per_claim(censored, x.size, "censored (policy limit)")
        if np.any(limit <= d):
            raise StopLossError("fit: a policy limit is at or below its reporting threshold; limits must exceed it.")
        if np.any(x > limit * (1 + 1e-12)):
            i = int(np.flatnonzero(x > limit * (1 + 1e-12))[0])
            raise StopLossError(f"fit: claim at position {i} exceeds its policy limit; censored amounts are "
                                "recorded at the limit.")
        mask = x >= limit * (1 - 1e-12)
    if mask.all():
        raise StopLossError("fit: every claim is censored; the severity cannot be fitted.")
    return x, d, mask


def _neg_loglik(logpdf, logsf, x, d, mask) -> float:
    """-[sum_uncensored ln f(x) + sum_censored ln S(x) - sum ln S(d)]."""
    value = np.sum(logpdf(x[~mask])) + np.sum(logsf(x[mask])) - np.sum(logsf(d[d > 0]))
    return float(-value) if np.isfinite(value) else np.inf


def _maximise(nll, start, n: int) -> np.ndarray:
    """Minimise ``nll`` (per claim) by Nelder-Mead from ``start``, then polish with BFGS."""
    scaled = lambda p: nll(p) / n  # noqa: E731
    res = optimize.minimize(scaled, np.asarray(start, dtype=float), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20_000, "maxfev": 40_000})
    polish = optimize.minimize(scaled, res.x, method="BFGS", options={"gtol": 1e-10})
    best = polish.x if np.isfinite(polish.fun) and polish.fun <= res.fun else res.x
    if not np.isfinite(scaled(best)):
        raise StopLossError("fit: the likelihood is zero at every parameter tried; check the data and family.")
    return best


def fit(family: str, data, *, truncation=0.0, censored=None, threshold: float | None = None) -> TruncatedFit:
    """Maximum-likelihood fit of a ground-up severity to left-truncated, right-censored claims.

    Only claims above a reporting threshold d are listed (left truncation) and claims that reached
    a policy limit u are recorded at u (right censoring). The log-likelihood is (Klugman, Panjer &
    Willmot, *Loss Models*, 5th ed., section 13.3)

        l(theta) = sum_{uncensored} ln f(x_i) + sum_{censored} ln S(u_i) - sum_i ln S(d_i),

    maximised over unconstrained parameters (logs of positive ones; for the spliced model the
    logit of the tail probability) by Nelder-Mead polished with BFGS.

    Parameters
    ----------
    family : {"lognormal", "gamma", "weibull", "pareto", "gpd", "spliced"}
        "spliced" is a lognormal body below ``threshold`` and a generalised Pareto tail above it
        (:class:`~stoploss.severity.Spliced`), all five parameters fitted jointly.
    data : array-like
        Claim amounts (currency), all above their reporting threshold; censored ones at their limit.
    truncation : float or array-like
        Reporting threshold d (one, or one per claim); 0 for none.
    censored : bool array, float or array-like, optional
        Either a mask (True where the amount is a limit reached) or the policy limit(s) u, in which
        case claims recorded at u are censored.
    threshold : float, optional
        Splice point t of the "spliced" family (must exceed every reporting threshold).

    Returns
    -------
    TruncatedFit

    Examples
    --------
    >>> x = Lognormal(8.0, 1.5).sample(20_000, seed=1)
    >>> listed = np.minimum(x[x > 2000.0], 50_000.0)
    >>> f = fit("lognormal", listed, truncation=2000.0, censored=50_000.0)
    >>> round(f.distribution.mu, 1), round(f.distribution.sigma, 1)
    (8.0, 1.5)
    """
    if family not in _PARAMS and family != "spliced":
        raise StopLossError(f"fit: family must be one of {FAMILIES + ('spliced',)}, got {family!r}.")
    x, d, mask = _observations(data, truncation, censored)
    if family == "spliced":
        return _fit_spliced_truncated(x, d, mask, threshold)
    if threshold is not None:
        raise StopLossError("fit: threshold applies only to family='spliced'.")
    frozen, build, unpack = _PARAMS[family]
    start = unpack(fit_severity(x, family).distribution)

    def nll(p):
        with np.errstate(all="ignore"):
            dist = frozen(p)
            return _neg_loglik(dist.logpdf, dist.logsf, x, d, mask)
    best = _maximise(nll, start, x.size)
    dist = build(best)
    return TruncatedFit(dist, family, int(x.size), int(mask.sum()), float(d.max()), -nll(best), 2,
                        _truncated_ks(dist, x, d, mask))


def _truncated_ks(dist: Severity, x, d, mask) -> float:
    """sup |F_n - F*| over the uncensored claims, F* the fitted cdf given X > d; NaN unless d is common
    and every censored claim sits at one limit above all uncensored ones."""
    if np.ptp(d) > 0 or (mask.any() and (np.ptp(x[mask]) > 0 or x[mask].min() <= x[~mask].max())):
        return float("nan")
    s_d = float(dist.sf(d[0]))
    exact = np.sort(x[~mask])
    n, i = x.size, np.arange(1, exact.size + 1)
    f = (s_d - np.asarray(dist.sf(exact), dtype=float)) / s_d
    ks = max(np.max(i / n - f), np.max(f - (i - 1) / n))
    if mask.any():
        ks = max(ks, abs(exact.size / n - (s_d - float(dist.sf(x[mask][0]))) / s_d))
    return float(ks)


def _spliced_parts(p, t):
    """Log density and log survival of the lognormal body / GPD tail splice with parameters p."""
    body = stats.lognorm(np.exp(p[1]), scale=np.exp(p[0]))
    tail = stats.genpareto(p[3], scale=np.exp(p[4]))
    log_tail_prob = -np.logaddexp(0.0, -p[2])
    log_body_prob = -np.logaddexp(0.0, p[2])
    log_fb_t = body.logcdf(t)

    def logpdf(y):
        return np.where(y < t, log_body_prob + body.logpdf(y) - log_fb_t,
                        log_tail_prob + tail.logpdf(np.maximum(y - t, 0.0)))

    def logsf(y):
        below = np.log1p(-np.exp(log_body_prob + body.logcdf(np.minimum(y, t)) - log_fb_t))
        return np.where(y < t, below, log_tail_prob + tail.logsf(np.maximum(y - t, 0.0)))
    return logpdf, logsf


def _fit_spliced_truncated(x, d, mask, threshold) -> TruncatedFit:
    if threshold is None or not np.isfinite(threshold) or threshold <= 0:
        raise StopLossError("fit: family='spliced' needs a positive finite threshold (the splice point t).")
    t = float(threshold)
    if np.any(d >= t):
        raise StopLossError("fit: the reporting threshold must be below the splice point, or the body has no data; "
                            "fit family='gpd' to the excesses instead.")
    above, below = x[x >= t], x[x < t]
    if above.size < 5 or below.size < 5:
        raise StopLossError(f"fit: need at least 5 claims each side of the splice point {t:g}; "
                            f"got {below.size} below and {above.size} above.")
    lb = np.log(below)
    tail_start = _fit_gpd(above - t)
    share = above.size / x.size
    start = [lb.mean(), np.log(lb.std() + 1e-3), np.log(share / (1 - share)), tail_start.xi, np.log(tail_start.beta)]

    def nll(p):
        with np.errstate(all="ignore"):
            logpdf, logsf = _spliced_parts(p, t)
            return _neg_loglik(logpdf, logsf, x, d, mask)
    best = _maximise(nll, start, x.size)
    dist = Spliced(Lognormal(float(best[0]), float(np.exp(best[1]))),
                   GeneralizedPareto(float(best[3]), float(np.exp(best[4]))), t, float(1 / (1 + np.exp(-best[2]))))
    return TruncatedFit(dist, "spliced", int(x.size), int(mask.sum()), float(d.max()), -nll(best), 5,
                        _truncated_ks(dist, x, d, mask))


# --- claim counts with exposure ------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class FrequencyFit:
    """A claim-count model per unit of exposure, fitted by maximum likelihood.

    ``distribution`` is the count for one unit of exposure (e.g. one member-year);
    :meth:`for_exposure` gives it for e units.
    """

    distribution: Frequency
    family: str
    n: int
    exposure: float
    loglik: float
    n_params: int

    def for_exposure(self, e: float) -> Frequency:
        """The count for exposure ``e``: Poisson(lam e) or NegativeBinomial(r, beta e)."""
        e = float(e)
        if not (np.isfinite(e) and e > 0):
            raise StopLossError(f"FrequencyFit.for_exposure: exposure must be positive and finite, got {e!r}.")
        dist = self.distribution
        return Poisson(dist.lam * e) if isinstance(dist, Poisson) else NegativeBinomial(dist.r, dist.beta * e)

    @property
    def aic(self) -> float:
        return 2 * self.n_params - 2 * self.loglik

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"family": self.family, "n": self.n, "exposure": self.exposure,
                              "loglik": self.loglik, "aic": self.aic, "distribution": repr(self.distribution)}])

    @property
    def totals(self) -> pd.Series:
        return self.summary.iloc[0]


def _nb_loglik(r: float, beta: float, n: np.ndarray, e: np.ndarray) -> float:
    """sum ln P(N_i = n_i) for N_i ~ NegativeBinomial(r, beta e_i) (KPW parametrisation)."""
    b = beta * e
    return float(np.sum(special.gammaln(n + r) - special.gammaln(r) - special.gammaln(n + 1)
                        - r * np.log1p(b) + n * (np.log(b) - np.log1p(b))))


def fit_frequency(counts, exposure=None, family: str = "poisson") -> FrequencyFit:
    """Maximum-likelihood claim-count model with exposure.

    Unit i (a group-year, say) with exposure e_i (member-years) has N_i claims.

    * "poisson": N_i ~ Poisson(lam e_i); the MLE is lam = sum n_i / sum e_i.
    * "negbin":  N_i ~ NegativeBinomial(r, beta e_i), mean r beta e_i and variance
      mean (1 + beta e_i) -- the NB2 model of Cameron & Trivedi (*Regression Analysis of Count
      Data*, 2nd ed., section 3.3) with log-exposure offset, i.e. a Poisson whose rate is scaled by
      a gamma factor with mean 1 and variance 1/r shared by the unit. (r, beta) maximise
      sum ln P(N_i = n_i) over (ln r, ln beta).

    Parameters
    ----------
    counts : array-like of int
        Claim counts n_i >= 0.
    exposure : array-like, optional
        Exposure e_i > 0 of each unit (default 1).
    family : {"poisson", "negbin"}

    Examples
    --------
    >>> f = fit_frequency([3, 5, 4, 10], exposure=[1.0, 1.0, 1.0, 2.0])
    >>> f.distribution.lam, f.for_exposure(0.5).lam
    (4.4, 2.2)
    """
    if family not in ("poisson", "negbin"):
        raise StopLossError(f"fit_frequency: family must be 'poisson' or 'negbin', got {family!r}.")
    n = np.asarray(counts, dtype=float).ravel()
    bad = ~np.isfinite(n) | (n < 0) | (n != np.round(n))
    if bad.any():
        raise StopLossError(f"fit_frequency: count at position {int(np.flatnonzero(bad)[0])} is not a whole "
                            "number >= 0.")
    if n.size < 2:
        raise StopLossError(f"fit_frequency: need at least 2 units (e.g. group-years), got {n.size}.")
    e = np.ones_like(n) if exposure is None else _per_claim(exposure, n.size, "exposure")
    if np.any(~np.isfinite(e) | (e <= 0)):
        raise StopLossError(f"fit_frequency: exposure at position {int(np.flatnonzero(~(e > 0))[0])} "
                            "is not positive; drop units without exposure.")
    if n.sum() == 0:
        raise StopLossError("fit_frequency: no claims at all; the claim rate cannot be estimated.")
    lam = float(n.sum() / e.sum())
    if family == "poisson":
        loglik = float(np.sum(stats.poisson.logpmf(n, lam * e)))
        return FrequencyFit(Poisson(lam), family, int(n.size), float(e.sum()), loglik, 1)
    rate = n / e
    excess = np.var(rate) * np.mean(e) / max(lam, 1e-300) - 1.0
    beta0 = max(excess, 1e-3)
    start = [np.log(lam / beta0), np.log(beta0)]
    best = _maximise(lambda p: -_nb_loglik(np.exp(p[0]), np.exp(p[1]), n, e), start, n.size)
    r, beta = float(np.exp(best[0])), float(np.exp(best[1]))
    if r > 1e7:
        raise StopLossError(f"fit_frequency: the counts show no overdispersion (r -> infinity, r = {r:.3g}); "
                            "use family='poisson'.")
    return FrequencyFit(NegativeBinomial(r, beta), family, int(n.size), float(e.sum()),
                        _nb_loglik(r, beta, n, e), 2)
