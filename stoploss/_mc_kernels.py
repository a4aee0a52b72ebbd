"""Numba kernels for Monte Carlo compound sums S_i = X_i1 + ... + X_iN_i.

Random numbers come from the engine's one generator, :mod:`_kit.random`. The caller passes one key
per purpose (the claim counts, the claim amounts; ``stream_keys(seed, labels)``) and simulation ``i``
draws from ``stream(key, i)``. A simulation's numbers depend only on the seed, the purpose and ``i``,
so results are bit-identical whatever the number of threads and however the simulations are split
into chunks.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from _kit.random import stream, uniform


@njit(cache=True, nogil=True)
def _count(key, sim, count_cdf):
    """N = min{k : P(N <= k) >= U} for the first uniform U of stream ``sim`` (inversion)."""
    u, _ = uniform(stream(key, sim))
    return np.searchsorted(count_cdf, u)


@njit(cache=True, nogil=True, parallel=True)
def simulate_counts(key, first_sim, n_sims, count_cdf):
    """Claim counts N_i by inversion of the tabulated cdf, i = first_sim .. first_sim + n_sims - 1.

    key       : uint64 (4,)   stream key of the claim counts
    count_cdf : float64 (K+1,)  P(N <= k), k = 0..K, last entry 1
    Returns int64 (n_sims,): N_i from the first uniform of ``stream(key, i)``.
    """
    out = np.empty(n_sims, dtype=np.int64)
    for i in prange(n_sims):
        out[i] = _count(key, first_sim + i, count_cdf)
    return out


@njit(cache=True, nogil=True)
def _fill_uniforms(key, sim, out, start, stop):
    """out[start:stop] = the first stop - start uniforms of ``stream(key, sim)``."""
    state = stream(key, sim)
    for c in range(start, stop):
        out[c], state = uniform(state)


@njit(cache=True, nogil=True, parallel=True)
def claim_uniforms(key, first_sim, offsets):
    """Uniforms for every claim of every simulation, laid out by ``offsets``.

    key     : uint64 (4,)  stream key of the claim amounts
    offsets : int64 (n_sims + 1,) cumulative claim counts starting at 0
    Returns float64 (offsets[-1],): claim c of simulation i is uniform c of ``stream(key, first_sim + i)``.
    """
    n_sims = offsets.size - 1
    out = np.empty(offsets[-1])
    for i in prange(n_sims):
        _fill_uniforms(key, first_sim + i, out, offsets[i], offsets[i + 1])
    return out


@njit(cache=True, nogil=True, parallel=True)
def sum_by_simulation(values, offsets):
    """S_i = sum of values[offsets[i]:offsets[i+1]]; values float64 (total,), returns (n_sims,)."""
    n_sims = offsets.size - 1
    out = np.zeros(n_sims)
    for i in prange(n_sims):
        total = 0.0
        for c in range(offsets[i], offsets[i + 1]):
            total += values[c]
        out[i] = total
    return out
