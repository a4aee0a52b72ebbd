"""A population: each member's demographic cell and flags, and a sparse member x category matrix.

Built from two long tables:

* **members**: one row per person: ``patient_id``, ``age`` (whole years; fractions are floored),
  ``sex`` (``F``/``M``; CMS ``2``/``1`` also accepted), ``segment`` (may be omitted when the model
  has one segment) and one 0/1 column per flag the model declares;
* **diagnoses**: ``patient_id``, ``code`` (ICD-10, dots and case ignored), any number of rows per
  person; or **conditions**: ``patient_id``, ``category`` when categories are already known.

``patient_id`` is used only to join the two tables and is then dropped: a :class:`Population`
holds rows in the order of ``members``, and every output is indexed by row position.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numba
import numpy as np
import pandas as pd
from scipy import sparse

from _kit.tables import read_table
from _kit.validate import csv_line, numeric_column, require_columns
from riskadjust import _mapping_kernels as MK
from riskadjust._mapping import NEEDS_PYTHON, Keys, per_value
from riskadjust.errors import PopulationError, row_error
from riskadjust.model import MAX_AGE, RiskModel

BITSET_CATEGORIES = 256
_SEX_CODES = {"F": 0, "FEMALE": 0, "2": 0, "M": 1, "MALE": 1, "1": 1}


@dataclass(frozen=True, eq=False)
class Population:
    """Members of a population prepared for one model structure (no identifiers kept).

    Attributes
    ----------
    age : int16 array (n,)
        Age in whole years.
    sex : int8 array (n,)
        0 = female, 1 = male.
    segment : int32 array (n,)
        Index into ``segments``.
    cell_term : int32 array (n,)
        Term id of each member's demographic cell.
    flags : int64 array (n,)
        Bit ``k`` set when flag ``flag_names[k]`` holds.
    indptr, indices : int64 (n + 1,), int32 (nnz,)
        CSR rows of the member x condition-category matrix (categories sorted, unique, before
        hierarchies).
    model : RiskModel
        The model the population was built for (any model of the same structure can score it).
    warnings : tuple of str
        What was left out or scored on an approximate basis, with counts (diagnosis codes the
        model does not know, ESRD members on a CMS community model); never an identifier.

    Examples
    --------
    >>> from riskadjust.synthetic import home_model
    >>> import pandas as pd
    >>> m = home_model()
    >>> members = pd.DataFrame({"patient_id": ["a", "b"], "age": [70, 40], "sex": ["F", "M"],
    ...                         "segment": ["community", "community"]})
    >>> dx = pd.DataFrame({"patient_id": ["a", "a"], "code": ["E11.9", "I50.9"]})
    >>> pop = Population.from_frames(m, members, dx)
    >>> len(pop), pop.n_conditions.tolist()
    (2, [2, 0])
    """

    age: np.ndarray
    sex: np.ndarray
    segment: np.ndarray
    cell_term: np.ndarray
    flags: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    model: RiskModel
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.age.shape[0])

    @property
    def structure(self) -> tuple:
        """The structure of the model the population was built for (see ``RiskModel.structure``)."""
        return self.model.structure

    @property
    def segments(self) -> tuple[str, ...]:
        return self.model.segments

    @property
    def categories(self) -> tuple[str, ...]:
        return self.model.category_names

    @property
    def n_conditions(self) -> np.ndarray:
        """Number of coded categories per member (before hierarchies)."""
        return np.diff(self.indptr)

    def condition_matrix(self) -> sparse.csr_matrix:
        """The member x category 0/1 matrix (before hierarchies) as ``scipy.sparse.csr_matrix``."""
        data = np.ones(self.indices.shape[0], dtype=np.int8)
        return sparse.csr_matrix((data, self.indices, self.indptr), shape=(len(self), len(self.categories)))

    def take(self, rows: np.ndarray) -> "Population":
        """The members at ``rows`` (positions or a boolean mask), in that order."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        indptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        offsets = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return Population(self.age[rows], self.sex[rows], self.segment[rows], self.cell_term[rows],
                          self.flags[rows], indptr, self.indices[offsets], self.model, self.warnings)

    @property
    def summary(self) -> pd.DataFrame:
        """Members, mean age, share female and mean coded categories by segment."""
        df = pd.DataFrame({"segment": np.asarray(self.segments, dtype=object)[self.segment],
                           "age": self.age, "female": self.sex == 0, "conditions": self.n_conditions})
        out = df.groupby("segment", sort=False).agg(
            members=("age", "size"), mean_age=("age", "mean"), share_female=("female", "mean"),
            mean_conditions=("conditions", "mean"))
        return out

    @property
    def totals(self) -> dict:
        return {"members": len(self), "coded_conditions": int(self.indices.shape[0]), "warnings": list(self.warnings)}

    def warned(self, message: str) -> "Population":
        """The same population with ``message`` added to :attr:`warnings`."""
        return replace(self, warnings=(*self.warnings, message))

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_files(cls, model: RiskModel, members: str | os.PathLike,
                   diagnoses: str | os.PathLike | None = None) -> "Population":
        """Build from CSV/Parquet files (see :meth:`from_frames`)."""
        m = read_table(members, "members file", PopulationError, dtype={"patient_id": str, "sex": str, "segment": str})
        d = None if diagnoses is None else read_table(diagnoses, "diagnoses file", PopulationError,
                                                      dtype={"patient_id": str, "code": str})
        return cls.from_frames(model, m, d, source=(str(members), str(diagnoses)))

    @classmethod
    def from_frames(cls, model: RiskModel, members: pd.DataFrame, diagnoses: pd.DataFrame | None = None,
                    *, conditions: pd.DataFrame | None = None,
                    source: tuple[str, str] = ("members", "diagnoses")) -> "Population":
        """Build from a members table and a long diagnoses (or conditions) table.

        Parameters
        ----------
        model : RiskModel
        members : DataFrame
            ``patient_id, age, sex[, segment][, <flag columns>]``.
        diagnoses : DataFrame, optional
            ``patient_id, code``; codes are mapped through the model's ``dx_map`` and ``dx_edits``.
        conditions : DataFrame, optional
            ``patient_id, category`` when categories are already assigned (no mapping or edits).
        """
        src_m, src_d = source
        c = model.compiled
        n = len(members)
        require_columns(members, ["patient_id", "age", "sex"], src_m, PopulationError)
        _refuse_blank_ids(members, src_m, "every member needs one (diagnoses are joined on it)")
        ids = Keys(members["patient_id"])
        second = ids.first_repeat()
        if second >= 0:
            pid = members["patient_id"].iloc[: second + 1]
            same = pid.isna() if pd.isna(pid.iloc[-1]) else pid == pid.iloc[-1]
            rows = [int(np.flatnonzero(same.to_numpy())[0]), int(second)]
            lines = f" (lines {csv_line(src_m, rows[0])} and {csv_line(src_m, rows[1])})" if csv_line(src_m, 0) else ""
            raise PopulationError(f"rows {rows}{lines} repeat the same patient_id; give one row per person",
                                  file=src_m, column="patient_id")
        age = _ages(members, src_m)
        sex = _sexes(members, src_m)
        segment = _segments(members, model, src_m)
        cell_term = c.cell_lookup[segment, sex, np.minimum(age, MAX_AGE)]
        if np.any(cell_term < 0):
            r = int(np.flatnonzero(cell_term < 0)[0])
            raise row_error(PopulationError, "the model has no demographic cell for this row's segment, sex and age; "
                            "add a cell to the model or correct the row", src_m, r)
        flags = _flags(members, model, sex, src_m)

        if diagnoses is not None and conditions is not None:
            raise PopulationError("give diagnoses or conditions, not both")
        warnings = ()
        if diagnoses is not None:
            indptr, indices, unmapped, malformed = _map_diagnoses(model, diagnoses, ids, age, sex, src_d)
            if unmapped:
                warnings = (f"{src_d}, column 'code': {unmapped} of {len(diagnoses)} diagnosis row(s) have a code "
                            f"outside the model's mapping and add no category; {malformed} of them are blank or not "
                            "ICD-10 in form (e.g. ICD-9): check the coding if that count is not 0",)
        elif conditions is not None:
            indptr, indices = _csr(*_direct_conditions(model, conditions, ids, src_d), n)
        else:
            indptr, indices = _csr(np.zeros(0, np.int64), np.zeros(0, np.int64), n)
        return cls(age.astype(np.int16), sex.astype(np.int8), segment.astype(np.int32),
                   cell_term.astype(np.int32), flags, indptr, indices, model, warnings)


