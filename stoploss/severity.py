"""Severity distributions for a member's annual cost or a claim: closed-form limited expectations.

Every distribution gives ``cdf``, ``sf`` (survival), ``quantile``, ``sample`` and the three
quantities stop-loss pricing needs, in closed form where one exists:

* ``lev(u)``      limited expected value E[X ^ u] = E[min(X, u)]
* ``excess(a)``   expected excess E[(X - a)+]
* ``layer(a, l)`` layer E[min((X - a)+, l)]  ("l xs a")

Parametrisations follow Klugman, Panjer & Willmot, *Loss Models* (5th ed.), Appendix A, and are
stated on each class. Amounts are in currency units (e.g. pounds per member-year).

``excess`` is computed from survival-type terms (not as mean minus ``lev``) so it keeps its relative
accuracy far in the tail; ``layer`` uses whichever of the two differences is better conditioned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import gamma as gamma_fn
from math import inf, lgamma

import numpy as np
from scipy import integrate
from scipy.special import gammainc, gammaincc, gammaincinv, ndtr, ndtri

from _kit.random import generator
from stoploss.errors import StopLossError


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _positive(name: str, value: float, owner: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise StopLossError(f"{owner}: {name} must be a positive finite number, got {value!r}.")
    return value


class Severity:
    """Common interface and generic formulas; subclasses supply the closed forms."""

    #: True when the distribution has a density (FFT results are then Richardson-extrapolated).
    continuous = True

    def sf(self, x):
        """Survival function P(X > x)."""
        return 1.0 - self.cdf(x)

    def right_end(self) -> float:
        """Smallest x with P(X <= x) = 1 (``inf`` for an unbounded severity)."""
        return inf

    def mean(self) -> float:
        """E[X] (``inf`` when it does not exist)."""
        return self.moment(1)

    def var(self) -> float:
        """Var[X] (``inf`` when the second moment does not exist)."""
        m1 = self.moment(1)
        return self.moment(2) - m1 * m1

    def excess(self, a):
        """Expected excess E[(X - a)+] (generic: mean minus ``lev``)."""
        return self.mean() - self.lev(a)

    def layer(self, a, l):
        """Layer E[min((X - a)+, l)]: the expected payment of "l xs a"."""
        a, l = np.broadcast_arrays(_arr(a), _arr(l))
        return self.sf_integral(a, a + l)

    def sf_integral(self, a, b):
        """Integral of the survival function over [a, b] = E[X ^ b] - E[X ^ a], well conditioned."""
        a, b = _arr(a), _arr(b)
        lev_a = self.lev(a)
        ex_a = self.excess(a)
        use_excess = ex_a < lev_a
        with np.errstate(invalid="ignore"):
            by_excess = ex_a - self.excess(b)
            by_lev = self.lev(b) - lev_a
        return np.where(use_excess, by_excess, by_lev)

    def lev2(self, u):
        """Limited second moment E[(X ^ u)^2] = 2 * integral_0^u x S(x) dx (numerical quadrature)."""
        u = np.atleast_1d(_arr(u))
        out = np.empty(u.shape)
        for i, ui in enumerate(u.ravel()):
            val, _ = integrate.quad(lambda x: 2.0 * x * float(self.sf(x)), 0.0, ui, limit=200, epsrel=1e-12)
            out.ravel()[i] = val
        return out

    def sample(self, n: int, seed) -> np.ndarray:
        """``n`` independent draws by inversion, reproducible for a given ``seed``
        (``_kit.random.generator(seed, "severity sample")``)."""
        return self.quantile(generator(seed, "severity sample").random(int(n)))

    def scaled(self, c: float) -> Severity:
        """The distribution of c * X (trend, completion factor)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Lognormal(Severity):
    """Lognormal: ln X ~ Normal(mu, sigma^2).

    Examples
    --------
    >>> round(float(Lognormal(8.0, 1.5).layer(100_000, 400_000)), 6)
    781.079181
    """

    mu: float
    sigma: float

    def __post_init__(self):
        _positive("sigma", self.sigma, "Lognormal")

    def _z(self, x):
        x = _arr(x)
        with np.errstate(divide="ignore"):
            return (np.log(x) - self.mu) / self.sigma

    def cdf(self, x):
        return ndtr(self._z(x))

    def sf(self, x):
        return ndtr(-self._z(x))

    def quantile(self, p):
        return np.exp(self.mu + self.sigma * ndtri(_arr(p)))

    def moment(self, k: int = 1) -> float:
        return float(np.exp(k * self.mu + 0.5 * k * k * self.sigma**2))

    def lev(self, u):
        z = self._z(u)
        return self.moment(1) * ndtr(z - self.sigma) + np.where(_arr(u) > 0, _arr(u) * ndtr(-z), 0.0)

    def excess(self, a):
        z = self._z(a)
        return self.moment(1) * ndtr(self.sigma - z) - np.where(_arr(a) > 0, _arr(a) * ndtr(-z), 0.0)

    def lev2(self, u):
        z = self._z(u)
        return self.moment(2) * ndtr(z - 2 * self.sigma) + np.where(_arr(u) > 0, _arr(u) ** 2 * ndtr(-z), 0.0)

    def scaled(self, c: float) -> Lognormal:
        return Lognormal(self.mu + np.log(_positive("scale factor", c, "Lognormal.scaled")), self.sigma)


