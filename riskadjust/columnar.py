"""CMS-HCC populations from columnar tables (Parquet files, Arrow tables), streamed, at national scale.

The same :class:`~riskadjust.population.Population` as :func:`riskadjust.cms.cms_population` on
the same rows, without a Python string per row:

* **Codes** are read as Arrow dictionaries (Parquet keeps them dictionary-encoded): each batch's
  dictionary (a few thousand distinct ICD-10 codes) is mapped through the model once
  (``RiskModel.dx_table``), and the rows take their code by an integer gather.
* **Members' enrollment fields** (age, sex, dual status, OREC, CREC, flags) take few distinct
  combinations (*profiles*): each member gets a profile number, and
  :func:`~riskadjust.cms.cms_population` runs on the distinct profiles only, so the segments, cells,
  flags and input checks are exactly those of the pandas path; an error found on a profile names the
  first member row holding it.
* **Member ids** join the diagnoses through :class:`riskadjust._mapping.Keys` (a merge join when
  members are sorted, e.g. ids that count up, else a hash index), or, for integer ids spanning a
  dense range, a direct-address table. A dictionary-encoded id column is joined by its dictionary;
  Parquet ids are read plain (a row group's ids overflow Parquet's dictionary page, and rebuilding
  the dictionary costs more than the merge join).
* **Diagnoses stream** in record batches: each batch sets bits in a member x category bit set
  (:func:`riskadjust._mapping_kernels.set_condition_bits`), which becomes the CSR at the end; a
  diagnosis row is never kept after its batch. Memory grows with members, not diagnoses: the
  member ids, a profile number and the bit set while building, then the population's arrays
  (60 million members with 288 million diagnosis rows peaked at 7.7 GB resident).

Rows are named by their 0-based position in the file or table in error messages; an identifier value
is never quoted.

Examples
--------
>>> import pyarrow as pa
>>> from riskadjust import score
>>> from riskadjust.cms import load_cms_hcc
>>> m = load_cms_hcc("V28", normalisation=1.015, coding_intensity=0.059)
>>> members = pa.table({"patient_id": ["x"], "age": [76], "sex": ["F"], "dual_elgbl_cd": ["03"], "orec": ["1"]})
>>> dx = pa.table({"patient_id": ["x", "x"], "code": ["E083293", "E139"]})
>>> r = score(m, population_from_arrow(m, members, dx))
>>> round(float(r.raw[0]), 3), round(float(r.payment[0]), 3)
(0.754, 0.699)
"""

from __future__ import annotations

import os
import queue
import re
import threading

import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from _kit.validate import require_columns
from riskadjust import _mapping_kernels as MK
from riskadjust._mapping import NEEDS_PYTHON, Keys, factorize
from riskadjust.cms import _esrd, cms_population
from riskadjust.errors import PopulationError, row_error
from riskadjust.model import RiskModel
from riskadjust.population import Population, normalise_codes

ENROLLMENT = ("age", "sex", "dual_elgbl_cd", "orec", "crec", "lti", "new_enrollee", "snp")
# rows per batch: 4M rather than 1M means a quarter of the parallel-region starts, which cost CPU on a busy
# 2-core machine (6M members from Parquet: 5.4-6.7 against 7.4 CPU seconds)
BATCH_ROWS = 1 << 22
FIELD_BITS = 8
_ROW = re.compile(r"^(.*) \(row (\d+)\)$", re.S)