def _ages(members: pd.DataFrame, src: str) -> np.ndarray:
    age = numeric_column(members, "age", src, PopulationError, low=0, high=MAX_AGE)
    return np.floor(age).astype(np.int64)


def _sexes(members: pd.DataFrame, src: str) -> np.ndarray:
    codes = per_value(members["sex"], lambda s: s.astype(str).str.strip().str.upper().map(_SEX_CODES))
    if pd.isna(codes).any():
        r = int(np.flatnonzero(pd.isna(codes))[0])
        raise row_error(PopulationError, "not F or M (or CMS 2 or 1)", src, r, "sex")
    return codes.astype(np.int64)


def _segments(members: pd.DataFrame, model: RiskModel, src: str) -> np.ndarray:
    if "segment" not in members.columns:
        if len(model.segments) == 1:
            return np.zeros(len(members), dtype=np.int64)
        raise PopulationError(f"needs a segment column, one of {list(model.segments)}", file=src)
    seg = per_value(members["segment"], lambda s: pd.Index(model.segments).get_indexer(s.astype(str).str.strip()))
    if np.any(seg < 0):
        r = int(np.flatnonzero(seg < 0)[0])
        raise row_error(PopulationError, f"not one of the model's segments {list(model.segments)}", src, r, "segment")
    return seg.astype(np.int64)