@dataclass(frozen=True)
class Gamma(Severity):
    """Gamma with shape alpha and scale theta: mean alpha*theta. ``Gamma(1, theta)`` is exponential."""

    alpha: float
    theta: float

    def __post_init__(self):
        _positive("alpha", self.alpha, "Gamma")
        _positive("theta", self.theta, "Gamma")

    def cdf(self, x):
        return gammainc(self.alpha, np.maximum(_arr(x), 0.0) / self.theta)

    def sf(self, x):
        return gammaincc(self.alpha, np.maximum(_arr(x), 0.0) / self.theta)

    def quantile(self, p):
        return self.theta * gammaincinv(self.alpha, _arr(p))

    def moment(self, k: int = 1) -> float:
        return float(self.theta**k * np.exp(lgamma(self.alpha + k) - lgamma(self.alpha)))

    def lev(self, u):
        x = np.maximum(_arr(u), 0.0) / self.theta
        return self.moment(1) * gammainc(self.alpha + 1, x) + _arr(u).clip(0) * gammaincc(self.alpha, x)

    def excess(self, a):
        x = np.maximum(_arr(a), 0.0) / self.theta
        return self.moment(1) * gammaincc(self.alpha + 1, x) - _arr(a).clip(0) * gammaincc(self.alpha, x)

    def lev2(self, u):
        x = np.maximum(_arr(u), 0.0) / self.theta
        return self.moment(2) * gammainc(self.alpha + 2, x) + _arr(u).clip(0) ** 2 * gammaincc(self.alpha, x)

    def scaled(self, c: float) -> Gamma:
        return Gamma(self.alpha, self.theta * _positive("scale factor", c, "Gamma.scaled"))


@dataclass(frozen=True)
class Weibull(Severity):
    """Weibull with shape tau and scale theta: S(x) = exp(-(x/theta)^tau)."""

    tau: float
    theta: float

    def __post_init__(self):
        _positive("tau", self.tau, "Weibull")
        _positive("theta", self.theta, "Weibull")

    def _t(self, x):
        return (np.maximum(_arr(x), 0.0) / self.theta) ** self.tau

    def cdf(self, x):
        return -np.expm1(-self._t(x))

    def sf(self, x):
        return np.exp(-self._t(x))

    def quantile(self, p):
        return self.theta * (-np.log1p(-_arr(p))) ** (1.0 / self.tau)

    def moment(self, k: int = 1) -> float:
        return float(self.theta**k * gamma_fn(1.0 + k / self.tau))

    def lev(self, u):
        return self.moment(1) * gammainc(1 + 1 / self.tau, self._t(u)) + _arr(u).clip(0) * self.sf(u)

    def excess(self, a):
        return self.moment(1) * gammaincc(1 + 1 / self.tau, self._t(a)) - _arr(a).clip(0) * self.sf(a)

    def lev2(self, u):
        return self.moment(2) * gammainc(1 + 2 / self.tau, self._t(u)) + _arr(u).clip(0) ** 2 * self.sf(u)

    def scaled(self, c: float) -> Weibull:
        return Weibull(self.tau, self.theta * _positive("scale factor", c, "Weibull.scaled"))