def population_from_parquet(model: RiskModel, members: str | os.PathLike, diagnoses: str | os.PathLike | None = None,
                            *, batch_rows: int = BATCH_ROWS) -> Population:
    """:func:`~riskadjust.cms.cms_population` from a members and a diagnoses Parquet file, streamed.

    Parameters
    ----------
    model : RiskModel
        A CMS-HCC model (:func:`riskadjust.cms.load_cms_hcc`).
    members : path
        ``patient_id`` (text or integer), ``age``, ``sex`` and optionally ``dual_elgbl_cd, orec, crec,
        lti, new_enrollee, snp`` (as :func:`riskadjust.cms.cms_members`); one row per person.
    diagnoses : path, optional
        ``patient_id, code``; any order (grouped or sorted by member is fastest).
    batch_rows : int
        Rows read per record batch (memory holds one batch of each file at a time).

    Returns
    -------
    Population
        Members in the file's row order.

    Examples
    --------
    >>> import pyarrow as pa, pyarrow.parquet as pq, tempfile, pathlib
    >>> from riskadjust.cms import load_cms_hcc
    >>> m = load_cms_hcc("V28")
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pq.write_table(pa.table({"patient_id": ["a", "b"], "age": [70, 80], "sex": ["F", "M"]}), d / "m.parquet")
    >>> pq.write_table(pa.table({"patient_id": ["b"], "code": ["E119"]}), d / "d.parquet")
    >>> population_from_parquet(m, d / "m.parquet", d / "d.parquet").n_conditions.tolist()
    [0, 1]
    """
    source = (str(members), str(diagnoses))
    m_file = _open(members, source[0], ENROLLMENT[1:])
    m_batches = _prefetch(m_file.iter_batches(batch_size=batch_rows, columns=_present(m_file.schema_arrow, source[0]),
                                              use_threads=False), source[0])
    if diagnoses is None:
        return _build(model, m_batches, m_file.metadata.num_rows, None, 0, source)
    d_file = _open(diagnoses, source[1], ("code",))
    require_columns(pd.DataFrame(columns=d_file.schema_arrow.names), ["patient_id", "code"], source[1],
                    PopulationError)
    d_batches = _prefetch(d_file.iter_batches(batch_size=batch_rows, columns=["patient_id", "code"], use_threads=False),
                          source[1])
    return _build(model, m_batches, m_file.metadata.num_rows, d_batches, d_file.metadata.num_rows, source)


def population_from_arrow(model: RiskModel, members: pa.Table, diagnoses: pa.Table | None = None, *,
                          source: tuple[str, str] = ("members", "diagnoses"),
                          batch_rows: int = BATCH_ROWS) -> Population:
    """:func:`~riskadjust.cms.cms_population` from Arrow tables (columns as :func:`population_from_parquet`).

    Text columns may be plain or dictionary-encoded; plain code columns are dictionary-encoded one
    batch at a time. ``source`` names the two tables in error messages.
    """
    _present(members.schema, source[0])
    cols = [c for c in ("patient_id",) + ENROLLMENT if c in members.schema.names]
    m_batches = members.select(cols).to_batches(max_chunksize=batch_rows)
    if diagnoses is None:
        return _build(model, m_batches, members.num_rows, None, 0, source)
    require_columns(pd.DataFrame(columns=diagnoses.schema.names), ["patient_id", "code"], source[1], PopulationError)
    d_batches = diagnoses.select(["patient_id", "code"]).to_batches(max_chunksize=batch_rows)
    return _build(model, m_batches, members.num_rows, d_batches, diagnoses.num_rows, source)


def _open(path, src: str, text_columns) -> pq.ParquetFile:
    """The Parquet file with its text columns read as dictionaries (named error if it cannot be read)."""
    try:
        schema = pq.read_schema(path)
        text = [c for c in text_columns if c in schema.names
                and (pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type))]
        return pq.ParquetFile(path, read_dictionary=text)
    except (OSError, pa.ArrowException) as exc:
        raise PopulationError(f"cannot be read as Parquet ({str(exc).splitlines()[0]})", file=src) from exc


def _prefetch(batches, src: str, depth: int = 2):
    """The record batches of ``batches``, read ahead by a background thread (``depth`` batches).

    Parquet decoding releases the GIL, so the next batch is read while the kernels work on this one
    (one reading thread: decoding with several threads costs more CPU for little gain here). A read
    error is raised in the caller as a :class:`PopulationError` naming the file.
    """
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        """Queue ``item`` unless the caller has stopped reading; False once it has."""
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read():
        try:
            for batch in batches:
                if not offer(batch):
                    return
            offer(None)
        except (OSError, pa.ArrowException) as exc:
            offer(PopulationError(f"cannot be read as Parquet ({str(exc).splitlines()[0]})", file=src))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, PopulationError):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _present(schema: pa.Schema, src: str) -> list[str]:
    require_columns(pd.DataFrame(columns=schema.names), ["patient_id", "age", "sex"], src, PopulationError)
    return [c for c in ("patient_id",) + ENROLLMENT if c in schema.names]