def _flags(members: pd.DataFrame, model: RiskModel, sex: np.ndarray, src: str) -> np.ndarray:
    flags = np.zeros(len(members), dtype=np.int64)
    for bit, name in enumerate(model.all_flags):
        if name == "female" and name not in members.columns:
            values = sex == 0
        elif name == "male" and name not in members.columns:
            values = sex == 1
        elif name not in members.columns:
            raise PopulationError(f"needs a 0/1 column {name!r} (a flag the model uses)", file=src)
        else:
            col = members[name]
            values = per_value(col, _flag_values)
            if np.any(values < 0):
                r = int(np.flatnonzero(values < 0)[0])
                raise row_error(PopulationError, "a flag must be 0 or 1 (or true/false, yes/no)", src, r, name)
            values = values == 1
        flags |= values.astype(np.int64) << np.int64(bit)
    return flags


def _flag_values(col: pd.Series) -> np.ndarray:
    """1, 0 or -1 (not a valid flag) for each value of a flag column."""
    if col.dtype == object or isinstance(col.dtype, pd.StringDtype):
        col = col.astype(str).str.strip().str.lower().map(
            {"1": 1, "0": 0, "true": 1, "false": 0, "y": 1, "n": 0, "yes": 1, "no": 0})
    col = pd.to_numeric(col, errors="coerce")
    return np.where(col.isin([0, 1]).to_numpy(), np.where(col.to_numpy() == 1, 1, 0), -1)


def _refuse_blank_ids(frame: pd.DataFrame, src: str, why: str) -> None:
    """A blank ``patient_id`` is an error naming the count and the first line (never a value):
    blank ids would join each other's rows."""
    blank = frame["patient_id"].isna() | (frame["patient_id"].astype(str).str.strip() == "")
    if blank.any():
        first = int(np.flatnonzero(blank.to_numpy())[0])
        line = csv_line(src, first)
        raise PopulationError(f"{int(blank.sum())} row(s) (first {f'on line {line}' if line else f'at row {first}'}) "
                              f"have an empty patient_id; {why}", file=src, column="patient_id")


def _patient_rows(frame: pd.DataFrame, ids: Keys, src: str) -> np.ndarray:
    _refuse_blank_ids(frame, src, "such rows cannot be joined to a member; fill it in or drop the rows")
    rows = ids.rows_of(frame["patient_id"])
    if np.any(rows < 0):
        bad = np.flatnonzero(rows < 0)
        line = csv_line(src, int(bad[0]))
        raise PopulationError(
            f"{bad.size} row(s) (first {f'on line {line}' if line else f'at row {int(bad[0])}'}) name a patient_id "
            "that is not in members; add those people to members or drop the rows", file=src, column="patient_id")
    return rows


def normalise_codes(codes: pd.Series) -> pd.Series:
    """ICD-10 codes as the mapping tables hold them: upper case, no dots or spaces."""
    return codes.astype(str).str.upper().str.replace(".", "", regex=False).str.strip()


def _map_diagnoses(model, diagnoses, ids, age, sex, src):
    """CSR (indptr, indices) of each member's categories from (member row, code) pairs, after the model's
    edits, the number of rows whose code is not in the model's mapping, and how many of those are blank
    or not shaped like an ICD-10-CM code (a letter, a digit, then 1-5 letters or digits).

    Models with at most ``BITSET_CATEGORIES`` categories gather them as bit sets
    (:func:`~riskadjust._mapping_kernels.conditions_csr`); larger ones through (row, category) pairs.
    """
    require_columns(diagnoses, ["patient_id", "code"], src, PopulationError)
    rows = _patient_rows(diagnoses, ids, src)
    t = model.dx_table
    code_id = t.keys.rows_of(diagnoses["code"], normalise_codes=True)
    unicode = np.flatnonzero(code_id == NEEDS_PYTHON)
    if unicode.size:
        code_id[unicode] = t.names.get_indexer(normalise_codes(diagnoses["code"].iloc[unicode]))
    unmapped = code_id < 0
    shaped = normalise_codes(diagnoses["code"][unmapped].fillna("")).str.fullmatch(r"[A-Z][0-9][0-9A-Z]{1,5}")
    counts = int(unmapped.sum()), int((~shaped).sum())
    n, n_cats = age.shape[0], len(model.category_names)
    if n_cats <= BITSET_CATEGORIES:
        return (*MK.conditions_csr(rows, code_id, age, sex, n, t.map_ptr, t.map_cat, *t.edits, n_cats,
                                   numba.get_num_threads()), *counts)
    return (*_csr(*MK.code_categories(rows, code_id, age, sex, t.map_ptr, t.map_cat, *t.edits), n), *counts)


def _direct_conditions(model, conditions, ids, src):
    require_columns(conditions, ["patient_id", "category"], src, PopulationError)
    rows = _patient_rows(conditions, ids, src)
    cats = pd.Index(model.category_names).get_indexer(conditions["category"].astype(str).str.strip())
    if np.any(cats < 0):
        r = int(np.flatnonzero(cats < 0)[0])
        raise row_error(PopulationError, "not a category of the model", src, r, "category")
    return rows, cats.astype(np.int64)


def _csr(rows: np.ndarray, cats: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    return MK.pairs_to_csr(rows.astype(np.int64), cats.astype(np.int32), n)
