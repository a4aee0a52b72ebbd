"""The national pool: many consortia's aggregate losses with dependence, capital and its Euler allocation.

Each consortium k has an aggregate loss Y_k, a compound distribution (its frequency and severity)
computed by FFT on a lattice 0, h, 2h, ... shared by all consortia. The pool's loss is

    S = sum_k X_k,  X_k = Theta_{r(k)} * Y_k,

where the Y_k are independent, or joined by a Gaussian copula, and Theta_r is a common shock of the
consortia in region (or year) r: a gamma factor with mean 1 and coefficient of variation c.

* Independent (no copula, c = 0): S's distribution on the lattice is exact up to discretisation:
  the product of the consortia's discrete Fourier transforms (zero-padded to twice the pool's window
  so nothing wraps). Euler allocation uses E[X_k ; S = s] = sum_x x f_k(x) g_{-k}(s - x), whose
  transform is FFT(x f_k) times the product of the other consortia's transforms (prefix and suffix
  products, no division).
* Dependent: seeded simulation (:mod:`stoploss._portfolio_kernels`), one random stream per
  simulated year from :func:`_kit.random.stream_keys`, so the numbers are the same on any thread count.

Capital at level q (default 99.5%, the Solvency II standard):

    VaR_q  = min{s : P(S <= s) >= q}
    TVaR_q = (E[S ; S > VaR_q] + VaR_q (P(S <= VaR_q) - q)) / (1 - q)     (Acerbi & Tasche 2002, eq. 3.3)

and the Euler (co-TVaR) allocation to consortium k (Tasche 1999; McNeil, Frey & Embrechts,
*Quantitative Risk Management*, 2nd ed., section 8.5):

    coTVaR_k = (E[X_k ; S > VaR_q] + E[X_k ; S = VaR_q] (P(S <= VaR_q) - q) / P(S = VaR_q)) / (1 - q),

which for a simulation is the mean of X_k over the worst n(1 - q) years (the boundary year with
its fractional weight). The allocations sum to the TVaR by construction; the reported TVaR *is*
their sum (``math.fsum``), and its difference from the TVaR computed from S alone, a rounding
error, is reported as ``tvar_rounding``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import fft as sp_fft

from _kit.random import stream_keys
from stoploss._portfolio_kernels import simulate_rows, simulate_totals
from stoploss.compound import CompoundDistribution, compound, exact_moments
from stoploss.errors import StopLossError


@dataclass(frozen=True, eq=False)
class Portfolio:
    """The national pool's loss distribution, its capital and the capital's allocation to consortia.

    Attributes
    ----------
    names : list of str
    margins : list of CompoundDistribution
        Each consortium's aggregate loss Y_k on the shared lattice (before any common shock).
    pool : CompoundDistribution
        S on the lattice ("fft") or the sorted simulated totals ("mc"; its ``exact_var`` is then
        the sample variance, since dependence has no closed form here).
    method : {"fft", "mc"}
    level : float
        q of VaR_q and TVaR_q.
    var, tvar : float
        VaR_q and TVaR_q of S (currency); tvar is the sum of ``allocation``.
    allocation : ndarray (K,)
        co-TVaR_k, summing to ``tvar``.
    var_se, tvar_se : float
        Monte Carlo standard errors (0 for "fft"): VaR's from the order statistics' binomial
        interval, TVaR's by Manistre & Hancock (2005, NAAJ 9(2)):
        sqrt((Var(S | S > VaR) + q (TVaR - VaR)^2) / (n (1 - q))).
    tvar_rounding : float
        TVaR from S alone minus the sum of the allocations.
    n_sims : int
        Simulated years (0 for "fft").
    h : float
        Bucket size of the shared lattice (currency).
    """

    names: list
    regions: list
    margins: list
    pool: CompoundDistribution
    method: str
    level: float
    var: float
    tvar: float
    allocation: np.ndarray
    var_se: float
    tvar_se: float
    tvar_rounding: float
    n_sims: int
    h: float

    @property
    def mean(self) -> float:
        """E[S] = sum of the consortia's exact means (common shocks have mean 1)."""
        return float(sum(m.exact_mean for m in self.margins))

    @property
    def summary(self) -> pd.DataFrame:
        """One row per consortium: region, mean, standard deviation, co-TVaR, capital (co-TVaR - mean), share."""
        means = np.array([m.exact_mean for m in self.margins])
        return pd.DataFrame({"consortium": self.names, "region": self.regions, "mean": means,
                             "std": [m.std() for m in self.margins], "co_tvar": self.allocation,
                             "capital": self.allocation - means,
                             "share_of_capital": (self.allocation - means) / (self.tvar - self.mean)})

    @property
    def totals(self) -> pd.Series:
        """The pool: mean, VaR, TVaR, capital above the mean, their Monte Carlo errors, method and settings."""
        return pd.Series({"method": self.method, "level": self.level, "mean": self.mean, "var": self.var,
                          "tvar": self.tvar, "capital_var": self.var - self.mean,
                          "capital_tvar": self.tvar - self.mean, "var_se": self.var_se, "tvar_se": self.tvar_se,
                          "tvar_rounding": self.tvar_rounding, "bucket_size": self.h, "n_sims": self.n_sims})


