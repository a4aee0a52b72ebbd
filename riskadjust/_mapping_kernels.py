"""Numba kernels for mapping members and diagnoses: joins on Arrow strings, factorizing, the CSR.

Joins: a hash join (open-addressing index of a table's strings, plus a second index of its
strings of at most 8 bytes) and, for a strictly sorted table, a galloping merge join that leaves
rows in no useful order to the hash join. ``factorize_strings``/``factorize_ints`` find the few
distinct values of a column in one pass. ``conditions_csr`` builds the member x category CSR
from bit sets (``code_categories`` + ``pairs_to_csr``, a counting sort, for many categories).

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
UNRESOLVED = -3
GALLOP = 64
SEARCHES = 16
CURSOR_MISSES = 4
MAX_PARTS = 8
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


@njit(cache=True, nogil=True, inline="always")
def _plain_short(w, n):
    """True when the ``n``-byte string packed in ``w`` (zero above, ``n <= 8``) needs no normalising as a code.

    The unused high bytes are set to ``A`` so that only the string's own bytes are tested.
    """
    keep = (np.uint64(1) << np.uint64(8 * n)) - np.uint64(1) if n < 8 else ~np.uint64(0)
    return _plain_code(w | (~keep & (_ONES * np.uint64(0x41))))


@njit(cache=True, nogil=True, inline="always")
def _word(data, start, n):
    """The first ``min(n, 8)`` bytes of ``data[start:]`` packed little-endian (zero above), read as one word."""
    w = np.uint64(0)
    if start + 8 <= data.shape[0]:
        for k in range(8):
            w |= np.uint64(data[start + k]) << np.uint64(8 * k)
        if n < 8:
            w &= (np.uint64(1) << np.uint64(8 * n)) - np.uint64(1)
    else:
        for k in range(min(n, 8)):
            w |= np.uint64(data[start + k]) << np.uint64(8 * k)
    return w


@njit(cache=True, nogil=True)
def _key(data, start, end, normalise, key):
    """The hash key of string ``data[start:end]`` (normalised as a code when asked).

    Returns ``(length, head, hash)``: ``head`` packs the first 8 bytes (little-endian), ``hash``
    covers every byte and the length; bytes past the 8th are copied to ``key``. ``length`` is
    -1 for non-ASCII input to normalise. Strings of at most 8 bytes that need no normalising
    (clean codes, short ids) are read as one word (:func:`_word`).
    """
    n = end - start
    if n <= 8:
        w = _word(data, start, n)
        if not normalise or _plain_short(w, n):
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


@njit(cache=True, nogil=True, inline="always")
def _compare(data, start, end, t_data, t_start, t_end):
    """Shortlex order of two byte strings: -1, 0 or 1 (the shorter first, equal lengths bytewise)."""
    n = end - start
    if n != t_end - t_start:
        return -1 if n < t_end - t_start else 1
    for k in range(n):
        a = data[start + k]
        b = t_data[t_start + k]
        if a != b:
            return -1 if a < b else 1
    return 0


@njit(cache=True, nogil=True)
def strictly_sorted(offsets, data, valid):
    """True when no value is missing and each string is shortlex-greater than the one before.

    Such a table holds distinct values and can be searched without a hash index (ids written
    as increasing numbers, zero-padded or not, and sorted extracts are in this order).
    """
    n = offsets.shape[0] - 1
    for i in range(n):
        if not valid[i]:
            return False
        if i > 0 and _compare(data, offsets[i - 1], offsets[i], data, offsets[i], offsets[i + 1]) >= 0:
            return False
    return True


@njit(cache=True, nogil=True, parallel=True)
def lookup_sorted(offsets, data, valid, t_offsets, t_data, out):
    """``out[i]`` = row of string ``i`` in a strictly sorted table (:func:`strictly_sorted`), ``NOT_FOUND``
    or ``UNRESOLVED``.

    A merge join: each chunk of rows keeps a cursor at the table row last found; string ``i`` is
    compared with the cursor's row, else searched by galloping forwards (exponential then binary
    search, Bentley & Yao 1976) within ``GALLOP`` rows past it, else by binary search of the
    whole table (which moves the cursor). Rows listed in the table's order, with gaps, cost O(1)
    comparisons each. Binary searches are rationed: after ``r`` rows of a chunk at most
    ``SEARCHES + r // 32`` of them; a row that would exceed that (rows in no useful order) gives
    up the chunk: it and every later row of the chunk are ``UNRESOLVED``, left for a hash index
    (:func:`lookup` with ``resume``). Missing values are ``NOT_FOUND`` (the table has none).
    """
    n = offsets.shape[0] - 1
    m = t_offsets.shape[0] - 1
    n_chunks = (n + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        first, stop = ch * CHUNK, min(n, (ch + 1) * CHUNK)
        cur = 0
        searches = 0
        for i in range(first, stop):
            if not valid[i] or m == 0:
                out[i] = NOT_FOUND
                continue
            s, e = offsets[i], offsets[i + 1]
            c = _compare(data, s, e, t_data, t_offsets[cur], t_offsets[cur + 1])
            if c == 0:
                out[i] = cur
                continue
            lo, hi, step = cur, cur + 1, 1
            if c > 0:
                while hi < m and hi - cur <= GALLOP and _compare(data, s, e, t_data, t_offsets[hi],
                                                                 t_offsets[hi + 1]) > 0:
                    lo = hi
                    step *= 2
                    hi = lo + step
            if c < 0 or (hi - cur > GALLOP and hi < m):
                if searches >= SEARCHES + (i - first) // 32:
                    out[i:stop] = UNRESOLVED
                    break
                searches += 1
                lo, hi = -1, m
            hi = min(hi, m)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _compare(data, s, e, t_data, t_offsets[mid], t_offsets[mid + 1]) > 0:
                    lo = mid
                else:
                    hi = mid
            if hi < m and _compare(data, s, e, t_data, t_offsets[hi], t_offsets[hi + 1]) == 0:
                out[i] = hi
                cur = hi
            else:
                out[i] = NOT_FOUND
                cur = min(hi, m - 1)


@njit(cache=True, nogil=True)
def build_short(offsets, data, valid):
    """Second index of a table's strings of at most 8 bytes, keyed by (bytes as one word, length).

    Returns ``short`` uint64 (2^k, 2), 2^k >= 2 x such strings (at least 16), holding each string's
    bytes as a word and ``length + 1 + 256 * row`` (0 = empty), with open addressing and linear
    probing from ``((word ^ length) * golden) >> (64 - k)`` (Fibonacci hashing, Knuth TAOCP 6.4).
    A short string is found with no byte comparison and one cache line per probe; table strings
    longer than 8 bytes are in the main index only.
    """
    n = offsets.shape[0] - 1
    n_short = 0
    for i in range(n):
        if valid[i] and offsets[i + 1] - offsets[i] <= 8:
            n_short += 1
    bits = 4
    while (1 << bits) < 2 * n_short:
        bits += 1
    size = 1 << bits
    shift = np.uint64(64 - bits)
    short = np.zeros((size, 2), dtype=np.uint64)
    for i in range(n):
        L = offsets[i + 1] - offsets[i]
        if not valid[i] or L > 8:
            continue
        w = _word(data, offsets[i], L)
        tag = np.uint64(L + 1)
        pos = ((w ^ np.uint64(L)) * _GOLDEN) >> shift
        while short[pos, 1] != _EMPTY and not (short[pos, 0] == w and (short[pos, 1] & np.uint64(255)) == tag):
            pos = (pos + np.uint64(1)) & np.uint64(size - 1)
        if short[pos, 1] == _EMPTY:
            short[pos, 0] = w
            short[pos, 1] = tag | (np.uint64(i) << np.uint64(8))
    return short


@njit(cache=True, nogil=True, parallel=True)
def lookup(offsets, data, valid, t_offsets, t_data, t_valid, slots, short, null_row, normalise, resume, out):
    """``out[i]`` = table row equal to string ``i``, ``NOT_FOUND``, or ``NEEDS_PYTHON``.

    With ``normalise`` the string is first normalised as an ICD-10 code (module docstring).
    A missing value maps to ``null_row`` (the table's missing entry, or -1 when it has none).
    A string of at most 8 bytes that needs no normalising is found in ``short`` (the
    :func:`build_short` index of the table), any other through ``slots``.
    Without ``normalise``, each chunk keeps a cursor at the table row last found and compares the
    string with that row and the next one before hashing, so rows listed in the table's order
    (diagnoses grouped by member in members' order) rarely touch the hash index; after
    ``CURSOR_MISSES`` misses in a row the cursor is tried on every 64th row only (rows in no
    order pay no extra cache miss). With ``resume``, only rows whose ``out`` is ``UNRESOLVED``
    are looked up (the rest, from :func:`lookup_sorted`, are kept and move the cursor).
    Shapes: ``offsets`` (n + 1,), ``valid`` and ``out`` (n,); ``t_valid`` (table rows,).
    """
    n = offsets.shape[0] - 1
    m = t_offsets.shape[0] - 1
    mask = np.uint64(slots.shape[0] - 1)
    s_mask = np.uint64(short.shape[0] - 1)
    s_shift = np.uint64(64 - np.int64(np.log2(short.shape[0])))  # a power of two: log2 is exact
    n_chunks = (n + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        lo, hi = ch * CHUNK, min(n, (ch + 1) * CHUNK)
        longest = 8
        for i in range(lo, hi):
            longest = max(longest, offsets[i + 1] - offsets[i])
        key = np.empty(longest, dtype=np.uint8)
        prev_n, prev_head, prev_h = -3, np.uint64(0), np.uint64(0)
        cur = -1
        misses = 0
        for i in range(lo, hi):
            if resume and out[i] != UNRESOLVED:
                if out[i] >= 0:
                    cur = out[i]
                    misses = 0
                prev_n = -3
                continue
            if not valid[i]:
                out[i] = null_row
                prev_n = -3
                continue
            if not normalise and cur >= 0 and (misses < CURSOR_MISSES or i % 64 == 0):
                s, e = offsets[i], offsets[i + 1]
                if _compare(data, s, e, t_data, t_offsets[cur], t_offsets[cur + 1]) == 0:
                    out[i] = cur
                    misses = 0
                    continue
                if cur + 1 < m and t_valid[cur + 1] and _compare(data, s, e, t_data, t_offsets[cur + 1], t_offsets[cur + 2]) == 0:
                    cur += 1
                    out[i] = cur
                    misses = 0
                    continue
                misses += 1
            L = offsets[i + 1] - offsets[i]
            if L <= 8:
                w = _word(data, offsets[i], L)
                if not normalise or _plain_short(w, L):
                    pos = ((w ^ np.uint64(L)) * _GOLDEN) >> s_shift
                    found = NOT_FOUND
                    tag = np.uint64(L + 1)
                    while short[pos, 1] != _EMPTY:
                        if short[pos, 0] == w and (short[pos, 1] & np.uint64(255)) == tag:
                            found = np.int64(short[pos, 1] >> np.uint64(8))
                            break
                        pos = (pos + np.uint64(1)) & s_mask
                    out[i] = found
                    if found >= 0:
                        cur = found
                    prev_n = -3
                    continue
            n_key, head, h = _key(data, offsets[i], offsets[i + 1], normalise, key)
            if n_key < 0:
                out[i] = NEEDS_PYTHON
                prev_n = -3
                continue
            # Reuse of the previous row's answer: only normalised codes get here with n_key <= 8
            # (any other string of at most 8 bytes was found in ``short`` above).
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
            if found >= 0:
                cur = found


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


@njit(cache=True, nogil=True)
def factorize_strings(offsets, data, valid, max_distinct):
    """Codes of distinct strings in order of first appearance, as ``pd.factorize(use_na_sentinel=False)``.

    Returns ``codes`` int64 (n,) and ``first`` int64 (k,), the row where each distinct value
    (missing included, as one value) first appears; ``first`` is empty when there are more than
    ``max_distinct`` values (the caller then uses pandas). The distinct values are kept in a
    small open-addressing table keyed by (first 8 bytes as a word, length), hashed by one
    multiplication (Fibonacci hashing, Knuth TAOCP 6.4); strings longer than 8 bytes also compare
    their remaining bytes with the value's first row.
    """
    n = offsets.shape[0] - 1
    bits = 4
    while (1 << bits) < 4 * max_distinct:
        bits += 1
    size = 1 << bits
    shift = np.uint64(64 - bits)
    t_word = np.zeros(size, dtype=np.uint64)
    t_len = np.full(size, -1, dtype=np.int64)
    t_code = np.zeros(size, dtype=np.int64)
    codes = np.empty(n, dtype=np.int64)
    first = np.empty(max_distinct, dtype=np.int64)
    k = 0
    null_code = -1
    for i in range(n):
        if not valid[i]:
            if null_code < 0:
                if k == max_distinct:
                    return codes, first[:0]
                null_code = k
                first[k] = i
                k += 1
            codes[i] = null_code
            continue
        s = offsets[i]
        L = offsets[i + 1] - s
        w = _word(data, s, L)
        pos = ((w ^ np.uint64(L)) * _GOLDEN) >> shift
        while True:
            if t_len[pos] < 0:
                if k == max_distinct:
                    return codes, first[:0]
                t_word[pos] = w
                t_len[pos] = L
                t_code[pos] = k
                first[k] = i
                codes[i] = k
                k += 1
                break
            if t_word[pos] == w and t_len[pos] == L:
                same = True
                if L > 8:
                    f = offsets[first[t_code[pos]]]
                    for q in range(8, L):
                        if data[s + q] != data[f + q]:
                            same = False
                            break
                if same:
                    codes[i] = t_code[pos]
                    break
            pos = (pos + np.uint64(1)) & np.uint64(size - 1)
    return codes, first[:k].copy()


@njit(cache=True, nogil=True)
def factorize_ints(values, lo, width):
    """As :func:`factorize_strings` for integers in ``[lo, lo + width)``.

    A direct-address table of ``width`` slots holds each value's code (-1 = not seen); a value
    not yet seen takes the next code, so codes follow first appearance. One pass, O(n + width).
    """
    n = values.shape[0]
    code_of = np.full(width, -1, dtype=np.int64)
    codes = np.empty(n, dtype=np.int64)
    first = np.empty(min(n, width), dtype=np.int64)
    k = 0
    for i in range(n):
        v = np.int64(values[i]) - lo
        c = code_of[v]
        if c < 0:
            c = k
            code_of[v] = k
            first[k] = i
            k += 1
        codes[i] = c
    return codes, first[:k].copy()


_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)


@njit(cache=True, nogil=True, inline="always")
def _popcount(w):
    """Set bits of a 64-bit word (SWAR: Warren, Hacker's Delight, 5-1)."""
    w = w - ((w >> np.uint64(1)) & _M1)
    w = (w & _M2) + ((w >> np.uint64(2)) & _M2)
    w = (w + (w >> np.uint64(4))) & _M4
    return np.int64((w * _ONES) >> np.uint64(56))


@njit(cache=True, nogil=True, inline="always")
def _set_bits(j, rows, code_id, age, sex, map_ptr, map_cat, edit_on, edit_sex, edit_min, edit_max, edit_cat, bits):
    """Set diagnosis ``j``'s categories in its member's bit set (the rule of :func:`code_categories`)."""
    c = code_id[j]
    if c < 0:
        return
    r = rows[j]
    a = age[r]
    e_lo, e_hi = edit_min[c], edit_max[c]
    age_ok = (e_lo < 0 and e_hi < 0) or (e_hi >= 0 and a <= e_hi) or (e_lo >= 0 and a >= e_lo)
    if edit_on[c] and (edit_sex[c] < 0 or edit_sex[c] == sex[r]) and age_ok:
        k = edit_cat[c]
        if k >= 0:
            bits[r, k >> 6] |= np.uint64(1) << np.uint64(k & 63)
    else:
        for q in range(map_ptr[c], map_ptr[c + 1]):
            k = map_cat[q]
            bits[r, k >> 6] |= np.uint64(1) << np.uint64(k & 63)


@njit(cache=True, nogil=True)
def conditions_csr(rows, code_id, age, sex, n, map_ptr, map_cat, edit_on, edit_sex, edit_min, edit_max,
                   edit_cat, n_cats, n_parts):
    """CSR of each member's categories from diagnoses: ``pairs_to_csr(*code_categories(...), n)``.

    Each member's categories are gathered as a bit set (:func:`set_condition_bits`), so the CSR rows
    come out sorted and without repeats with no sort (:func:`bits_to_csr`). Arguments as
    :func:`code_categories`; ``n`` members, ``n_cats`` categories, ``n_parts`` workers. Returns
    ``indptr`` int64 (n + 1,) and ``indices`` int32 (nnz,).
    """
    bits = np.zeros((n, max((n_cats + 63) // 64, 1)), dtype=np.uint64)
    set_condition_bits(rows, code_id, age, sex, map_ptr, map_cat, edit_on, edit_sex, edit_min, edit_max, edit_cat,
                       bits, n_parts)
    return bits_to_csr(bits)


@njit(cache=True, nogil=True, parallel=True)
def set_condition_bits(rows, code_id, age, sex, map_ptr, map_cat, edit_on, edit_sex, edit_min, edit_max, edit_cat,
                       bits, n_parts):
    """Set each diagnosis's categories in its member's bit set ``bits`` uint64 (n, words), in place.

    Bit ``c % 64`` of word ``c // 64`` of row ``r`` is category ``c`` of member ``r`` (the rule of
    :func:`code_categories`). The members are cut into ``min(n_parts, MAX_PARTS)`` ranges; the
    worker of each range reads every diagnosis and sets bits for its own members only (no word has
    two writers; ``MAX_PARTS`` bounds the repeated reading at ``MAX_PARTS`` x m). Setting bits
    commutes, so the result does not depend on ``n_parts`` or on how diagnoses are split into calls.
    """
    n = bits.shape[0]
    m = rows.shape[0]
    n_parts = max(1, min(n_parts, MAX_PARTS, n))
    per = (n + n_parts - 1) // n_parts
    for part in prange(n_parts):
        lo, hi = part * per, min(n, (part + 1) * per)
        for j in range(m):
            r = rows[j]
            if lo <= r < hi:
                _set_bits(j, rows, code_id, age, sex, map_ptr, map_cat, edit_on, edit_sex, edit_min, edit_max,
                          edit_cat, bits)


@njit(cache=True, nogil=True, parallel=True)
def bits_to_csr(bits):
    """CSR ``indptr`` int64 (n + 1,), ``indices`` int32 (nnz,) of the bit sets ``bits`` uint64 (n, words).

    The set bits are counted (:func:`_popcount`) and written out lowest first, in parallel over
    chunks of members.
    """
    n, n_words = bits.shape
    count = np.zeros(n + 1, dtype=np.int64)
    n_chunks = (n + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        for i in range(ch * CHUNK, min(n, (ch + 1) * CHUNK)):
            t = 0
            for w in range(n_words):
                t += _popcount(bits[i, w])
            count[i + 1] = t
    for i in range(n):
        count[i + 1] += count[i]
    indices = np.empty(count[n], dtype=np.int32)
    for ch in prange(n_chunks):
        for i in range(ch * CHUNK, min(n, (ch + 1) * CHUNK)):
            o = count[i]
            for w in range(n_words):
                b = bits[i, w]
                while b != np.uint64(0):
                    low = b & (~b + np.uint64(1))
                    indices[o] = np.int32(64 * w + _popcount(low - np.uint64(1)))
                    o += 1
                    b ^= low
    return count, indices
