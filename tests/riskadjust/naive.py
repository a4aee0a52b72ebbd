"""Slow, obvious reference implementations, written from the table definitions with Python sets.

They share no code with the package except reading the model's tables, so agreement is evidence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""


def naive_terms(model, members: pd.DataFrame, diagnoses: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """For each member (in order): (segment, list of applying term names)."""
    dx_map: dict[str, set[str]] = {}
    for code, cat in zip(model.dx_map["code"], model.dx_map["category"]):
        dx_map.setdefault(code, set()).add(cat)
    edits = {r.code: r for r in model.dx_edits.itertuples(index=False)}
    children: dict[str, set[str]] = {}
    for p, c in zip(model.hierarchy["parent"], model.hierarchy["child"]):
        children.setdefault(p, set()).add(c)
    needs: dict[str, set[str]] = {}
    for c, r in zip(model.requirements["category"], model.requirements["requires"]):
        needs.setdefault(c, set()).add(r)
    groups: dict[str, set[str]] = {}
    for g, c in zip(model.groups["group"], model.groups["category"]):
        groups.setdefault(g, set()).add(c)
    codes_by_patient: dict[str, list[str]] = {}
    for pid, code in zip(diagnoses["patient_id"].astype(str), diagnoses["code"].astype(str)):
        codes_by_patient.setdefault(pid, []).append(code.upper().replace(".", "").strip())

    cell_rows = list(model.cells[["segment", "sex", "age_min", "age_max", "term"]].itertuples(index=False))
    out = []
    for row in members.to_dict("records"):
        seg = row.get("segment", model.segments[0])
        sex = {"1": "M", "2": "F"}.get(str(row["sex"]).upper(), str(row["sex"]).upper())
        age = int(np.floor(float(row["age"])))
        cell = [t for s, x, lo, hi, t in cell_rows if s == seg and x == sex and lo <= age <= hi]
        assert len(cell) == 1
        cats: set[str] = set()
        for code in codes_by_patient.get(str(row["patient_id"]), []):
            if code not in dx_map:
                continue
            e = edits.get(code)
            fires = False
            if e is not None:
                sex_ok = _blank(e.sex) or e.sex == sex
                lo = None if _blank(e.age_min) else int(e.age_min)
                hi = None if _blank(e.age_max) else int(e.age_max)
                age_ok = (lo is None and hi is None) or (hi is not None and age <= hi) or (lo is not None and age >= lo)
                fires = sex_ok and age_ok
            if fires:
                if e.action == "override":
                    cats.add(e.category)
            else:
                cats |= dx_map[code]
        valid = {c for c in cats if c not in needs or needs[c] & cats}
        kept = {c for c in valid if not any(c in children.get(d, ()) for d in valid)}
        flags = {"female": sex == "F", "male": sex == "M"}
        for f in model.flags:
            if f in row:
                flags[f] = bool(int(row[f]))

        def present(factor: str) -> bool:
            if _blank(factor):
                return True
            return bool(groups[factor] & kept) if factor in groups else factor in kept

        terms = cell + sorted(kept)
        for r in model.interactions.itertuples(index=False):
            if present(r.factor1) and present(r.factor2) and all(_blank(f) or flags[f] for f in (r.flag1, r.flag2)):
                terms.append(r.term)
        for r in model.counts.itertuples(index=False):
            if int(r.min_count) <= len(kept) <= int(r.max_count):
                terms.append(r.term)
        out.append((seg, terms))
    return out


def naive_scores(model, members, diagnoses) -> np.ndarray:
    """Raw score of each member: sum of the (segment, term) coefficients that apply."""
    coef = {(s, t): v for s, t, v in zip(model.coefficients["segment"], model.coefficients["term"],
                                         model.coefficients["coefficient"])}
    return np.array([sum(coef.get((seg, t), 0.0) for t in terms)
                     for seg, terms in naive_terms(model, members, diagnoses)])


def naive_design(model, members, diagnoses) -> np.ndarray:
    """Dense 0/1 design: member x parameter (the model's coefficients table rows)."""
    index = {(s, t): i for i, (s, t) in enumerate(zip(model.coefficients["segment"], model.coefficients["term"]))}
    rows = naive_terms(model, members, diagnoses)
    X = np.zeros((len(rows), len(index)))
    for i, (seg, terms) in enumerate(rows):
        for t in terms:
            if (seg, t) in index:
                X[i, index[(seg, t)]] = 1.0
    return X


def naive_rows_of(keys, values) -> np.ndarray:
    """Row of each value among ``keys`` by a Python dict on ``str`` (missing matches missing)."""
    def as_key(v):
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)

    first = {}
    for i, k in enumerate(keys):
        first.setdefault(as_key(k), i)
    return np.array([first.get(as_key(v), -1) for v in values], dtype=np.int64)