def _check_inputs(consortia, names, regions, shock_cv, correlation, level):
    k = len(consortia)
    if k == 0:
        raise StopLossError("portfolio: no consortia given; pass a list of (frequency, severity) pairs.")
    for i, item in enumerate(consortia):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise StopLossError(f"portfolio: consortium {i} is not a (frequency, severity) pair.")
    names = [f"consortium {i + 1}" for i in range(k)] if names is None else [str(n) for n in names]
    if len(names) != k or len(set(names)) != k:
        raise StopLossError(f"portfolio: need {k} distinct names, got {len(names)} ({len(set(names))} distinct).")
    regions = ["all"] * k if regions is None else list(regions)
    if len(regions) != k:
        raise StopLossError(f"portfolio: need one region per consortium ({k}), got {len(regions)}.")
    if not (np.isfinite(shock_cv) and shock_cv >= 0):
        raise StopLossError(f"portfolio: shock_cv must be a finite number >= 0, got {shock_cv!r}.")
    if not 0 < level < 1:
        raise StopLossError(f"portfolio: level must be in (0, 1), got {level!r}.")
    chol = None
    if correlation is not None:
        r = np.asarray(correlation, dtype=float)
        if r.shape != (k, k) or not np.allclose(r, r.T) or not np.allclose(np.diag(r), 1.0):
            raise StopLossError(f"portfolio: correlation must be a symmetric ({k}, {k}) matrix with unit diagonal.")
        try:
            chol = np.linalg.cholesky(r)
        except np.linalg.LinAlgError:
            raise StopLossError("portfolio: correlation matrix is not positive definite.") from None
    return names, regions, chol


def portfolio(consortia, *, names=None, regions=None, shock_cv: float = 0.0, correlation=None,
              level: float = 0.995, method: str | None = None, n: int = 2**14, upper: float | None = None,
              n_sims: int = 200_000, seed=None) -> Portfolio:
    """The national pool of many consortia: distribution, VaR/TVaR capital and Euler allocation.

    Parameters
    ----------
    consortia : list of (Frequency, Severity)
        Each consortium's claim count and claim size (what the pool pays for it, e.g. an
        ``ExcessOver`` severity for its specific cover), in currency.
    names, regions : list, optional
        Labels; consortia in the same region share one common shock.
    shock_cv : float
        Coefficient of variation c of the mean-one gamma shock per region (0: none).
    correlation : (K, K) array, optional
        Gaussian copula correlation of the consortia's aggregate losses.
    level : float
        q for VaR and TVaR (0.995 is Solvency II's).
    method : {"fft", "mc"}, optional
        Default "fft" when independent (required to be), "mc" otherwise.
    n : int
        Lattice points on the pool's window [0, upper]; the bucket size is upper / n.
    upper : float, optional
        Top of the window (currency). Default: E[S] + 12 sd of the independent pool, times
        (1 + 6 c) with a common shock, so the simulated pool also fits.
    n_sims, seed :
        Simulation size and seed (``_kit.random.stream_keys(seed, ["portfolio"])``).

    Returns
    -------
    Portfolio

    Examples
    --------
    >>> from stoploss import Poisson, Gamma
    >>> groups = [(Poisson(40.0), Gamma(2.0, 500.0)), (Poisson(60.0), Gamma(1.0, 800.0))]
    >>> p = portfolio(groups, names=["north", "south"], n=2**12)
    >>> bool(abs(p.allocation.sum() - p.tvar) == 0.0), round(p.mean)
    (True, 88000)
    """
    names, regions, chol = _check_inputs(consortia, names, regions, shock_cv, correlation, level)
    dependent = shock_cv > 0 or chol is not None
    method = method or ("mc" if dependent else "fft")
    if method not in ("fft", "mc"):
        raise StopLossError(f"portfolio: method must be 'fft' or 'mc', got {method!r}.")
    if method == "fft" and dependent:
        raise StopLossError("portfolio: the FFT needs independent consortia; use method='mc' with a common "
                            "shock or a copula.")
    moments = [exact_moments(f, s) for f, s in consortia]
    mean, var = sum(m for m, _ in moments), sum(v for _, v in moments)
    if upper is None:
        upper = (mean + 12.0 * math.sqrt(var)) * (1.0 + 6.0 * shock_cv)
    if not (np.isfinite(upper) and upper > 0 and int(n) >= 16):
        raise StopLossError(f"portfolio: need upper > 0 and n >= 16, got upper={upper!r}, n={n!r}.")
    h = float(upper) / int(n)
    margins = []
    for (freq, sev), name in zip(consortia, names):
        m, v = exact_moments(freq, sev)
        top = min(float(upper), m + 14.0 * math.sqrt(v) + 2 * h)
        margins.append(compound(freq, sev, method="fft", h=h, lower=0.0, upper=max(top, 4 * h), richardson=False))
    if method == "fft":
        return _by_fft(names, regions, margins, int(n), h, level)
    if int(n_sims) * (1 - level) < 20:
        raise StopLossError(f"portfolio: n_sims = {n_sims} leaves fewer than 20 years beyond the {level:.1%} "
                            "quantile; raise n_sims.")
    return _by_simulation(names, regions, margins, h, level, shock_cv, chol, int(n_sims), seed)


