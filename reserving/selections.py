"""The actuary's selections: chosen factors, averaging rules, exclusions, per-origin methods and priors.

A selections file is a CSV (or Parquet) table, one selection a row, each with who made it and why:

=============  =====================================================================================
column         meaning
=============  =====================================================================================
segment        the segment it applies to (levels joined by ``/``, e.g. ``C001/emergency``);
               empty or ``*``: every segment (a segment's own row for the same key wins)
item           ``factor``, ``average``, ``exclude``, ``method`` or ``prior``
development    development age in months a factor starts from (``factor``, ``average``, ``exclude``)
origin         origin period, e.g. ``2024-03`` or ``1985`` (``exclude``, ``method``, ``prior``)
value          ``factor``: the selected age-to-age factor; ``average``: ``volume``, ``simple`` or
               ``regression``; ``method``: the origin's method (one of :data:`METHODS`);
               ``prior``: the origin's a priori (see below); ``exclude``: empty
who, why       who selected it and why (both required: a selection without a reason is not a selection)
=============  =====================================================================================

:func:`reserving.chain_ladder`, :func:`reserving.mack` and :func:`reserving.bootstrap_odp` take
``selections=``: exclusions join the link ratios left out; an ``average`` recomputes that lag's
factor by the named rule from the same link ratios; a ``factor`` replaces the lag's factor in the
projection (Mack's recursion too; the lag's sigma and standard error stay as estimated from the
data). Each applied selection is a row of the result's ``diagnostics`` with the indicated factor,
who and why. The bootstrap refits every pseudo triangle, so there a selected ``factor`` or
``average`` multiplies each refitted factor of its lag by ``selected / indicated`` (its
``factor_adjustment``; the reasoning is in :func:`reserving.bootstrap_odp`).

:func:`reserving.bornhuetter_ferguson`, :func:`reserving.benktander`,
:func:`reserving.expected_loss_ratio` and :func:`reserving.cape_cod` take ``selections=`` too: the
development rows act on their chain ladder as above, and a ``prior`` row replaces that origin's
a priori in the units the method takes it: the loss ratio (or cost per member month, PMPM) where
the method takes exposure (``expected_loss_ratio``; ``benktander`` with ``exposure``; ``cape_cod``,
where the row replaces the Cape Cod loss ratio of that origin, at its own cost level, and the
other origins keep theirs), and the prior ultimate (currency) where it takes ultimates
(``bornhuetter_ferguson``; ``benktander`` without exposure). Each applied prior is a row of
``diagnostics`` (issue ``selected_prior``) with the indicated value, who and why.

``method`` rows are the nightly job's (:func:`reserving.nightly.selection.select`): that origin's
ultimate comes from the named method instead of the job's rule. Names (:data:`METHODS`):
``chain_ladder`` (or ``cl``), ``bf`` (or ``bornhuetter_ferguson``), ``benktander`` (Benktander-Hovinen,
two iterations), ``expected_loss_ratio`` (or ``elr``) and ``cape_cod``; any other is an error naming
the file, line and column. The nightly job reads a ``prior`` row as the origin's PMPM when a
members table is given (prior ultimate = PMPM x member months) and otherwise as a loss ratio on the
job's own prior (the budget, or the trended cost where there is no budget). A single method
(above) leaves ``method`` rows aside. Without selections every result is as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from _kit.tables import read_table
from _kit.validate import csv_line, reject_unknown_columns, require_columns
from reserving import _kernels
from reserving.development import AVERAGES, Development, _exclusions
from reserving.errors import ReservingError
from reserving.triangle import TriangleSet

COLUMNS = ["segment", "item", "development", "origin", "value", "who", "why"]
ITEMS = ("factor", "average", "exclude", "method", "prior")
_NEEDS = {"factor": ("development",), "average": ("development",), "exclude": ("development", "origin"),
          "method": ("origin",), "prior": ("origin",)}
ALL = "*"
#: The names a ``method`` selection may give, and the method each stands for.
METHODS = {"chain_ladder": "chain_ladder", "cl": "chain_ladder", "bf": "bf", "bornhuetter_ferguson": "bf",
           "benktander": "benktander", "expected_loss_ratio": "expected_loss_ratio", "elr": "expected_loss_ratio",
           "cape_cod": "cape_cod"}


@dataclass(frozen=True, eq=False)
class Selections:
    """Checked selections, one row per selection (columns :data:`COLUMNS`, ``development`` an int or NA).

    Build with :meth:`read` (a file) or :meth:`from_frame`; ``table`` is what is stored with a run.
    """

    table: pd.DataFrame
    source: str

    @classmethod
    def read(cls, path) -> Selections:
        """Read and check a selections file (CSV or Parquet); errors name the file, line and column."""
        frame = read_table(path, "selections file", error=ReservingError, dtype=str, keep_default_na=False)
        return cls.from_frame(frame, source=str(path))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "selections table") -> Selections:
        """Check a table of selections.

        Examples
        --------
        >>> sel = Selections.from_frame(pd.DataFrame({
        ...     "item": ["factor"], "development": ["12"], "value": ["1.5"], "who": ["A. Actuary"],
        ...     "why": ["large claim in 1985 distorts the average"]}))
        >>> sel.table[["segment", "item", "development", "value"]].values.tolist()
        [['*', 'factor', 12, '1.5']]
        """
        require_columns(frame, ["item", "who", "why"], source, error=ReservingError)
        reject_unknown_columns(frame, COLUMNS, source, error=ReservingError)
        text = pd.DataFrame({c: (frame[c] if c in frame else pd.Series([""] * len(frame), index=frame.index))
                             .astype("string").fillna("").str.strip() for c in COLUMNS}).reset_index(drop=True)
        text["segment"] = text["segment"].replace("", ALL)
        for row, rec in text.iterrows():
            _check_row(rec, row, source)
        development = pd.array([int(v) if v else pd.NA for v in text["development"]], dtype="Int64")
        table = text.assign(development=development)
        keys = ["segment", "item", "development", "origin"]
        dup = table.duplicated(keys, keep=False)
        if dup.any():
            rows = np.flatnonzero(dup.to_numpy())[:2]
            lines = [csv_line(source, int(r)) or f"row {int(r)}" for r in rows]
            raise ReservingError(f"two selections for the same segment, item, development and origin (lines {lines}); "
                                 "keep one", file=source)
        return cls(table, source)

    def rows_for(self, tri: TriangleSet, item: str) -> list[tuple[int, pd.Series]]:
        """(segment position, row) of every selection of ``item`` that applies, a segment's own winning.

        Raises :class:`ReservingError` for a named segment, development or origin that is not in ``tri``.
        """
        names = {_segment_label(tri, s): s for s in range(tri.n_segments)}
        rows = self.table[self.table["item"] == item]
        out = {}
        for row, rec in rows.iterrows():
            self._locate(tri, rec, row, names)
            if rec["segment"] == ALL:
                for s in range(tri.n_segments):
                    out.setdefault((s, _key(rec)), rec)
        for row, rec in rows.iterrows():
            if rec["segment"] != ALL:
                out[(names[rec["segment"]], _key(rec))] = rec
        return [(key[0], rec) for key, rec in out.items()]

    def check(self, tri: TriangleSet) -> None:
        """Raise :class:`ReservingError` (file, line, column) for a segment, development or origin not in ``tri``."""
        for item in ITEMS:
            self.rows_for(tri, item)

    def within(self, tri: TriangleSet) -> Selections:
        """The selections for the segments of ``tri`` only (all-segment rows kept): for a subset of a checked set."""
        names = {_segment_label(tri, s) for s in range(tri.n_segments)}
        keep = (self.table["segment"] == ALL) | self.table["segment"].isin(names)
        return Selections(self.table[keep.to_numpy()], self.source)

    def exclusions(self, tri: TriangleSet, exclude=None) -> np.ndarray:
        """(S, I, J-1) link ratios left out: ``exclude`` (as :func:`reserving.chain_ladder` takes it) or these."""
        out = np.array(_exclusions(tri, exclude))
        for s, rec in self.rows_for(tri, "exclude"):
            out[s, _origin_index(tri, rec["origin"]), _lag_index(tri, rec["development"])] = True
        return out

    def apply(self, dev: Development) -> Development:
        """The development with the selected averaging rules and factors, one diagnostic row each."""
        tri = dev.triangle
        n_link = tri.n_lags - 1
        ldf = dev.ldf_values.copy()
        rows = list(dev.rows)
        by_rule = {}
        for s, rec in self.rows_for(tri, "average"):
            j = _lag_index(tri, rec["development"])
            if rec["value"] not in by_rule:
                by_rule[rec["value"]] = _kernels.link_statistics_batch(tri.values, dev.weights, AVERAGES[rec["value"]])[0]
            indicated, ldf[s, j] = ldf[s, j], by_rule[rec["value"]][s, j]
            rows.append(_row(s, rec, "selected_average", f"{rec['value']} average {ldf[s, j]:.6g}", indicated))
        for s, rec in self.rows_for(tri, "factor"):
            j = _lag_index(tri, rec["development"])
            indicated, ldf[s, j] = ldf[s, j], float(rec["value"])
            rows.append(_row(s, rec, "selected_factor", f"factor {ldf[s, j]:.6g}", indicated))
        if dev.tail is not None and ldf.shape[1] > n_link:
            changed = ~np.isclose(ldf[:, :n_link], dev.ldf_values[:, :n_link]).all(axis=1)
            for s in np.flatnonzero(changed):
                rows.append((s, int(tri.development[-1]), "selected_before_tail",
                             "the tail factor was fitted to the indicated factors, before the selections"))
        return replace(dev, ldf_values=ldf, rows=rows)

    def origin_choices(self, tri: TriangleSet) -> pd.DataFrame:
        """Per segment and origin with a choice: ``method`` and ``prior`` (NaN where not chosen), who, why."""
        records = {}
        for item in ("method", "prior"):
            for s, rec in self.rows_for(tri, item):
                key = (s, _origin_index(tri, rec["origin"]))
                entry = records.setdefault(key, {"method": None, "prior": np.nan, "who": [], "why": []})
                entry[item] = METHODS[rec["value"]] if item == "method" else float(rec["value"])
                entry["who"].append(rec["who"])
                entry["why"].append(rec["why"])
        data = [{"segment": _segment_label(tri, s), "origin": tri.origins[i], "method": e["method"],
                 "prior": e["prior"], "who": "; ".join(dict.fromkeys(e["who"])), "why": "; ".join(e["why"])}
                for (s, i), e in sorted(records.items())]
        return pd.DataFrame(data, columns=["segment", "origin", "method", "prior", "who", "why"])

    def has_development(self) -> bool:
        """Whether any row acts on the development pattern (``factor``, ``average`` or ``exclude``)."""
        return bool(self.table["item"].isin(["factor", "average", "exclude"]).any())

    def priors(self, tri: TriangleSet, apriori: np.ndarray, what: str) -> tuple[np.ndarray, list]:
        """``apriori`` (S, I) with each ``prior`` selection in place of its origin's value, one diagnostic row each.

        ``what`` names the a priori in the rows (e.g. ``loss ratio``).
        """
        out = np.array(apriori, dtype=np.float64)
        rows = []
        for s, rec in self.rows_for(tri, "prior"):
            i = _origin_index(tri, rec["origin"])
            indicated, out[s, i] = out[s, i], float(rec["value"])
            rows.append((s, None, "selected_prior",
                         f"origin {rec['origin']}: {what} {out[s, i]:.6g} selected in place of the indicated "
                         f"{indicated:.6g} by {rec['who']}: {rec['why']}"))
        return out, rows

    def origin_index(self, tri: TriangleSet, origin: str) -> int:
        """Position of ``origin`` (as a selection names it) in ``tri``'s origins."""
        return _origin_index(tri, origin)

    def _locate(self, tri, rec, row, names) -> None:
        def fail(what, column):
            raise ReservingError(what, file=self.source, line=csv_line(self.source, row), column=column)

        if rec["segment"] != ALL and rec["segment"] not in names:
            fail(f"segment {rec['segment']!r} is not in the triangles (segments are named like "
                 f"{next(iter(names))!r}; use * or leave empty for all)", "segment")
        if not pd.isna(rec["development"]) and _lag_index(tri, rec["development"]) is None:
            fail(f"no age-to-age factor starts at development {rec['development']}; developments are "
                 f"{list(tri.development[:-1])}", "development")
        if rec["origin"] and _origin_index(tri, rec["origin"]) is None:
            fail(f"origin {rec['origin']!r} is not one of {tri.origins[0]}..{tri.origins[-1]}", "origin")


