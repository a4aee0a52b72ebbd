"""QQ and PP plot points of a severity fitted to truncated and censored claims.

The empirical side is the product-limit estimator with left truncation and right censoring
(Kaplan & Meier 1958; Tsai, Jewell & Wang, Biometrika 1987): at each distinct uncensored amount t,

    R(t) = #{claims i : d_i < t <= x_i}   (listed above their threshold, still at or above t)
    D(t) = #{uncensored claims with x_i = t}
    S_n(t) = prod_{s <= t} (1 - D(s) / R(s)),     F_n = 1 - S_n,

an estimate of P(X <= t | X > d) with d the smallest threshold. With one threshold and no
censoring below the largest uncensored amount it is j / n at the j-th smallest claim. The model
side is the fitted ground-up X given X > d: F*(x) = (S(d) - S(x)) / S(d), with quantile
Q*(p) = Q(F(d) + p S(d)). Each claim is plotted at the mid-step position p_j = (F_n(t_j-) + F_n(t_j)) / 2:
PP plots (F*(t_j), p_j), QQ plots (Q*(p_j), t_j); a good fit lies on the diagonal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stoploss.fit import TruncatedFit, _observations


def product_limit(x, d, mask) -> tuple[np.ndarray, np.ndarray]:
    """Distinct uncensored amounts t_j and F_n(t_j) (see the module docstring); arrays of one length."""
    x, d, mask = np.asarray(x, dtype=float), np.asarray(d, dtype=float), np.asarray(mask, dtype=bool)
    times, deaths = np.unique(x[~mask], return_counts=True)
    entered = np.searchsorted(np.sort(d), times, side="left")          # d_i < t
    left_before = np.searchsorted(np.sort(x), times, side="left")      # x_i < t
    at_risk = entered - left_before
    survival = np.cumprod(1.0 - deaths / at_risk)
    return times, 1.0 - survival


def probability_plot(result: TruncatedFit, data, *, truncation=0.0, censored=None) -> pd.DataFrame:
    """PP and QQ points of a fit on its data (the same ``truncation`` and ``censored`` as :func:`~stoploss.fit.fit`).

    Returns
    -------
    DataFrame
        One row per distinct uncensored amount: ``amount`` (t_j), ``empirical`` (p_j), ``model_cdf``
        (F*(t_j)) and ``model_quantile`` (Q*(p_j)), currency and probabilities given X > d.

    Examples
    --------
    >>> from stoploss import Lognormal
    >>> from stoploss.fit import fit
    >>> x = Lognormal(8.0, 1.0).sample(2_000, seed=3)
    >>> pts = probability_plot(fit("lognormal", x), x)
    >>> len(pts), bool((pts["model_cdf"] - pts["empirical"]).abs().max() < 0.05)
    (2000, True)
    """
    x, d, mask = _observations(data, truncation, censored)
    times, f_n = product_limit(x, d, mask)
    before = np.concatenate([[0.0], f_n[:-1]])
    p = 0.5 * (before + f_n)
    dist = result.distribution
    d0 = float(d.min())
    s_d = float(dist.sf(d0))
    model_cdf = (s_d - np.asarray(dist.sf(times), dtype=float)) / s_d
    model_quantile = np.asarray(dist.quantile(1.0 - s_d + p * s_d), dtype=float)
    return pd.DataFrame({"amount": times, "empirical": p, "model_cdf": model_cdf, "model_quantile": model_quantile})