@dataclass(frozen=True)
class GeneralizedPareto(Severity):
    """Generalised Pareto (the peaks-over-threshold tail): S(y) = (1 + xi*y/beta)^(-1/xi), y >= 0.

    ``xi = 0`` is the exponential with mean beta; ``xi < 0`` has a finite right end -beta/xi.
    """

    xi: float
    beta: float

    def __post_init__(self):
        _positive("beta", self.beta, "GeneralizedPareto")
        if not np.isfinite(self.xi):
            raise StopLossError(f"GeneralizedPareto: xi must be finite, got {self.xi!r}.")

    def _base(self, y):
        y = np.maximum(_arr(y), 0.0)
        if self.xi < 0:
            y = np.minimum(y, -self.beta / self.xi)
        return 1.0 + self.xi * y / self.beta

    def sf(self, y):
        if self.xi == 0:
            return np.exp(-np.maximum(_arr(y), 0.0) / self.beta)
        return self._base(y) ** (-1.0 / self.xi)

    def cdf(self, y):
        return 1.0 - self.sf(y)

    def quantile(self, p):
        p = _arr(p)
        if self.xi == 0:
            return -self.beta * np.log1p(-p)
        return self.beta / self.xi * np.expm1(-self.xi * np.log1p(-p))

    def moment(self, k: int = 1) -> float:
        if self.xi * k >= 1:
            return inf
        num = gamma_fn(k + 1) * self.beta**k
        return float(num / np.prod([1.0 - j * self.xi for j in range(1, k + 1)]))

    def lev(self, u):
        y = self._base(u) - 1.0
        if self.xi == 0:
            return -self.beta * np.expm1(-np.maximum(_arr(u), 0.0) / self.beta)
        if self.xi == 1:
            return self.beta * np.log1p(y)
        with np.errstate(divide="ignore"):  # log(0) = -inf at the right end when xi < 0 is exact here
            return -self.beta / (1 - self.xi) * np.expm1((1 - 1 / self.xi) * np.log1p(y))

    def lev2(self, u):
        """E[(Y ^ u)^2] in closed form; quadrature near the removable singularities xi = 0, 1/2, 1."""
        xi, beta = self.xi, self.beta
        if min(abs(xi), abs(xi - 0.5), abs(xi - 1.0)) < 1e-3:
            return super().lev2(u)
        t = self._base(u)
        with np.errstate(divide="ignore"):
            lt = np.log(t)
        e2, e1 = 2.0 - 1.0 / xi, 1.0 - 1.0 / xi
        return 2.0 * (beta / xi) ** 2 * (np.expm1(e2 * lt) / e2 - np.expm1(e1 * lt) / e1)

    def excess(self, a):
        if self.xi >= 1:
            return np.full(np.shape(a), inf)
        a = np.maximum(_arr(a), 0.0)
        return self.sf(a) * np.maximum(self.beta + self.xi * a, 0.0) / (1.0 - self.xi)

    def right_end(self) -> float:
        return -self.beta / self.xi if self.xi < 0 else inf

    def scaled(self, c: float) -> GeneralizedPareto:
        return GeneralizedPareto(self.xi, self.beta * _positive("scale factor", c, "GeneralizedPareto.scaled"))


@dataclass(frozen=True)
class Pareto(Severity):
    """Pareto (type II, Lomax; KPW's "Pareto"): S(x) = (theta / (x + theta))^alpha, x >= 0.

    Mean theta/(alpha-1) for alpha > 1. It is the generalised Pareto with xi = 1/alpha, beta = theta/alpha.
    """

    alpha: float
    theta: float

    def __post_init__(self):
        _positive("alpha", self.alpha, "Pareto")
        _positive("theta", self.theta, "Pareto")

    @property
    def _gpd(self) -> GeneralizedPareto:
        return GeneralizedPareto(1.0 / self.alpha, self.theta / self.alpha)

    def cdf(self, x):
        return self._gpd.cdf(x)

    def sf(self, x):
        return self._gpd.sf(x)

    def quantile(self, p):
        return self._gpd.quantile(p)

    def moment(self, k: int = 1) -> float:
        return self._gpd.moment(k)

    def lev(self, u):
        return self._gpd.lev(u)

    def lev2(self, u):
        return self._gpd.lev2(u)

    def excess(self, a):
        return self._gpd.excess(a)

    def scaled(self, c: float) -> Pareto:
        return Pareto(self.alpha, self.theta * _positive("scale factor", c, "Pareto.scaled"))