# ------------------------------------------------------------------ members
class _Profiles:
    """Distinct combinations of the enrollment fields, numbered in order of first appearance.

    Each field's distinct values get small numbers (``values[column]``); a member's profile key packs
    them ``FIELD_BITS`` bits per field; ``keys`` (Index) numbers the distinct keys and ``first``
    records the first member row of each.
    """

    def __init__(self, columns: list[str], src: str):
        self.columns, self.src = columns, src
        self.values = {c: {} for c in columns}
        self.keys = pd.Index([], dtype=np.int64)
        self.first: list[int] = []

    def assign(self, batch: pa.RecordBatch, offset: int) -> np.ndarray:
        """Profile number (int32) of each row of ``batch``, whose first row is member row ``offset``."""
        key = np.zeros(batch.num_rows, dtype=np.int64)
        for k, name in enumerate(self.columns):
            key |= self._field(batch.column(name), name, offset) << np.int64(FIELD_BITS * k)
        local, uniques = pd.factorize(key)
        known = self.keys.get_indexer(uniques)
        new = np.flatnonzero(known < 0)
        if new.size:
            known[new] = len(self.keys) + np.arange(new.size)
            self.keys = self.keys.append(pd.Index(uniques[new]))
            # pd.factorize numbers values in order of first appearance: a first row is where the running maximum grows
            first_local = np.flatnonzero(np.diff(np.maximum.accumulate(local), prepend=-1) > 0)
            self.first += (offset + first_local[new]).tolist()
        return known[local].astype(np.int32)

    def _field(self, col: pa.Array, name: str, offset: int) -> np.ndarray:
        """Numbers (int64) of the column's values; ages are floored first (as the pandas path does)."""
        seen = self.values[name]
        if pa.types.is_dictionary(col.type):
            codes = col.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
            uniques = col.dictionary.to_pylist() + [None]
        else:
            values = col.to_pandas()
            if name == "age" and values.dtype.kind == "f":
                values = np.floor(values)
            codes, uniques = factorize(values)
            uniques = uniques.tolist()
        ids = np.empty(len(uniques), dtype=np.int64)
        for i, v in enumerate(uniques):
            v = None if v is None or (isinstance(v, float) and np.isnan(v)) else v
            if v not in seen:
                if len(seen) == 1 << FIELD_BITS:
                    row = offset + int(np.flatnonzero(codes == i)[0])
                    raise row_error(PopulationError, f"more than {1 << FIELD_BITS} distinct values; expected a "
                                    "code or number from a short list (see riskadjust.cms.cms_members)",
                                    self.src, row, name)
                seen[v] = len(seen)
            ids[i] = seen[v]
        return ids[codes]

    def frame(self) -> pd.DataFrame:
        """One row per profile with the fields' values and a stand-in ``patient_id`` (the profile number)."""
        keys = self.keys.to_numpy()
        out = {"patient_id": np.arange(len(keys))}
        for k, name in enumerate(self.columns):
            values = np.empty(len(self.values[name]), dtype=object)
            for v, i in self.values[name].items():
                values[i] = v
            field = (keys >> np.int64(FIELD_BITS * k)) & np.int64((1 << FIELD_BITS) - 1)
            column = values[field]
            numeric = all(isinstance(v, (int, float, np.integer, np.floating)) for v in values)
            out[name] = column.astype(np.float64 if any(isinstance(v, (float, np.floating)) for v in values)
                                      else np.int64) if numeric else pd.Series(column, dtype=object)
        return pd.DataFrame(out)


def _members(model, batches, n, src):
    """Per-member arrays of the population, the profile population, and the member ids as one array."""
    profile_of = np.empty(n, dtype=np.int32)
    profiles = None
    ids = []
    offset = 0
    for batch in batches:
        if profiles is None:
            profiles = _Profiles([c for c in ENROLLMENT if c in batch.schema.names], src[0])
        profile_of[offset: offset + batch.num_rows] = profiles.assign(batch, offset)
        ids.append(batch.column("patient_id"))
        offset += batch.num_rows
    frame = profiles.frame() if profiles is not None else pd.DataFrame(columns=["patient_id", "age", "sex"])
    try:
        per_profile = cms_population(model, frame, None, source=("profiles", src[1]))
    except PopulationError as exc:
        raise _member_row_error(exc, profiles, src[0]) from None
    return profile_of, per_profile, frame, _id_array(ids)


def _member_row_error(exc: PopulationError, profiles: _Profiles, src: str) -> PopulationError:
    """The profile error ``exc`` renamed to the first member row holding that profile."""
    found = _ROW.match(exc.message)
    message = exc.message if found is None else f"{found.group(1)} (row {profiles.first[int(found.group(2))]})"
    return PopulationError(message, file=src, column=exc.column)


