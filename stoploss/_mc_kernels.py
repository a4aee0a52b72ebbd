"""Numba kernels for Monte Carlo compound sums with counter-based random numbers.

Every uniform is a pure function of (seed, simulation index, draw index): the SplitMix64 output
function (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators") applied to a
per-simulation key plus a Weyl sequence. Results are therefore bit-identical whatever the number
of threads or the order in which simulations are processed.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

_GOLDEN = uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    """SplitMix64 finaliser: a bijective 64-bit avalanche mix."""
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@njit(cache=True, nogil=True, inline="always")
def _uniform(key, counter):
    """Uniform on (0, 1): top 53 bits of mix(key + (counter + 1) * golden), offset by half a step."""
    z = _mix(key + (uint64(counter) + uint64(1)) * _GOLDEN)
    return ((z >> uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, parallel=True)
def simulate_counts(seed, first_sim, n_sims, count_cdf):
    """Claim counts N_i by inversion of the tabulated cdf, i = first_sim .. first_sim + n_sims - 1.

    seed      : uint64
    count_cdf : float64 (K+1,)  P(N <= k), k = 0..K, last entry 1
    Returns int64 (n_sims,).
    """
    out = np.empty(n_sims, dtype=np.int64)
    for i in prange(n_sims):
        key = _mix(seed ^ _mix(uint64(first_sim + i)))
        u = _uniform(key, 0)
        out[i] = np.searchsorted(count_cdf, u)
    return out


@njit(cache=True, nogil=True, parallel=True)
def claim_uniforms(seed, first_sim, offsets):
    """Uniforms for every claim of every simulation, laid out by ``offsets``.

    offsets : int64 (n_sims + 1,) cumulative claim counts starting at 0
    Returns float64 (offsets[-1],): claim c of simulation i uses draw index c + 1 of its stream.
    """
    n_sims = offsets.size - 1
    out = np.empty(offsets[-1])
    for i in prange(n_sims):
        key = _mix(seed ^ _mix(uint64(first_sim + i)))
        for c in range(offsets[i + 1] - offsets[i]):
            out[offsets[i] + c] = _uniform(key, c + 1)
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
