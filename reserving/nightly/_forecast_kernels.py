"""Numba kernel of the full-year forecast: the simulated year per consortium, gross and recovered.

One simulated financial year of consortium ``c``, simulation ``j`` (currency):

    gross[c, j] = paid[c] + ibnr[c, j] + sum_{i <= N} X_i
    specific    = k * sum_{i <= N + M} min(max(X_i - a, 0), L)
    aggregate   = min(max(gross - specific - D, 0), M_agg)
    recovered   = specific + aggregate

The months to come bring ``N ~ Poisson(future_mean[c, j] / E[X])`` claimants, each with an annual
cost ``X_i`` from the consortium's severity (cost per patient over twelve months): a patient's
cost is taken to fall in the window where it occurs (episodes, not a cost spread over the year;
on the synthetic years this matches the spread of the months to come, where spreading each cost
over the year understated it by a factor ``sqrt(months left / 12)``). The months to date (paid +
IBNR, already simulated) had ``M ~ Poisson(todate[c] / E[X])`` claimants, drawn only for their
specific recoveries. ``a, L, k`` are the specific attachment, limit and coinsurance and ``D,
M_agg`` the aggregate attachment and limit.

The severity is spliced: the empirical costs below a threshold ``t`` and, with probability
``P(X > t)``, ``t`` plus a generalised Pareto excess ``beta / xi ((1 - U)^(-xi) - 1)`` (inverse
CDF). Claimants are split at ``split`` (at most the specific attachment; Poisson thinning:
claimants below and above are independent Poisson counts). Those above are drawn one by one
(every recovery comes from them): from the Pareto tail with probability ``q``, otherwise uniformly
from the empirical costs in ``(split, t]``. The cost of the months to come below the split, a
compound Poisson with mean ``n (1 - p) m1`` and variance ``n (1 - p) m2`` (``n`` the expected
claimants, ``p`` the share above the split, ``m1, m2`` the first two moments of ``X`` below it;
Klugman, Panjer & Willmot, *Loss Models*, 4th ed., section 9.3), is drawn from the gamma
distribution with those two moments (accurate to a few parts in a thousand at the 99.5th
percentile when the claimants number in the hundreds or more).
``tests/reserving/naive_forecast.py`` simulates patient by patient for comparison.

Arrays: ``ibnr, future_mean`` (C, n_sims); per-consortium parameters (C,); the empirical costs in
``(split, t]`` of every consortium concatenated, consortium ``c``'s at
``tail[tail_start[c]:tail_start[c + 1]]``. Consortium ``c`` draws from its own stream
``stream(keys[c], 0)``, so results do not depend on threads or on which other consortia are simulated.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from _kit.random import gamma, poisson, stream, uniform
from reserving._bootstrap_kernels import _in_threads


@njit(cache=True, nogil=True, inline="always")
def _claimant_above(state, tail, q_gpd, t, xi, beta):
    """One claimant's cost above the split: Pareto tail with probability ``q_gpd``, else an empirical cost."""
    n_tail = tail.size
    u, state = uniform(state)
    if u < q_gpd or n_tail == 0:
        v, state = uniform(state)
        return t + (beta / xi * (v ** (-xi) - 1.0) if xi != 0.0 else -beta * np.log(v)), state
    return tail[min(int((u - q_gpd) / (1.0 - q_gpd) * n_tail), n_tail - 1)], state


@njit(cache=True, nogil=True)
def _one_consortium(key, paid, ibnr, future_mean, todate, mean_x, p_tail, m1, m2, tail, q_gpd, t, xi, beta,
                    att, lim, coins, agg_att, agg_lim, gross, recovered):
    state = stream(key, 0)
    for j in range(ibnr.size):
        n_future = future_mean[j] / mean_x
        future = 0.0
        if n_future * (1.0 - p_tail) * m1 > 0:
            shape = n_future * (1.0 - p_tail) * m1 * m1 / m2
            g, state = gamma(state, shape)
            future = g * m2 / m1
        specific = 0.0
        # large claimants of the months to come (phase 0), then of the year to date (phase 1): one
        # call site each for the Poisson and the claimant draw, which are inlined where called
        for phase in range(2):
            n_big, state = poisson(state, n_future * p_tail if phase == 0 else todate / mean_x * p_tail)
            for _ in range(int(n_big)):
                x, state = _claimant_above(state, tail, q_gpd, t, xi, beta)
                if phase == 0:
                    future += x
                specific += coins * min(max(x - att, 0.0), lim)
        total = paid + ibnr[j] + future
        aggregate = min(max(total - specific - agg_att, 0.0), agg_lim)
        gross[j] = total
        recovered[j] = specific + aggregate


def simulate_year(keys, paid, ibnr, future_mean, todate, mean_x, p_tail, m1, m2, tail, tail_start, q_gpd, t, xi,
                  beta, att, lim, coins, agg_att, agg_lim):
    """Simulated gross cost and recoveries of the year, (C, n_sims) each (formula in the module docstring).

    Consortia run on Numba's threads through :func:`reserving._bootstrap_kernels._in_threads` (a
    ``prange`` loop would compile the kernel again into the loop); each draws from its own stream.
    """
    n_cons, n_sims = ibnr.shape
    gross = np.empty((n_cons, n_sims))
    recovered = np.empty((n_cons, n_sims))

    def one(c):
        _one_consortium(keys[c], paid[c], ibnr[c], future_mean[c], todate[c], mean_x[c], p_tail[c], m1[c], m2[c],
                        tail[tail_start[c]:tail_start[c + 1]], q_gpd[c], t[c], xi[c], beta[c], att[c], lim[c],
                        coins[c], agg_att[c], agg_lim[c], gross[c], recovered[c])

    _in_threads(one, n_cons)
    return gross, recovered