def factor_table(indicated: Development, selected: Development, selections: Selections) -> pd.DataFrame:
    """Per segment and development: the indicated and the selected factor, the rule, who and why.

    Only lags with a selection are listed (the report shows them beside the indicated factors).
    """
    tri = selected.triangle
    records = []
    for item in ("average", "factor"):
        for s, rec in selections.rows_for(tri, item):
            j = _lag_index(tri, rec["development"])
            records.append({"segment": _segment_label(tri, s), "development": int(tri.development[j]),
                            "indicated": float(indicated.ldf_values[s, j]),
                            "selected": float(selected.ldf_values[s, j]),
                            "rule": f"{rec['value']} average" if item == "average" else "selected factor",
                            "who": rec["who"], "why": rec["why"]})
    frame = pd.DataFrame(records, columns=["segment", "development", "indicated", "selected", "rule", "who", "why"])
    return frame.drop_duplicates(["segment", "development"], keep="last").sort_values(
        ["segment", "development"]).reset_index(drop=True)


def selected_exclusions(tri: TriangleSet, exclude, selections: Selections | None):
    """``exclude`` unchanged without selections, else the union with the selected exclusions."""
    if selections is None:
        return exclude
    if not isinstance(selections, Selections):
        raise ReservingError(f"selections must be a Selections (Selections.read(path)); got {type(selections).__name__}")
    return selections.exclusions(tri, exclude)


