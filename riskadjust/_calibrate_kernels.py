"""Numba kernel: weighted normal equations ``X'WX`` and ``X'Wy`` over the sparse 0/1 design.

Row ``i`` of the design ``X`` has a 1 in each parameter that applies to member ``i`` (found by
:func:`riskadjust._score_kernels.member_terms`), so with weight ``w_i`` and response ``y_i``::

    (X'WX)[p, q] += w_i   for every pair p, q of member i's parameters
    (X'Wy)[p]    += w_i * y_i
    count[p]     += 1

Weighted least squares (e.g. Greene, *Econometric Analysis*, 7th ed., section 9.4.1) then solves
``X'WX b = X'Wy``. Members are split into ``n_blocks`` fixed, contiguous blocks that run in
parallel, each accumulating its own partial sums (``xtx`` ``(n_blocks, P, P)``, ``xty``
``(n_blocks, P)``, ``count`` ``(n_blocks, P)``); the caller adds the blocks in block order, so the
result is bit-identical whatever the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from riskadjust._score_kernels import member_terms, model_tables


@njit(cache=True, nogil=True, parallel=True)
def normal_equations(segment, cell_term, flags, indptr, indices, param_index, coef, cat_term, drops,
                     has_req, req, cat_group_ptr, cat_group_idx, n_groups, inter_g1, inter_g2, inter_mask,
                     inter_term, count_min, count_max, count_term, max_row, weight, y, xtx, xty, count):
    """Accumulate per-block partial ``X'WX``, ``X'Wy`` and parameter counts (filled in place)."""
    (cat_param, parent_bits, req_cats, req_bits, used_flags, cat_state, inter_ptr, inter_need, inter_param, count_ptr,
     count_param) = model_tables(param_index, cat_term, drops, has_req, req, cat_group_ptr, cat_group_idx, n_groups,
                                 inter_g1, inter_g2, inter_mask, inter_term, count_min, count_max, count_term, max_row)
    n = segment.shape[0]
    n_blocks = xtx.shape[0]
    width = 2 + max_row + inter_term.shape[0] + count_term.shape[0]
    for b in prange(n_blocks):
        cbits = np.zeros(parent_bits.shape[1], dtype=np.int64)
        vbits = np.zeros(parent_bits.shape[1], dtype=np.int64)
        state = np.zeros(cat_state.shape[1], dtype=np.int64)
        out = np.zeros(width, dtype=np.int64)
        a = xtx[b]
        v = xty[b]
        c = count[b]
        for i in range(b * n // n_blocks, (b + 1) * n // n_blocks):
            k, _ = member_terms(i, segment, cell_term, flags, indptr, indices, param_index, coef, cat_param,
                                parent_bits, req_cats, req_bits, used_flags, cat_state, inter_ptr, inter_need,
                                inter_param, count_ptr, count_param, cbits, vbits, state, out)
            w = weight[i]
            wy = w * y[i]
            for j in range(k):
                p = out[j]
                v[p] += wy
                c[p] += 1
                for m in range(k):
                    a[p, out[m]] += w
