"""Joining table columns fast: string keys through Arrow buffers and Numba hash tables.

A :class:`Keys` indexes the distinct values of one column (members' ``patient_id``, a model's
ICD-10 codes) and finds the row of each value of another column (diagnoses' ``patient_id`` or
``code``) without building Python strings: pandas keeps ``str`` columns as Arrow arrays, whose
offset and byte buffers the kernels in :mod:`riskadjust._mapping_kernels` read directly.

Matching means exactly what ``pd.Index(a.astype(str)).get_indexer(b.astype(str))`` means
(missing matches missing); integer columns on both sides are matched as integers, which is the
same thing. :func:`per_value` applies a pandas transformation to the distinct values of a
low-cardinality column only (sex, segment, dual status...) and broadcasts the result.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from riskadjust import _mapping_kernels as K

NEEDS_PYTHON = K.NEEDS_PYTHON


def per_value(values: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``transform(values)`` computed on the distinct values only (element-wise transforms).

    Examples
    --------
    >>> per_value(pd.Series([" f", "M", " f"]), lambda s: s.str.strip().str.upper()).tolist()
    ['F', 'M', 'F']
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
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

    Examples
    --------
    >>> keys = Keys(pd.Series(["a", "b", "c"]))
    >>> keys.first_repeat(), keys.rows_of(pd.Series(["c", "x", "a"])).tolist()
    (-1, [2, -1, 0])
    """

    def __init__(self, values: pd.Series):
        self._values = values
        self._int = _is_int(values)
        if self._int:
            self._index = pd.Index(values.to_numpy())
            self._repeat = (int(np.flatnonzero(self._index.duplicated())[0])
                            if self._index.has_duplicates else -1)
        else:
            self._strings()

    def _strings(self) -> None:
        self._int = False
        self._offsets, self._data, valid = string_buffers(self._values)
        self._slots, repeat = K.build_table(self._offsets, self._data, valid)
        missing = np.flatnonzero(~valid)
        self._null_row = int(missing[0]) if missing.size else -1
        self._repeat = int(repeat) if repeat >= 0 else (int(missing[1]) if missing.size > 1 else -1)

    def first_repeat(self) -> int:
        """A row whose value an earlier row already has, or -1 when all values are distinct."""
        return self._repeat

    def rows_of(self, values: pd.Series, normalise_codes: bool = False) -> np.ndarray:
        """Row (int64) of each of ``values``, -1 when absent.

        With ``normalise_codes``, ``values`` are ICD-10 codes compared after
        :func:`riskadjust.population.normalise_codes`; values holding non-ASCII characters come
        back as ``NEEDS_PYTHON`` for the caller to normalise with Python's Unicode rules.
        """
        if self._repeat >= 0:
            raise ValueError("keys are not distinct")
        if self._int and _is_int(values) and not normalise_codes:
            return self._index.get_indexer(values.to_numpy()).astype(np.int64)
        if self._int:
            self._strings()
        offsets, data, valid = string_buffers(values)
        out = np.empty(offsets.shape[0] - 1, dtype=np.int64)
        K.lookup(offsets, data, valid, self._offsets, self._data, self._slots, self._null_row,
                 normalise_codes, out)
        return out
