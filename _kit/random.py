"""The engine's one random number generator and seeding scheme, for Numba kernels and for Python.

Every unit of parallel work (a segment's block of simulations, a block of simulated years, one
simulated year of a compound sum) draws from its own stream, whose state is derived only from a
key and a counter. Which thread runs the work, and in what order, cannot change a single draw, and
an item's draws do not depend on which other items are in the batch.

Seeding (one scheme for the three packages): :func:`stream_keys` turns a user's ``seed`` and the labels of
the items (segment, group, year, or a purpose such as ``"pool"``) into 256-bit keys; a kernel
starts block ``b`` of an item at ``stream(key, b)``. Python code that needs a numpy ``Generator``
(synthetic data, sampling a fitted distribution) takes :func:`generator` ``(seed, *labels)``, the
same seeding as numpy's PCG64.

Generator: xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
ACM TOMS 2021), 256 bits of state held in four local ``uint64`` values and passed by value, so
nothing is allocated per draw. A stream's state is set from the key and block number with the
SplitMix64 mixer (Steele, Lea & Flood 2014), the seeding the xoshiro authors recommend.

Keys come from ``numpy.random.SeedSequence(seed, spawn_key=...)`` with the spawn key a stable hash
of the item's label, so an item keeps its stream when others are added or removed.

Variates (all built on :func:`uniform`, which is never exactly 0 or 1):

- :func:`bounded_pair` two unbiased integers in ``[0, n)`` from one 64-bit word, each half by
  Lemire's multiply-shift with rejection (Lemire, "Fast random integer generation in an
  interval", ACM TOMACS 2019);
- :func:`normal` by the ziggurat method with 128 layers (Marsaglia & Tsang, "The ziggurat method
  for generating random variables", J. Stat. Software 5(8), 2000), in Doornik's form that takes
  the layer and the uniform from separate bits of one 64-bit word ("An improved ziggurat method
  to generate normal random samples", 2005), and Marsaglia's (1964) method in the tail;
- :func:`exponential` by the same paper's exponential ziggurat with 256 layers, the layer and the
  uniform taken from one word the same way, and ``r - log(U)`` in the tail;
- :func:`gamma` by Marsaglia & Tsang (2000) for shape >= 1, with ``G(a) = G(a + 1) U^(1/a)``
  for shape < 1 (computed as ``exp(-E / a)`` with ``E`` exponential, exactly 0 where that
  underflows), and Ahrens & Dieter's GS (1974) below shape 0.15;
- :func:`poisson` by multiplying uniforms (Knuth) for means below 10 and by the transformed
  rejection method PTRS (Hoermann 1993, "The transformed rejection method for generating
  Poisson random variables") above;
- :func:`binomial` by inversion (sequential search) when ``n min(p, 1-p) < 10``, else BTRS, the
  transformed rejection of Hoermann ("The generation of binomial random variates", J. Stat.
  Comput. Simul. 46, 1993);
- :func:`beta` as ``G_a / (G_a + G_b)`` with independent gammas.

Each variate function takes the state ``(s0, s1, s2, s3)`` and returns ``(value, state)``.

The variates are inlined into their callers (``inline="always"``): a call per draw cost more than
the draw itself (a gamma variate 56 ns called, 26 ns inlined, at small shapes). :func:`next_u64`
and :func:`uniform` are not: they are small enough that LLVM inlines them into every caller
anyway, whereas Numba's own inlining re-reads and re-types a function at every call site, which
cost seconds of the first run (a gamma variate draws at 13 places). Numba cannot inline into the
body of a parallel loop, so a parallel kernel calls the variates from a serial function that runs
one work item; a kernel that draws many variates in a row keeps them in one small function of its
own (compiling cost grows faster than a function's size).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from numba import njit, uint64

_GOLDEN = uint64(0x9E3779B97F4A7C15)
_MIX1 = uint64(0xBF58476D1CE4E5B9)
_MIX2 = uint64(0x94D049BB133111EB)
_TWO53 = 1.0 / 9007199254740992.0


def _sequence(seed: int, label) -> np.random.SeedSequence:
    """``SeedSequence(seed, spawn_key=hash(label))``; the hash is BLAKE2b of the label's text (tuples
    joined component by component), so it is the same in every process and Python session."""
    parts = label if isinstance(label, tuple) else (label,)
    text = "\x1f".join(str(p.item() if hasattr(p, "item") else p) for p in parts)
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
    spawn = (int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little"))
    return np.random.SeedSequence(seed, spawn_key=spawn)


def stream_keys(seed: int, labels) -> np.ndarray:
    """(n, 4) uint64 stream keys, one per label (a string, number or tuple of them).

    Examples
    --------
    >>> k = stream_keys(1, [("north", "acute"), ("south", "acute")])
    >>> k.shape, bool((k[0] != k[1]).any()), bool((stream_keys(1, [("south", "acute")])[0] == k[1]).all())
    ((2, 4), True, True)
    """
    out = np.empty((len(labels), 4), dtype=np.uint64)
    for n, label in enumerate(labels):
        out[n] = _sequence(seed, label).generate_state(4, np.uint64)
    return out


def generator(seed: int, *label) -> np.random.Generator:
    """A numpy ``Generator`` for Python-side draws, seeded by the same scheme as :func:`stream_keys`.

    Examples
    --------
    >>> float(generator(3, "north").random()) == float(generator(3, "north").random())
    True
    """
    return np.random.Generator(np.random.PCG64(_sequence(seed, tuple(label))))


@njit(cache=True, nogil=True)
def _mix(z):
    """SplitMix64 output function: a bijective avalanche of a 64-bit word."""
    z = (z ^ (z >> uint64(30))) * _MIX1
    z = (z ^ (z >> uint64(27))) * _MIX2
    return z ^ (z >> uint64(31))


@njit(cache=True, nogil=True)
def stream(key, block):
    """Initial xoshiro256** state of block ``block`` of the segment with ``key`` (4 uint64)."""
    b = uint64(block)
    s0 = _mix(key[0] + _mix(b * uint64(4) + uint64(1)) * _GOLDEN)
    s1 = _mix(key[1] + _mix(b * uint64(4) + uint64(2)) * _GOLDEN)
    s2 = _mix(key[2] + _mix(b * uint64(4) + uint64(3)) * _GOLDEN)
    s3 = _mix(key[3] + _mix(b * uint64(4) + uint64(4)) * _GOLDEN)
    if (s0 | s1 | s2 | s3) == uint64(0):
        s0 = _GOLDEN
    return (s0, s1, s2, s3)


@njit(cache=True, nogil=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True, nogil=True)
def next_u64(state):
    """One 64-bit output of xoshiro256** and the next state."""
    s0, s1, s2, s3 = state
    out = _rotl(s1 * uint64(5), 7) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return out, (s0, s1, s2, s3)


@njit(cache=True, nogil=True)
def uniform(state):
    """Uniform on (0, 1): the top 53 bits plus one half, times 2^-53."""
    x, state = next_u64(state)
    return (float(x >> uint64(11)) + 0.5) * _TWO53, state


_LOW32 = uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True, inline="always")
def _lemire32(r, n, state):
    """Unbiased integer in ``[0, n)`` from the 32-bit uniform ``r`` (Lemire 2019, multiply-shift).

    ``m = r n`` spans ``[0, n 2^32)``; its high half is the result unless its low half falls below
    ``2^32 mod n``, where the value is rejected and redrawn from the high half of a new word.
    That happens with probability below ``n / 2^32`` and is tested only when the low half is below ``n``.
    """
    m = r * n
    low = m & _LOW32
    if low < n:
        threshold = (uint64(0x100000000) - n) % n
        while low < threshold:
            x, state = next_u64(state)
            m = (x >> uint64(32)) * n
            low = m & _LOW32
    return np.int64(m >> uint64(32)), state


@njit(cache=True, nogil=True, inline="always")
def bounded_pair(state, n):
    """Two independent unbiased integers in ``[0, n)``, ``1 <= n < 2^32``, from the two halves of one word.

    Every bit of xoshiro256** is of full quality (Blackman & Vigna 2021), so the low half serves
    as well as the high half. Returns ``(first, second, state)``.
    """
    un = uint64(n)
    x, state = next_u64(state)
    first, state = _lemire32(x >> uint64(32), un, state)
    second, state = _lemire32(x & _LOW32, un, state)
    return first, second, state


def _ziggurat_tables(layers: int = 128, r: float = 3.442619855899, area: float = 9.91256303526217e-3):
    """Right edges ``x[i]`` of the ziggurat's layers (``x[layers] = 0``) and ratios ``x[i + 1] / x[i]``.

    Layer 0 is the base strip plus the tail beyond ``r``; every layer has area ``area``
    (Marsaglia & Tsang 2000, section 2, for the unnormalised density ``exp(-x^2 / 2)``).
    """
    x = np.zeros(layers + 1)
    f = math.exp(-0.5 * r * r)
    x[0] = area / f
    x[1] = r
    for i in range(2, layers):
        x[i] = math.sqrt(-2.0 * math.log(area / x[i - 1] + f))
        f = math.exp(-0.5 * x[i] * x[i])
    return x, x[1:] / x[:-1]


_ZIG_X, _ZIG_RATIO = _ziggurat_tables()
_ZIG_R = 3.442619855899


@njit(cache=True, nogil=True, inline="always")
def normal(state):
    """Standard normal by the ziggurat (see the module docstring); one 64-bit draw 99% of the time.

    The low 7 bits pick the layer ``i``; the top 53 bits give ``u`` uniform on (-1, 1). Inside the
    layer's rectangle below the next edge (``|u| < x[i+1] / x[i]``) ``u x[i]`` is returned at once;
    otherwise the wedge is accepted against the density, or layer 0 samples the tail.
    """
    while True:
        bits, state = next_u64(state)
        i = np.int64(bits & uint64(127))
        u = 2.0 * ((float(bits >> uint64(11)) + 0.5) * _TWO53) - 1.0
        if abs(u) < _ZIG_RATIO[i]:
            return u * _ZIG_X[i], state
        if i == 0:
            while True:
                a, state = uniform(state)
                b, state = uniform(state)
                t = math.log(a) / _ZIG_R
                if -2.0 * math.log(b) >= t * t:
                    return (t - _ZIG_R if u < 0.0 else _ZIG_R - t), state
        x = u * _ZIG_X[i]
        f0 = math.exp(-0.5 * (_ZIG_X[i] * _ZIG_X[i] - x * x))
        f1 = math.exp(-0.5 * (_ZIG_X[i + 1] * _ZIG_X[i + 1] - x * x))
        v, state = uniform(state)
        if f1 + v * (f0 - f1) < 1.0:
            return x, state


def _exponential_tables(layers: int = 256, r: float = 7.69711747013104972, area: float = 3.949659822581572e-3):
    """Right edges ``x[i]`` of the exponential ziggurat's layers (``x[layers] = 0``), ratios
    ``x[i + 1] / x[i]`` and densities ``exp(-x[i])``.

    Layer 0 is the base strip plus the tail beyond ``r``; every layer has area ``area``
    (Marsaglia & Tsang 2000, section 3, density ``exp(-x)``): ``x[i + 1] = -log(area / x[i] + exp(-x[i]))``.
    """
    x = np.zeros(layers + 1)
    x[0] = area / math.exp(-r)
    x[1] = r
    for i in range(2, layers):
        x[i] = -math.log(area / x[i - 1] + math.exp(-x[i - 1]))
    return x, x[1:] / x[:-1], np.exp(-x)


_EXP_X, _EXP_RATIO, _EXP_F = _exponential_tables()
_EXP_R = 7.69711747013104972


@njit(cache=True, nogil=True, inline="always")
def exponential(state):
    """Standard exponential by the ziggurat (see the module docstring); one 64-bit draw 99% of the time.

    The low 8 bits pick the layer ``i``, the top 53 bits give ``u`` uniform on (0, 1). Below the
    next edge (``u < x[i+1] / x[i]``) ``u x[i]`` is returned at once; otherwise the wedge is
    accepted against the density, or layer 0 returns ``r`` plus an exponential (memorylessness)
    as ``r - log(U)``.
    """
    while True:
        bits, state = next_u64(state)
        i = np.int64(bits & uint64(255))
        u = (float(bits >> uint64(11)) + 0.5) * _TWO53
        if u < _EXP_RATIO[i]:
            return u * _EXP_X[i], state
        if i == 0:
            v, state = uniform(state)
            return _EXP_R - math.log(v), state
        x = u * _EXP_X[i]
        v, state = uniform(state)
        if _EXP_F[i] + v * (_EXP_F[i + 1] - _EXP_F[i]) < math.exp(-x):
            return x, state


#: Below this shape :func:`gamma` uses Ahrens & Dieter's GS, faster there than the boosted Marsaglia-Tsang.
SMALL_SHAPE = 0.15
_INV_E = math.exp(-1.0)


@njit(cache=True, nogil=True, inline="always")
def _gamma_small(state, a):
    """Gamma(a) for ``0 < a < 1`` by algorithm GS of Ahrens & Dieter (1974), "Computer methods for
    sampling from gamma, beta, Poisson and binomial distributions", Computing 12 (Devroye 1986, IX.6).

    A mixture with weights ``1 : a / e`` (``b = 1 + a / e``): with probability ``1 / b``,
    ``X = U^(1/a)`` accepted with probability ``exp(-X)``; otherwise ``X = 1 + E`` accepted with
    probability ``X^(a-1)``. One uniform ``V`` picks the branch, ``P = b V``; in the first,
    ``P`` is uniform on (0, 1) given ``P <= 1`` and serves as the acceptance uniform, and
    ``U^(1/a)`` is drawn as ``exp(-E / a)`` with ``E`` from the exponential ziggurat (no
    logarithm); in the second ``X = -log((b - P) / a)`` as in GS. For small ``a`` the first branch
    nearly always applies and accepts: ``exp(-X)`` is skipped when the squeeze ``P <= 1 - X``
    holds, and when ``exp(-E / a)`` underflows to 0 the acceptance probability is exactly 1 in
    double precision, so 0 is returned.
    """
    b = 1.0 + a * _INV_E
    while True:
        v, state = uniform(state)
        p = b * v
        if p <= 1.0:
            e, state = exponential(state)
            log_x = -e / a
            if log_x < -745.2:
                return 0.0, state
            x = math.exp(log_x)
            if p <= 1.0 - x or p <= math.exp(-x):
                return x, state
        else:
            x = -math.log((b - p) / a)
            w, state = uniform(state)
            if w <= math.exp((a - 1.0) * math.log(x)):
                return x, state


@njit(cache=True, nogil=True, inline="always")
def gamma(state, shape):
    """Gamma(shape, scale 1); 0 for ``shape <= 0``. Marsaglia & Tsang (2000), ACM TOMS 26(3).

    For ``SMALL_SHAPE <= a < 1``, ``G(a) = G(a + 1) exp(-E / a)``, the same paper's boost
    ``U^(1/a)`` with ``-log(U)`` drawn as an exponential ``E``; when ``-E / a < -745.2`` the factor
    underflows to exactly 0 in double precision, so the result is 0 and ``G(a + 1)`` is not drawn.
    Below ``SMALL_SHAPE`` :func:`_gamma_small` is cheaper. Bootstrap process error asks for many
    tiny shapes (the sign-split sums of nearly-zero late increments).
    """
    if shape <= 0.0:
        return 0.0, state
    if shape < SMALL_SHAPE:
        return _gamma_small(state, shape)
    a = shape
    log_boost = 0.0
    if a < 1.0:
        e, state = exponential(state)
        log_boost = -e / a
        if log_boost < -745.2:
            return 0.0, state
        a += 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x, state = normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u, state = uniform(state)
        if u < 1.0 - 0.0331 * x * x * x * x:
            break
        if math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            break
    if log_boost == 0.0:
        return d * v, state
    return d * v * math.exp(log_boost), state


@njit(cache=True, nogil=True, inline="always")
def poisson(state, lam):
    """Poisson(lam); 0 for ``lam <= 0``. Knuth below 10, PTRS (Hoermann 1993) from 10."""
    if lam <= 0.0:
        return 0.0, state
    if lam < 10.0:
        limit = math.exp(-lam)
        k = 0.0
        p, state = uniform(state)
        while p > limit:
            k += 1.0
            u, state = uniform(state)
            p *= u
        return k, state
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u, state = uniform(state)
        u -= 0.5
        v, state = uniform(state)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= v_r:
            return k, state
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(inv_alpha) - math.log(a / (us * us) + b) <= -lam + k * loglam - math.lgamma(k + 1.0):
            return k, state


@njit(cache=True, nogil=True, inline="always")
def _binomial_inversion(state, n, p):
    """Binomial(n, p) for ``p <= 1/2`` and ``n p < 10``: sequential search of the cdf from 0,
    restarted when it passes a bound ten standard deviations above the mean."""
    q = 1.0 - p
    qn = math.exp(n * math.log1p(-p))
    bound = min(float(n), n * p + 10.0 * math.sqrt(n * p * q + 1.0))
    while True:
        x = 0
        px = qn
        u, state = uniform(state)
        while u > px:
            x += 1
            if x > bound:
                break
            u -= px
            px = px * (n - x + 1) * p / (x * q)
        if x <= bound:
            return np.int64(x), state


@njit(cache=True, nogil=True, inline="always")
def _binomial_btrs(state, n, p):
    """Binomial(n, p) for ``p <= 1/2`` and ``n p >= 10``: BTRS (Hoermann 1993, section 3), exact."""
    q = 1.0 - p
    spq = math.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = math.log(p / q)
    m = math.floor((n + 1) * p)
    h = math.lgamma(m + 1.0) + math.lgamma(n - m + 1.0)
    while True:
        u, state = uniform(state)
        u -= 0.5
        v, state = uniform(state)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= vr:
            return np.int64(k), state
        v = math.log(v * alpha / (a / (us * us) + b))
        if v <= h - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0) + (k - m) * lpq:
            return np.int64(k), state


@njit(cache=True, nogil=True)
def binomial(state, n, p):
    """Binomial(n, p) for integer ``n >= 0`` and ``p`` in [0, 1]; ``(count, state)``.

    Drawn for ``min(p, 1 - p)`` and reflected, so both methods see ``p <= 1/2``.
    """
    if n <= 0 or p <= 0.0:
        return np.int64(0), state
    if p >= 1.0:
        return np.int64(n), state
    pp = min(p, 1.0 - p)
    if n * pp < 10.0:
        x, state = _binomial_inversion(state, n, pp)
    else:
        x, state = _binomial_btrs(state, n, pp)
    return (n - x if p > 0.5 else x), state


@njit(cache=True, nogil=True)
def beta(state, a, b):
    """Beta(a, b) as ``G_a / (G_a + G_b)`` with independent gammas; ``(value, state)``."""
    x, state = gamma(state, a)
    y, state = gamma(state, b)
    return x / (x + y), state
