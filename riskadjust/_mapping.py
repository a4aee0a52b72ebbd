"""Joining table columns fast: string keys through Arrow buffers and Numba hash tables.

A :class:`Keys` indexes the distinct values of one column (members' ``patient_id``, a model's
ICD-10 codes) and finds the row of each value of another column (diagnoses' ``patient_id`` or
``code``) without building Python strings: pandas keeps ``str`` columns as Arrow arrays, whose
offset and byte buffers the kernels in :mod:`riskadjust._mapping_kernels` read directly.

Matching means exactly what ``pd.Index(a.astype(str)).get_indexer(b.astype(str))`` means
(missing matches missing); integer columns on both sides are matched as integers, which is the
same thing. A table whose strings are strictly increasing (shortlex: shorter first, then
bytewise; e.g. ids that count up) needs no hash index: it is searched by a galloping merge join.
:func:`per_value` applies a pandas transformation to the distinct values of a low-cardinality
column only (sex, segment, dual status...) and broadcasts the result; :func:`factorize` finds
those values in one Numba pass for Arrow strings and small integers. :class:`CodeTable` is a
model's ICD-10 side as kernel arrays, built once per model (``RiskModel.dx_table``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from riskadjust import _mapping_kernels as K

NEEDS_PYTHON = K.NEEDS_PYTHON


MAX_DISTINCT = 1024


def factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, use_na_sentinel=False)``: codes (int64) and distinct values in order of appearance.

    Arrow-backed strings with at most ``MAX_DISTINCT`` distinct values and signed (or narrower
    than 64-bit unsigned) integers spanning fewer than 2^16 values take one Numba pass
    (:func:`riskadjust._mapping_kernels.factorize_strings`, ``factorize_ints``); other columns,
    uint64 included (its values may not fit int64), go to pandas.

    Examples
    --------
    >>> codes, uniques = factorize(pd.Series(["b", "a", "b", None], dtype="str"))
    >>> codes.tolist(), uniques.tolist()
    ([0, 1, 0, 2], ['b', 'a', nan])
    """
    first = None
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow" and len(values):
        codes, first = K.factorize_strings(*string_buffers(values), MAX_DISTINCT)
        first = first if first.size else None
    elif _is_int(values) and len(values) and (values.dtype.kind == "i" or values.dtype.itemsize < 8):
        v = values.to_numpy()
        lo, hi = int(v.min()), int(v.max())
        if hi - lo < 1 << 16:
            codes, first = K.factorize_ints(v, lo, hi - lo + 1)
    if first is None:
        return pd.factorize(values, use_na_sentinel=False)
    return codes, pd.Index(values.array[first])


