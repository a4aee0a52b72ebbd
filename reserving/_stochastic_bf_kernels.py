"""Numba kernels of the stochastic Bornhuetter-Ferguson / blended simulation.

England & Verrall (2002), "Stochastic claims reserving in general insurance", BAJ 8(3), where the
Bornhuetter-Ferguson method is set in the over-dispersed Poisson framework (the development pattern
from the ODP model, the prior ultimate a random variable of its own, ODP process error; Verrall
2004, NAAJ 8(3), gives it as a Bayesian model),
with the parameter error of the pattern by the bootstrap of their Appendix 3; Mack (2008), "The
prediction error of Bornhuetter/Ferguson", ASTIN Bulletin 38(1), for the three sources of error
(process, pattern, prior). The public wrapper is :func:`reserving.stochastic_bf`.

Per segment, with ``m[i, j]`` the chain-ladder fitted increments, ``r`` the pool of adjusted
Pearson residuals and ``phi`` the ODP scale (as :mod:`reserving._bootstrap_kernels`), one
simulation is:

1. pseudo data ``q*[i, j] = m[i, j] + r[u] sqrt(|m[i, j]|)``, cumulated along lags (``C*``);
2. the chain ladder refitted to it: factors ``f*``, ``CDF*[k] = f*[k] ... f*[J - 2]``;
3. for each origin ``i`` at latest lag ``k``, the mean of its unpaid amount

       m_CL = 2 C[i, k] (CDF[k] - 1) - C*[i, k] (CDF*[k] - 1)          (chain ladder)
       m_BF = U0[i] X[i] (2 (1 - 1 / CDF[k]) - (1 - 1 / CDF*[k]))      (Bornhuetter-Ferguson)
       m    = w[i] m_CL + (1 - w[i]) m_BF                      (the selection's blend weight w)

   where ``C`` and ``CDF`` are the data's own (``cl_centre = C (CDF - 1)`` and ``share_centre =
   1 - 1 / CDF`` given by the caller): the pseudo estimate's departure from the data's estimate is
   reflected about it (the *basic* bootstrap, Davison & Hinkley 1997, section 5.2.1, rather than
   the percentile method that chainladder's and R's bootstraps use). The pattern's error is the
   estimator's error, and what is still to be paid differs from the estimate by minus that error: with
   heavy-tailed claims the estimator's error is skewed to the right (a large claim in the data
   inflates the factors), so the outstanding's is skewed to the left. On generated health claims
   (tests/reserving/test_nightly_ranges.py) this raised the share of true totals at or below the
   75th percentile from 67.5% to 70.0% per consortium and from 70.0% to 75.0% nationally.
   With large claims given (step 4), ``C*[i, k]`` in ``m_CL`` is first given its large claims
   afresh: ``C*[i, k] - a C*[i, k] + L_1 + ... + L_N``, ``N ~ Poisson(a C*[i, k] / mu_L)`` (a
   fully developed origin, ``CDF*[k] = 1``, draws none). What a month has paid so far holds the
   large claims that happened to be paid, and the chain ladder projects them: most months have
   none and project too little, the odd one too much. A triangle's Pearson residuals rarely show
   this (its scale is 1.5 to 14 times smaller than the claim lines'), so the bootstrap alone left
   the chain-ladder months' estimation error at about half its size on generated health claims;
   with the redraw the consortium totals' 75th percentile covers 73.1% of the truths rather than
   71.6% (200 datasets, tests/reserving/test_nightly_ranges.py);

   with the prior ``U0`` multiplied by a lognormal error of mean 1,
   ``X = exp(g + c[i] + s Z - s^2 / 2)``: ``g`` and ``c[i]`` shocks given by the caller (shared
   by the segments of a group and by every segment in a calendar month, each already centred so
   that ``E exp(g) = E exp(c) = 1``), ``s`` the segment's own log standard deviation, ``Z``
   standard normal;
4. process error in two parts. Large claims (a service's lines above a threshold) are a
   compound Poisson sum: with ``a`` the service's share of the amount in large claims and ``L``
   its large claims' amounts (mean ``mu_L``), ``N ~ Poisson(a m / mu_L)`` claims, each an amount
   drawn uniformly from ``L``. The rest, mean ``(1 - a) m``, is ODP: ``phi G((1 - a) m / phi)``,
   ``G`` a standard gamma (variance ``phi (1 - a) m``). The sum has mean ``m`` and variance
   ``phi (1 - a) m + a m E[L^2] / mu_L`` (the compound Poisson variance ``E N E X^2``; Klugman,
   Panjer & Willmot, "Loss Models", 9.3), and its skewness: a month where large claims are rare
   mostly pays none of them. With ``a = 0`` (no large claims given) it is the ODP gamma alone. A
   negative mean takes the sign-reversed gamma of its absolute value and no large claim.

Random streams. Work item ``(s, b)`` (segment ``s``, block ``b`` of simulations) draws its
pseudo data (step 1) from ``stream(keys[s], b)``, and each origin ``i`` its own draws (the normal
``Z``, the gamma, the Poisson count and the large claims' picks of steps 3-4) from a stream of
its own, ``stream(keys[s], ORIGIN_STREAMS + b I + i)`` with ``I`` the number of origins. An
origin's draws therefore depend neither on the other origins' weights, priors or means (a gamma
or Poisson variate takes a variable number of uniforms) nor on whether they draw at all: a
selection that changes one incurred month changes that month's simulations and no other's. The
two sets of counters cannot meet: the pool's are the block numbers, below ``2^61``, the origins'
``2^61 + b I + i``, and ``b I + i < n_sims I < 2^60`` because the simulated IBNR
``(I, n_sims)`` of a segment is an array of 8-byte numbers, smaller than ``2^63`` bytes;
:func:`_kit.random.stream` multiplies the counter by 4, so it must stay below ``2^62``.

Memory per work item is one triangle, a few vectors and the origins' states ``(I, 4)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from _kit.random import bounded_pair, gamma, normal, poisson, stream
from reserving._bootstrap_kernels import _in_threads
from reserving._kernels import select_ldf_into

#: First stream counter of the origins' own draws (see the module docstring); the pool's counters are below it.
ORIGIN_STREAMS = 1 << 61


def simulate(fitted, scale, latest_lag, pool, pool_start, eligible, valuation_index, average_code, phi, prior,
             weight, prior_sd, group_shock, group_of, calendar_shock, calendar_of, large_share, large, large_start,
             large_of, keys, n_sims, block_size, ibnr, param, cl_centre, share_centre, redraw, report=None):
    """Stochastic BF of a stack of segments: work items (segment x block of simulations) shared among threads.

    Work item ``(s, b)`` runs simulations ``b * block_size`` to ``(b + 1) * block_size - 1`` of
    segment ``s`` from ``stream(keys[s], b)`` and its origins' streams (module docstring), so results
    depend neither on the threads nor on the other segments (:func:`reserving._bootstrap_kernels._in_threads`
    runs the items).

    Inputs, for S segments, I origins, J lags: ``fitted``, ``scale`` (S, I, J), ``latest_lag``
    (S, I), ``pool`` (P,) with segment ``s`` at ``pool[pool_start[s]:pool_start[s + 1]]``,
    ``eligible`` (S, I, J - 1) 0/1 links, ``valuation_index``, ``average_code``, ``phi`` (S,),
    ``prior`` (S, I) (0 where the weight is 1), ``weight`` (S, I) chain-ladder weights,
    ``prior_sd`` (S,), centred log shocks ``group_shock`` (G, n_sims) and ``calendar_shock``
    (K, I, n_sims) with segment ``s`` taking rows ``group_of[s]`` and ``calendar_of[s]`` (shared rows
    make the dependence), ``large_share`` (S,) the share ``a`` of large claims, ``large`` (L,) their
    amounts, kind ``k`` at ``large[large_start[k]:large_start[k + 1]]``, segment ``s`` of kind
    ``large_of[s]`` (a kind with no amounts needs ``large_share`` 0), ``keys`` (S, 4) uint64,
    ``cl_centre`` and ``share_centre`` (S, I) the data's ``C (CDF - 1)`` and ``1 - 1 / CDF`` (step 3),
    ``redraw`` whether the paid's large claims are redrawn (step 3; off where the triangles hold no
    large claims, :mod:`reserving.nightly.large_claims`).

    Outputs (filled): ``ibnr`` (S, I, n_sims) with process error; ``param`` (S, B, I) per-block
    sums of the means ``m`` (the bias correction of the caller). ``report(share)``, if given, is
    called with the share of the work done as items finish.
    """
    n_blocks = (n_sims + block_size - 1) // block_size

    def item(k):
        s, b = divmod(k, n_blocks)
        kind = large_of[s]
        _simulate_block(fitted[s], scale[s], latest_lag[s], pool[pool_start[s]:pool_start[s + 1]], eligible[s],
                        valuation_index, average_code, phi[s], prior[s], weight[s], prior_sd[s],
                        group_shock[group_of[s]], calendar_shock[calendar_of[s]], large_share[s],
                        large[large_start[kind]:large_start[kind + 1]], keys[s], b, b * block_size,
                        min(n_sims, (b + 1) * block_size), ibnr[s], param[s, b], cl_centre[s], share_centre[s],
                        redraw)

    n_items = fitted.shape[0] * n_blocks
    _in_threads(item, n_items, None if report is None else (lambda done: report(done / n_items)))


@njit(cache=True, nogil=True)
def _simulate_block(fitted, scale, latest_lag, pool, eligible, valuation_index, average_code, phi, prior, weight,
                    prior_sd, group_shock, calendar_shock, large_share, large, key, block, first, stop, ibnr, param,
                    cl_centre, share_centre, redraw):
    """Simulations ``first`` to ``stop - 1`` of one segment (steps 1-4 of the module docstring).

    From the block's stream, each observed cell draws one pool index (two per 64-bit word, the
    spare of a row's odd cell unused). From its own stream (``own[i]``, loaded and stored around
    its draws), in this order: with ``redraw`` and ``large_share > 0``, each origin with a chain-ladder weight above 0,
    something paid and a CDF other than 1 one Poisson count and its indices into ``large`` (the paid's
    large claims redrawn, step 3); each origin with a blend weight below 1 one normal ``Z``; each
    origin with a non-zero ODP mean one gamma; with ``large_share > 0``, each origin with a positive
    mean one Poisson count and one index into ``large`` per large claim (:func:`_compound_poisson`).
    """
    state = stream(key, block)
    n_org, n_lag = fitted.shape
    own = np.empty((n_org, 4), dtype=np.uint64)
    for i in range(n_org):
        own[i, 0], own[i, 1], own[i, 2], own[i, 3] = stream(key, ORIGIN_STREAMS + block * n_org + i)
    n_pool = pool.shape[0]
    c = np.full((n_org, n_lag), np.nan)
    ldf = np.ones(n_lag - 1)
    cdf = np.ones(n_lag)
    half_var = 0.5 * prior_sd * prior_sd
    inv_phi = 1.0 / phi if phi > 0.0 else 0.0
    per_claim = large_share / large.mean() if large_share > 0.0 and large.shape[0] > 0 else 0.0   # claims per unit of mean
    for sim in range(first, stop):
        for i in range(n_org):
            n_obs = latest_lag[i] + 1
            cum = 0.0
            for j in range(0, n_obs, 2):
                u, v, state = bounded_pair(state, n_pool)
                cum += fitted[i, j] + pool[u] * scale[i, j]
                c[i, j] = cum
                if j + 1 < n_obs:
                    cum += fitted[i, j + 1] + pool[v] * scale[i, j + 1]
                    c[i, j + 1] = cum
        select_ldf_into(c, eligible, average_code, valuation_index, ldf)
        for j in range(n_lag - 2, -1, -1):
            cdf[j] = cdf[j + 1] * ldf[j]
        for i in range(n_org):
            k = latest_lag[i]
            if k < 0:
                ibnr[i, sim] = 0.0
                continue
            g = cdf[k]
            mine = (own[i, 0], own[i, 1], own[i, 2], own[i, 3])
            paid = c[i, k]
            if redraw and weight[i] > 0.0 and per_claim > 0.0 and paid > 0.0 and g != 1.0:   # the paid's large claims
                drawn, mine = _compound_poisson(mine, paid * per_claim, large)
                paid += drawn - large_share * paid
            mean = weight[i] * (2.0 * cl_centre[i] - paid * (g - 1.0))
            if weight[i] < 1.0:
                z, mine = normal(mine)
                x = math.exp(group_shock[sim] + calendar_shock[i, sim] + prior_sd * z - half_var)
                share = 2.0 * share_centre[i] - (1.0 - 1.0 / g if g != 0.0 else 0.0)
                mean += (1.0 - weight[i]) * prior[i] * x * share
            param[i] += mean
            small = mean * (1.0 - large_share) if mean > 0.0 else mean
            draw = small
            if phi > 0.0 and small != 0.0:  # one call site: the gamma is inlined where it is called
                draw, mine = gamma(mine, abs(small) * inv_phi)
                draw *= phi if small > 0.0 else -phi
            if per_claim > 0.0 and mean > 0.0:
                drawn, mine = _compound_poisson(mine, mean * per_claim, large)
                draw += drawn
            own[i, 0], own[i, 1], own[i, 2], own[i, 3] = mine
            ibnr[i, sim] = draw


@njit(cache=True, nogil=True)
def _compound_poisson(state, expected_count, large):
    """``(L_1 + ... + L_N, state)``: ``N ~ Poisson(expected_count)`` amounts drawn uniformly from ``large``,
    two indices per 64-bit word (the spare of an odd count unused)."""
    n, state = poisson(state, expected_count)
    total = 0.0
    for t in range(0, int(n), 2):
        u, v, state = bounded_pair(state, large.shape[0])
        total += large[u] if t + 1 == n else large[u] + large[v]
    return total, state


@njit(cache=True, nogil=True)
def normal_rows(key, n_rows, n_sims, block_size, out):
    """``out[r, sim]`` standard normal, (n_rows, n_sims): block ``b`` of simulations from ``stream(key, b)``,
    simulation by simulation, rows in order, so a row's draws do not depend on the threads."""
    for b in range((n_sims + block_size - 1) // block_size):
        state = stream(key, b)
        for sim in range(b * block_size, min(n_sims, (b + 1) * block_size)):
            for r in range(n_rows):
                out[r, sim], state = normal(state)
