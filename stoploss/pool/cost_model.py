"""A patient's annual cost driven by a morbidity (risk-score) class: the pool simulator's cost model.

A registered patient belongs to one of K morbidity classes (shares ``share``, summing to 1). Given the
class k, the annual cost X (currency units per patient-year) is

* zero with probability ``zero_probability[k]`` (no use of services in the year);
* otherwise a lognormal body spliced to a Pareto tail: ln X ~ Normal(log_mu[k], sigma^2) below the
  tail threshold u, and above u the lognormal's tail mass S_LN,k(u) = 1 - Phi((ln u - log_mu[k]) / sigma)
  is redistributed as a Pareto (type I) tail P(X > x | X > u) = (x / u)^(-alpha), common to all
  classes. This is ``stoploss.Spliced(Lognormal(log_mu[k], sigma), GeneralizedPareto(1/alpha, u/alpha),
  u, S_LN,k(u))`` (the generalised Pareto with xi = 1/alpha, beta = u/alpha is the Pareto above u).
  More generally the tail is shifted by c < u (``tail_shift``, default 0): X - c is Pareto (type I)
  above u - c, i.e. the generalised Pareto with xi = 1/alpha, beta = (u - c)/alpha. Every generalised
  Pareto tail with 0 < xi < 1/2 is one of these (alpha = 1/xi, c = u - beta/xi): this is how a priced
  severity's tail replaces the calibrated one (:meth:`CostModel.with_tail`).

Every quantity the simulator needs is exact and closed-form, taken from the class's ``Spliced``
severity (:attr:`CostModel.severity`): its survival function, moments, expected excess E[(X - a)+]
and limited second moment E[(X ^ a)^2], which give the partial moments above a point,

    E[X^0; X > a] = S(a),   E[X; X > a] = E[(X - a)+] + a S(a),   E[X^2; X > a] = E[X^2] - E[(X ^ a)^2] + a^2 S(a),

and so E[X^r; a < X <= b] as a difference (Klugman, Panjer & Willmot, *Loss Models*, 5th ed., 3.1).

Calibration (:meth:`CostModel.calibrated`): the class structure (shares, zero-cost probabilities,
relative cost scales), the tail threshold and the Pareto index are stated; two parameters, a common
location shift of ``log_mu`` and the common ``sigma``, are solved so that a stated share of people
(default 1%) cost more than a stated amount (default 100,000) and account for a stated share of all
spend (default one third), the concentration of health spending reported for high-cost patients.
With the tail threshold at the calibration amount, the people above it cost alpha u / (alpha - 1)
on average, so the targets fix the mean cost per head at share x alpha u / (alpha - 1) / spend share.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import numpy as np
from scipy import optimize
from scipy.special import ndtr

from stoploss.errors import StopLossError
from stoploss.severity import GeneralizedPareto, Lognormal, Pareto, Severity, Spliced

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
    tail_shift : float
        c < u, currency units: above u, X - c is Pareto with index ``tail_alpha`` (default 0).

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
    tail_shift: float = 0.0

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
        if not (np.isfinite(self.tail_shift) and self.tail_shift < self.tail_threshold):
            raise StopLossError(f"CostModel: tail_shift must be below the tail threshold "
                                f"{self.tail_threshold:,.0f}, got {self.tail_shift!r}.")
        if not self.tail_alpha > 2:
            raise StopLossError(
                f"CostModel: tail_alpha must exceed 2 (finite variance), got {self.tail_alpha!r}; "
                "a group's risk is not defined without it."
            )

    # ----- the class severities and their partial moments -------------------------------------------
    @cached_property
    def tail_probability(self) -> np.ndarray:
        """P(X > u | X > 0, class), shape (K,): the lognormal's mass above the tail threshold."""
        return ndtr(-(np.log(self.tail_threshold) - self.log_mu) / self.sigma)

    @cached_property
    def severity(self) -> tuple[Spliced, ...]:
        """The positive cost of each class: lognormal body spliced to the common Pareto tail at u.

        Examples
        --------
        >>> from stoploss.pool.cost_model import default_cost_model
        >>> cm = default_cost_model()
        >>> round(float((1 - cm.zero_probability[0]) * cm.severity[0].mean()), 2) == round(float(cm.class_mean[0]), 2)
        True
        """
        u, alpha = self.tail_threshold, self.tail_alpha
        tail = GeneralizedPareto(1.0 / alpha, (u - self.tail_shift) / alpha)
        out = []
        for name, mu, p in zip(self.classes, self.log_mu, self.tail_probability):
            if not 0.0 < p < 1.0:
                raise StopLossError(f"CostModel: class {name!r} has no lognormal mass on one side of the tail "
                                    f"threshold {u:,.0f} (log_mu {mu:.3g}, sigma {self.sigma:.3g}); move log_mu "
                                    "or the threshold.")
            out.append(Spliced(Lognormal(float(mu), float(self.sigma)), tail, float(u), float(p)))
        return tuple(out)

    def with_tail(self, severity: Severity) -> CostModel:
        """This model with the cost above the tail threshold u distributed as ``severity`` is above u.

        The share of patients above u stays this model's (its classes' lognormal mass); their cost is
        ``severity`` given X > u. ``severity`` must have a generalised Pareto tail at u: a
        :class:`~stoploss.severity.GeneralizedPareto`, a :class:`~stoploss.severity.Pareto` (type II,
        xi = 1/alpha, beta = theta/alpha) or a :class:`~stoploss.severity.Spliced` whose splice is at or
        below u. Above u the excess is generalised Pareto with the same xi and beta_u = beta + xi
        (u - t) (threshold stability; t the tail's start), here alpha = 1/xi and c = u - beta_u/xi;
        0 < xi < 1/2 (a finite variance) is required.

        Examples
        --------
        >>> from stoploss.pool.cost_model import default_cost_model
        >>> cm = default_cost_model().with_tail(GeneralizedPareto(0.25, 30_000.0))
        >>> cm.tail_alpha, round(cm.tail_shift), round(float(cm.population_share_above(100_000)), 4)
        (4.0, -120000, 0.01)
        """
        if isinstance(severity, Spliced):
            start, tail = severity.threshold, severity.tail
        elif isinstance(severity, Pareto):
            start, tail = 0.0, GeneralizedPareto(1.0 / severity.alpha, severity.theta / severity.alpha)
        elif isinstance(severity, GeneralizedPareto):
            start, tail = 0.0, severity
        else:
            raise StopLossError(f"the pool needs a generalised Pareto tail above {self.tail_threshold:,.0f}; a "
                                f"{type(severity).__name__} severity has none: fit the family gpd, pareto or a "
                                "spliced one.")
        u = self.tail_threshold
        if start > u:
            raise StopLossError(f"the severity's generalised Pareto tail starts at {start:,.0f}, above the pool's "
                                f"tail threshold {u:,.0f}: splice it at or below the threshold.")
        if not 0.0 < tail.xi < 0.5:
            raise StopLossError(f"the severity's tail index xi is {tail.xi:.3g}; the pool needs 0 < xi < 0.5 (a "
                                "Pareto tail with a finite variance).")
        beta_u = tail.beta + tail.xi * (u - start)
        return replace(self, tail_alpha=1.0 / tail.xi, tail_shift=u - beta_u / tail.xi)

    def partial_moment(self, r: int, a, b) -> np.ndarray:
        """E[X^r; a < X <= b | X > 0] per class, shape (K, ...) for a, b broadcast (b may be inf).

        ``r`` is 0, 1 or 2 (``tail_alpha > 2`` keeps the second moment finite).

        Examples
        --------
        >>> from stoploss.pool.cost_model import default_cost_model
        >>> cm = default_cost_model()
        >>> bool(np.allclose(cm.partial_moment(0, 0.0, np.inf), 1.0))
        True
        """
        a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        return np.stack([_moment_above(sev, r, a) - _moment_above(sev, r, b) for sev in self.severity])

    # ----- per-class and population moments -------------------------------------------------------
    @cached_property
    def class_mean(self) -> np.ndarray:
        """E[X | class], shape (K,), currency units per patient-year (zeros included)."""
        return (1 - self.zero_probability) * np.array([sev.moment(1) for sev in self.severity])

    @cached_property
    def class_var(self) -> np.ndarray:
        """Var[X | class], shape (K,)."""
        second = (1 - self.zero_probability) * np.array([sev.moment(2) for sev in self.severity])
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

    def _mix(self, per_class) -> np.ndarray:
        """Population value of per-positive-cost quantities: sum_k share_k (1 - zero_k) per_class[k]."""
        return np.tensordot(self.share * (1 - self.zero_probability), np.asarray(per_class), axes=1)

    def survival(self, x) -> np.ndarray:
        """P(X > x) for the population mix (x >= 0)."""
        return self._mix([sev.sf(x) for sev in self.severity])

    def excess(self, a) -> np.ndarray:
        """E[(X - a)+] per patient for the population mix: the specific stop-loss pure premium per head."""
        return self._mix([sev.excess(a) for sev in self.severity])

    def population_share_above(self, x) -> np.ndarray:
        """Share of people whose annual cost exceeds x."""
        return self.survival(x)

    def spend_share_above(self, x) -> np.ndarray:
        """Share of all spend that goes on people whose annual cost exceeds x."""
        x = np.asarray(x, dtype=np.float64)
        return self._mix([_moment_above(sev, 1, x) for sev in self.severity]) / self.mean

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
                                     gtol=1e-14, bounds=([-np.inf, np.log(0.2)], [np.inf, np.log(5.0)]))
        if np.max(np.abs(sol.fun)) > 1e-9:
            raise StopLossError(
                f"CostModel.calibrated: cannot reach {population_share:.2%} of people above {threshold:,.0f} "
                f"with {spend_share:.1%} of spend (Pareto index {tail_alpha}); change the targets, the tail "
                "index or the class structure."
            )
        return build(sol.x)


def _moment_above(sev: Spliced, r: int, x) -> np.ndarray:
    """E[X^r; X > x] for r = 0, 1, 2 from the severity's closed forms (see the module docstring); 0 at x = inf."""
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    xf = np.where(finite, x, 0.0)
    if r == 0:
        value = sev.sf(xf)
    elif r == 1:
        value = sev.excess(xf) + xf * sev.sf(xf)
    elif r == 2:
        value = sev.moment(2) - sev.lev2(xf) + xf * xf * sev.sf(xf)
    else:
        raise StopLossError(f"CostModel: partial moments of order 0, 1 and 2 only, not {r!r}.")
    return np.where(finite, value, 0.0)


@lru_cache(maxsize=1)
def default_cost_model() -> CostModel:
    """The calibrated default: five classes, 1% of people above 100,000 with one third of spend."""
    return CostModel.calibrated()
