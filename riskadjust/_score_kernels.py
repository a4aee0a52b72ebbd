"""Numba kernels: which model parameters apply to each member, scores and components.

Arrays follow :class:`riskadjust.model.CompiledModel` and :class:`riskadjust.population.Population`.
For member ``i`` in segment ``s`` with coded categories ``C`` (CSR row ``i``):

1. presence requirements: ``c`` in ``C`` survives if it has no requirement or ``req[c, k]`` for some
   ``k`` in ``C``; call the survivors ``V``;
2. hierarchy: ``c`` in ``V`` is kept unless ``drops[d, c]`` for some ``d`` in ``V`` (rules are
   evaluated on ``V``, so a dropped category still drops its own children);
3. terms: the member's cell; each kept category; each interaction whose groups are present among
   the kept categories and whose flag mask is set; the count term containing ``|kept|``;
4. raw score = sum of ``coef[param_index[s, term]]`` over those terms (missing parameters add 0).

This is the CMS-HCC scoring algorithm (CMS, "Announcement of Calendar Year 2024 Medicare Advantage
Capitation Rates", Attachment VI; software V24/V28 SAS macros) written for any table-driven model.
Members are independent, so results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

CHUNK = 4096


@njit(cache=True, nogil=True)
def member_params(i, segment, cell_term, flags, indptr, indices, param_index, cat_term, drops, has_req,
                  req, cat_group_ptr, cat_group_idx, inter_g1, inter_g2, inter_mask, inter_term,
                  count_min, count_max, count_term, valid, kept, group_on, out):
    """Write the parameter ids that apply to member ``i`` into ``out``; return how many.

    ``valid``/``kept`` are scratch of length >= the longest CSR row, ``group_on`` of length
    n_groups, ``out`` of length >= 2 + longest row + n_interactions.
    """
    s = segment[i]
    n = 0
    p = param_index[s, cell_term[i]]
    if p >= 0:
        out[n] = p
        n += 1
    start = indptr[i]
    end = indptr[i + 1]
    for a in range(start, end):
        c = indices[a]
        ok = True
        if has_req[c]:
            ok = False
            for b in range(start, end):
                if req[c, indices[b]]:
                    ok = True
                    break
        valid[a - start] = ok
    nk = 0
    for a in range(start, end):
        if not valid[a - start]:
            continue
        c = indices[a]
        dropped = False
        for b in range(start, end):
            if valid[b - start] and drops[indices[b], c]:
                dropped = True
                break
        if not dropped:
            kept[nk] = c
            nk += 1
    group_on[:] = 0
    for k in range(nk):
        c = kept[k]
        p = param_index[s, cat_term[c]]
        if p >= 0:
            out[n] = p
            n += 1
        for g in range(cat_group_ptr[c], cat_group_ptr[c + 1]):
            group_on[cat_group_idx[g]] = 1
    f = flags[i]
    for t in range(inter_term.shape[0]):
        g1 = inter_g1[t]
        g2 = inter_g2[t]
        if g1 >= 0 and group_on[g1] == 0:
            continue
        if g2 >= 0 and group_on[g2] == 0:
            continue
        if (f & inter_mask[t]) != inter_mask[t]:
            continue
        p = param_index[s, inter_term[t]]
        if p >= 0:
            out[n] = p
            n += 1
    for t in range(count_term.shape[0]):
        if count_min[t] <= nk and nk <= count_max[t]:
            p = param_index[s, count_term[t]]
            if p >= 0:
                out[n] = p
                n += 1
    return n


@njit(cache=True, nogil=True, parallel=True)
def score_members(segment, cell_term, flags, indptr, indices, param_index, coef, cat_term, drops,
                  has_req, req, cat_group_ptr, cat_group_idx, n_groups, inter_g1, inter_g2, inter_mask,
                  inter_term, count_min, count_max, count_term, max_row, raw, n_params):
    """Raw score ``raw[i] = sum_p coef[p]`` over member ``i``'s parameters, and their count.

    Shapes: member arrays ``(n,)``; ``raw`` float64 ``(n,)`` and ``n_params`` int64 ``(n,)`` are
    filled in place. Chunks of ``CHUNK`` members run in parallel, each with its own scratch.
    """
    n = segment.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    width = 2 + max_row + inter_term.shape[0] + count_term.shape[0]
    for ch in prange(n_chunks):
        valid = np.zeros(max_row + 1, dtype=np.bool_)
        kept = np.zeros(max_row + 1, dtype=np.int32)
        group_on = np.zeros(n_groups + 1, dtype=np.uint8)
        out = np.zeros(width, dtype=np.int64)
        for i in range(ch * CHUNK, min(n, (ch + 1) * CHUNK)):
            k = member_params(i, segment, cell_term, flags, indptr, indices, param_index, cat_term, drops,
                              has_req, req, cat_group_ptr, cat_group_idx, inter_g1, inter_g2, inter_mask,
                              inter_term, count_min, count_max, count_term, valid, kept, group_on, out)
            total = 0.0
            for j in range(k):
                total += coef[out[j]]
            raw[i] = total
            n_params[i] = k


@njit(cache=True, nogil=True, parallel=True)
def member_components(segment, cell_term, flags, indptr, indices, param_index, coef, cat_term, drops,
                      has_req, req, cat_group_ptr, cat_group_idx, n_groups, inter_g1, inter_g2, inter_mask,
                      inter_term, count_min, count_max, count_term, max_row, out_indptr, out_params,
                      out_values):
    """Fill CSR rows (member x parameter) with each applying parameter's coefficient.

    ``out_indptr`` (n + 1,) comes from the parameter counts of :func:`score_members`;
    ``out_params`` int32 and ``out_values`` float64 have length ``out_indptr[-1]``.
    """
    n = segment.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    width = 2 + max_row + inter_term.shape[0] + count_term.shape[0]
    for ch in prange(n_chunks):
        valid = np.zeros(max_row + 1, dtype=np.bool_)
        kept = np.zeros(max_row + 1, dtype=np.int32)
        group_on = np.zeros(n_groups + 1, dtype=np.uint8)
        out = np.zeros(width, dtype=np.int64)
        for i in range(ch * CHUNK, min(n, (ch + 1) * CHUNK)):
            k = member_params(i, segment, cell_term, flags, indptr, indices, param_index, cat_term, drops,
                              has_req, req, cat_group_ptr, cat_group_idx, inter_g1, inter_g2, inter_mask,
                              inter_term, count_min, count_max, count_term, valid, kept, group_on, out)
            base = out_indptr[i]
            for j in range(k):
                out_params[base + j] = out[j]
                out_values[base + j] = coef[out[j]]
