"""A risk model as plain tables: demographic cells, condition categories, hierarchies, interactions.

A :class:`RiskModel` scores a person as the sum of coefficients of the terms that apply to them:

* one **demographic cell**: segment x sex x age band (e.g. community / institutional / new
  registrant; CMS-HCC: ``CNA`` ... ``INS``, ``NE``);
* each **condition category** they carry, after mapping diagnosis codes through ``dx_map``, applying
  age/sex ``dx_edits``, presence ``requirements`` and the ``hierarchy`` (see
  :mod:`riskadjust.hierarchy`);
* each **interaction** whose factors all hold: up to two factors, each a category or a ``group``
  (any of its categories), and up to two member **flags** (e.g. ``disabled``, ``female``);
* the **count** term whose ``[min_count, max_count]`` holds the number of categories kept.

Coefficients are per ``(segment, term)``; a term without a coefficient in a segment adds nothing.
The payment score is ``raw / normalisation * (1 - coding_intensity)``.

Tables and columns (all plain CSV when saved with :meth:`RiskModel.save`):

==============  ==================================================================
cells           segment, sex (F/M), age_min, age_max (inclusive, years), term
coefficients    segment, term, coefficient
categories      category, label
dx_map          code (ICD-10 without dot), category
dx_edits        code, sex, age_min, age_max, action (invalid/override), category
hierarchy       parent, child
requirements    category, requires
groups          group, category
interactions    term, factor1, factor2, flag1, flag2 (blank where unused)
counts          term, min_count, max_count
==============  ==================================================================

A ``dx_edits`` row fires when its sex matches (if given) and, if an age bound is given, when
``age <= age_max`` or ``age >= age_min`` (so both bounds mark the valid range between them, as
in the CMS Medicare Code Editor); ``invalid`` drops the code, ``override`` maps it to ``category``
instead of its usual categories.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from _kit.publish import write_table, write_text
from _kit.tables import read_table
from _kit.validate import number, numeric_column
from riskadjust.errors import RiskModelError
from riskadjust.hierarchy import child_matrix, requirement_matrix

SEXES = ("F", "M")
BUILTIN_FLAGS = ("female", "male")
MAX_AGE = 130

_COLUMNS = {
    "cells": ["segment", "sex", "age_min", "age_max", "term"],
    "coefficients": ["segment", "term", "coefficient"],
    "categories": ["category", "label"],
    "dx_map": ["code", "category"],
    "dx_edits": ["code", "sex", "age_min", "age_max", "action", "category"],
    "hierarchy": ["parent", "child"],
    "requirements": ["category", "requires"],
    "groups": ["group", "category"],
    "interactions": ["term", "factor1", "factor2", "flag1", "flag2"],
    "counts": ["term", "min_count", "max_count"],
}
_OPTIONAL = {"categories": ("label",), "interactions": ("factor2", "flag1", "flag2"),
             "dx_edits": ("sex", "age_min", "age_max", "category")}
_STRING_COLUMNS = {"segment", "sex", "term", "category", "label", "code", "action", "parent", "child",
                   "requires", "group", "factor1", "factor2", "flag1", "flag2"}


class CompiledModel(NamedTuple):
    """The model as flat arrays for the kernels (see :mod:`riskadjust._score_kernels`)."""

    param_index: np.ndarray  # int32 (n_segments, n_terms): parameter id or -1
    coef: np.ndarray  # float64 (n_params,)
    cat_term: np.ndarray  # int32 (n_categories,)
    drops: np.ndarray  # uint8 (n_categories, n_categories)
    has_req: np.ndarray  # uint8 (n_categories,)
    req: np.ndarray  # uint8 (n_categories, n_categories)
    cat_group_ptr: np.ndarray  # int64 (n_categories + 1,)
    cat_group_idx: np.ndarray  # int32: groups each category belongs to
    n_groups: int
    inter_g1: np.ndarray  # int32 (n_interactions,): group id or -1
    inter_g2: np.ndarray  # int32
    inter_mask: np.ndarray  # int64 flag bit mask
    inter_term: np.ndarray  # int32
    count_min: np.ndarray  # int32
    count_max: np.ndarray  # int32
    count_term: np.ndarray  # int32
    cell_lookup: np.ndarray  # int32 (n_segments, 2, MAX_AGE + 1): term id of the cell or -1


def _table(frame: pd.DataFrame | None, name: str) -> pd.DataFrame:
    cols = _COLUMNS[name]
    if frame is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    missing = [c for c in cols if c not in frame.columns]
    hard = [c for c in missing if c not in _OPTIONAL.get(name, ())]
    if hard:
        raise RiskModelError(f"{name} table lacks column(s) {hard}; expected columns {cols}")
    out = frame.copy()
    for c in missing:
        out[c] = pd.NA
    out = out[cols].reset_index(drop=True)
    for c in cols:
        if c in _STRING_COLUMNS:
            out[c] = out[c].map(lambda v: "" if pd.isna(v) else str(v).strip()).astype(object)
    return out


@dataclass(frozen=True, eq=False)
class RiskModel:
    """A risk-adjustment model held as plain tables (see the module docstring for the columns).

    Parameters
    ----------
    name : str
        Short name, e.g. ``"CMS-HCC V28"``.
    cells, coefficients : DataFrame
        Demographic cells and coefficients per ``(segment, term)`` (relative risk, unitless).
    categories, dx_map, dx_edits, hierarchy, requirements, groups, interactions, counts : DataFrame, optional
        Condition side of the model; all optional (an age-sex model has none).
    flags : tuple of str
        Member flags the interactions use (``female`` and ``male`` come from sex).
    normalisation : float
        Divides the raw score (CMS: 1.015 for 2024 V28).
    coding_intensity : float
        MA coding-intensity adjustment as a fraction (CMS: 0.059).

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"segment": ["all"] * 2, "sex": ["F", "M"], "age_min": [0, 0],
    ...                       "age_max": [130, 130], "term": ["F", "M"]})
    >>> coefs = pd.DataFrame({"segment": ["all"] * 3, "term": ["F", "M", "DIAB"],
    ...                       "coefficient": [0.9, 1.0, 0.3]})
    >>> m = RiskModel("toy", cells, coefs, categories=pd.DataFrame({"category": ["DIAB"]}),
    ...               dx_map=pd.DataFrame({"code": ["E119"], "category": ["DIAB"]}))
    >>> m.terms
    ('F', 'M', 'DIAB')
    """

    name: str
    cells: pd.DataFrame
    coefficients: pd.DataFrame
    categories: pd.DataFrame | None = None
    dx_map: pd.DataFrame | None = None
    dx_edits: pd.DataFrame | None = None
    hierarchy: pd.DataFrame | None = None
    requirements: pd.DataFrame | None = None
    groups: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None
    counts: pd.DataFrame | None = None
    flags: tuple[str, ...] = ()
    normalisation: float = 1.0
    coding_intensity: float = 0.0
    description: str = ""

    def __post_init__(self):
        for name in _COLUMNS:
            object.__setattr__(self, name, _table(getattr(self, name), name))
        for table, name in (("cells", "age_min"), ("cells", "age_max"), ("counts", "min_count"),
                            ("counts", "max_count")):
            frame = getattr(self, table)
            values = numeric_column(frame, name, f"{table} table", RiskModelError)
            if np.any(values != np.floor(values)):
                raise RiskModelError("must be whole numbers", file=f"{table} table", column=name)
            frame[name] = values.astype(np.int64)
        self.coefficients["coefficient"] = numeric_column(self.coefficients, "coefficient", "coefficients table",
                                                          RiskModelError)
        object.__setattr__(self, "flags", tuple(str(f) for f in self.flags))
        object.__setattr__(self, "normalisation",
                           number(self.normalisation, "normalisation", RiskModelError, low=0, low_open=True))
        if not (0 <= self.coding_intensity < 1):
            raise RiskModelError(f"coding_intensity must be a fraction in [0, 1), got {self.coding_intensity}")
        self.compiled  # validate now, not at first use

    # ----------------------------------------------------------------- names
    @cached_property
    def segments(self) -> tuple[str, ...]:
        """Segment names in order of first appearance in ``cells``."""
        return tuple(pd.unique(self.cells["segment"]))

    @cached_property
    def category_names(self) -> tuple[str, ...]:
        """Condition category names in table order."""
        return tuple(self.categories["category"])

    @cached_property
    def terms(self) -> tuple[str, ...]:
        """All term names: cell terms, categories, interactions, counts (in that order)."""
        return (tuple(pd.unique(self.cells["term"])) + self.category_names
                + tuple(self.interactions["term"]) + tuple(self.counts["term"]))

    @cached_property
    def term_kinds(self) -> tuple[str, ...]:
        """``"cell"``, ``"category"``, ``"interaction"`` or ``"count"`` for each of :attr:`terms`."""
        n_cell = len(pd.unique(self.cells["term"]))
        return (("cell",) * n_cell + ("category",) * len(self.categories)
                + ("interaction",) * len(self.interactions) + ("count",) * len(self.counts))

    @cached_property
    def all_flags(self) -> tuple[str, ...]:
        """Flag names with bit positions: ``female``, ``male`` then the model's own flags."""
        return BUILTIN_FLAGS + tuple(f for f in self.flags if f not in BUILTIN_FLAGS)

    @property
    def structure(self) -> tuple:
        """What a :class:`~riskadjust.Population` depends on (not the coefficient values)."""
        return (self.segments, self.category_names, self.all_flags, self.terms)

    # ----------------------------------------------------------------- compile
    @cached_property
    def compiled(self) -> CompiledModel:
        """Validate the tables and flatten them into arrays for the kernels."""
        terms = self.terms
        dup = pd.Index(terms)[pd.Index(terms).duplicated()]
        if len(dup):
            raise RiskModelError(
                f"term name(s) {list(dup[:5])} used twice (cells, categories, interactions and counts "
                "share one namespace); rename one of them"
            )
        if not len(self.cells):
            raise RiskModelError("cells table is empty: a model needs at least one demographic cell")
        term_index = {t: i for i, t in enumerate(terms)}
        seg_index = {s: i for i, s in enumerate(self.segments)}
        cat_index = {c: i for i, c in enumerate(self.category_names)}
        if len(cat_index) != len(self.categories):
            raise RiskModelError("categories table lists a category twice")
        flag_bit = {f: i for i, f in enumerate(self.all_flags)}
        if len(flag_bit) > 62:
            raise RiskModelError("at most 62 member flags are supported")

        coefs = self.coefficients
        param_index = np.full((len(seg_index), len(terms)), -1, dtype=np.int32)
        for row, (seg, term) in enumerate(zip(coefs["segment"], coefs["term"])):
            if seg not in seg_index:
                raise RiskModelError(f"coefficients row {row}: segment {seg!r} has no cells; add cells for it")
            if term not in term_index:
                raise RiskModelError(
                    f"coefficients row {row}: term {term!r} is not a cell, category, interaction or count term"
                )
            if param_index[seg_index[seg], term_index[term]] >= 0:
                raise RiskModelError(f"coefficients row {row}: duplicate coefficient for ({seg!r}, {term!r})")
            param_index[seg_index[seg], term_index[term]] = row
        values = coefs["coefficient"].to_numpy(float)
        if not np.all(np.isfinite(values)):
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise RiskModelError(f"coefficients row {bad}: coefficient is not a finite number")

        cell_lookup = self._cell_lookup(seg_index, term_index, param_index)
        drops = child_matrix(self.hierarchy, cat_index)
        has_req, req = requirement_matrix(self.requirements, cat_index)
        group_members, inter = self._interactions(cat_index, flag_bit)
        ptr, idx = _category_groups(group_members, len(cat_index))
        self._check_dx_tables(cat_index)
        for row, (lo, hi) in enumerate(zip(self.counts["min_count"], self.counts["max_count"])):
            if lo < 0 or hi < lo:
                raise RiskModelError(f"counts row {row}: need 0 <= min_count <= max_count, got {lo}, {hi}")
        return CompiledModel(
            param_index=param_index,
            coef=values.astype(np.float64),
            cat_term=np.array([term_index[c] for c in self.category_names], dtype=np.int32),
            drops=drops, has_req=has_req, req=req,
            cat_group_ptr=ptr, cat_group_idx=idx, n_groups=len(group_members),
            inter_g1=inter[0], inter_g2=inter[1], inter_mask=inter[2],
            inter_term=np.array([term_index[t] for t in self.interactions["term"]], dtype=np.int32),
            count_min=self.counts["min_count"].to_numpy(np.int32),
            count_max=np.minimum(self.counts["max_count"].to_numpy(np.int64), 2**31 - 1).astype(np.int32),
            count_term=np.array([term_index[t] for t in self.counts["term"]], dtype=np.int32),
            cell_lookup=cell_lookup,
        )

    @cached_property
    def dx_table(self):
        """``dx_map`` and ``dx_edits`` as arrays for the mapping kernels (a ``riskadjust._mapping.CodeTable``).

        Built on first use and kept, so mapping diagnoses does not rebuild it on every call.
        """
        from riskadjust._mapping import CodeTable

        return CodeTable(self)

    def _cell_lookup(self, seg_index, term_index, param_index) -> np.ndarray:
        lookup = np.full((len(seg_index), 2, MAX_AGE + 1), -1, dtype=np.int32)
        for row, (seg, sex, lo, hi, term) in enumerate(self.cells[_COLUMNS["cells"]].itertuples(index=False)):
            if sex not in SEXES:
                raise RiskModelError(f"cells row {row}: sex must be 'F' or 'M', got {sex!r}")
            if not 0 <= lo <= hi:
                raise RiskModelError(f"cells row {row}: need 0 <= age_min <= age_max, got {lo}, {hi}")
            s, x, t = seg_index[seg], SEXES.index(sex), term_index[term]
            band = lookup[s, x, lo:min(hi, MAX_AGE) + 1]
            if np.any(band >= 0):
                raise RiskModelError(
                    f"cells row {row}: ages {lo}-{hi} for segment {seg!r} sex {sex} overlap another cell"
                )
            if param_index[s, t] < 0:
                raise RiskModelError(f"cells row {row}: term {term!r} has no coefficient in segment {seg!r}")
            band[:] = t
        return lookup

    def _interactions(self, cat_index, flag_bit):
        members: dict[str, set[int]] = {}
        for row, (g, c) in enumerate(zip(self.groups["group"], self.groups["category"])):
            if c not in cat_index:
                raise RiskModelError(f"groups row {row}: category {c!r} is not in the categories table")
            if g in cat_index:
                raise RiskModelError(f"groups row {row}: group name {g!r} is also a category; rename the group")
            members.setdefault(g, set()).add(cat_index[c])
        group_ids = {g: i for i, g in enumerate(members)}
        group_members = list(members.values())

        def factor(row: int, name: str) -> int:
            if not name:
                return -1
            if name in group_ids:
                return group_ids[name]
            if name in cat_index:
                key = "\0" + name
                if key not in group_ids:
                    group_ids[key] = len(group_members)
                    group_members.append({cat_index[name]})
                return group_ids[key]
            raise RiskModelError(f"interactions row {row}: factor {name!r} is neither a group nor a category")

        g1, g2, mask = [], [], []
        for row, (_, f1, f2, fl1, fl2) in enumerate(self.interactions.itertuples(index=False)):
            g1.append(factor(row, f1))
            g2.append(factor(row, f2))
            m = 0
            for fl in (fl1, fl2):
                if fl:
                    if fl not in flag_bit:
                        raise RiskModelError(
                            f"interactions row {row}: flag {fl!r} is not declared in the model's flags {self.flags}"
                        )
                    m |= 1 << flag_bit[fl]
            if g1[-1] < 0 and g2[-1] < 0 and m == 0:
                raise RiskModelError(f"interactions row {row}: needs at least one factor or flag")
            mask.append(m)
        return group_members, (np.array(g1, dtype=np.int32), np.array(g2, dtype=np.int32),
                               np.array(mask, dtype=np.int64))

    def _check_dx_tables(self, cat_index) -> None:
        for row, c in enumerate(self.dx_map["category"]):
            if c not in cat_index:
                raise RiskModelError(f"dx_map row {row}: category {c!r} is not in the categories table")
        for row, (code, sex, action, c) in enumerate(
            zip(self.dx_edits["code"], self.dx_edits["sex"], self.dx_edits["action"], self.dx_edits["category"])
        ):
            if action not in ("invalid", "override"):
                raise RiskModelError(f"dx_edits row {row}: action must be 'invalid' or 'override', got {action!r}")
            if action == "override" and c not in cat_index:
                raise RiskModelError(f"dx_edits row {row}: override category {c!r} is not in the categories table")
            if sex not in ("", "F", "M"):
                raise RiskModelError(f"dx_edits row {row}: sex must be blank, 'F' or 'M', got {sex!r}")
        if self.dx_edits["code"].duplicated().any():
            row = int(np.flatnonzero(self.dx_edits["code"].duplicated())[0])
            raise RiskModelError(f"dx_edits row {row}: code has a second edit; keep one edit per code")

    # ----------------------------------------------------------------- views
    @property
    def summary(self) -> pd.DataFrame:
        """Coefficients as a term x segment table, with each term's kind."""
        wide = self.coefficients.pivot(index="term", columns="segment", values="coefficient")
        wide = wide.reindex(index=list(self.terms), columns=list(self.segments))
        wide.insert(0, "kind", list(self.term_kinds))
        return wide

    @property
    def totals(self) -> dict:
        """Sizes of the model: segments, terms, categories, parameters, codes."""
        return {"segments": len(self.segments), "terms": len(self.terms),
                "categories": len(self.categories), "parameters": len(self.coefficients),
                "codes": int(self.dx_map["code"].nunique()), "normalisation": self.normalisation,
                "coding_intensity": self.coding_intensity}

    def demographic_only(self) -> "RiskModel":
        """The same cells and cell coefficients without any condition terms (an age-sex model)."""
        cells = set(self.cells["term"])
        c = self.coefficients
        return RiskModel(f"{self.name} (demographic only)", self.cells, c[c["term"].isin(cells)],
                         normalisation=self.normalisation, coding_intensity=self.coding_intensity,
                         description=f"Demographic cells of {self.name} only.")

    def with_coefficients(self, coefficients: pd.DataFrame, **changes) -> "RiskModel":
        """Return a copy with a new coefficients table (and any other field changed)."""
        return replace(self, coefficients=coefficients, **changes)

    # ----------------------------------------------------------------- storage
    def save(self, directory: str | os.PathLike) -> Path:
        """Write the model as CSV tables plus ``model.json`` into ``directory`` (atomically per file)."""
        d = Path(directory)
        for name in _COLUMNS:
            write_table(getattr(self, name), d / f"{name}.csv")
        meta = {"name": self.name, "flags": list(self.flags), "normalisation": self.normalisation,
                "coding_intensity": self.coding_intensity, "description": self.description}
        write_text(json.dumps(meta, indent=1), d / "model.json")
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "RiskModel":
        """Read a model written by :meth:`save` (missing optional tables are empty)."""
        d = Path(directory)
        if not (d / "model.json").exists():
            raise RiskModelError("no model.json; a model directory holds model.json and its CSV tables", file=d)
        try:
            meta = json.loads((d / "model.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RiskModelError("not valid JSON; write the model with RiskModel.save", file=d / "model.json") from None
        tables = {}
        for name in _COLUMNS:
            path = d / f"{name}.csv"
            if path.exists():
                tables[name] = read_table(path, f"{name} table", RiskModelError, dtype=str, keep_default_na=False)
            elif name in ("cells", "coefficients"):
                raise RiskModelError("missing; every model needs cells.csv and coefficients.csv", file=path)
        if not isinstance(meta, dict) or "name" not in meta:
            raise RiskModelError("needs a 'name'; write the model with RiskModel.save", file=d / "model.json")
        return cls(name=meta["name"], flags=tuple(meta.get("flags", ())),
                   normalisation=number(meta.get("normalisation", 1.0), "normalisation", RiskModelError, low=0,
                                        low_open=True),
                   coding_intensity=number(meta.get("coding_intensity", 0.0), "coding_intensity", RiskModelError,
                                           low=0, high=1),
                   description=meta.get("description", ""), **tables)


def _category_groups(group_members: list[set[int]], n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    lists: list[list[int]] = [[] for _ in range(n_categories)]
    for g, cats in enumerate(group_members):
        for c in cats:
            lists[c].append(g)
    ptr = np.zeros(n_categories + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    idx = np.array([g for x in lists for g in x], dtype=np.int32)
    return ptr, idx