def per_value(values: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``transform(values)`` computed on the distinct values only (element-wise transforms).

    Examples
    --------
    >>> per_value(pd.Series([" f", "M", " f"]), lambda s: s.str.strip().str.upper()).tolist()
    ['F', 'M', 'F']
    """
    codes, uniques = factorize(values)
    return np.asarray(transform(pd.Series(uniques)))[codes]


def string_buffers(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``values.astype(str)`` as Arrow buffers: offsets int64 (n + 1,), bytes uint8, valid bool (n,)."""
    if not isinstance(values.dtype, pd.StringDtype):
        values = values.astype(str)
    arr = pa.array(values.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    n = len(arr)
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[arr.offset: arr.offset + n + 1]
    data = np.zeros(1, np.uint8) if buffers[2] is None else np.frombuffer(buffers[2], dtype=np.uint8)
    if arr.null_count:
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
    else:
        valid = np.ones(n, dtype=np.bool_)
    return offsets, data, valid


def _is_int(values) -> bool:
    return isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu"


class Keys:
    """The distinct values of one column, to find the row of each value of another column.

    Indexes are built when first needed; with ``shared=True`` every index is built at once, so a
    ``Keys`` used by many calls or threads (a model's codes) is never changed after construction.

    Examples
    --------
    >>> keys = Keys(pd.Series(["a", "b", "c"]))
    >>> keys.first_repeat(), keys.rows_of(pd.Series(["c", "x", "a"])).tolist()
    (-1, [2, -1, 0])
    """

    def __init__(self, values: pd.Series, shared: bool = False):
        self._values = values
        self._int = _is_int(values)
        self._offsets = self._slots = self._short = None
        if self._int:
            self._index = pd.Index(values.to_numpy())
            self._repeat = (int(np.flatnonzero(self._index.duplicated())[0])
                            if self._index.has_duplicates else -1)
        else:
            self._strings()
        if shared:
            if self._offsets is None:
                self._strings()
            self._hash_indexes()

    def _strings(self) -> None:
        """The values as Arrow buffers; the hash index too unless they are strictly sorted."""
        offsets, data, valid = string_buffers(self._values)
        self._data, self._valid = data, valid
        self._sorted = bool(K.strictly_sorted(offsets, data, valid))
        if self._sorted:
            self._null_row = -1
            if not self._int:
                self._repeat = -1
        else:
            self._slots, repeat = K.build_table(offsets, data, valid)
            missing = np.flatnonzero(~valid)
            self._null_row = int(missing[0]) if missing.size else -1
            if not self._int:
                self._repeat = int(repeat) if repeat >= 0 else (int(missing[1]) if missing.size > 1 else -1)
        self._offsets = offsets  # set last: the string form is complete once this is not None

    def _hash_indexes(self) -> None:
        """Build the hash indexes (:func:`~riskadjust._mapping_kernels.build_table`, ``build_short``) if not yet built."""
        if self._slots is None:
            self._slots, _ = K.build_table(self._offsets, self._data, self._valid)
        if self._short is None:
            self._short = K.build_short(self._offsets, self._data, self._valid)

    def first_repeat(self) -> int:
        """A row whose value an earlier row already has, or -1 when all values are distinct."""
        return self._repeat

    def rows_of(self, values: pd.Series, normalise_codes: bool = False) -> np.ndarray:
        """Row (int64) of each of ``values``, -1 when absent.

        With ``normalise_codes``, ``values`` are ICD-10 codes compared after
        :func:`riskadjust.population.normalise_codes`; values holding non-ASCII characters come
        back as ``NEEDS_PYTHON`` for the caller to normalise with Python's Unicode rules.
        A strictly sorted table is first searched by merge join
        (:func:`~riskadjust._mapping_kernels.lookup_sorted`); the rows it leaves, and every row
        for any other table, go through the hash indexes.
        """
        if self._repeat >= 0:
            raise ValueError("keys are not distinct")
        if self._int and _is_int(values) and not normalise_codes:
            return self._index.get_indexer(values.to_numpy()).astype(np.int64)
        if self._offsets is None:
            self._strings()
        offsets, data, valid = string_buffers(values)
        out = np.empty(offsets.shape[0] - 1, dtype=np.int64)
        resume = self._sorted and not normalise_codes
        if resume:
            K.lookup_sorted(offsets, data, valid, self._offsets, self._data, out)
            if not np.any(out == K.UNRESOLVED):
                return out
        self._hash_indexes()
        K.lookup(offsets, data, valid, self._offsets, self._data, self._valid, self._slots, self._short,
                 self._null_row, normalise_codes, resume, out)
        return out


class CodeTable:
    """A model's ICD-10 codes and what they map to, as arrays for the mapping kernels.

    ``names`` (Index) holds the distinct codes of ``dx_map`` and ``keys`` finds them;
    ``map_ptr``/``map_cat`` list code ``c``'s categories as ``map_cat[map_ptr[c]:map_ptr[c + 1]]``;
    ``edits`` is ``(has, sex, age_min, age_max, category)`` per code as
    :func:`riskadjust._mapping_kernels.code_categories` takes them (-1 = any sex, no bound or
    drop the code). Built once per model as ``RiskModel.dx_table``.

    Examples
    --------
    >>> from riskadjust.synthetic import home_model
    >>> t = CodeTable(home_model())
    >>> int(t.map_ptr[-1]) == len(home_model().dx_map)
    True
    """

    def __init__(self, model):
        cat_index = pd.Index(model.category_names)
        dx_map = model.dx_map
        self.names = pd.Index(pd.unique(dx_map["code"]))
        self.keys = Keys(pd.Series(self.names, dtype=str), shared=True)
        map_code = self.names.get_indexer(dx_map["code"])
        order = np.argsort(map_code, kind="stable")
        self.map_cat = cat_index.get_indexer(dx_map["category"])[order].astype(np.int32)
        self.map_ptr = np.zeros(len(self.names) + 1, dtype=np.int64)
        np.cumsum(np.bincount(map_code, minlength=len(self.names)), out=self.map_ptr[1:])
        self.edits = _edits(model, self.names, cat_index)


def _edits(model, code_names, cat_index):
    """Per code: has an edit, its sex (-1 any), age_min and age_max (-1 none), override category (-1 drop)."""
    n_codes = len(code_names)
    e = model.dx_edits
    has = np.zeros(n_codes, dtype=np.bool_)
    e_sex = np.full(n_codes, -1, dtype=np.int64)
    e_min = np.full(n_codes, -1, dtype=np.int64)
    e_max = np.full(n_codes, -1, dtype=np.int64)
    e_cat = np.full(n_codes, -1, dtype=np.int32)
    idx = code_names.get_indexer(e["code"])
    ok = idx >= 0
    idx = idx[ok]
    has[idx] = True
    e_sex[idx] = e["sex"][ok].map({"": -1, "F": 0, "M": 1}).to_numpy(np.int64)
    e_min[idx] = pd.to_numeric(e["age_min"][ok].replace("", np.nan)).fillna(-1).to_numpy(np.int64)
    e_max[idx] = pd.to_numeric(e["age_max"][ok].replace("", np.nan)).fillna(-1).to_numpy(np.int64)
    over = (e["action"][ok] == "override").to_numpy()
    e_cat[idx[over]] = cat_index.get_indexer(e["category"][ok][over])
    return has, e_sex, e_min, e_max, e_cat
