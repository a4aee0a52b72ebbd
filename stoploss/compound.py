"""Compound (aggregate) loss distributions S = X_1 + ... + X_N and their stop-loss premiums.

``compound(frequency, severity)`` discretises the severity with the mean-preserving local moment
method (``stoploss._discretise``) on buckets of size h and aggregates by

* ``"fft"``     FFT with exponential tilting on a window of the lattice (default),
* ``"panjer"``  the exact Panjer recursion for (a, b, 0) counts (lattice from 0; O(n^2)),
* ``"mc"``      Monte Carlo (Numba) with a random stream per simulation, reproducible for a seed.

For a continuous severity the lattice methods are run at bucket sizes h and 2h and the stop-loss
premiums are Richardson-extrapolated. The local moment discretisation keeps E[S] and adds a
variance V_h = E[N] E[v_h(X)] (about E[N] h^2 / 6) to S, which moves the stop-loss premium by
about V_h f_S(d) / 2. Eliminating that term between the two lattices, with the exact V_h and
V_2h rather than the asymptotic ratio 4,

    pi(d) ~ (V_2h pi_h(d) - V_h pi_2h(d)) / (V_2h - V_h),

takes the error from O(h^2) to below 1e-7 relative on the compound Poisson-lognormal benchmark
at 2^16 buckets. The result states its own numerical error: the lattice moments against the
exact compound moments (the lattice variance should exceed the exact one by V_h), and the
extrapolation's estimate of the error of the unextrapolated premium.

``stop_loss(d)`` = E[(S - d)+] is computed, for the lattice methods, as the exact
E[S] = E[N] E[X] minus the limited expectation E[S ^ d] on the lattice, so probability beyond
the window is never lost. For Monte Carlo it is the plain sample mean of (S - d)+: the
difference "exact mean minus sample E[S ^ d]" would carry the whole sampling error of the
sample mean into every premium, which swamps the premium at high attachments.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from math import ceil

import numpy as np
import pandas as pd

from _kit.random import stream_keys
from stoploss._discretise import discretise
from stoploss._fft import fft_window
from stoploss._mc_kernels import claim_uniforms, simulate_counts, sum_by_simulation
from stoploss._panjer_kernels import panjer_ab0
from stoploss.errors import StopLossError
from stoploss.frequency import Frequency
from stoploss.severity import Severity

METHODS = ("fft", "panjer", "mc")


@dataclass(frozen=True, eq=False)
class CompoundDistribution:
    """A compound loss distribution on a lattice (or a simulated sample) with exact moments.

    Attributes
    ----------
    method : str
        "fft", "panjer" or "mc".
    x, p : ndarray
        Support points (currency) and their probabilities; for lattice methods x = k h on the
        window, for Monte Carlo the sorted simulated totals with probability 1/n_sims each.
        Probability outside the window is 1 - p.sum().
    h : float
        Bucket size (0 for Monte Carlo).
    exact_mean, exact_var : float
        E[S] = E[N] E[X] and Var[S] = E[N] Var[X] + Var[N] E[X]^2.
    added_variance : float
        V_h = E[N] E[v_h(X)], the variance the discretisation adds to S (0 for Monte Carlo).
    coarse : CompoundDistribution or None
        The same compound at bucket size 2h, used for Richardson extrapolation.
    """

    method: str
    x: np.ndarray
    p: np.ndarray
    h: float
    exact_mean: float
    exact_var: float
    added_variance: float = 0.0
    coarse: CompoundDistribution | None = None

    def mean(self) -> float:
        """Exact E[S]."""
        return self.exact_mean

    def var(self) -> float:
        """Exact Var[S]."""
        return self.exact_var

    def std(self) -> float:
        return float(np.sqrt(self.exact_var))

    def cdf(self, s):
        """P(S <= s) on the lattice (or empirical for Monte Carlo)."""
        cum = np.cumsum(self.p)
        k = np.searchsorted(self.x, np.asarray(s, dtype=float), side="right")
        return np.where(k > 0, cum[np.maximum(k - 1, 0)], 0.0)

    def quantile(self, q):
        """Smallest lattice point s with P(S <= s) >= q."""
        cum = np.cumsum(self.p)
        q = np.asarray(q, dtype=float)
        if np.any(q > cum[-1]):
            raise StopLossError(
                f"quantile: level {float(np.max(q))} is beyond the window (its mass is {cum[-1]:.12g}); "
                "raise `upper` when calling compound().")
        return self.x[np.minimum(np.searchsorted(cum, q - 1e-15, side="left"), self.x.size - 1)]

    @cached_property
    def _cumulative(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Running sums of p, p x and p x^2 in extended precision, each with a leading 0."""
        p = self.p.astype(np.longdouble)
        x = self.x.astype(np.longdouble)
        zero = np.zeros(1, dtype=np.longdouble)
        return (np.concatenate([zero, np.cumsum(p)]), np.concatenate([zero, np.cumsum(p * x)]),
                np.concatenate([zero, np.cumsum(p * x * x)]))

    def _limited(self, d) -> np.ndarray:
        """E[S ^ d] of this lattice, in extended precision; mass beyond the window counts as > d."""
        d = np.asarray(d, dtype=float)
        if self.h > 0 and np.any(d > self.x[-1] + self.h):
            raise StopLossError(
                f"stop_loss: attachment {float(np.max(d)):.6g} is beyond the computed window "
                f"(up to {self.x[-1]:.6g}); pass a larger `upper` to compound().")
        cum_p, cum_px, _ = self._cumulative
        k = np.searchsorted(self.x, d, side="right")
        return (cum_px[k] + d.astype(np.longdouble) * (1 - cum_p[k])).astype(float)

    @cached_property
    def _upper_tail(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sums of p, p x and p x^2 over points k, k+1, ..., in extended precision, with a trailing 0."""
        p = self.p.astype(np.longdouble)[::-1]
        x = self.x.astype(np.longdouble)[::-1]
        zero = np.zeros(1, dtype=np.longdouble)
        return (np.concatenate([np.cumsum(p)[::-1], zero]), np.concatenate([np.cumsum(p * x)[::-1], zero]),
                np.concatenate([np.cumsum(p * x * x)[::-1], zero]))

    def _sample_stop_loss(self, d, power: int) -> np.ndarray:
        """Sample mean of ((S - d)+)^power (power 1 or 2) over the sorted simulated totals."""
        d = np.asarray(d, dtype=float)
        tail_p, tail_px, tail_px2 = self._upper_tail
        k = np.searchsorted(self.x, d, side="right")
        dl = d.astype(np.longdouble)
        if power == 1:
            out = tail_px[k] - dl * tail_p[k]
        else:
            out = tail_px2[k] - 2 * dl * tail_px[k] + dl * dl * tail_p[k]
        return np.maximum(out.astype(float), 0.0)

    def _lattice_stop_loss(self, d) -> np.ndarray:
        if self.method == "mc":
            return self._sample_stop_loss(d, 1)
        return np.maximum(self.exact_mean - self._limited(d), 0.0)

    def stop_loss(self, d):
        """Stop-loss premium E[(S - d)+] for attachments ``d`` (currency; scalar or array).

        Lattice methods: exact E[S] minus E[S ^ d] on the lattice, Richardson-extrapolated when a
        coarse lattice is attached. Monte Carlo: the sample mean of (S - d)+ (its standard error
        is the sample standard deviation of (S - d)+ over sqrt(n_sims)).

        Examples
        --------
        >>> from stoploss import Poisson, Gamma, compound
        >>> s = compound(Poisson(5.0), Gamma(1.0, 1.0))
        >>> round(float(s.stop_loss(2.0)), 8)
        3.14608676
        """
        fine = self._lattice_stop_loss(d)
        if self.coarse is None:
            return fine
        v_fine, v_coarse = self.added_variance, self.coarse.added_variance
        coarse = self.coarse._lattice_stop_loss(d)
        return np.maximum((v_coarse * fine - v_fine * coarse) / (v_coarse - v_fine), 0.0)

    def stop_loss_error(self, d):
        """Estimated absolute error of the unextrapolated lattice premium pi_h(d) (an upper bound
        for the extrapolated one, which is typically 10-1000 times closer).

        Zero for exact lattice results (discrete severity) and NaN for Monte Carlo.
        """
        if self.method == "mc":
            return np.full(np.shape(d), np.nan)
        if self.coarse is None:
            return np.zeros(np.shape(d))
        return np.abs(self._lattice_stop_loss(d) - self.stop_loss(d))

    def stop_loss_second_moment(self, d):
        """E[((S - d)+)^2] = E[S^2] - E[(S ^ d)^2] - 2 d E[(S - d)+], on the fine lattice.

        The lattice's own second moment, exact E[S^2] plus the discretisation variance, is used
        as E[S^2] so the identity is consistent on the lattice; tail mass is not lost. Monte
        Carlo: the sample mean of ((S - d)+)^2.
        """
        if self.method == "mc":
            return self._sample_stop_loss(d, 2)
        d = np.asarray(d, dtype=float)
        cum_p, _, cum_px2 = self._cumulative
        k = np.searchsorted(self.x, d, side="right")
        limited2 = (cum_px2[k] + d.astype(np.longdouble) ** 2 * (1 - cum_p[k])).astype(float)
        second = self.exact_var + self.added_variance + self.exact_mean**2
        return np.maximum(second - limited2 - 2.0 * d * self._lattice_stop_loss(d), 0.0)

    def limited_mean(self, d):
        """E[S ^ d] = E[S] - stop_loss(d) (for Monte Carlo: the sample mean of S ^ d)."""
        if self.method == "mc":
            return self._limited(d)
        return self.exact_mean - self.stop_loss(d)

    def tvar(self, q: float) -> float:
        """Tail value at risk TVaR_q = VaR_q + E[(S - VaR_q)+] / (1 - q)."""
        var_q = float(self.quantile(q))
        return var_q + float(self.stop_loss(var_q)) / (1.0 - q)

    def moment_errors(self) -> np.ndarray:
        """Relative errors of the lattice mass, mean and variance against the exact values
        (the variance against exact Var[S] plus the discretisation variance)."""
        mass = float(self.p.sum())
        mean = float(np.dot(self.p, self.x))
        var = float(np.dot(self.p, (self.x - mean) ** 2))
        exact = np.array([1.0, self.exact_mean, self.exact_var + self.added_variance])
        return np.array([mass, mean, var]) / exact - 1.0

    @property
    def summary(self) -> pd.DataFrame:
        """Numerical error report: lattice (or sample) moments against the exact compound moments."""
        exact = [1.0, self.exact_mean, self.exact_var + self.added_variance]
        rel = self.moment_errors()
        frame = pd.DataFrame({"statistic": ["mass in window", "mean", "variance + discretisation variance"],
                              "exact": exact, "numerical": np.asarray(exact) * (1.0 + rel),
                              "relative_error": rel})
        return frame.set_index("statistic")

    @property
    def totals(self) -> pd.Series:
        """Settings and headline figures: method, bucket size, points, moments, worst moment error."""
        return pd.Series({
            "method": self.method,
            "bucket_size": self.h,
            "points": int(self.x.size),
            "window_low": float(self.x[0]),
            "window_high": float(self.x[-1]),
            "richardson": self.coarse is not None,
            "mean": self.exact_mean,
            "std": self.std(),
            "max_moment_relative_error": float(np.abs(self.moment_errors()).max()),
        })


def exact_moments(frequency: Frequency, severity: Severity) -> tuple[float, float]:
    """E[S] and Var[S] of the compound from the frequency and severity moments."""
    m1, m2 = severity.moment(1), severity.moment(2)
    mean = frequency.mean() * m1
    var = frequency.mean() * (m2 - m1 * m1) + frequency.var() * m1 * m1
    return float(mean), float(var)


def _auto_window(mean: float, sd: float, lower, upper, n_sd_low: float, n_sd_high: float):
    if upper is None:
        if not np.isfinite(sd):
            raise StopLossError("compound: Var[S] is infinite, so the window cannot be chosen; pass `upper`.")
        upper = mean + n_sd_high * sd
    if lower is None:
        lower = max(0.0, mean - n_sd_low * sd)
    if not 0 <= lower < upper:
        raise StopLossError(f"compound: need 0 <= lower < upper, got lower={lower}, upper={upper}.")
    return float(lower), float(upper)


def compound(frequency: Frequency, severity: Severity, *, method: str = "fft", h: float | None = None,
             n: int | None = None, lower: float | None = None, upper: float | None = None,
             richardson: bool | None = None, tilt: float = 20.0, n_sims: int = 100_000,
             seed=None) -> CompoundDistribution:
    """The aggregate loss distribution of S = X_1 + ... + X_N.

    Parameters
    ----------
    frequency : Poisson, Binomial or NegativeBinomial
    severity : Severity
        Any severity with closed-form ``lev`` / ``excess`` (all of ``stoploss.severity``).
    method : {"fft", "panjer", "mc"}
    h : float, optional
        Bucket size in currency. Default: (upper - lower) / n.
    n : int, optional
        Number of buckets on the window; default 2**16 (FFT) or 2**12 (Panjer).
    lower, upper : float, optional
        Window of S to compute, in currency. Defaults: E[S] + 12 sd, and max(0, E[S] - 10 sd')
        with sd' including the variance the rounding adds (E[N] h^2 / 4 at most). Panjer always
        starts at 0. Attachments passed to ``stop_loss`` must be <= upper; probability above the
        window shows as "mass in window" < 1 in ``summary``.
    richardson : bool, optional
        Extrapolate from buckets h and 2h; default True for continuous severities.
    tilt : float
        Exponential tilt theta * L for the FFT (0 switches it off).
    n_sims : int
        Monte Carlo sample size.
    seed : int, optional
        Monte Carlo seed (``_kit.random.stream_keys``: one stream per simulation for the claim
        count and one for the claim amounts); None draws fresh entropy, so the run cannot be repeated.

    Returns
    -------
    CompoundDistribution

    Examples
    --------
    >>> from stoploss import Poisson, Empirical, compound
    >>> sev = Empirical([100.0, 500.0, 1000.0], [0.8, 0.16, 0.04])
    >>> s = compound(Poisson(5.0), sev, method="panjer", h=100.0, upper=5000.0)
    >>> round(float(s.stop_loss(500.0)), 9)
    551.882191893
    """
    if method not in METHODS:
        raise StopLossError(f"compound: method must be one of {METHODS}, got {method!r}.")
    mean, var = exact_moments(frequency, severity)
    if not np.isfinite(mean):
        raise StopLossError("compound: E[X] is infinite, so no stop-loss premium exists; use a lighter tail.")
    if method == "mc":
        return _monte_carlo(frequency, severity, n_sims, seed, mean, var)
    if richardson is None:
        richardson = severity.continuous
    n = n or (2**16 if method == "fft" else 2**12)
    if lower is None and h is None:
        # widen the lower edge by the variance the rounding adds (about E[N] h^2 / 4 at most)
        lo, up = _auto_window(mean, np.sqrt(var), None, upper, 10.0, 12.0)
        h_guess = (up - lo) / n
        lower = max(0.0, mean - 10.0 * np.sqrt(var + frequency.mean() * h_guess**2 / 4.0))
    lower, upper = _auto_window(mean, np.sqrt(var), lower, upper, 10.0, 12.0)
    if method == "panjer":
        lower = 0.0
    if h is None:
        h = (upper - lower) / n
    if not h > 0:
        raise StopLossError(f"compound: bucket size h must be positive, got {h!r}.")
    coarse = _lattice(frequency, severity, method, 2 * h, lower, upper, tilt, mean, var) if richardson else None
    fine = _lattice(frequency, severity, method, h, lower, upper, tilt, mean, var)
    if coarse is not None and not coarse.added_variance > fine.added_variance:
        coarse = None
    return CompoundDistribution(method, fine.x, fine.p, h, mean, var, fine.added_variance, coarse)


def _lattice(frequency, severity, method, h, lower, upper, tilt, mean, var) -> CompoundDistribution:
    start = int(np.floor(lower / h))
    stop = int(ceil(upper / h)) + 2
    if method == "fft":
        length = stop - start
        # a claim above about one window width cannot leave S inside the window (the rest of S is
        # at least its lower edge), so the severity is needed only up to start + 2 * length
        f, added = discretise(severity, h, min(stop, 2 * length + 2) if start > 0 else stop)
        p = fft_window(frequency.log_pgf, f, start, length, tilt)
    else:
        a, b = frequency.ab
        f, added = discretise(severity, h, stop)
        g0 = float(np.real(frequency.pgf(f[0])))
        if g0 < 1e-300:
            raise StopLossError(
                f"compound: P(S = 0) = {g0:.3g} underflows, so the Panjer recursion cannot start; "
                "use method='fft'.")
        p = panjer_ab0(np.array([a]), np.array([b]), np.array([g0]), f[None, :], stop)[0]
    x = h * np.arange(start, start + p.size, dtype=float)
    return CompoundDistribution(method, x, p, h, mean, var, frequency.mean() * added)


def _monte_carlo(frequency, severity, n_sims: int, seed, mean: float, var: float) -> CompoundDistribution:
    if int(n_sims) < 2:
        raise StopLossError(f"compound: n_sims must be at least 2, got {n_sims!r}.")
    counts_key, amounts_key = stream_keys(seed, ["compound claim counts", "compound claim amounts"])
    table = frequency.count_table()
    block = max(1, int(4_000_000 // max(frequency.mean(), 1.0)))
    totals = np.empty(int(n_sims))
    for first in range(0, int(n_sims), block):
        size = min(block, int(n_sims) - first)
        counts = simulate_counts(counts_key, first, size, table)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        values = np.asarray(severity.quantile(claim_uniforms(amounts_key, first, offsets)), dtype=float)
        totals[first:first + size] = sum_by_simulation(values, offsets)
    totals.sort()
    return CompoundDistribution("mc", totals, np.full(totals.size, 1.0 / totals.size), 0.0, mean, var)
