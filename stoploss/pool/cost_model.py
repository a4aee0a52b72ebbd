"""A patient's annual cost driven by a morbidity (risk-score) class: the pool simulator's cost model.

A registered patient belongs to one of K morbidity classes (shares ``share``, summing to 1). Given the
class k, the annual cost X (currency units per patient-year) is

* zero with probability ``zero_probability[k]`` (no use of services in the year);
* otherwise a lognormal body spliced to a Pareto tail: ln X ~ Normal(log_mu[k], sigma^2) below the
  tail threshold u, and above u the lognormal's tail mass S_LN,k(u) = 1 - Phi((ln u - log_mu[k]) / sigma)
  is redistributed as a Pareto (type I) tail P(X > x | X > u) = (x / u)^(-alpha), common to all
  classes. This is ``stoploss.Spliced(Lognormal(log_mu[k], sigma), GeneralizedPareto(1/alpha, u/alpha),
  u, S_LN,k(u))`` (the generalised Pareto with xi = 1/alpha, beta = u/alpha is the Pareto above u).

Every quantity the simulator needs is exact and closed-form, from the partial moments
E[X^r; a < X <= b] of the spliced law: lognormal part exp(r mu + r^2 sigma^2 / 2) [Phi(z_b - r sigma) -
Phi(z_a - r sigma)] (z = (ln x - mu)/sigma), Pareto part S_LN(u) alpha u^alpha (b^(r-alpha) -
a^(r-alpha)) / (r - alpha) (Klugman, Panjer & Willmot, *Loss Models*, 5th ed., Appendix A).

Calibration (:meth:`CostModel.calibrated`): the class structure (shares, zero-cost probabilities,
relative cost scales), the tail threshold and the Pareto index are stated; two parameters, a common
location shift of ``log_mu`` and the common ``sigma``, are solved so that a stated share of people
(default 1%) cost more than a stated amount (default 100,000) and account for a stated share of all
spend (default one third), the concentration of health spending reported for high-cost patients.
With the tail threshold at the calibration amount, the people above it cost alpha u / (alpha - 1)
on average, so the targets fix the mean cost per head at share x alpha u / (alpha - 1) / spend share.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from scipy import optimize
from scipy.special import ndtr

from stoploss.errors import StopLossError

#: Default morbidity classes: population share, probability of no cost in the year, relative cost
#: scale (the ratio of exp(log_mu) to that of the first class). Stylised from the shape of
#: person-level cost data (most people cheap, a few per cent with complex multimorbidity). Calibrated
#: (Pareto index 2.5) the mean cost is 5,000 a head, the per-person coefficient of variation 4.8, and
#: the class means explain 20% of the variance of individual cost: the ceiling for any budget formula
#: that knows the class, above the 12.6% of age, sex and diagnoses in the NHS person-based formula
#: (Dixon et al., BMJ 2011;342:d2934).
DEFAULT_CLASSES = (
    ("healthy", 0.50, 0.30, 1.0),
    ("one chronic condition", 0.25, 0.10, 3.0),
    ("multimorbid", 0.15, 0.05, 10.0),
    ("complex", 0.08, 0.02, 40.0),
    ("very complex", 0.02, 0.01, 150.0),
)


@dataclass(frozen=True, eq=False)
class CostModel:
    """Annual cost of a patient given their morbidity class (see the module docstring).

    Parameters
    ----------
    classes : tuple of str
        Class names, K of them.
    share : ndarray, shape (K,)
        Share of the registered population in each class (sums to 1).
    zero_probability : ndarray, shape (K,)
        P(no cost in the year | class).
    log_mu : ndarray, shape (K,)
        Lognormal location of the positive cost (log currency units).
    sigma : float
        Lognormal shape, common to all classes.
    tail_threshold : float
        u, currency units: above it the cost is Pareto with index ``tail_alpha``.
    tail_alpha : float
        Pareto index; must exceed 2 so the variance is finite.

    Examples
    --------
    >>> from stoploss.pool.cost_model import default_cost_model
    >>> cm = default_cost_model()
    >>> round(float(cm.population_share_above(100_000)), 4), round(float(cm.spend_share_above(100_000)), 4)
    (0.01, 0.3333)
    """

    classes: tuple
    share: np.ndarray
    zero_probability: np.ndarray
    log_mu: np.ndarray
    sigma: float
    tail_threshold: float
    tail_alpha: float

    def __post_init__(self):
        k = len(self.classes)
        for name in ("share", "zero_probability", "log_mu"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (k,) or not np.all(np.isfinite(arr)):
                raise StopLossError(f"CostModel: {name} must hold {k} finite numbers, one per class, got {arr!r}.")
            object.__setattr__(self, name, arr)
        if np.any(self.share < 0) or abs(self.share.sum() - 1.0) > 1e-9:
            raise StopLossError(f"CostModel: class shares must be >= 0 and sum to 1, got sum {self.share.sum()!r}.")
        if np.any(self.zero_probability < 0) or np.any(self.zero_probability >= 1):
            raise StopLossError("CostModel: zero_probability must be in [0, 1) for every class.")
        if not self.sigma > 0:
            raise StopLossError(f"CostModel: sigma must be positive, got {self.sigma!r}.")
        if not self.tail_threshold > 0:
            raise StopLossError(f"CostModel: tail_threshold must be positive, got {self.tail_threshold!r}.")
        if not self.tail_alpha > 2:
            raise StopLossError(
                f"CostModel: tail_alpha must exceed 2 (finite variance), got {self.tail_alpha!r}; "
                "a group's risk is not defined without it."
            )

    # ----- per-class partial moments of the positive cost -------------------------------------------
    @cached_property
    def tail_probability(self) -> np.ndarray:
        """P(X > u | X > 0, class), shape (K,): the lognormal's mass above the tail threshold."""
        return ndtr(-(np.log(self.tail_threshold) - self.log_mu) / self.sigma)

    def partial_moment(self, r: int, a, b) -> np.ndarray:
        """E[X^r; a < X <= b | X > 0] per class, shape (K, ...) for a, b broadcast (b may be inf).

        Requires r < tail_alpha when b is infinite.
        """
        a = np.asarray(a, dtype=np.float64)[None, ...]
        b = np.asarray(b, dtype=np.float64)[None, ...]
        mu = self.log_mu.reshape((-1,) + (1,) * (a.ndim - 1))
        s, u, al = self.sigma, self.tail_threshold, self.tail_alpha
        lo, hi = np.minimum(a, u), np.minimum(b, u)
        with np.errstate(divide="ignore"):
            za = np.where(lo > 0, (np.log(np.maximum(lo, 1e-300)) - mu) / s, -np.inf)
            zb = np.where(hi > 0, (np.log(np.maximum(hi, 1e-300)) - mu) / s, -np.inf)
        body = np.exp(r * mu + 0.5 * r * r * s * s) * np.maximum(ndtr(zb - r * s) - ndtr(za - r * s), 0.0)
        ta, tb = np.maximum(a, u), np.maximum(b, u)
        w = self.tail_probability.reshape(mu.shape)
        with np.errstate(divide="ignore", over="ignore"):
            tail = w * al * u**al * (np.where(np.isinf(tb), 0.0, tb ** (r - al)) - ta ** (r - al)) / (r - al)
        return body + tail

    # ----- per-class and population moments -------------------------------------------------------
    @cached_property
    def class_mean(self) -> np.ndarray:
        """E[X | class], shape (K,), currency units per patient-year (zeros included)."""
        return (1 - self.zero_probability) * self.partial_moment(1, 0.0, np.inf)

    @cached_property
    def class_var(self) -> np.ndarray:
        """Var[X | class], shape (K,)."""
        second = (1 - self.zero_probability) * self.partial_moment(2, 0.0, np.inf)
        return second - self.class_mean**2

    @cached_property
    def mean(self) -> float:
        """E[X] over the population mix (currency units per patient-year)."""
        return float(self.share @ self.class_mean)

    @cached_property
    def var(self) -> float:
        """Var[X] over the population mix: within-class plus between-class variance."""
        return float(self.share @ self.class_var + self.share @ (self.class_mean - self.mean) ** 2)

    @cached_property
    def between_share(self) -> float:
        """Share of Var[X] explained by the class means: the R-squared of a formula that knows each class."""
        return float(self.share @ (self.class_mean - self.mean) ** 2) / self.var

    def survival(self, x) -> np.ndarray:
        """P(X > x) for the population mix (x >= 0)."""
        return np.asarray(self.share @ ((1 - self.zero_probability)[:, None]
                                        * self.partial_moment(0, np.atleast_1d(x), np.inf))).reshape(np.shape(x))

    def excess(self, a) -> np.ndarray:
        """E[(X - a)+] per patient for the population mix: the specific stop-loss pure premium per head."""
        a1 = np.atleast_1d(np.asarray(a, dtype=np.float64))
        per_class = self.partial_moment(1, a1, np.inf) - a1 * self.partial_moment(0, a1, np.inf)
        return np.asarray(self.share @ ((1 - self.zero_probability)[:, None] * per_class)).reshape(np.shape(a))

    def population_share_above(self, x) -> np.ndarray:
        """Share of people whose annual cost exceeds x."""
        return self.survival(x)

    def spend_share_above(self, x) -> np.ndarray:
        """Share of all spend that goes on people whose annual cost exceeds x."""
        x1 = np.atleast_1d(np.asarray(x, dtype=np.float64))
        spend = self.share @ ((1 - self.zero_probability)[:, None] * self.partial_moment(1, x1, np.inf))
        return np.asarray(spend / self.mean).reshape(np.shape(x))

    def band_moments(self, edges) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Probability, mean and variance of X in each cost band, per class.

        Bands are: ``{0}`` (no cost), then (0, e_1], (e_1, e_2], ..., (e_m, inf) for increasing
        positive ``edges`` e_1 < ... < e_m. Returns three arrays of shape (K, m + 2): P(band | class),
        E[X | band, class] and Var[X | band, class] (zero where the band has no probability).
        """
        e = np.asarray(edges, dtype=np.float64)
        lo = np.concatenate([[0.0], e])
        hi = np.concatenate([e, [np.inf]])
        p_pos = 1 - self.zero_probability
        m0 = self.partial_moment(0, lo, hi)
        m1 = self.partial_moment(1, lo, hi)
        m2 = self.partial_moment(2, lo, hi)
        safe = np.where(m0 > 0, m0, 1.0)
        mean = np.where(m0 > 0, m1 / safe, 0.0)
        var = np.where(m0 > 0, np.maximum(m2 / safe - mean**2, 0.0), 0.0)
        prob = np.concatenate([self.zero_probability[:, None], p_pos[:, None] * m0], axis=1)
        zeros = np.zeros((len(self.classes), 1))
        return prob, np.concatenate([zeros, mean], axis=1), np.concatenate([zeros, var], axis=1)

    @classmethod
    def calibrated(cls, classes=DEFAULT_CLASSES, *, threshold: float = 100_000.0, population_share: float = 0.01,
                   spend_share: float = 1.0 / 3.0, tail_alpha: float = 2.5) -> CostModel:
        """Solve the common location shift and sigma so the high-cost targets hold exactly.

        Parameters
        ----------
        classes : sequence of (name, share, zero_probability, relative_scale)
            The class structure; ``relative_scale`` multiplies exp(log_mu) of each class.
        threshold : float
            The high-cost amount (currency units); also the Pareto tail threshold u.
        population_share : float
            Target share of people with annual cost above ``threshold`` (default 1%).
        spend_share : float
            Target share of all spend on those people (default one third).
        tail_alpha : float
            Pareto index above the threshold (> 2).

        Raises
        ------
        StopLossError
            If no (shift, sigma) reaches the targets (e.g. a spend share too high for the tail).
        """
        names = tuple(c[0] for c in classes)
        share, zero, scale = (np.array([c[i] for c in classes], dtype=np.float64) for i in (1, 2, 3))
        log_scale = np.log(scale)

        def build(x):
            return cls(names, share, zero, x[0] + log_scale, float(np.exp(x[1])), threshold, tail_alpha)

        def gap(x):
            cm = build(x)
            return [np.log(cm.population_share_above(threshold) / population_share),
                    np.log(cm.spend_share_above(threshold) / spend_share)]

        sol = optimize.least_squares(gap, x0=[np.log(threshold) - 3.0, np.log(1.3)], xtol=1e-14, ftol=1e-14,
                                     gtol=1e-14)
        if np.max(np.abs(sol.fun)) > 1e-9:
            raise StopLossError(
                f"CostModel.calibrated: cannot reach {population_share:.2%} of people above {threshold:,.0f} "
                f"with {spend_share:.1%} of spend (Pareto index {tail_alpha}); change the targets, the tail "
                "index or the class structure."
            )
        return build(sol.x)


@lru_cache(maxsize=1)
def default_cost_model() -> CostModel:
    """The calibrated default: five classes, 1% of people above 100,000 with one third of spend."""
    return CostModel.calibrated()
