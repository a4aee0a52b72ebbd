"""Numba kernels: hash joins on Arrow string buffers and the member x category CSR by counting sort.

Strings arrive as Arrow buffers: ``offsets`` (int32 or int64, ``(n + 1,)``) and ``data`` (uint8
UTF-8 bytes); string ``i`` is ``data[offsets[i]:offsets[i + 1]]``; ``valid`` (bool ``(n,)``) is
False for missing values. A *table* is a set of distinct strings held the same way plus an
open-addressing hash index (linear probing; power-of-two size >= 2 x table rows; 64-bit hash of
the bytes packed 8 at a time, mixed with the SplitMix64 finaliser).

Diagnosis codes are compared as :func:`riskadjust.population.normalise_codes` writes them:
``strip(upper(s.replace(".", "")))``. For ASCII that is: drop ``.``, upper-case ``a-z``, trim the
characters Python's ``str.strip`` removes (``\\t\\n\\v\\f\\r``, ``\\x1c-\\x1f`` and space). A
string with any non-ASCII byte is reported as ``NEEDS_PYTHON`` so the caller normalises it with
Python's own Unicode rules; the kernels never guess.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

NOT_FOUND = -1
NEEDS_PYTHON = -2
CHUNK = 16384
_EMPTY = np.uint64(0)


@njit(cache=True, nogil=True, inline="always")
def _is_space(b):
    return b == 32 or (9 <= b <= 13) or (28 <= b <= 31)


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    """SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA 2014)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_ONES = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True, inline="always")
def _plain_code(w):
    """True when no byte of ``w`` is below ``!``, a ``.``, lower case or non-ASCII (SWAR tests)."""
    below = (w - _ONES * np.uint64(0x21)) & ~w
    dot = w ^ (_ONES * np.uint64(0x2E))
    dot = (dot - _ONES) & ~dot
    high = (w + _ONES * np.uint64(0x1F)) | w
    return ((below | dot | high) & _HIGH) == np.uint64(0)


@njit(cache=True, nogil=True)
def _key(data, start, end, normalise, key):
    """The hash key of string ``data[start:end]`` (normalised as a code when asked).

    Returns ``(length, head, hash)``: ``head`` packs the first 8 bytes (little-endian), ``hash``
    covers every byte and the length; bytes past the 8th are copied to ``key``. ``length`` is
    -1 for non-ASCII input to normalise. Strings of at most 8 bytes that need no normalising
    (clean codes, short ids) are read as one word.
    """
    n = end - start
    if n <= 8 and start + 8 <= data.shape[0]:
        w = np.uint64(0)
        for k in range(8):
            w |= np.uint64(data[start + k]) << np.uint64(8 * k)
        keep = (np.uint64(1) << np.uint64(8 * n)) - np.uint64(1) if n < 8 else ~np.uint64(0)
        w &= keep
        if not normalise or _plain_code(w | (~keep & (_ONES * np.uint64(0x41)))):
            return n, w, _mix(w ^ (np.uint64(n) * _GOLDEN))
    if normalise:
        while start < end and (data[start] == 46 or _is_space(data[start])):
            start += 1
        while end > start and (data[end - 1] == 46 or _is_space(data[end - 1])):
            end -= 1
    n = 0
    head = np.uint64(0)
    for k in range(start, end):
        b = data[k]
        if normalise:
            if b >= 128:
                return -1, head, head
            if b == 46:
                continue
            if 97 <= b <= 122:
                b -= 32
        key[n] = b
        if n < 8:
            head |= np.uint64(b) << np.uint64(8 * n)
        n += 1
    h = _mix(head ^ (np.uint64(n) * _GOLDEN))
    word = np.uint64(0)
    for k in range(8, n):
        word |= np.uint64(key[k]) << np.uint64(8 * (k % 8))
        if k % 8 == 7 or k == n - 1:
            h = _mix(h ^ word)
            word = np.uint64(0)
    return n, head, h


@njit(cache=True, nogil=True)
def build_table(offsets, data, valid):
    """Index distinct strings: returns ``(slots, first_dup)``.

    ``slots`` uint64 (2^k, 4) holds ``row + 1`` (0 = empty), hash, head and length of each
    string (see :func:`_key`), so most probes touch one cache line; ``first_dup`` is a row
    that repeats an earlier row (-1 when all are distinct). Missing values are not indexed.
    """
    n = offsets.shape[0] - 1
    size = 16
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    slots = np.zeros((size, 4), dtype=np.uint64)
    longest = 0
    for i in range(n):
        longest = max(longest, offsets[i + 1] - offsets[i])
    key = np.empty(longest, dtype=np.uint8)
    for i in range(n):
        if not valid[i]:
            continue
        n_key, head, h = _key(data, offsets[i], offsets[i + 1], False, key)
        pos = h & mask
        while True:
            j = slots[pos, 0]
            if j == _EMPTY:
                slots[pos, 0] = np.uint64(i + 1)
                slots[pos, 1] = h
                slots[pos, 2] = head
                slots[pos, 3] = np.uint64(n_key)
                break
            if _same(slots, pos, key, n_key, head, h, offsets, data):
                return slots, np.int64(i)
            pos = (pos + np.uint64(1)) & mask
    return slots, np.int64(-1)


@njit(cache=True, nogil=True, inline="always")
def _same(slots, pos, key, n_key, head, h, t_offsets, t_data):
    if slots[pos, 1] != h or slots[pos, 2] != head or slots[pos, 3] != np.uint64(n_key):
        return False
    base = t_offsets[np.int64(slots[pos, 0]) - 1]
    for k in range(8, n_key):
        if t_data[base + k] != key[k]:
            return False
    return True