def selected_priors(tri: TriangleSet, apriori: np.ndarray, selections: Selections | None, what: str):
    """``(apriori, [])`` without selections, else :meth:`Selections.priors` (a priori and diagnostic rows)."""
    if selections is None:
        return apriori, []
    if not isinstance(selections, Selections):
        raise ReservingError(f"selections must be a Selections (Selections.read(path)); got {type(selections).__name__}")
    return selections.priors(tri, apriori, what)


def _key(rec) -> tuple:
    """(development or None, origin): what a selection is about, within its segment and item."""
    return (None if pd.isna(rec["development"]) else int(rec["development"]), rec["origin"])


def _row(s, rec, issue, what, indicated) -> tuple:
    return (s, int(rec["development"]), issue,
            f"{what} selected in place of the indicated {indicated:.6g} by {rec['who']}: {rec['why']}")


def _segment_label(tri: TriangleSet, s: int) -> str:
    label = tri.segments[s]
    return "/".join(map(str, label)) if isinstance(label, tuple) else str(label)


def _lag_index(tri: TriangleSet, development) -> int | None:
    j = np.flatnonzero(tri.development[:-1] == int(development))
    return int(j[0]) if j.size else None


def _origin_index(tri: TriangleSet, origin: str) -> int | None:
    try:
        i = tri.origins.get_indexer([pd.Period(origin, freq=tri.origins.freq)])[0]
    except (ValueError, TypeError):
        return None
    return int(i) if i >= 0 else None


