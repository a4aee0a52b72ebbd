"""Numba kernels for chain-ladder development factors and Mack (1993) standard errors.

Arrays in, arrays out; no labels, no validation (the public functions in
:mod:`reserving.chain_ladder` and :mod:`reserving.mack` do that).

Kernel contract (stable: the ODP bootstrap calls these from inside its simulation loop)
--------------------------------------------------------------------------------------
Single-triangle kernels, ``@njit(cache=True, nogil=True)``:

``link_weights(c, valuation_index, n_periods, drop_high, drop_low, exclude) -> w``
    ``c``: float64 ``(n_origins, n_lags)`` cumulative amounts, NaN where there is no data.
    ``valuation_index``: int, calendar period of the valuation counted from the first origin
    (cell ``(i, j)`` is observed when ``i + j <= valuation_index``).
    ``n_periods``: int, use only the link ratios of the latest ``n_periods`` diagonals;
    ``-1`` (or any value < 1 or >= ``n_origins - 1``) uses all.
    ``drop_high``, ``drop_low``: int64 ``(n_lags - 1,)``, how many of the highest / lowest link
    ratios of each lag to drop.
    ``exclude``: bool or uint8 ``(n_origins, n_lags - 1)``, link ratios the user excluded.
    Returns ``w``: float64 ``(n_origins, n_lags - 1)`` of 0/1 weights, 1 for a link ratio
    ``C[i, j+1] / C[i, j]`` that is used. A link ratio is unused when either cell is missing
    (NaN) or after the valuation, the denominator is zero, it lies outside the latest
    ``n_periods`` diagonals, it is dropped as high/low, or it is excluded.

``select_ldf(c, w, average_code) -> ldf``
    float64 ``(n_lags - 1,)`` age-to-age factors from the link ratios with ``w == 1``.
    ``average_code``: 0 volume-weighted, 1 simple, 2 regression through the origin.
    A lag whose factor cannot be formed (no used link ratio, or a zero denominator such as
    volume-weighted negatives summing to zero) gets 1.0; the link counts of
    ``link_statistics_batch`` tell the caller which lags those are so it can report them.

Batched versions loop over a leading segment axis: ``link_weights_batch``, ``select_ldf_batch``,
``link_statistics_batch``, ``mack_batch``. They are serial: a segment takes microseconds, and a
``prange`` loop would add seconds of compiling to every first run. Each copies its segment into a
writable scratch triangle, so the single-triangle kernels see the same array type as in the
bootstrap's loop and compile once. Arrays are made with ``np.empty`` and ``np.zeros`` only: Numba
compiles every numpy constructor once per argument type (``np.full``, ``np.ones``, ``np.arange``
would each add their own), and a first run compiles all of them.

Conventions follow chainladder-python 0.10.1 ``Development`` so results agree with it:

* Averages as a weighted regression through the origin of ``y = C[j+1]`` on ``x = C[j]``
  with weights ``w / x**a``: ``a = 1`` volume (``sum y / sum x``), ``a = 2`` simple
  (mean of ``y / x``), ``a = 0`` regression (``sum x y / sum x**2``).
* ``drop_high`` / ``drop_low`` rank the link ratios inside the ``n_periods`` window (ties
  broken by the smaller denominator first, then by origin), before user exclusions are
  applied; when dropping would leave no link ratio in a lag, that lag drops nothing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

VOLUME, SIMPLE, REGRESSION = 0, 1, 2


@njit(cache=True, nogil=True)
def _x_to_the(x, power):
    """``x ** power`` for the whole powers 0, 1, 2 the averages use, without calling ``pow``."""
    if power == 0:
        return 1.0
    if power == 1:
        return x
    return x * x


@njit(cache=True, nogil=True)
def _exponent(average_code):
    """Power ``a`` of the regression weights ``1 / x**a`` for an average code."""
    if average_code == VOLUME:
        return 1
    if average_code == SIMPLE:
        return 2
    return 0


@njit(cache=True, nogil=True)
def link_weights(c, valuation_index, n_periods, drop_high, drop_low, exclude):
    """0/1 weights of the link ratios used for the age-to-age factors (see module docstring).

    Window: link ``(i, j)`` is in the latest ``n`` diagonals when
    ``i + j >= valuation_index - n`` (chainladder ``n_periods``).
    High/low: within each lag the candidate ratios (in the window, both cells finite and
    non-zero denominator) are sorted by ratio, then denominator, then origin; ranks
    ``[drop_low, count - drop_high)`` are kept unless that range is empty, in which case all
    are kept.

    Shapes: ``c`` (n_origins, n_lags); result (n_origins, n_lags - 1).
    """
    n_org, n_lag = c.shape
    w = np.zeros((n_org, n_lag - 1))
    use_window = n_periods >= 1 and n_periods < n_org - 1
    ratio = np.empty(n_org)
    den = np.empty(n_org)
    idx = np.empty(n_org, dtype=np.int64)
    for j in range(n_lag - 1):
        m = 0
        for i in range(n_org):
            if i + j + 1 > valuation_index:
                continue
            if use_window and i + j < valuation_index - n_periods:
                continue
            x = c[i, j]
            y = c[i, j + 1]
            if np.isnan(x) or np.isnan(y) or x == 0.0:
                continue
            ratio[m] = y / x
            den[m] = x
            idx[m] = i
            m += 1
        lo = drop_low[j]
        hi = m - drop_high[j]
        if hi - lo < 1:
            lo = 0
            hi = m
        order = _rank_order(ratio[:m], den[:m])
        for r in range(lo, hi):
            i = idx[order[r]]
            if not exclude[i, j]:
                w[i, j] = 1.0
    return w


@njit(cache=True, nogil=True)
def _rank_order(ratio, den):
    """Positions sorted by ratio, ties by denominator, then by position (stable)."""
    m = ratio.shape[0]
    order = np.empty(m, dtype=np.int64)
    for a in range(m):
        order[a] = a
    for a in range(1, m):
        k = order[a]
        b = a - 1
        while b >= 0 and (ratio[order[b]] > ratio[k] or (ratio[order[b]] == ratio[k] and den[order[b]] > den[k])):
            order[b + 1] = order[b]
            b -= 1
        order[b + 1] = k
    return order


@njit(cache=True, nogil=True)
def select_ldf(c, w, average_code):
    """Age-to-age factors ``f[j] = sum(w x^(1-a) y) / sum(w x^(2-a))`` over used links.

    ``x = c[:, j]``, ``y = c[:, j + 1]``, ``a`` the average's exponent (volume 1, simple 2,
    regression 0; Mack 1993 eq. (2) is the volume case). 1.0 where the denominator is zero.
    Shapes: ``c`` (n_origins, n_lags), ``w`` (n_origins, n_lags - 1); result (n_lags - 1,).
    """
    n_org, n_lag = c.shape
    ldf = np.empty(n_lag - 1)
    select_ldf_into(c, w, average_code, n_org + n_lag, ldf)
    return ldf


@njit(cache=True, nogil=True)
def select_ldf_into(c, w, average_code, valuation_index, ldf):
    """:func:`select_ldf` written into ``ldf``, for hot loops such as the bootstrap.

    The powers of ``x`` are written out per average (volume ``sum w y / sum w x``, simple
    ``sum w y/x / sum w``, regression ``sum w x y / sum w x^2``) so no ``pow`` is called. The
    sums run along each origin's row (a link exists only while ``i + j + 1 <= valuation_index``),
    every lag's numerator and denominator accumulating in its own slot: the additions per lag
    are in the same order (origins ascending) as a column-by-column sum, but independent of one
    another, and a skipped link adds nothing through a select rather than a branch. A link with
    ``x == 0`` is skipped whatever ``w`` says (a pseudo-triangle can create one).
    Shapes: ``c`` (I, J), ``w`` (I, J - 1), ``ldf`` (J - 1,) overwritten.
    """
    n_org, n_lag = c.shape
    num = ldf
    num[:] = 0.0
    den = np.zeros(n_lag - 1)
    for i in range(n_org):
        for j in range(min(valuation_index - i, n_lag - 1)):
            x = c[i, j]
            wij = w[i, j]
            ok = wij != 0.0 and x != 0.0
            y = c[i, j + 1]
            if average_code == SIMPLE:
                num[j] += wij * (y / x) if ok else 0.0
                den[j] += wij if ok else 0.0
            elif average_code == REGRESSION:
                num[j] += wij * x * y if ok else 0.0
                den[j] += wij * (x * x) if ok else 0.0
            else:
                num[j] += wij * y if ok else 0.0
                den[j] += wij * x if ok else 0.0
    for j in range(n_lag - 1):
        ldf[j] = num[j] / den[j] if den[j] != 0.0 else 1.0


@njit(cache=True, nogil=True)
def link_statistics(c, w, average_code):
    """Factors, Mack sigmas and factor standard errors before any interpolation.

    ``sigma[j]^2 = sum(w x^(2-a) (y/x - f)^2) / (n - 1)`` and
    ``std_err[j]^2 = sigma[j]^2 / sum(w x^(2-a))`` (Mack 1993 eq. (3) and the parameter term
    of Theorem 3, volume case ``a = 1``). NaN sigma when ``n < 2`` or the weighted sum of
    squares is negative (negative cumulatives); NaN std_err where sigma is NaN or the
    denominator is not positive.
    Returns ``ldf, sigma, std_err`` each (n_lags - 1,), and ``denominator`` (n_lags - 1,).
    """
    n_org, n_lag = c.shape
    a = _exponent(average_code)
    ldf = np.empty(n_lag - 1)
    select_ldf_into(c, w, average_code, n_org + n_lag, ldf)
    sigma = np.empty(n_lag - 1)
    std_err = np.empty(n_lag - 1)
    sigma[:] = np.nan
    std_err[:] = np.nan
    denominator = np.zeros(n_lag - 1)
    for j in range(n_lag - 1):
        n = 0
        ss = 0.0
        den = 0.0
        for i in range(n_org):
            if w[i, j] != 0.0:
                x = c[i, j]
                r = c[i, j + 1] - ldf[j] * x
                ss += w[i, j] * r * r / _x_to_the(x, a)
                den += w[i, j] * _x_to_the(x, 2 - a)
                n += 1
        denominator[j] = den
        if n >= 2 and ss >= 0.0:
            sigma[j] = np.sqrt(ss / (n - 1))
            if den > 0.0:
                std_err[j] = np.sqrt(ss / (n - 1) / den)
    return ldf, sigma, std_err, denominator


@njit(cache=True, nogil=True)
def mack_one(c, latest_lag, ldf, sigma, std_err, average_code):
    """Mack (1993) process and parameter standard errors of each origin's ultimate.

    Recursion over lags ``k`` from each origin's latest lag ``L`` (Mack 1993, Theorem 3,
    written recursively as in chainladder-python's ``MackChainladder``)::

        C[k+1]         = C[k] f[k]                                 (projected cells)
        process[k+1]^2 = f[k]^2 process[k]^2 + (C[k] sigma[k])^2 / C[k]^(2-a)
        param[k+1]^2   = f[k]^2 param[k]^2   + (C[k] std_err[k])^2

    starting from 0 at ``k = L``. The process term is ``C[k] sigma[k]^2`` for volume weights
    and is 0 when ``C[k]^(2-a)`` is not positive (a negative or zero cumulative). Index ``k = n_lags - 1`` is
    the tail: ``ldf``, ``sigma``, ``std_err`` have length ``n_lags`` and their last entry is the
    tail factor (1.0 without a tail) with its sigma and std err (0 without a tail).
    The total parameter error uses ``S[k] = sum`` of ``C[i, k]`` over origins whose cell ``k``
    is their latest or a projected one: ``T[k+1]^2 = f[k]^2 T[k]^2 + std_err[k]^2 S[k]^2``.

    Shapes: ``c`` (n_origins, n_lags), ``latest_lag`` (n_origins,) int64 (-1: no data),
    ``ldf``, ``sigma``, ``std_err`` (n_lags,).
    Returns ``process`` (n_origins,), ``parameter`` (n_origins,), ``total_parameter`` float.
    Origins with no data get 0.
    """
    n_org, n_lag = c.shape
    a = _exponent(average_code)
    process = np.zeros(n_org)
    parameter = np.zeros(n_org)
    column = np.zeros(n_lag)
    for i in range(n_org):
        lag = latest_lag[i]
        if lag < 0:
            continue
        ck = c[i, lag]
        p2 = 0.0
        q2 = 0.0
        for k in range(lag, n_lag):
            column[k] += ck
            power = ck ** (2.0 - a)
            step = 0.0
            if power > 0.0:
                step = ck * sigma[k] / np.sqrt(power)
            p2 = ldf[k] ** 2 * p2 + step * step
            q2 = ldf[k] ** 2 * q2 + (ck * std_err[k]) ** 2
            ck = ck * ldf[k]
        process[i] = np.sqrt(p2)
        parameter[i] = np.sqrt(q2)
    t2 = 0.0
    for k in range(n_lag):
        t2 = ldf[k] ** 2 * t2 + (column[k] * std_err[k]) ** 2
    return process, parameter, np.sqrt(t2)


@njit(cache=True, nogil=True)
def link_weights_batch(values, valuation_index, n_periods, drop_high, drop_low, exclude):
    """:func:`link_weights` over segments: ``values`` (S, I, J), ``exclude`` (S, I, J-1) -> (S, I, J-1)."""
    n_seg, n_org, n_lag = values.shape
    out = np.empty((n_seg, n_org, n_lag - 1))
    c = np.empty((n_org, n_lag))
    for s in range(n_seg):
        _copy_2d(values[s], c)
        w = link_weights(c, valuation_index, n_periods, drop_high, drop_low, exclude[s])
        _copy_2d(w, out[s])
    return out


@njit(cache=True, nogil=True)
def select_ldf_batch(values, w, average_code):
    """:func:`select_ldf` over segments: ``values`` (S, I, J), ``w`` (S, I, J-1) -> (S, J-1)."""
    n_seg, n_org, n_lag = values.shape
    out = np.empty((n_seg, n_lag - 1))
    c = np.empty((n_org, n_lag))
    for s in range(n_seg):
        _copy_2d(values[s], c)
        select_ldf_into(c, w[s], average_code, n_org + n_lag, out[s])
    return out


@njit(cache=True, nogil=True)
def link_statistics_batch(values, w, average_code):
    """:func:`link_statistics` over segments, and the number of used link ratios per lag; each output (S, J-1).

    The counting loop is written here rather than as a kernel of its own: one function fewer to compile.
    """
    n_seg, n_org, n_lag = values.shape
    ldf = np.empty((n_seg, n_lag - 1))
    sigma = np.empty((n_seg, n_lag - 1))
    std_err = np.empty((n_seg, n_lag - 1))
    den = np.empty((n_seg, n_lag - 1))
    count = np.empty((n_seg, n_lag - 1), dtype=np.int64)
    c = np.empty((n_org, n_lag))
    for s in range(n_seg):
        _copy_2d(values[s], c)
        f, sg, se, d = link_statistics(c, w[s], average_code)
        for j in range(n_lag - 1):
            ldf[s, j], sigma[s, j], std_err[s, j], den[s, j] = f[j], sg[j], se[j], d[j]
            count[s, j] = 0
            for i in range(n_org):
                if w[s, i, j] != 0.0:
                    count[s, j] += 1
    return ldf, sigma, std_err, den, count


@njit(cache=True, nogil=True)
def mack_batch(values, latest_lag, ldf, sigma, std_err, average_code):
    """:func:`mack_one` over segments.

    ``values`` (S, I, J), ``latest_lag`` (S, I), ``ldf``/``sigma``/``std_err`` (S, J) with the
    tail last. Returns ``process`` (S, I), ``parameter`` (S, I), ``total_parameter`` (S,).
    """
    n_seg, n_org, n_lag = values.shape
    process = np.empty((n_seg, n_org))
    parameter = np.empty((n_seg, n_org))
    total = np.empty(n_seg)
    c = np.empty((n_org, n_lag))
    for s in range(n_seg):
        _copy_2d(values[s], c)
        p, q, total[s] = mack_one(c, latest_lag[s], ldf[s], sigma[s], std_err[s], average_code)
        for i in range(n_org):
            process[s, i], parameter[s, i] = p[i], q[i]
    return process, parameter, total


@njit(cache=True, nogil=True, inline="always")
def _copy_2d(src, dst):
    """``dst[:] = src`` for two (I, J) arrays, by loops: a slice assignment from an array costs Numba
    2 s of compiling (its shape-mismatch message), and copying a read-only triangle into a writable
    one lets every single-triangle kernel compile once for the batches and the bootstrap. Inlined: as a
    function of its own it would compile twice, for read-only and for writable sources."""
    for i in range(src.shape[0]):
        for j in range(src.shape[1]):
            dst[i, j] = src[i, j]