def _tail_weights(cum: np.ndarray, p: np.ndarray, level: float) -> tuple[int, np.ndarray]:
    """Index of VaR_q on a lattice and the weights w_s (1 above, (F(VaR) - q) / P(VaR) at VaR, 0 below)."""
    j = int(np.searchsorted(cum, level - 1e-15, side="left"))
    if j >= cum.size:
        raise StopLossError(f"portfolio: the {level:.1%} quantile is beyond the window; raise `upper`.")
    w = np.zeros(p.size)
    w[j + 1:] = 1.0
    w[j] = (cum[j] - level) / p[j] if p[j] > 0 else 0.0
    return j, w


def _by_fft(names, regions, margins, n, h, level) -> Portfolio:
    length = sp_fft.next_fast_len(2 * (n + 1), real=True)
    transforms = [sp_fft.rfft(m.p, length) for m in margins]
    suffix = [np.ones(length // 2 + 1, dtype=complex)]
    for t in transforms[::-1]:
        suffix.append(suffix[-1] * t)
    suffix = suffix[::-1]  # suffix[k] = product of transforms k..K-1
    g = np.maximum(sp_fft.irfft(suffix[0], length)[: n + 1], 0.0)
    x = h * np.arange(n + 1)
    cum = np.cumsum(g)
    j, w = _tail_weights(cum, g, level)
    prefix = np.ones(length // 2 + 1, dtype=complex)
    allocation = np.empty(len(margins))
    for k, (m, t) in enumerate(zip(margins, transforms)):
        joint = sp_fft.irfft(sp_fft.rfft(m.x * m.p, length) * prefix * suffix[k + 1], length)[: n + 1]
        allocation[k] = float(np.dot(w, joint)) / (1 - level)
        prefix = prefix * t
    direct = float(np.dot(w, x * g)) / (1 - level)
    tvar = math.fsum(allocation)
    mean = sum(m.exact_mean for m in margins)
    var = sum(m.exact_var for m in margins)
    pool = CompoundDistribution("fft", x, g, h, mean, var, sum(m.added_variance for m in margins))
    return Portfolio(names, regions, margins, pool, "fft", level, float(x[j]), tvar, allocation, 0.0, 0.0,
                     direct - tvar, 0, h)


def _by_simulation(names, regions, margins, h, level, shock_cv, chol, n_sims, seed) -> Portfolio:
    cdfs = [np.cumsum(m.p) for m in margins]
    offsets = np.concatenate([[0], np.cumsum([c.size for c in cdfs])]).astype(np.int64)
    flat = np.concatenate(cdfs)
    labels = list(dict.fromkeys(regions))
    region = np.array([labels.index(r) for r in regions], dtype=np.int64)
    use_copula = chol is not None
    chol = chol if use_copula else np.zeros((1, 1))
    shape = 1.0 / shock_cv**2 if shock_cv > 0 else 0.0
    key = stream_keys(seed, ["portfolio"])[0]
    args = (flat, offsets, h, chol, use_copula, region, len(labels), shape)
    totals = simulate_totals(key, n_sims, *args)
    order = np.argsort(totals, kind="stable")
    tail_n = n_sims * (1 - level)
    whole = min(int(math.floor(tail_n + 1e-9)), n_sims - 1)
    frac = max(tail_n - whole, 0.0)
    top = order[n_sims - whole:]
    boundary = order[n_sims - whole - 1]
    sims = np.concatenate([[boundary], top]).astype(np.int64)
    weights = np.concatenate([[frac], np.ones(whole)])
    tail_n = whole + frac
    rows = simulate_rows(key, sims, *args)
    allocation = np.array([math.fsum(weights * rows[:, k]) for k in range(rows.shape[1])]) / tail_n
    tvar = math.fsum(allocation)
    sorted_totals = totals[order]
    direct = math.fsum(weights * totals[sims]) / tail_n
    var_index = max(int(math.ceil(n_sims * level - 1e-9)) - 1, 0)
    var = float(sorted_totals[var_index])
    half = 1.96 * math.sqrt(n_sims * level * (1 - level))
    lo = sorted_totals[max(int(math.floor(n_sims * level - half)), 0)]
    hi = sorted_totals[min(int(math.ceil(n_sims * level + half)), n_sims - 1)]
    tail = totals[top]
    tvar_se = math.sqrt((tail.var() + level * (tvar - var) ** 2) / tail_n)
    mean = sum(m.exact_mean for m in margins)
    pool = CompoundDistribution("mc", sorted_totals, np.full(n_sims, 1.0 / n_sims), 0.0, mean, float(totals.var()))
    return Portfolio(names, regions, margins, pool, "mc", level, var, tvar, allocation, float(hi - lo) / 3.92,
                     tvar_se, direct - tvar, n_sims, h)