def _id_array(chunks) -> pa.Array:
    if not chunks:
        return pa.array([], pa.large_string())
    chunks = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in chunks]
    if pa.types.is_string(chunks[0].type):
        chunks = [c.cast(pa.large_string()) for c in chunks]  # no 2 GiB limit on the joined ids
    return pa.chunked_array(chunks).combine_chunks() if len(chunks) > 1 else chunks[0]


# ------------------------------------------------------------------ ids
class _Ids:
    """Members' ``patient_id`` column, to find the member row of each diagnosis row.

    Text ids go through :class:`riskadjust._mapping.Keys`; integer ids spanning at most
    ``4 x members`` consecutive values through a direct-address table of rows.
    """

    def __init__(self, ids: pa.Array, src: str):
        self.src = src
        self.integer = pa.types.is_integer(ids.type)
        if not (self.integer or pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
            raise PopulationError(f"patient_id must be text or integer, not {ids.type}", file=src, column="patient_id")
        self._refuse_blank(ids, src, 0, "every member needs one (diagnoses are joined on it)")
        self.table = None
        if self.integer:
            v = ids.to_numpy()
            self.lo = int(v.min()) if v.size else 0
            width = int(v.max()) - self.lo + 1 if v.size else 0
            if width <= 4 * v.size + 1024:
                self.table = np.full(width, -1, dtype=np.int64)
                self.table[v - self.lo] = np.arange(v.size)
                repeat = -1 if np.count_nonzero(self.table >= 0) == v.size else _first_repeat(v)
            else:
                self.index = pd.Index(v)
                repeat = _first_repeat(v) if self.index.has_duplicates else -1
        else:
            self.keys = Keys(_series(ids))
            repeat = self.keys.first_repeat()
        if repeat >= 0:
            raise PopulationError(f"row {repeat} repeats the patient_id of an earlier row; give one row per person",
                                  file=src, column="patient_id")

    @staticmethod
    def _refuse_blank(ids: pa.Array, src: str, offset: int, why: str) -> None:
        blank = ids.is_null()
        if not pa.types.is_integer(ids.type):
            text = ids.dictionary_decode() if pa.types.is_dictionary(ids.type) else ids
            blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)
        count = pc.sum(blank).as_py() or 0
        if count:
            first = offset + pc.index(blank, True).as_py()
            raise PopulationError(f"{count} row(s) (first at row {first}) have an empty patient_id; {why}",
                                  file=src, column="patient_id")

    def rows(self, col: pa.Array) -> np.ndarray:
        """Member row (int64) of each value of ``col``, -1 when not a member (or missing)."""
        if pa.types.is_dictionary(col.type):
            found = self.rows(col.dictionary)
            return _gather(found, col.indices)
        if self.integer != pa.types.is_integer(col.type):
            raise PopulationError("patient_id is integer in one table and text in the other; use one type",
                                  file=self.src, column="patient_id")
        if self.integer:
            v = col.fill_null(self.lo - 1).to_numpy(zero_copy_only=False).astype(np.int64)
            if self.table is None:
                return self.index.get_indexer(v).astype(np.int64)
            out = np.full(v.size, -1, dtype=np.int64)
            inside = (v >= self.lo) & (v < self.lo + self.table.size)
            out[inside] = self.table[v[inside] - self.lo]
            return out
        return self.keys.rows_of(_series(col))


def _first_repeat(v: np.ndarray) -> int:
    return int(np.flatnonzero(pd.Index(v).duplicated())[0])


def _series(arr: pa.Array) -> pd.Series:
    """An Arrow text array as a pandas ``str`` Series on the same buffers."""
    return pd.Series(pd.arrays.ArrowStringArray(arr if pa.types.is_large_string(arr.type)
                                                else arr.cast(pa.large_string())))


def _gather(per_value: np.ndarray, indices: pa.Array) -> np.ndarray:
    """``per_value[indices]`` with -1 where an index is missing."""
    idx = indices.fill_null(0).to_numpy(zero_copy_only=False) if indices.null_count else indices.to_numpy()
    out = per_value[idx]
    if indices.null_count:
        out[indices.is_null().to_numpy(zero_copy_only=False)] = -1
    return out


# ------------------------------------------------------------------ diagnoses
def _code_ids(model, dictionary: pa.Array) -> np.ndarray:
    """Row in ``model.dx_table`` of each dictionary entry (normalised as codes), -1 when unmapped."""
    t = model.dx_table
    values = _series(dictionary)
    code_id = t.keys.rows_of(values, normalise_codes=True)
    unicode = np.flatnonzero(code_id == NEEDS_PYTHON)
    if unicode.size:
        code_id[unicode] = t.names.get_indexer(normalise_codes(values.iloc[unicode]))
    return code_id


