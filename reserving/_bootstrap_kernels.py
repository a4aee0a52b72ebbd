"""Numba kernels of the over-dispersed Poisson (ODP) bootstrap of the chain ladder.

England & Verrall (2002), "Stochastic claims reserving in general insurance", BAJ 8(3),
Appendix 3, with the refinements of Shapland (2016), "Using the ODP Bootstrap Model: A
Practitioner's Guide", CAS Monograph 4. Arrays in, arrays out; the public wrapper
:func:`reserving.bootstrap_odp` validates and labels.

Per segment, with ``m[i, j]`` the chain-ladder fitted incremental amounts of the observed cells
and ``r`` the pool of adjusted Pearson residuals, one simulation is:

1. pseudo data ``q*[i, j] = m[i, j] + r[u] sqrt(|m[i, j]|)``, ``u`` uniform over the pool
   (cells with ``m = 0`` stay 0; every observed cell draws its ``u``), cumulated along lags;
2. the chain ladder refitted to it with the same factor options
   (:func:`reserving._kernels.link_weights` and the averages of
   :func:`reserving._kernels.select_ldf`), each factor then multiplied by the actuary's
   adjustment ``a[j] = selected / indicated`` of its lag (1 where nothing is selected; see
   :func:`reserving.bootstrap_odp`);
3. the future incremental means ``m*[i, j]`` projected from the pseudo latest diagonal;
4. process error: for each origin, and separately for each future calendar period, the sum
   ``P`` of its positive future means and the sum ``N`` of the absolute values of its negative
   ones become ``phi G(P / phi) - phi G(N / phi)``, ``G`` a standard gamma (``process='gamma'``)
   or Poisson (``'odp'``) variate. A sum of independent gamma (Poisson) variables with a
   common scale is gamma (Poisson) with the summed shape, so one draw per sign replaces one
   per cell, exactly; a negative mean takes the sign-reversed distribution of its absolute
   value (Shapland 2016 on negative incremental values; R's ``BootChainLadder``).

Memory per work item is one triangle and a few vectors: nothing grows with
``n_sims x n_origins x n_lags``.

First-run compiling (``NUMBA_CACHE_DIR`` empty) is part of the design: the process draws are a
kernel of their own (:func:`_process_draws`), arrays are made with ``np.empty`` / ``np.zeros`` only
(as in :mod:`reserving._kernels`), and no call passes a literal constant where the callee would be
compiled again for it (Numba types ``f(a, 0)`` as a separate signature).
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import get_num_threads, njit

from reserving._kernels import link_weights, select_ldf_into
from _kit.random import bounded_pair, gamma, poisson, stream

GAMMA, ODP = 0, 1


@njit(cache=True, nogil=True)
def fitted_incremental(values, latest_lag, ldf):
    """Chain-ladder fitted incremental amounts of the observed cells (England & Verrall 2002, A3).

    Backward recursion from the latest diagonal: ``M[i, k] = C[i, k]`` at the latest lag ``k``,
    ``M[i, j - 1] = M[i, j] / f[j - 1]``; ``m[i, j] = M[i, j] - M[i, j - 1]``.
    Shapes: ``values`` (S, I, J), ``latest_lag`` (S, I) int64 (-1: no data), ``ldf`` (S, J - 1).
    Returns (S, I, J): fitted increments where observed, NaN elsewhere (and ``inf`` when a
    factor is 0, which the caller reports). Serial: a segment takes a microsecond.
    """
    n_seg, n_org, n_lag = values.shape
    out = np.empty((n_seg, n_org, n_lag))
    out[:] = np.nan
    for s in range(n_seg):
        for i in range(n_org):
            k = latest_lag[s, i]
            if k < 0:
                continue
            cum = values[s, i, k]
            for j in range(k, 0, -1):
                prev = cum / ldf[s, j - 1] if ldf[s, j - 1] != 0.0 else np.inf
                out[s, i, j] = cum - prev
                cum = prev
            out[s, i, 0] = cum
    return out


def expected_future(values, latest_lag, ldf, valuation_index):
    """Chain-ladder future incremental means summed by origin and by future calendar period.

    Shapes: ``values`` (S, I, J), ``latest_lag`` (S, I), ``ldf`` (S, J - 1).
    A Python loop over segments, each one call of :func:`project` on a writable copy of the
    segment's triangle, so that ``project`` compiles once, for this and for the simulation's pseudo
    triangles (a compiled loop would compile it again into its own code; a segment takes microseconds).
    Returns ``by_origin`` (S, I) and ``by_calendar`` (S, K) with
    ``K = I + J - 2 - valuation_index`` (calendar period ``valuation_index + 1 + k``).
    """
    n_seg, n_org, n_lag = values.shape
    n_cal = n_org + n_lag - 2 - valuation_index
    by_origin = np.empty((n_seg, n_org))
    by_calendar = np.empty((n_seg, n_cal))
    pos_o, neg_o, pos_c, neg_c = np.empty(n_org), np.empty(n_org), np.empty(n_cal), np.empty(n_cal)
    work = np.empty((5, n_lag + 1))
    for s in range(n_seg):
        project(np.array(values[s]), latest_lag[s], ldf[s], valuation_index, pos_o, neg_o, pos_c, neg_c, work)
        by_origin[s] = pos_o - neg_o
        by_calendar[s] = pos_c - neg_c
    return by_origin, by_calendar


@njit(cache=True, nogil=True)
def project(c, latest_lag, ldf, valuation_index, pos_o, neg_o, pos_c, neg_c, work):
    """Project each origin from its latest cell with ``ldf``; sum future increments by sign.

    ``pos_o[i]`` / ``neg_o[i]``: sum of the positive / minus the negative future increments of
    origin ``i``; ``pos_c[k]`` / ``neg_c[k]`` the same for calendar period
    ``valuation_index + 1 + k``. The four outputs are overwritten.

    With ``F[j] = f[0] ... f[j-1]`` the increment of origin ``i`` at lag ``j > k`` (``k`` its latest
    lag) is ``b[i] d[j]`` with ``b[i] = C[i, k] / F[k]`` and ``d[j] = F[j-1] (f[j-1] - 1)``. Its
    sign is the product of the two signs, so with ``x+ = max(x, 0)`` and ``x- = max(-x, 0)``:
    positive part ``b+ d+ + b- d-``, negative part ``b+ d- + b- d+``. An origin's sums are then
    ``b+ D+[k+1] + b- D-[k+1]`` (and the mirror) with ``D`` the suffix sums of ``d+`` and ``d-``,
    and its calendar sums add ``|b|`` times a run of ``d+`` (or ``d-``) with no branch per cell.
    Shapes: ``c`` (I, J), ``latest_lag`` (I,), ``ldf`` (J - 1,), ``pos_o``/``neg_o`` (I,),
    ``pos_c``/``neg_c`` (K,); ``work`` (5, J + 1) is scratch.
    """
    n_org, n_lag = c.shape
    pos_c[:] = 0.0
    neg_c[:] = 0.0
    work[:] = 0.0
    growth, d_pos, d_neg, tail_pos, tail_neg = work[0], work[1], work[2], work[3], work[4]
    growth[0] = 1.0
    for j in range(1, n_lag):
        growth[j] = growth[j - 1] * ldf[j - 1]
        d = growth[j - 1] * (ldf[j - 1] - 1.0)
        d_pos[j] = max(d, 0.0)
        d_neg[j] = max(-d, 0.0)
    for j in range(n_lag - 1, 0, -1):
        tail_pos[j] = tail_pos[j + 1] + d_pos[j]
        tail_neg[j] = tail_neg[j + 1] + d_neg[j]
    for i in range(n_org):
        k = latest_lag[i]
        if k < 0:
            pos_o[i] = 0.0
            neg_o[i] = 0.0
        elif growth[k] != 0.0:
            base = c[i, k] / growth[k]
            b_pos = max(base, 0.0)
            b_neg = max(-base, 0.0)
            pos_o[i] = b_pos * tail_pos[k + 1] + b_neg * tail_neg[k + 1]
            neg_o[i] = b_pos * tail_neg[k + 1] + b_neg * tail_pos[k + 1]
            # calendar sums: one product per cell, as b is either positive or negative
            lo = i + k - valuation_index
            hi = i + n_lag - 1 - valuation_index
            up, down = (d_pos, d_neg) if base >= 0.0 else (d_neg, d_pos)
            _add_scaled(pos_c[lo:hi], abs(base), up[k + 1:n_lag])
            _add_scaled(neg_c[lo:hi], abs(base), down[k + 1:n_lag])
        else:
            pos_o[i], neg_o[i] = _project_serial(c[i, k], i + k - valuation_index, k, ldf, pos_c, neg_c)


@njit(cache=True, nogil=True, inline="always")
def _add_scaled(out, a, x):
    """``out += a * x`` (same lengths)."""
    for t in range(out.shape[0]):
        out[t] += a * x[t]


@njit(cache=True, nogil=True)
def _project_serial(latest, cal, k, ldf, pos_c, neg_c):
    """Row projection by repeated multiplication, for a row whose factor product to lag ``k`` is 0."""
    up = 0.0
    down = 0.0
    cum = latest
    for j in range(k + 1, ldf.shape[0] + 1):
        nxt = cum * ldf[j - 1]
        inc = nxt - cum
        cum = nxt
        up += max(inc, 0.0)
        down += max(-inc, 0.0)
        pos_c[cal] += max(inc, 0.0)
        neg_c[cal] += max(-inc, 0.0)
        cal += 1
    return up, down


@njit(cache=True, nogil=True)
def _process_draws(state, means, phi, inv_phi, process_code, draws):
    """``draws[t]``: the process draw of :func:`_process` for each ``means[t]``, in order; returns the state.

    One call per simulation, with the variates inlined into its loop: compiled once, in a small
    function, they cost 3 s of the first run; inlined into :func:`_simulate_block` they cost 11 s
    (Numba inlines each call site again, and the compiler's passes slow down with the function's
    size), and called per draw they would slow the simulation by a sixth.
    """
    for t in range(means.shape[0]):
        draws[t], state = _process(state, means[t], phi, inv_phi, process_code)
    return state


@njit(cache=True, nogil=True, inline="always")
def _process(state, mean, phi, inv_phi, process_code):
    """A draw with mean ``mean >= 0`` and variance ``phi * mean``: ``phi G(mean / phi)``.

    ``inv_phi`` is ``1 / phi``, formed once per segment (a multiplication per draw, not a division).
    """
    if mean == 0.0 or phi <= 0.0:
        return mean, state
    if process_code == ODP:
        g, state = poisson(state, mean * inv_phi)
    else:
        g, state = gamma(state, mean * inv_phi)
    return phi * g, state


def simulate(
    fitted, scale, latest_lag, pool, pool_start, eligible, exclude, drop_high, drop_low, use_drops,
    n_periods, valuation_index, average_code, phi, process_code, keys, n_sims, block_size,
    ibnr, cash, total, param_origin, param_cash, report=None, adjust=None,
):
    """ODP bootstrap of a stack of triangles: work items (segment x block of simulations) shared among threads.

    Steps 1-4 of the module docstring for each simulation. Work item ``(s, b)`` runs
    simulations ``b * block_size`` to ``(b + 1) * block_size - 1`` of segment ``s`` with the
    random stream ``stream(keys[s], b)``, so results do not depend on threads or on the other
    segments. Each item is one call of the compiled :func:`_simulate_block` (see
    :func:`_in_threads` for why this loop is Python, not ``prange``).

    Inputs, for S segments, I origins, J lags, K future calendar periods:
    ``fitted`` (S, I, J) fitted increments ``m`` (0 where unobserved), ``scale`` (S, I, J)
    ``sqrt(|m|)`` where the cell is resampled (0: the cell stays ``m``), ``latest_lag`` (S, I),
    ``pool`` (P,) concatenated residual pools with segment ``s`` at
    ``pool[pool_start[s]:pool_start[s + 1]]`` (never empty), ``eligible`` (S, I, J - 1) 0/1 links usable
    whatever the values (window, exclusions, missing cells), ``exclude`` (S, I, J - 1),
    ``drop_high``/``drop_low`` (J - 1,), ``use_drops`` (refit the weights with
    ``link_weights`` on every pseudo triangle, needed when links are dropped by rank),
    ``n_periods``, ``valuation_index``, ``average_code``, ``phi`` (S,) scale parameters,
    ``process_code`` (GAMMA or ODP), ``keys`` (S, 4) uint64.

    Outputs (filled): ``ibnr`` (S, I, n_sims), its sum over origins ``total`` (S, 1, n_sims) and
    ``cash`` (S, K, n_sims), with process error;
    ``param_origin`` (S, B, I) and ``param_cash`` (S, B, K): per-block sums of the means
    without process error (B blocks), for the bias estimate.
    ``report``, if given, is called with the number of work items finished so far after each one.
    ``adjust`` (S, J - 1), if given, multiplies every refitted factor (step 2); default 1.
    """
    n_seg = fitted.shape[0]
    n_blocks = (n_sims + block_size - 1) // block_size
    if adjust is None:
        adjust = np.ones((n_seg, fitted.shape[2] - 1))

    def item(k):
        s, b = divmod(k, n_blocks)
        _simulate_block(
            fitted[s], scale[s], latest_lag[s], pool[pool_start[s]:pool_start[s + 1]], eligible[s], exclude[s],
            drop_high, drop_low, use_drops, n_periods, valuation_index, average_code, phi[s], process_code,
            keys[s], b, b * block_size, min(n_sims, (b + 1) * block_size),
            ibnr[s], cash[s], total[s, 0], param_origin[s, b], param_cash[s, b], adjust[s],
        )

    _in_threads(item, n_seg * n_blocks, report)


def _in_threads(work, n_items, report=None):
    """Run ``work(k)`` for ``k = 0, ..., n_items - 1`` on ``numba.get_num_threads()`` threads.

    ``report(done)``, if given, is called after each item with the number finished so far (one call
    at a time).

    ``work`` calls compiled kernels that release the GIL (``nogil=True``), so the threads run
    them in parallel; each thread takes the next item when it finishes one. An item writes only
    its own slices of the outputs and draws from its own random stream, so the results do not
    depend on the number of threads or the order. Used instead of a ``prange`` loop because
    Numba compiles a parallel loop's body, and everything it calls, twice more (into the loop's
    own function and into the kernel), which cost about 4 s of the first run for the simulation
    and 2 s for the statistics; an item runs long enough (a block of simulations, a run of
    columns) that the call from Python is negligible.
    """
    n_threads = min(get_num_threads(), n_items)
    items = iter(range(n_items))
    lock = threading.Lock()
    finished = [0]

    def worker():
        while True:
            with lock:
                k = next(items, None)
            if k is None:
                return
            work(k)
            if report is not None:
                with lock:
                    finished[0] += 1
                    report(finished[0])

    if n_threads <= 1:
        worker()
        return
    with ThreadPoolExecutor(n_threads) as pool:
        for done in [pool.submit(worker) for _ in range(n_threads)]:
            done.result()


@njit(cache=True, nogil=True)
def _simulate_block(
    fitted, scale, latest_lag, pool, eligible, exclude, drop_high, drop_low, use_drops,
    n_periods, valuation_index, average_code, phi, process_code, key, block, first, stop,
    ibnr, cash, total, param_origin, param_cash, adjust,
):
    """Simulations ``first`` to ``stop - 1`` of one segment from the random stream ``stream(key, block)``.

    The arguments are those of :func:`simulate` for the one segment (``key`` its row of ``keys``,
    ``param_origin`` and ``param_cash`` the block's rows, ``adjust`` its row of factor adjustments). The resampling indices are inlined
    (``inline="always"``: a call per pair would cost more than the pair); the process draws are one
    call of :func:`_process_draws` per simulation.
    """
    state = stream(key, block)
    n_org, n_lag = fitted.shape
    n_cal = cash.shape[0]
    n_pool = pool.shape[0]
    c = np.empty((n_org, n_lag))
    c[:] = np.nan
    ldf = np.empty(n_lag - 1)
    # future means by sign: positive by origin, negative by origin, positive by calendar, negative by calendar
    means = np.zeros(2 * (n_org + n_cal))
    pos_o, neg_o = means[:n_org], means[n_org:2 * n_org]
    pos_c, neg_c = means[2 * n_org:2 * n_org + n_cal], means[2 * n_org + n_cal:]
    draws = np.zeros(means.shape[0])
    work = np.empty((5, n_lag + 1))
    inv_phi = 1.0 / phi if phi > 0.0 else 0.0
    spare = -1  # the second index of the last pair, while unused
    for sim in range(first, stop):
        # every observed cell takes the next index of one stream of pairs (row by row), and adds
        # pool[u] * scale, which is 0 where the cell is not resampled: no branch per cell
        for i in range(n_org):
            n_obs = latest_lag[i] + 1
            cum = 0.0
            j = 0
            if spare >= 0 and n_obs > 0:
                cum = fitted[i, 0] + pool[spare] * scale[i, 0]
                c[i, 0] = cum
                spare = -1
                j = 1
            while j + 1 < n_obs:
                u, v, state = bounded_pair(state, n_pool)
                cum += fitted[i, j] + pool[u] * scale[i, j]
                c[i, j] = cum
                cum += fitted[i, j + 1] + pool[v] * scale[i, j + 1]
                c[i, j + 1] = cum
                j += 2
            if j < n_obs:
                u, spare, state = bounded_pair(state, n_pool)
                cum += fitted[i, j] + pool[u] * scale[i, j]
                c[i, j] = cum
        if use_drops:
            w = link_weights(c, valuation_index, n_periods, drop_high, drop_low, exclude)
            select_ldf_into(c, w, average_code, valuation_index, ldf)
        else:
            select_ldf_into(c, eligible, average_code, valuation_index, ldf)
        for j in range(n_lag - 1):
            ldf[j] *= adjust[j]
        project(c, latest_lag, ldf, valuation_index, pos_o, neg_o, pos_c, neg_c, work)
        state = _process_draws(state, means, phi, inv_phi, process_code, draws)
        sim_total = 0.0
        for i in range(n_org):
            param_origin[i] += pos_o[i] - neg_o[i]
            ibnr[i, sim] = draws[i] - draws[n_org + i]
            sim_total += ibnr[i, sim]
        total[sim] = sim_total
        for k in range(n_cal):
            param_cash[k] += pos_c[k] - neg_c[k]
            cash[k, sim] = draws[2 * n_org + k] - draws[2 * n_org + n_cal + k]


def column_statistics(x, probs, shift):
    """Mean, standard deviation (n - 1 divisor) and quantiles of each column of each segment, less ``shift``.

    Quantiles are numpy's default (linear interpolation between order statistics,
    Hyndman & Fan type 7), found without a full sort by :func:`_quantiles`.
    The statistics are those of ``x[s, c] - shift[s, c]`` (the bias correction) without writing
    the shifted values: the mean and quantiles move by the shift, the deviation does not.
    Shapes: ``x`` (S, C, n) (a column is contiguous), ``probs`` (Q,) ascending in [0, 1], ``shift`` (S, C).
    Returns mean (S, C), std (S, C), quantiles (S, C, Q). Columns are shared out in contiguous runs
    among threads (:func:`_in_threads`), each run one call of :func:`_column_run` reusing one set
    of scratch arrays.
    """
    if np.any(np.diff(probs) < 0.0):
        raise ValueError("column_statistics needs ascending probabilities")
    n_seg, n_col, n = x.shape
    mean = np.empty((n_seg, n_col))
    std = np.empty((n_seg, n_col))
    quant = np.empty((n_seg, n_col, probs.shape[0]))
    n_items = n_seg * n_col
    n_runs = min(n_items, 256)

    def run(r):
        _column_run(x, probs, shift, r * n_items // n_runs, (r + 1) * n_items // n_runs, mean, std, quant)

    _in_threads(run, n_runs)
    return mean, std, quant


@njit(cache=True, nogil=True)
def _column_run(x, probs, shift, first, stop, mean, std, quant):
    """Columns ``first`` to ``stop - 1`` (counted segment by segment) of :func:`column_statistics`.

    ``x`` (S, C, n), ``probs`` (Q,), ``shift`` (S, C); rows ``first`` to ``stop - 1`` of the
    flattened ``mean``, ``std`` (S, C) and ``quant`` (S, C, Q) are overwritten.
    """
    n_seg, n_col, n = x.shape
    start = np.zeros(N_BINS + 1, dtype=np.int64)
    bin_of = np.empty(n, dtype=np.uint16)
    placed = np.empty(n)
    for item in range(first, stop):
        s = item // n_col
        k = item - s * n_col
        col = x[s, k]
        mu, std[s, k], lo, hi = _moments(col)
        mean[s, k] = mu - shift[s, k]
        _quantiles(col, lo, hi, probs, start, bin_of, placed, quant[s, k])
        for q in range(probs.shape[0]):
            quant[s, k, q] -= shift[s, k]


@njit(cache=True, nogil=True)
def _moments(col):
    """Mean, standard deviation (n - 1 divisor), minimum and maximum; all NaN if any value is NaN.

    Sums run in four interleaved accumulators, added at the end: the additions no longer wait on
    each other (four times fewer in a row), and the rounding error is that of four shorter sums.
    """
    n = col.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    lo = np.inf
    hi = -np.inf
    n4 = n - n % 4
    for t in range(0, n4, 4):
        s0 += col[t]
        s1 += col[t + 1]
        s2 += col[t + 2]
        s3 += col[t + 3]
    for t in range(n4, n):
        s0 += col[t]
    for v in col:
        lo = min(lo, v)
        hi = max(hi, v)
    total = (s0 + s1) + (s2 + s3)
    if np.isnan(total):
        return np.nan, np.nan, np.nan, np.nan
    mu = total / n
    s0 = s1 = s2 = s3 = 0.0
    for t in range(0, n4, 4):
        s0 += (col[t] - mu) * (col[t] - mu)
        s1 += (col[t + 1] - mu) * (col[t + 1] - mu)
        s2 += (col[t + 2] - mu) * (col[t + 2] - mu)
        s3 += (col[t + 3] - mu) * (col[t + 3] - mu)
    for t in range(n4, n):
        s0 += (col[t] - mu) * (col[t] - mu)
    ss = (s0 + s1) + (s2 + s3)
    return mu, math.sqrt(ss / (n - 1)) if n > 1 else 0.0, lo, hi


#: Equal-width bins of the first pass of :func:`_quantiles`.
N_BINS = 1024
#: A bin holding more values than this is partitioned around the wanted ranks instead of sorted.
SORT_MAX = 64


@njit(cache=True, nogil=True)
def _quantiles(col, lo, hi, probs, start, bin_of, placed, out):
    """Type-7 quantiles of ``col`` (as ``numpy.quantile``) into ``out``, from its ``lo``/``hi``.

    Equal-width bins between ``lo`` and ``hi`` are ordered, so after a counting pass the order
    statistic of rank ``r`` is at position ``r`` once the values of its bin are placed at the
    bin's offset and put in order there. Only the bins holding a wanted rank are placed; a small
    one is sorted (:func:`_insertion_sort`), a crowded one (a heavy tail squeezes most values into
    one bin) is partitioned around its wanted ranks (:func:`select_ranks`), so the work stays
    linear in the column length. ``probs`` are ascending, so the wanted ranks are too; their bins
    are found by a loop, not by numpy's ``searchsorted``, which would cost seconds of compiling.
    ``start`` (N_BINS + 1,), ``bin_of`` (n,) and ``placed`` (n,) are scratch.
    """
    n = col.shape[0]
    n_q = probs.shape[0]
    if np.isnan(lo) or lo == hi:
        out[:] = lo
        return
    inv_width = N_BINS / (hi - lo)
    start[:] = 0
    if np.isinf(inv_width):  # a range of subnormal width: one bin holds everything
        inv_width = 0.0
    for t in range(n):
        b = min(np.int64((col[t] - lo) * inv_width), N_BINS - 1)
        bin_of[t] = b
        start[b + 1] += 1
    for b in range(N_BINS):
        start[b + 1] += start[b]
    index = np.empty(n_q)
    ranks = np.empty(2 * n_q, dtype=np.int64)
    for q in range(n_q):  # ascending, as the probabilities are
        index[q] = n * probs[q] + (1.0 - probs[q]) - 1.0
        r = min(max(int(math.floor(index[q])), 0), n - 1)
        ranks[2 * q] = r
        ranks[2 * q + 1] = min(r + 1, n - 1)
    # bins[a]: the bin whose positions start[b] <= r < start[b + 1] hold rank ranks[a]
    bins = np.empty(ranks.shape[0], dtype=np.int64)
    b = 0
    for a in range(ranks.shape[0]):
        while start[b + 1] <= ranks[a]:
            b += 1
        bins[a] = b
    fill = np.empty(N_BINS, dtype=np.int64)
    need = np.zeros(N_BINS, dtype=np.int64)  # 0/1 (int64 as the other scratch: one allocator compiled)
    for b in range(N_BINS):
        fill[b] = start[b]
    for a in range(bins.shape[0]):
        need[bins[a]] = 1
    for t in range(n):
        b = bin_of[t]
        if need[b] != 0:
            placed[fill[b]] = col[t]
            fill[b] += 1
    a = 0
    while a < ranks.shape[0]:
        b = bins[a]
        e = a
        while e < ranks.shape[0] and bins[e] == b:
            e += 1
        lo_b, hi_b = start[b], start[b + 1]
        if hi_b - lo_b <= SORT_MAX:
            _insertion_sort(placed[lo_b:hi_b])
        else:
            wanted = np.empty(e - a, dtype=np.int64)
            for t in range(e - a):
                wanted[t] = ranks[a + t] - lo_b
            select_ranks(placed[lo_b:hi_b], wanted)
        a = e
    for q in range(n_q):
        r = min(max(int(math.floor(index[q])), 0), n - 1)
        g = index[q] - math.floor(index[q])
        v = placed[r]
        d = placed[min(r + 1, n - 1)] - v
        out[q] = v + d * g if g < 0.5 else placed[min(r + 1, n - 1)] - d * (1.0 - g)


@njit(cache=True, nogil=True)
def select_ranks(a, ranks):
    """Put the order statistics of ``ranks`` (ascending, 0-based, repeats allowed) in place in ``a``.

    Afterwards ``a[r]`` holds the value a full sort would put there, for every ``r`` in ``ranks``.
    Hoare's FIND (quickselect; Hoare 1961, CACM 4(7), algorithm 65) on all ranks at once: a part
    is partitioned around the median of its first, middle and last values and only the sides
    holding a wanted rank are kept, so the work is about ``n log(k)`` for ``k`` distinct ranks.
    Equal values stop both scans, so a part full of ties still splits in the middle. A part of
    ``SORT_MAX`` values or fewer is sorted by :func:`_insertion_sort`, one still unsplit after
    ``2 log2(n)`` levels by :func:`_heapsort`.
    """
    n = a.shape[0]
    n_r = ranks.shape[0]
    max_depth = 2 * int(math.log2(max(n, 2))) + 4
    stack = np.empty((max_depth + 2, 5), dtype=np.int64)  # lo, hi (exclusive), first rank, end rank, depth
    stack[0, 0], stack[0, 1], stack[0, 2], stack[0, 3], stack[0, 4] = 0, n, 0, n_r, 0
    top = 0
    while top >= 0:
        lo, hi, r0, r1, depth = stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3], stack[top, 4]
        top -= 1
        if r0 >= r1:
            continue
        if hi - lo <= SORT_MAX:
            _insertion_sort(a[lo:hi])
            continue
        if depth >= max_depth:
            _heapsort(a[lo:hi])
            continue
        x, y, z = a[lo], a[(lo + hi) // 2], a[hi - 1]
        pivot = max(min(x, y), min(max(x, y), z))  # median of three
        i = lo - 1
        j = hi
        while True:
            i += 1
            while a[i] < pivot:
                i += 1
            j -= 1
            while a[j] > pivot:
                j -= 1
            if i >= j:
                break
            a[i], a[j] = a[j], a[i]
        # a[lo:j + 1] <= pivot <= a[j + 1:hi]; both sides are non-empty (the pivot is a median of three)
        split = r0
        while split < r1 and ranks[split] <= j:
            split += 1
        stack[top + 1, 0], stack[top + 1, 1], stack[top + 1, 2], stack[top + 1, 3], stack[top + 1, 4] = lo, j + 1, r0, split, depth + 1
        stack[top + 2, 0], stack[top + 2, 1], stack[top + 2, 2], stack[top + 2, 3], stack[top + 2, 4] = j + 1, hi, split, r1, depth + 1
        top += 2


@njit(cache=True, nogil=True)
def _insertion_sort(a):
    """Sort ``a`` in place by straight insertion (Knuth, TAOCP vol. 3, 5.2.1, algorithm S).

    For the short runs here (at most ``SORT_MAX`` values) it is as
    fast as a quicksort, and it is a few lines to compile where numpy's ``sort`` costs seconds.
    """
    for t in range(1, a.shape[0]):
        v = a[t]
        u = t - 1
        while u >= 0 and a[u] > v:
            a[u + 1] = a[u]
            u -= 1
        a[u + 1] = v


@njit(cache=True, nogil=True)
def _heapsort(a):
    """Sort ``a`` in place by heapsort (Williams 1964, CACM 7(6), algorithm 232; Floyd's heap
    construction): ``n log n`` comparisons in the worst case, for :func:`select_ranks`'s rare
    parts that partitioning fails to split."""
    n = a.shape[0]
    for top in range(n // 2 - 1, -1, -1):
        _sift_down(a, top, n)
    root = np.int64(0)  # an int64, not the literal 0: one compile of _sift_down, not two
    for end in range(n - 1, 0, -1):
        a[0], a[end] = a[end], a[0]
        _sift_down(a, root, end)


@njit(cache=True, nogil=True)
def _sift_down(a, root, end):
    """Move ``a[root]`` down the max-heap ``a[:end]`` (children of ``p`` at ``2p + 1``, ``2p + 2``)."""
    v = a[root]
    while 2 * root + 1 < end:
        child = 2 * root + 1
        if child + 1 < end and a[child + 1] > a[child]:
            child += 1
        if a[child] <= v:
            break
        a[root] = a[child]
        root = child
    a[root] = v