@dataclass(frozen=True)
class SingleParameterPareto(Severity):
    """Single-parameter Pareto: S(x) = (theta / x)^alpha for x >= theta (theta is the known minimum)."""

    alpha: float
    theta: float

    def __post_init__(self):
        _positive("alpha", self.alpha, "SingleParameterPareto")
        _positive("theta", self.theta, "SingleParameterPareto")

    def sf(self, x):
        x = _arr(x)
        with np.errstate(divide="ignore"):
            return np.where(x <= self.theta, 1.0, (self.theta / np.maximum(x, self.theta)) ** self.alpha)

    def cdf(self, x):
        return 1.0 - self.sf(x)

    def quantile(self, p):
        return self.theta * (1.0 - _arr(p)) ** (-1.0 / self.alpha)

    def moment(self, k: int = 1) -> float:
        if self.alpha <= k:
            return inf
        return float(self.alpha * self.theta**k / (self.alpha - k))

    def lev(self, u):
        u = _arr(u)
        return np.where(u <= self.theta, u, self.moment(1) - self.excess(u)) if self.alpha > 1 else self._lev1(u)

    def _lev1(self, u):
        t = np.maximum(u, self.theta)
        if self.alpha == 1:
            tail = self.theta * np.log(t / self.theta)
        else:
            tail = self.theta / (1 - self.alpha) * ((t / self.theta) ** (1 - self.alpha) - 1.0)
        return np.where(u <= self.theta, u, self.theta + tail)

    def excess(self, a):
        a = _arr(a)
        if self.alpha <= 1:
            return np.full(a.shape, inf)
        above = np.maximum(a, self.theta) / (self.alpha - 1) * self.sf(a)
        return np.where(a < self.theta, self.moment(1) - a, above)

    def scaled(self, c: float) -> SingleParameterPareto:
        return SingleParameterPareto(self.alpha, self.theta * _positive("scale factor", c, "SingleParameterPareto.scaled"))


@dataclass(frozen=True, eq=False)
class Empirical(Severity):
    """Discrete distribution on observed values (optionally weighted), e.g. claimant costs.

    Examples
    --------
    >>> x = Empirical([100.0, 500.0, 1000.0], [0.8, 0.16, 0.04])
    >>> float(x.mean()), float(x.excess(500.0))
    (200.0, 20.0)
    """

    values: np.ndarray
    weights: np.ndarray | None = None
    _cum_w: np.ndarray = field(init=False, repr=False)
    _cum_wx: np.ndarray = field(init=False, repr=False)
    _tail_w: np.ndarray = field(init=False, repr=False)
    _tail_wx: np.ndarray = field(init=False, repr=False)

    continuous = False

    def __post_init__(self):
        x = np.asarray(self.values, dtype=float).ravel()
        w = np.ones_like(x) if self.weights is None else np.asarray(self.weights, dtype=float).ravel()
        if x.size == 0 or x.shape != w.shape:
            raise StopLossError("Empirical: need at least one value and one weight per value.")
        if not (np.all(np.isfinite(x)) and np.all(x >= 0)):
            bad = int(np.flatnonzero(~(np.isfinite(x) & (x >= 0)))[0])
            raise StopLossError(f"Empirical: value at position {bad} is negative or not finite; costs must be >= 0.")
        if np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
            raise StopLossError("Empirical: weights must be finite, non-negative and not all zero.")
        order = np.argsort(x, kind="stable")
        x, w = x[order], w[order] / w.sum()
        object.__setattr__(self, "values", x)
        object.__setattr__(self, "weights", w)
        zero = np.zeros(1)
        object.__setattr__(self, "_cum_w", np.concatenate([zero, np.cumsum(w)]))
        object.__setattr__(self, "_cum_wx", np.concatenate([zero, np.cumsum(w * x)]))
        object.__setattr__(self, "_tail_w", np.concatenate([np.cumsum(w[::-1])[::-1], zero]))
        object.__setattr__(self, "_tail_wx", np.concatenate([np.cumsum((w * x)[::-1])[::-1], zero]))

    def _k(self, x):
        return np.searchsorted(self.values, _arr(x), side="right")

    def cdf(self, x):
        return np.minimum(self._cum_w[self._k(x)], 1.0)

    def sf(self, x):
        return self._tail_w[self._k(x)]

    def quantile(self, p):
        k = np.searchsorted(self._cum_w[1:], _arr(p) - 1e-15, side="left")
        return self.values[np.minimum(k, self.values.size - 1)]

    def moment(self, k: int = 1) -> float:
        return float(np.sum(self.weights * self.values**k))

    def lev(self, u):
        k = self._k(u)
        return self._cum_wx[k] + _arr(u) * self._tail_w[k]

    def excess(self, a):
        k = self._k(a)
        return np.maximum(self._tail_wx[k] - _arr(a) * self._tail_w[k], 0.0)

    def lev2(self, u):
        u = _arr(u)
        cum_wx2 = np.concatenate([np.zeros(1), np.cumsum(self.weights * self.values**2)])
        k = self._k(u)
        return cum_wx2[k] + u**2 * self._tail_w[k]

    def right_end(self) -> float:
        return float(self.values[-1])

    def scaled(self, c: float) -> Empirical:
        return Empirical(self.values * _positive("scale factor", c, "Empirical.scaled"), self.weights)


