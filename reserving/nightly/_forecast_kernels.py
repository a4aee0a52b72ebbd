"""Numba kernel of the full-year forecast: the simulated year per consortium, gross and recovered.

One simulated financial year of consortium ``c``, simulation ``j`` (currency):

    gross[c, j] = paid[c] + ibnr[c, j] + r * sum_i X_i
    specific    = sum_i k * min(max(X_i - a, 0), L)
    aggregate   = min(max(gross - specific - D, 0), M)
    recovered   = specific + aggregate

where ``r`` is the share of the year still to be incurred (months left / 12), the claimants
``i = 1..N`` with ``N ~ Poisson(lambda)`` have annual costs ``X_i`` drawn from the consortium's
severity (an empirical distribution of per-patient annual cost), ``lambda = future_mean[c, j] /
(r E[X])`` (the claimants whose costs, a share ``r`` of each, fill the expected future months;
``todate[c] / E[X]`` when nothing is left, ``r = 0``), ``a, L, k`` the specific attachment,
limit and coinsurance and ``D, M`` the aggregate attachment and limit.

The severity is spliced: the empirical costs below a threshold ``t`` and, with probability
``P(X > t)``, ``t`` plus a generalised Pareto excess ``beta / xi ((1 - U)^(-xi) - 1)`` (inverse
CDF). Claimants are split at ``split = min(a, t)`` (Poisson thinning: claimants below and above
are independent Poisson counts). Those above are drawn one by one (every recovery comes from
them): from the Pareto tail with probability ``q = P(X > t) / P(X > split)``, otherwise uniformly
from the empirical costs in ``(split, t]``. The sum of those below, a compound Poisson with mean
``r lambda (1 - p) m1`` and variance ``r^2 lambda (1 - p) m2`` (``p`` the share of claimants above
the split, ``m1, m2`` the first two moments of ``X`` below it; Klugman, Panjer & Willmot, *Loss
Models*, 4th ed., section 9.3), is drawn from the gamma distribution with those two moments
(thousands of claimants: the normal-power regime where the gamma is accurate to a few parts in a
thousand at the 99.5th percentile when they number in the hundreds or more).
``tests/reserving/naive_forecast.py`` simulates patient by patient for comparison.

Arrays: ``ibnr, future_mean`` (C, n_sims); per-consortium parameters (C,); the empirical costs in
``(split, t]`` of every consortium concatenated, consortium ``c``'s at
``tail[tail_start[c]:tail_start[c + 1]]``.
Consortium ``c`` draws from its own stream ``stream(keys[c], 0)``, so results do not depend on
threads or on which other consortia are simulated.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from _kit.random import gamma, poisson, stream, uniform


@njit(cache=True, nogil=True)
def _one_consortium(key, paid, ibnr, future_mean, r, todate, mean_x, p_tail, m1, m2, tail, q_gpd, t, xi, beta,
                    att, lim, coins, agg_att, agg_lim, gross, recovered):
    state = stream(key, 0)
    n_tail = tail.size
    for j in range(ibnr.size):
        lam = future_mean[j] / (r * mean_x) if r > 0 else todate / mean_x
        below_mean = r * lam * (1.0 - p_tail) * m1
        future = 0.0
        if below_mean > 0:
            shape = lam * (1.0 - p_tail) * m1 * m1 / m2
            g, state = gamma(state, shape)
            future = g * below_mean / shape
        n_big, state = poisson(state, lam * p_tail)
        specific = 0.0
        for _ in range(int(n_big)):
            u, state = uniform(state)
            if u < q_gpd or n_tail == 0:
                v, state = uniform(state)
                x = t + (beta / xi * (v ** (-xi) - 1.0) if xi != 0.0 else -beta * np.log(v))
            else:
                x = tail[min(int((u - q_gpd) / (1.0 - q_gpd) * n_tail), n_tail - 1)]
            future += r * x
            specific += coins * min(max(x - att, 0.0), lim)
        total = paid + ibnr[j] + future
        aggregate = min(max(total - specific - agg_att, 0.0), agg_lim)
        gross[j] = total
        recovered[j] = specific + aggregate


@njit(cache=True, nogil=True, parallel=True)
def simulate_year(keys, paid, ibnr, future_mean, r, todate, mean_x, p_tail, m1, m2, tail, tail_start, q_gpd, t, xi,
                  beta, att, lim, coins, agg_att, agg_lim):
    """Simulated gross cost and recoveries of the year, (C, n_sims) each (formula in the module docstring)."""
    n_cons, n_sims = ibnr.shape
    gross = np.empty((n_cons, n_sims))
    recovered = np.empty((n_cons, n_sims))
    for c in prange(n_cons):
        _one_consortium(keys[c], paid[c], ibnr[c], future_mean[c], r, todate[c], mean_x[c], p_tail[c], m1[c], m2[c],
                        tail[tail_start[c]:tail_start[c + 1]], q_gpd[c], t[c], xi[c], beta[c], att[c], lim[c],
                        coins[c], agg_att[c], agg_lim[c], gross[c], recovered[c])
    return gross, recovered