def naive_code(code) -> str | None:
    """An ICD-10 code as the model tables hold it: dots removed, upper case, surrounding blanks stripped."""
    if code is None or (isinstance(code, float) and np.isnan(code)):
        return None
    return str(code).upper().replace(".", "").strip()


def naive_conditions(model, members: pd.DataFrame, diagnoses: pd.DataFrame) -> list[list[str]]:
    """Each member's sorted coded categories (before hierarchies), after the model's edits."""
    dx_map: dict[str, set[str]] = {}
    for code, cat in zip(model.dx_map["code"], model.dx_map["category"]):
        dx_map.setdefault(code, set()).add(cat)
    edits = {r.code: r for r in model.dx_edits.itertuples(index=False)}
    by_id = {str(pid): i for i, pid in enumerate(members["patient_id"])}
    cats: list[set[str]] = [set() for _ in range(len(members))]
    sexes = [{"1": "M", "2": "F"}.get(str(s).upper(), str(s).upper()) for s in members["sex"]]
    ages = [int(np.floor(float(a))) for a in members["age"]]
    for pid, code in zip(diagnoses["patient_id"], diagnoses["code"]):
        i = by_id[str(pid)]
        code = naive_code(code)
        if code not in dx_map:
            continue
        e = edits.get(code)
        fires = False
        if e is not None:
            lo = None if _blank(e.age_min) else int(e.age_min)
            hi = None if _blank(e.age_max) else int(e.age_max)
            fires = ((_blank(e.sex) or e.sex == sexes[i])
                     and ((lo is None and hi is None) or (hi is not None and ages[i] <= hi)
                          or (lo is not None and ages[i] >= lo)))
        if fires:
            if e.action == "override":
                cats[i].add(e.category)
        else:
            cats[i] |= dx_map[code]
    order = {c: k for k, c in enumerate(model.category_names)}
    return [sorted(c, key=order.get) for c in cats]


def naive_ordered_wls(a: np.ndarray, v: np.ndarray, G: np.ndarray, C: np.ndarray | None = None,
                      d: np.ndarray | None = None) -> np.ndarray:
    """Minimise ``1/2 b'ab - v'b`` subject to ``G b >= 0`` (and ``C b = d``) by trying every active set.

    A strictly convex quadratic programme's solution solves the equality problem of its active set;
    so among the subsets of rows of ``G`` held as equalities, the feasible solution with the lowest
    objective is the answer. Exponential in the number of rows: for a handful of constraints only.
    """
    from itertools import combinations

    n = a.shape[0]
    C = np.zeros((0, n)) if C is None else C
    d = np.zeros(0) if d is None else d
    best, answer = np.inf, None
    for r in range(len(G) + 1):
        for rows in combinations(range(len(G)), r):
            E = np.vstack([C, G[list(rows)]])
            if np.linalg.matrix_rank(E) < E.shape[0]:
                continue
            K = np.block([[a, E.T], [E, np.zeros((len(E), len(E)))]])
            b = np.linalg.solve(K, np.concatenate([v, d, np.zeros(r)]))[:n]
            if np.all(G @ b >= -1e-9 * max(1.0, np.abs(b).max())):
                f = 0.5 * b @ a @ b - v @ b
                if f < best:
                    best, answer = f, b
    return answer


def naive_pace(target: np.ndarray, floor: np.ndarray, ceiling: np.ndarray, total: float) -> np.ndarray:
    """Pace-of-change allocation by bisection, from the rule in words: start every group at its floor;
    groups below target close a common fraction ``f`` of their gap, stopping at their ceiling; if
    ``f = 1`` leaves money, everyone below their ceiling gets a common multiple ``h`` of their target
    on top, again stopping at the ceiling."""
    gap = np.maximum(target - floor, 0.0)

    def stage1(f):
        return np.minimum(ceiling, floor + f * gap)

    if stage1(1.0).sum() >= total:
        lo, hi = 0.0, 1.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if stage1(mid).sum() < total else (lo, mid)
        return stage1(hi)
    base = stage1(1.0)

    def stage2(h):
        return np.minimum(ceiling, base + h * target)

    lo, hi = 0.0, 1.0
    while stage2(hi).sum() < total and hi < 1e15:  # (the ceilings may meet the total only up to rounding)
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stage2(mid).sum() < total else (lo, mid)
    return stage2(hi)