def _malformed(dictionary: pa.Array, entries: np.ndarray) -> np.ndarray:
    """Whether each of the dictionary ``entries`` is blank or not shaped like an ICD-10-CM code."""
    codes = normalise_codes(_series(dictionary).iloc[entries].fillna(""))
    return ~codes.str.fullmatch(r"[A-Z][0-9][0-9A-Z]{1,5}").to_numpy(dtype=bool)


def _diagnoses(model, batches, ids: _Ids, age, sex, src):
    """Bit sets of each member's categories; unmapped and malformed code counts.

    A batch's code dictionary is mapped once; the batches of one Parquet row group share it, so an
    equal dictionary reuses the previous mapping.
    """
    t = model.dx_table
    dictionary, per_entry = None, None
    n_cats = len(model.category_names)
    bits = np.zeros((age.shape[0], max((n_cats + 63) // 64, 1)), dtype=np.uint64)
    unmapped = malformed = missing = 0
    first_missing = -1
    offset = 0
    threads = numba.get_num_threads()
    for batch in batches:
        pid, code = batch.column("patient_id"), batch.column("code")
        if not pa.types.is_dictionary(code.type):
            code = code.cast(pa.large_string()).dictionary_encode()
        rows = ids.rows(pid)
        bad = rows < 0
        if bad.any():
            _Ids._refuse_blank(pid, src, offset, "such rows cannot be joined to a member; fill it in or drop the rows")
            missing += int(bad.sum())
            first_missing = first_missing if first_missing >= 0 else offset + int(np.flatnonzero(bad)[0])
        if missing:
            offset += batch.num_rows
            continue
        if dictionary is None or not code.dictionary.equals(dictionary):
            dictionary, per_entry = code.dictionary, _code_ids(model, code.dictionary)
            out = np.flatnonzero(per_entry < 0)
            out_malformed = out[_malformed(dictionary, out)]
        code_id = _gather(per_entry, code.indices)
        nulls = code.indices.null_count
        if out.size or nulls:
            counts = np.bincount((code.indices.drop_null() if nulls else code.indices).to_numpy(),
                                 minlength=len(per_entry))
            unmapped += int(counts[out].sum()) + nulls
            malformed += int(counts[out_malformed].sum()) + nulls
        MK.set_condition_bits(rows, code_id, age, sex, t.map_ptr, t.map_cat, *t.edits, bits, threads)
        offset += batch.num_rows
    if missing:
        raise PopulationError(f"{missing} row(s) (first at row {first_missing}) name a patient_id that is not in "
                              "members; add those people to members or drop the rows", file=src, column="patient_id")
    return bits, unmapped, malformed


# ------------------------------------------------------------------ the population
def _build(model, member_batches, n_members, dx_batches, n_dx, source) -> Population:
    profile_of, per_profile, frame, id_array = _members(model, member_batches, n_members, source)
    age, sex = per_profile.age[profile_of], per_profile.sex[profile_of]
    warnings = []
    if dx_batches is not None:
        ids = _Ids(id_array, source[0])
        bits, unmapped, malformed = _diagnoses(model, dx_batches, ids, age, sex, source[1])
        indptr, indices = MK.bits_to_csr(bits)
        if unmapped:
            warnings.append(
                f"{source[1]}, column 'code': {unmapped} of {n_dx} diagnosis row(s) have a code outside the "
                f"model's mapping and add no category; {malformed} of them are blank or not ICD-10 in form (e.g. "
                "ICD-9): check the coding if that count is not 0")
    else:
        indptr, indices = np.zeros(n_members + 1, dtype=np.int64), np.zeros(0, dtype=np.int32)
    esrd = int(np.bincount(profile_of, minlength=len(frame))[_esrd(frame)].sum()) if len(frame) else 0
    if esrd:
        warnings.append(
            f"{source[0]}: {esrd} member(s) have ESRD (orec or crec 2 or 3) and were scored on the community or "
            "institutional model; score them on the CMS ESRD model (riskadjust.cms_esrd.load_cms_esrd)")
    return Population(age, sex, per_profile.segment[profile_of], per_profile.cell_term[profile_of],
                      per_profile.flags[profile_of], indptr, indices, model, tuple(warnings))
