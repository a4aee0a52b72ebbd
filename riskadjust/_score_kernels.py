"""Numba kernels: which model parameters apply to each member, scores and components.

Arrays follow :class:`riskadjust.model.CompiledModel` and :class:`riskadjust.population.Population`.
For member ``i`` in segment ``s`` with coded categories ``C`` (CSR row ``i``):

1. presence requirements: ``c`` in ``C`` survives if it has no requirement or ``req[c, k]`` for some
   ``k`` in ``C``; call the survivors ``V``;
2. hierarchy: ``c`` in ``V`` is kept unless ``drops[d, c]`` for some ``d`` in ``V`` (rules are
   evaluated on ``V``, so a dropped category still drops its own children);
3. terms: the member's cell; each kept category; each interaction whose groups are present among
   the kept categories and whose flag mask is set; the count term containing ``|kept|``;
4. raw score = sum of ``coef[param_index[s, term]]`` over those terms (missing parameters add 0),
   added in the order cell, kept categories (row order), interactions, count terms (table order).

This is the CMS-HCC scoring algorithm (CMS, "Announcement of Calendar Year 2024 Medicare Advantage
Capitation Rates", Attachment VI; software V24/V28 SAS macros) written for any table-driven model.
Members are independent, so results do not depend on the number of threads.

:func:`member_terms` applies the steps to one member; the kernels that call it (:func:`score_members`,
:func:`member_components` and the calibration kernel) first rearrange the model once per call
(:func:`model_tables`) so that each member costs a few passes over its row: ``C`` and ``V``
are bit sets, so a requirement or hierarchy test is one AND per 64 categories; flags and present
groups form one bit set, so an interaction test is one subset test; each segment lists only the
interactions that have a parameter in it; the count terms are looked up by ``|kept|``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

CHUNK = 4096
# Each kernel below unpacks model_tables' arrays and makes its scratch itself, in the same lines.
# Passing the tables as one tuple into member_terms (tried) made scoring 1.6x slower: the parallel
# loop then captures a tuple and the arrays inside it are no longer hoisted out of the member loop.


@njit(cache=True, nogil=True)
def model_tables(param_index, cat_term, drops, has_req, req, cat_group_ptr, cat_group_idx, n_groups, inter_g1,
                 inter_g2, inter_mask, inter_term, count_min, count_max, count_term, max_row):
    """Rearrange the compiled model for :func:`member_terms` (once per kernel call, O(model size)).

    Returns ``(cat_param, parent_bits, req_cats, req_bits, used_flags, cat_state, inter_ptr,
    inter_need, inter_param, count_ptr, count_param)``:

    * ``cat_param[s, c] = param_index[s, cat_term[c]]``;
    * ``parent_bits[c]`` / ``req_bits[c]``: bit sets over categories (``ceil(n_categories / 64)``
      int64 words, category ``d`` is bit ``d % 64`` of word ``d // 64``) of the ``d`` with
      ``drops[d, c]`` / ``req[c, d]``; ``req_cats``: the bit set of the categories with ``has_req``;
    * the *state* bit set of a member: its flags that some interaction uses (``flags & used_flags``,
      bits ``0 .. F - 1`` where ``F`` is the bit length of ``used_flags``), then group ``g`` as bit
      ``F + g``; ``cat_state[c]`` holds the bits of the groups of category ``c``;
    * per segment ``s``, rows ``inter_ptr[s]:inter_ptr[s + 1]`` list the interactions that have a
      parameter in ``s``, in table order: ``inter_need`` (the state bits of its factors and flags;
      it applies when the member's state contains them) and ``inter_param``;
    * for segment ``s`` and kept count ``k <= max_row``, ``count_param[count_ptr[s, k]:count_ptr[s, k + 1]]``
      are the parameters of the count terms with ``count_min <= k <= count_max``, in table order.
    """
    n_seg = param_index.shape[0]
    n_cat = cat_term.shape[0]
    n_words = max(1, (n_cat + 63) // 64)
    cat_param = np.empty((n_seg, n_cat), dtype=np.int32)
    for s in range(n_seg):
        for c in range(n_cat):
            cat_param[s, c] = param_index[s, cat_term[c]]
    parent_bits = np.zeros((n_cat, n_words), dtype=np.int64)
    req_bits = np.zeros((n_cat, n_words), dtype=np.int64)
    req_cats = np.zeros(n_words, dtype=np.int64)
    for c in range(n_cat):
        if has_req[c]:
            req_cats[c >> 6] |= np.int64(1) << (c & 63)
        for d in range(n_cat):
            if drops[d, c]:
                parent_bits[c, d >> 6] |= np.int64(1) << (d & 63)
            if req[c, d]:
                req_bits[c, d >> 6] |= np.int64(1) << (d & 63)

    n_int = inter_term.shape[0]
    used_flags = np.int64(0)
    for t in range(n_int):
        used_flags |= inter_mask[t]
    first = 0
    while (used_flags >> first) != 0:
        first += 1
    n_state = max(1, (first + n_groups + 63) // 64)
    cat_state = np.zeros((n_cat, n_state), dtype=np.int64)
    for c in range(n_cat):
        for j in range(cat_group_ptr[c], cat_group_ptr[c + 1]):
            b = first + cat_group_idx[j]
            cat_state[c, b >> 6] |= np.int64(1) << (b & 63)
    inter_ptr = np.zeros(n_seg + 1, dtype=np.int64)
    inter_need = np.zeros((n_seg * n_int, n_state), dtype=np.int64)
    inter_param = np.empty(n_seg * n_int, dtype=np.int32)
    j = 0
    for s in range(n_seg):
        for t in range(n_int):
            p = param_index[s, inter_term[t]]
            if p < 0:
                continue
            inter_need[j, 0] = inter_mask[t]
            for g in (inter_g1[t], inter_g2[t]):
                if g >= 0:
                    b = first + g
                    inter_need[j, b >> 6] |= np.int64(1) << (b & 63)
            inter_param[j] = p
            j += 1
        inter_ptr[s + 1] = j

    n_cnt = count_term.shape[0]
    count_ptr = np.zeros((n_seg, max_row + 2), dtype=np.int64)
    count_param = np.empty(n_seg * (max_row + 1) * n_cnt, dtype=np.int32)
    j = 0
    for s in range(n_seg):
        for k in range(max_row + 1):
            count_ptr[s, k] = j
            for t in range(n_cnt):
                p = param_index[s, count_term[t]]
                if count_min[t] <= k and k <= count_max[t] and p >= 0:
                    count_param[j] = p
                    j += 1
        count_ptr[s, max_row + 1] = j
    return (cat_param, parent_bits, req_cats, req_bits, used_flags, cat_state, inter_ptr, inter_need, inter_param,
            count_ptr, count_param)


@njit(cache=True, nogil=True, inline="always")
def member_terms(i, segment, cell_term, flags, indptr, indices, param_index, coef, cat_param, parent_bits, req_cats,
                 req_bits, used_flags, cat_state, inter_ptr, inter_need, inter_param, count_ptr, count_param,
                 cbits, vbits, state, out):
    """Parameters of member ``i`` (steps 1-4 above) using the :func:`model_tables` arrays.

    Writes the parameter ids into ``out`` (length >= 2 + longest row + interactions + count terms)
    in the order of step 4 and returns ``(count, sum of their coefficients)``, added in that order.
    Scratch: ``cbits``, ``vbits`` (category bit sets, all zero on entry and on return) and
    ``state`` (state words after the first, which is kept in a register). Inlined into the kernels
    so that the arrays are not passed per member.
    """
    n_words = cbits.shape[0]
    n_state = state.shape[0]
    s = segment[i]
    n = 0
    total = 0.0
    p = param_index[s, cell_term[i]]
    if p >= 0:
        out[n] = p
        total += coef[p]
        n += 1
    state0 = flags[i] & used_flags
    for w in range(1, n_state):
        state[w] = 0
    start = indptr[i]
    end = indptr[i + 1]
    nk = 0
    if end > start:
        for a in range(start, end):
            c = indices[a]
            cbits[c >> 6] |= np.int64(1) << (c & 63)
        any_req = False
        for w in range(n_words):
            any_req |= (cbits[w] & req_cats[w]) != 0
        if any_req:  # V = C minus the categories whose requirement is absent from C
            for w in range(n_words):
                vbits[w] = cbits[w]
            for a in range(start, end):
                c = indices[a]
                if (req_cats[c >> 6] >> (c & 63)) & 1:
                    met = np.int64(0)
                    for w in range(n_words):
                        met |= req_bits[c, w] & cbits[w]
                    if met == 0:
                        vbits[c >> 6] &= ~(np.int64(1) << (c & 63))
            for w in range(n_words):
                cbits[w] = vbits[w]
                vbits[w] = 0
        for a in range(start, end):
            c = indices[a]
            hit = np.int64(0)
            for w in range(n_words):
                hit |= parent_bits[c, w] & cbits[w]
            if hit != 0 or (any_req and (cbits[c >> 6] >> (c & 63)) & 1 == 0):
                continue
            nk += 1
            p = cat_param[s, c]
            if p >= 0:
                out[n] = p
                total += coef[p]
                n += 1
            state0 |= cat_state[c, 0]
            for w in range(1, n_state):
                state[w] |= cat_state[c, w]
        for w in range(n_words):
            cbits[w] = 0
    for j in range(inter_ptr[s], inter_ptr[s + 1]):
        if (state0 & inter_need[j, 0]) != inter_need[j, 0]:
            continue
        ok = True
        for w in range(1, n_state):
            ok &= (state[w] & inter_need[j, w]) == inter_need[j, w]
        if ok:
            p = inter_param[j]
            out[n] = p
            total += coef[p]
            n += 1
    for j in range(count_ptr[s, nk], count_ptr[s, nk + 1]):
        p = count_param[j]
        out[n] = p
        total += coef[p]
        n += 1
    return n, total


@njit(cache=True, nogil=True, parallel=True)
def score_members(segment, cell_term, flags, indptr, indices, param_index, coef, cat_term, drops,
                  has_req, req, cat_group_ptr, cat_group_idx, n_groups, inter_g1, inter_g2, inter_mask,
                  inter_term, count_min, count_max, count_term, max_row, raw, n_params):
    """Raw score ``raw[i] = sum_p coef[p]`` over member ``i``'s parameters, and their count.

    Shapes: member arrays ``(n,)``; ``raw`` float64 ``(n,)`` and ``n_params`` int64 ``(n,)`` are
    filled in place. Chunks of ``CHUNK`` members run in parallel, each with its own scratch.
    """
    (cat_param, parent_bits, req_cats, req_bits, used_flags, cat_state, inter_ptr, inter_need, inter_param, count_ptr,
     count_param) = model_tables(param_index, cat_term, drops, has_req, req, cat_group_ptr, cat_group_idx, n_groups,
                                 inter_g1, inter_g2, inter_mask, inter_term, count_min, count_max, count_term, max_row)
    n = segment.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    width = 2 + max_row + inter_term.shape[0] + count_term.shape[0]
    for ch in prange(n_chunks):
        cbits = np.zeros(parent_bits.shape[1], dtype=np.int64)
        vbits = np.zeros(parent_bits.shape[1], dtype=np.int64)
        state = np.zeros(cat_state.shape[1], dtype=np.int64)
        out = np.zeros(width, dtype=np.int64)
        for i in range(ch * CHUNK, min(n, (ch + 1) * CHUNK)):
            k, total = member_terms(i, segment, cell_term, flags, indptr, indices, param_index, coef, cat_param,
                                    parent_bits, req_cats, req_bits, used_flags, cat_state, inter_ptr, inter_need,
                                    inter_param, count_ptr, count_param, cbits, vbits, state, out)
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
    (cat_param, parent_bits, req_cats, req_bits, used_flags, cat_state, inter_ptr, inter_need, inter_param, count_ptr,
     count_param) = model_tables(param_index, cat_term, drops, has_req, req, cat_group_ptr, cat_group_idx, n_groups,
                                 inter_g1, inter_g2, inter_mask, inter_term, count_min, count_max, count_term, max_row)
    n = segment.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    width = 2 + max_row + inter_term.shape[0] + count_term.shape[0]
    for ch in prange(n_chunks):
        cbits = np.zeros(parent_bits.shape[1], dtype=np.int64)
        vbits = np.zeros(parent_bits.shape[1], dtype=np.int64)
        state = np.zeros(cat_state.shape[1], dtype=np.int64)
        out = np.zeros(width, dtype=np.int64)
        for i in range(ch * CHUNK, min(n, (ch + 1) * CHUNK)):
            k, _ = member_terms(i, segment, cell_term, flags, indptr, indices, param_index, coef, cat_param,
                                parent_bits, req_cats, req_bits, used_flags, cat_state, inter_ptr, inter_need,
                                inter_param, count_ptr, count_param, cbits, vbits, state, out)
            base = out_indptr[i]
            for j in range(k):
                out_params[base + j] = out[j]
                out_values[base + j] = coef[out[j]]