@njit(cache=True, nogil=True, parallel=True)
def lookup(offsets, data, valid, t_offsets, t_data, slots, null_row, normalise, out):
    """``out[i]`` = table row equal to string ``i``, ``NOT_FOUND``, or ``NEEDS_PYTHON``.

    With ``normalise`` the string is first normalised as an ICD-10 code (module docstring).
    A missing value maps to ``null_row`` (the table's missing entry, or -1 when it has none).
    A string equal to the one before it reuses its answer (tables sorted by patient are common).
    Shapes: ``offsets`` (n + 1,), ``valid`` and ``out`` (n,).
    """
    n = offsets.shape[0] - 1
    mask = np.uint64(slots.shape[0] - 1)
    n_chunks = (n + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        lo, hi = ch * CHUNK, min(n, (ch + 1) * CHUNK)
        longest = 8
        for i in range(lo, hi):
            longest = max(longest, offsets[i + 1] - offsets[i])
        key = np.empty(longest, dtype=np.uint8)
        prev_n, prev_head, prev_h = -3, np.uint64(0), np.uint64(0)
        for i in range(lo, hi):
            if not valid[i]:
                out[i] = null_row
                prev_n = -3
                continue
            n_key, head, h = _key(data, offsets[i], offsets[i + 1], normalise, key)
            if n_key < 0:
                out[i] = NEEDS_PYTHON
                prev_n = -3
                continue
            if n_key == prev_n and n_key <= 8 and head == prev_head and h == prev_h:
                out[i] = out[i - 1]
                continue
            prev_n, prev_head, prev_h = n_key, head, h
            pos = h & mask
            found = NOT_FOUND
            while slots[pos, 0] != _EMPTY:
                if _same(slots, pos, key, n_key, head, h, t_offsets, t_data):
                    found = np.int64(slots[pos, 0]) - 1
                    break
                pos = (pos + np.uint64(1)) & mask
            out[i] = found


@njit(cache=True, nogil=True)
def code_categories(rows, code_id, age, sex, map_ptr, map_cat, edit_on, edit_sex, edit_min, edit_max,
                    edit_cat):
    """(member row, category) pairs of each mapped diagnosis, after the model's age/sex edits.

    Diagnosis ``j`` (member ``rows[j]``, code ``code_id[j]``, -1 = unmapped) yields the code's
    categories ``map_cat[map_ptr[c]:map_ptr[c + 1]]`` unless an edit fires: the code has an edit
    (``edit_on``), the member's sex matches ``edit_sex`` (-1 = any) and the age condition holds
    (no bounds; or ``age <= edit_max``; or ``age >= edit_min``; -1 = no bound), as in the CMS
    ``ra_dx_edits`` table. A fired edit yields ``edit_cat`` instead (-1 = drop the code).
    Returns ``out_rows`` int64 and ``out_cats`` int32, both (n_pairs,).
    """
    n = rows.shape[0]
    override = np.full(n, -2, dtype=np.int32)
    count = np.zeros(n + 1, dtype=np.int64)
    for j in range(n):
        c = code_id[j]
        if c < 0:
            continue
        r = rows[j]
        lo, hi = edit_min[c], edit_max[c]
        age_ok = (lo < 0 and hi < 0) or (hi >= 0 and age[r] <= hi) or (lo >= 0 and age[r] >= lo)
        if edit_on[c] and (edit_sex[c] < 0 or edit_sex[c] == sex[r]) and age_ok:
            override[j] = edit_cat[c]
            count[j + 1] = 1 if edit_cat[c] >= 0 else 0
        else:
            count[j + 1] = map_ptr[c + 1] - map_ptr[c]
    for j in range(n):
        count[j + 1] += count[j]
    out_rows = np.empty(count[n], dtype=np.int64)
    out_cats = np.empty(count[n], dtype=np.int32)
    for j in range(n):
        k = count[j]
        if count[j + 1] == k:
            continue
        if override[j] >= 0:
            out_rows[k] = rows[j]
            out_cats[k] = override[j]
            continue
        c = code_id[j]
        for m in range(map_ptr[c], map_ptr[c + 1]):
            out_rows[k] = rows[j]
            out_cats[k] = map_cat[m]
            k += 1
    return out_rows, out_cats


@njit(cache=True, nogil=True)
def pairs_to_csr(rows, cats, n):
    """CSR of the 0/1 matrix with a one at each (rows[j], cats[j]): sorted, unique column indices.

    Counting sort by row, then insertion sort and de-duplication inside each (short) row.
    Returns ``indptr`` int64 (n + 1,) and ``indices`` int32 (nnz,).
    """
    m = rows.shape[0]
    start = np.zeros(n + 1, dtype=np.int64)
    for j in range(m):
        start[rows[j] + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    fill = start[:-1].copy()
    buf = np.empty(m, dtype=np.int32)
    for j in range(m):
        r = rows[j]
        buf[fill[r]] = cats[j]
        fill[r] += 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    w = 0
    for i in range(n):
        s, e = start[i], start[i + 1]
        for a in range(s + 1, e):
            v = buf[a]
            b = a - 1
            while b >= s and buf[b] > v:
                buf[b + 1] = buf[b]
                b -= 1
            buf[b + 1] = v
        for a in range(s, e):
            if a == s or buf[a] != buf[a - 1]:
                buf[w] = buf[a]
                w += 1
        indptr[i + 1] = w
    return indptr, buf[:w].copy()