def _check_row(rec, row: int, source: str) -> None:
    """One row's own consistency: item known, the fields it needs, a value of the right kind."""
    def fail(what, column):
        raise ReservingError(what, file=source, line=csv_line(source, row) if csv_line(source, row) else None,
                             column=column)

    item = rec["item"]
    if item not in ITEMS:
        fail(f"item {item!r} is not one of {list(ITEMS)}", "item")
    for col in _NEEDS[item]:
        if not rec[col]:
            fail(f"a {item} selection needs a {col}", col)
    for col in {"development", "origin"} - set(_NEEDS[item]):
        if rec[col]:
            fail(f"a {item} selection takes no {col} (it applies to {', '.join(_NEEDS[item])})", col)
    if rec["development"] and not rec["development"].isdigit():
        fail("development must be a whole number of months, e.g. 12", "development")
    for col in ("who", "why"):
        if not rec[col]:
            fail(f"every selection needs {'who made it' if col == 'who' else 'the reason'} ({col})", col)
    value = rec["value"]
    if item in ("factor", "prior"):
        try:
            number = float(value)
        except ValueError:
            number = np.nan
        if not (np.isfinite(number) and number > 0):
            fail(f"a {item} must be a positive number", "value")
    elif item == "average" and value not in AVERAGES:
        fail(f"average must be one of {list(AVERAGES)}", "value")
    elif item == "method" and value not in METHODS:
        fail(f"method {value!r} is not one of {list(METHODS)} (see reserving.selections)" if value
             else "a method selection needs the method's name in value", "value")
    elif item == "exclude" and value:
        fail("an exclude selection takes no value (say why in why)", "value")