@dataclass(frozen=True, eq=False)
class Spliced(Severity):
    """Body below a threshold t spliced to a generalised Pareto tail above it.

    F(x) = (1 - p) * F_body(x) / F_body(t)         for x < t   (body truncated to [0, t])
    F(x) = (1 - p) + p * G(x - t)                   for x >= t  (G generalised Pareto, p = tail_prob)

    ``body`` is any severity (typically ``Empirical`` of the costs below t, or ``Lognormal``).
    """

    body: Severity
    tail: GeneralizedPareto
    threshold: float
    tail_prob: float

    def __post_init__(self):
        _positive("threshold", self.threshold, "Spliced")
        if not 0 < self.tail_prob < 1:
            raise StopLossError(f"Spliced: tail_prob must be in (0, 1), got {self.tail_prob!r}.")
        if float(self.body.cdf(self.threshold)) <= 0:
            raise StopLossError("Spliced: the body has no probability below the threshold; lower the threshold.")

    @property
    def continuous(self) -> bool:  # type: ignore[override]
        return self.body.continuous

    @property
    def _fb_t(self) -> float:
        return float(self.body.cdf(self.threshold))

    @property
    def _sb_t(self) -> float:
        return float(self.body.sf(self.threshold))

    def cdf(self, x):
        x = _arr(x)
        below = (1 - self.tail_prob) * self.body.cdf(np.minimum(x, self.threshold)) / self._fb_t
        above = 1 - self.tail_prob + self.tail_prob * self.tail.cdf(x - self.threshold)
        return np.where(x < self.threshold, below, above)

    def sf(self, x):
        x = _arr(x)
        below = 1 - (1 - self.tail_prob) * self.body.cdf(np.minimum(x, self.threshold)) / self._fb_t
        return np.where(x < self.threshold, below, self.tail_prob * self.tail.sf(x - self.threshold))

    def quantile(self, p):
        p = _arr(p)
        q_body = np.minimum(p, 1 - self.tail_prob) * self._fb_t / (1 - self.tail_prob)
        body = self.body.quantile(q_body)
        tail_p = np.clip((p - (1 - self.tail_prob)) / self.tail_prob, 0.0, 1.0)
        return np.where(p < 1 - self.tail_prob, np.minimum(body, self.threshold),
                        self.threshold + self.tail.quantile(tail_p))

    def _body_part(self, u):
        """E[min(X, u); X <= t] under the body, for u <= t."""
        return self.body.lev(u) - u * self._sb_t

    def lev(self, u):
        u = _arr(u)
        t, p, w = self.threshold, self.tail_prob, (1 - self.tail_prob) / self._fb_t
        below = w * self._body_part(np.minimum(u, t)) + p * np.minimum(u, t)
        above = w * self._body_part(t) + p * (t + self.tail.lev(np.maximum(u - t, 0.0)))
        return np.where(u <= t, below, above)

    def excess(self, a):
        a = _arr(a)
        t, p, w = self.threshold, self.tail_prob, (1 - self.tail_prob) / self._fb_t
        am = np.minimum(a, t)
        body = self.body.excess(am) - self.body.excess(t) - (t - am) * self._sb_t
        below = w * body + p * (t - am + self.tail.mean())
        return np.where(a < t, below, p * self.tail.excess(np.maximum(a - t, 0.0)))

    def moment(self, k: int = 1) -> float:
        t, p, w = self.threshold, self.tail_prob, (1 - self.tail_prob) / self._fb_t
        if k == 1:
            return float(w * self._body_part(t) + p * (t + self.tail.moment(1)))
        if k == 2:
            body2 = float(self.body.lev2(t)) - t * t * self._sb_t
            return float(w * body2 + p * (t * t + 2 * t * self.tail.moment(1) + self.tail.moment(2)))
        raise StopLossError("Spliced.moment: only k = 1 and 2 are available.")

    def lev2(self, u):
        u = _arr(u)
        t, p, w = self.threshold, self.tail_prob, (1 - self.tail_prob) / self._fb_t
        um = np.minimum(u, t)
        body = w * (self.body.lev2(um) - um**2 * self._sb_t) + p * um**2
        y = np.maximum(u - t, 0.0)
        tail_extra = p * (2 * t * self.tail.lev(y) + np.atleast_1d(self.tail.lev2(y)).reshape(y.shape))
        return np.where(u <= t, body, body + tail_extra)

    def scaled(self, c: float) -> Spliced:
        c = _positive("scale factor", c, "Spliced.scaled")
        return Spliced(self.body.scaled(c), self.tail.scaled(c), self.threshold * c, self.tail_prob)
