"""Claim-count (frequency) distributions of the (a, b, 0) class.

Each gives its mean, variance, probabilities ``pmf(k)``, probability generating function
``pgf(z)`` (complex z allowed, used by the FFT) and the Panjer parameters ``(a, b)`` with
p_k = (a + b/k) p_{k-1}, k >= 1 (Klugman, Panjer & Willmot, *Loss Models*, Table 6.1).

``log_pgf(z)`` is ln P_N(z); the FFT evaluates it in extended precision and reduces its imaginary
part modulo 2 pi before exponentiating (see ``stoploss._fft``).

``thinned(p)`` is the count of claims that survive an independent filter with probability p
(e.g. members whose cost exceeds a specific attachment); each family is closed under it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from _kit.random import generator
from stoploss.errors import StopLossError


def _check_prob(p: float, owner: str) -> float:
    p = float(p)
    if not 0 <= p <= 1:
        raise StopLossError(f"{owner}: probability must be in [0, 1], got {p!r}.")
    return p


class Frequency:
    """Common interface: probabilities, cumulative table for sampling, and moments."""

    def pmf(self, k):
        return self._dist().pmf(np.asarray(k))

    def count_table(self) -> np.ndarray:
        """Cumulative probabilities P(N <= k), k = 0..K, K = mean + 40 sd + 50 (for sampling by inversion)."""
        k_max = int(self.mean() + 40.0 * np.sqrt(self.var()) + 50)
        cdf = np.cumsum(self.pmf(np.arange(k_max + 1)))
        return np.minimum(cdf / cdf[-1], 1.0)

    def sample(self, n: int, seed) -> np.ndarray:
        """``n`` independent counts, reproducible for a given ``seed``
        (``_kit.random.generator(seed, "frequency sample")``)."""
        return self._dist().rvs(size=int(n), random_state=generator(seed, "frequency sample")).astype(np.int64)


@dataclass(frozen=True)
class Poisson(Frequency):
    """Poisson with mean ``lam``: P(z) = exp(lam (z - 1)); a = 0, b = lam."""

    lam: float

    def __post_init__(self):
        if not (np.isfinite(self.lam) and self.lam >= 0):
            raise StopLossError(f"Poisson: lam must be a finite number >= 0, got {self.lam!r}.")

    def _dist(self):
        return stats.poisson(self.lam)

    def mean(self) -> float:
        return float(self.lam)

    def var(self) -> float:
        return float(self.lam)

    def pgf(self, z):
        return np.exp(self.log_pgf(z))

    def log_pgf(self, z):
        return self.lam * (np.asarray(z) - 1.0)

    @property
    def ab(self) -> tuple[float, float]:
        return 0.0, float(self.lam)

    def thinned(self, p: float) -> Poisson:
        return Poisson(self.lam * _check_prob(p, "Poisson.thinned"))


@dataclass(frozen=True)
class Binomial(Frequency):
    """Binomial: ``m`` members each claiming with probability ``q``: P(z) = (1 + q(z - 1))^m.

    a = -q/(1-q), b = (m+1) q/(1-q).
    """

    m: int
    q: float

    def __post_init__(self):
        if int(self.m) != self.m or self.m < 0:
            raise StopLossError(f"Binomial: m (number of members) must be a whole number >= 0, got {self.m!r}.")
        _check_prob(self.q, "Binomial")

    def _dist(self):
        return stats.binom(int(self.m), self.q)

    def mean(self) -> float:
        return float(self.m * self.q)

    def var(self) -> float:
        return float(self.m * self.q * (1 - self.q))

    def pgf(self, z):
        return (1.0 + self.q * (np.asarray(z) - 1.0)) ** self.m

    def log_pgf(self, z):
        return self.m * np.log(1.0 + self.q * (np.asarray(z) - 1.0))

    @property
    def ab(self) -> tuple[float, float]:
        if self.q == 1:
            raise StopLossError("Binomial with q = 1 is degenerate; the Panjer recursion does not apply.")
        r = self.q / (1 - self.q)
        return -r, (self.m + 1) * r

    def thinned(self, p: float) -> Binomial:
        return Binomial(self.m, self.q * _check_prob(p, "Binomial.thinned"))


@dataclass(frozen=True)
class NegativeBinomial(Frequency):
    """Negative binomial (KPW): P(z) = (1 - beta (z - 1))^(-r); mean r*beta, variance r*beta*(1+beta).

    It is a Poisson whose mean is gamma-distributed with coefficient of variation 1/sqrt(r): the
    model of a common shock / parameter uncertainty. a = beta/(1+beta), b = (r-1) beta/(1+beta).
    """

    r: float
    beta: float

    def __post_init__(self):
        if not (self.r > 0 and self.beta > 0 and np.isfinite(self.r) and np.isfinite(self.beta)):
            raise StopLossError(f"NegativeBinomial: r and beta must be positive, got r={self.r!r}, beta={self.beta!r}.")

    def _dist(self):
        return stats.nbinom(self.r, 1.0 / (1.0 + self.beta))

    def mean(self) -> float:
        return float(self.r * self.beta)

    def var(self) -> float:
        return float(self.r * self.beta * (1 + self.beta))

    def pgf(self, z):
        return np.exp(self.log_pgf(z))

    def log_pgf(self, z):
        return -self.r * np.log(1.0 - self.beta * (np.asarray(z) - 1.0))

    @property
    def ab(self) -> tuple[float, float]:
        c = self.beta / (1 + self.beta)
        return c, (self.r - 1) * c

    def thinned(self, p: float) -> NegativeBinomial:
        return NegativeBinomial(self.r, self.beta * _check_prob(p, "NegativeBinomial.thinned"))
