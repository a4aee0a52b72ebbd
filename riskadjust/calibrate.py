"""Calibrate a risk model's coefficients by weighted least squares on annualised cost.

For member ``i`` with cost ``c_i`` over ``e_i`` member-years, the response is the annualised cost
truncated at a cap, ``y_i = min(c_i / e_i, cap)``, weighted by ``w_i = e_i`` (the CMS-HCC
calibration convention: Pope et al., *Risk adjustment of Medicare capitation payments using the
CMS-HCC model*, Health Care Financing Review 25(4), 2004). The design row of a member has a 1 for
every model parameter that applies to them (cell, kept categories, interactions, count term), as
scored by :func:`riskadjust.score`. Coefficients minimise the weighted squared error, i.e.
``1/2 b'X'WXb - b'X'Wy``, subject to chosen linear equalities ``C b = d`` and, as CMS constrains
its calibrations, two kinds of inequality (both on by default, each switchable):

* **non-negativity**: every coefficient ``>= 0`` except chosen ones (a condition never lowers cost);
* **hierarchy monotonicity**: for each hierarchy row ``(parent, child)`` of the model, in each
  segment, the parent's coefficient ``>=`` the child's (the more severe condition pays at least as
  much, so that coding the parent never lowers a score).

The programme is solved exactly over the normal equations by an active-set method
(:mod:`riskadjust._active_set`); with no inequality binding the result is the weighted least-squares
solution of ``X'WX b = X'Wy`` (with equalities, the KKT system ``[[X'WX, C'], [C, 0]] [b; l] =
[X'Wy; d]``). The binding inequalities are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from _kit.validate import number, numeric_column
from _kit.random import generator
from riskadjust._active_set import solve_ordered
from riskadjust._calibrate_kernels import normal_equations
from riskadjust.errors import PopulationError, RiskModelError, row_error
from riskadjust.model import RiskModel
from riskadjust.population import Population
from riskadjust.score import kernel_args, score
from riskadjust.validate import ValidationResult, validate

BLOCK_MEMORY = 256 * 2**20


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """Fitted coefficients, the relative model, and fit on the training and held-out members.

    Attributes
    ----------
    coefficients : DataFrame
        Per parameter: ``segment, term, kind, members, exposure`` (member-years with the term),
        ``cost`` (fitted currency per member-year) and ``relative`` (``cost / denominator``).
    model : RiskModel
        The input model with the relative coefficients (scores average about 1 on the training data).
    denominator : float
        Exposure-weighted mean capped annualised cost of the training members (currency per member-year).
    fit, validation : ValidationResult
        Measures on the training members and on the held-out members (``None`` without a hold-out),
        against capped cost; ``by_group_uncapped`` and ``by_decile_uncapped`` give the predictive
        ratios against cost before the cap.
    unobserved : tuple of (segment, term)
        Parameters fewer than ``min_members`` training members have (and no constraint involves);
        left at zero (order constraints involving them are not applied).
    binding : DataFrame
        The inequality constraints that bind at the solution: ``constraint`` (``non-negative`` or
        ``hierarchy``), ``segment``, ``term`` (for ``hierarchy`` the parent), ``child`` (blank for
        ``non-negative``) and ``multiplier`` (its Lagrange multiplier, >= 0: how fast the weighted
        squared error, halved, would fall per currency unit the constraint were relaxed). A binding
        non-negative coefficient is exactly 0; a binding parent equals its child exactly.
    """

    coefficients: pd.DataFrame
    model: RiskModel
    denominator: float
    fit: ValidationResult
    validation: ValidationResult | None
    unobserved: tuple
    n_train: int
    n_holdout: int
    binding: pd.DataFrame

    @property
    def summary(self) -> pd.DataFrame:
        return self.coefficients

    @property
    def totals(self) -> dict:
        out = {"members_train": self.n_train, "members_holdout": self.n_holdout, "denominator": self.denominator,
               "r2_train": self.fit.r2, "unobserved_parameters": len(self.unobserved),
               "binding_non_negative": int((self.binding["constraint"] == "non-negative").sum()),
               "binding_hierarchy": int((self.binding["constraint"] == "hierarchy").sum())}
        if self.validation is not None:
            out.update({"r2_holdout": self.validation.r2, "cpm_holdout": self.validation.cpm,
                        "mape_holdout": self.validation.mape})
        return out


def _n_blocks(n: int, n_params: int) -> int:
    """Blocks depend only on the data size (never on the thread count), so sums are reproducible."""
    by_memory = max(1, BLOCK_MEMORY // (8 * max(n_params, 1) ** 2))
    return int(max(1, min(64, -(-n // 16384), by_memory)))


def normal_matrices(model: RiskModel, population: Population, weight: np.ndarray, y: np.ndarray):
    """``(X'WX, X'Wy, count)`` for the model's parameters, summed over blocks in a fixed order."""
    P = len(model.coefficients)
    nb = _n_blocks(len(population), P)
    xtx = np.zeros((nb, P, P))
    xty = np.zeros((nb, P))
    count = np.zeros((nb, P), dtype=np.int64)
    normal_equations(*kernel_args(model, population), np.ascontiguousarray(weight, dtype=np.float64),
                     np.ascontiguousarray(y, dtype=np.float64), xtx, xty, count)
    a, v, c = xtx[0].copy(), xty[0].copy(), count[0].copy()
    for b in range(1, nb):
        a += xtx[b]
        v += xty[b]
        c += count[b]
    return a, v, c


def _constraint_matrix(model: RiskModel, constraints: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    need = {"constraint", "segment", "term", "weight", "value"}
    if not need <= set(constraints.columns):
        raise RiskModelError(f"constraints need columns {sorted(need)}; got {list(constraints.columns)}")
    index = {(s, t): i for i, (s, t) in enumerate(zip(model.coefficients["segment"], model.coefficients["term"]))}
    ids = list(pd.unique(constraints["constraint"]))
    values = constraints["value"].astype(float).groupby(constraints["constraint"], sort=False).nunique(dropna=False)
    if (values > 1).any():
        bad = values.index[values > 1][0]
        raise RiskModelError(f"constraint {bad!r}: its rows give different values; give the same value on every "
                             "row of one constraint")
    C = np.zeros((len(ids), len(index)))
    d = np.zeros(len(ids))
    for row, r in enumerate(constraints.itertuples(index=False)):
        key = (str(r.segment), str(r.term))
        if key not in index:
            raise RiskModelError(f"constraints row {row}: ({key[0]!r}, {key[1]!r}) is not a parameter of the model")
        k = ids.index(r.constraint)
        C[k, index[key]] += float(r.weight)
        d[k] = float(r.value)
    return C, d


def _order_constraints(model: RiskModel, keep: np.ndarray, nonnegative: bool, monotone: bool,
                       allow_negative) -> tuple[np.ndarray, pd.DataFrame]:
    """Rows ``(i, j)`` meaning ``b_i >= b_j`` (``j = -1``: ``b_i >= 0``) over the kept parameters, and their labels.

    Non-negativity covers every kept parameter but those named in ``allow_negative`` (a term name,
    for every segment, or a ``(segment, term)`` pair); monotonicity covers each hierarchy row
    ``(parent, child)`` in each segment where both are kept parameters.
    """
    seg = model.coefficients["segment"].to_numpy(dtype=object)
    term = model.coefficients["term"].to_numpy(dtype=object)
    position = {int(p): k for k, p in enumerate(keep)}
    index = {(s, t): position[i] for i, (s, t) in enumerate(zip(seg, term)) if i in position}
    free = set()
    for item in allow_negative:
        names = [(s, t) for s, t in index if t == item] if isinstance(item, str) else [tuple(item)]
        if not names and isinstance(item, str) and item not in model.terms:
            raise RiskModelError(f"allow_negative: {item!r} is not a term of the model")
        free.update(names)
    rows, labels = [], []
    if nonnegative:
        for (s, t), k in index.items():
            if (s, t) not in free:
                rows.append((k, -1))
                labels.append(("non-negative", s, t, ""))
    if monotone:
        for s in model.segments:
            for parent, child in zip(model.hierarchy["parent"], model.hierarchy["child"]):
                if (s, parent) in index and (s, child) in index:
                    rows.append((index[s, parent], index[s, child]))
                    labels.append(("hierarchy", s, parent, child))
    table = pd.DataFrame(labels, columns=["constraint", "segment", "term", "child"], dtype=object)
    return np.array(rows, dtype=np.int64).reshape(-1, 2), table


def _cost_exposure(cost, exposure, n: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Cost (>= 0) and exposure (> 0) per member as float arrays, checked by :func:`_kit.validate.numeric_column`."""
    exposure = np.ones(n) if exposure is None else exposure
    if np.shape(cost) != (n,) or np.shape(exposure) != (n,):
        raise PopulationError(f"cost and exposure need one value per member ({n}); got {np.shape(cost)} and "
                              f"{np.shape(exposure)}")
    names = [str(getattr(cost, "name", None) or "cost"), str(getattr(exposure, "name", None) or "exposure")]
    if names[0] == names[1]:
        names = ["cost", "exposure"]
    table = pd.DataFrame({names[0]: np.asarray(cost), names[1]: np.asarray(exposure)})
    c = numeric_column(table, names[0], source, PopulationError, low=0)
    e = numeric_column(table, names[1], source, PopulationError, low=0)
    if np.any(e == 0):
        raise row_error(PopulationError, "must be above 0 member-years", source, int(np.flatnonzero(e == 0)[0]),
                        names[1])
    return c, e


def calibrate(population: Population, cost, exposure=None, cap: float | None = None,
              constraints: pd.DataFrame | None = None, *, nonnegative: bool = True, monotone: bool = True,
              allow_negative=(), holdout: float = 0.0, seed: int = 0, groups=None, min_members: int = 1,
              source: str = "members") -> CalibrationResult:
    """Fit the coefficients of ``population.model`` by constrained weighted least squares.

    Parameters
    ----------
    population : Population
        Members and conditions; the model it was built for supplies the parameters to fit (every
        row of its coefficients table; starting values are ignored).
    cost : array-like (n,)
        Cost of each member over their exposure period (currency, >= 0).
    exposure : array-like (n,), optional
        Member-years (0 < e); weights of the regression. Default 1.
    cap : float, optional
        Truncate annualised cost at this amount (currency per member-year).
    constraints : DataFrame, optional
        Long table ``constraint, segment, term, weight, value``: for each ``constraint`` id,
        ``sum(weight * coefficient) = value``. E.g. two rows ``(1, s, A, 1, 0)``, ``(1, s, B, -1, 0)``
        force equal coefficients for ``A`` and ``B``.
    nonnegative : bool
        Constrain every coefficient to be >= 0 except those in ``allow_negative`` (default on).
    monotone : bool
        Constrain each hierarchy parent's coefficient to be >= its child's, per segment (default on).
    allow_negative : iterable of str or (segment, term)
        Terms (in every segment) or parameters exempt from non-negativity.
    holdout : float
        Fraction of members held out of the fit and used for validation: member ``i`` is held out
        when the ``i``-th uniform of ``_kit.random.generator(seed, "holdout")`` is below it.
    seed : int
        Seed of the hold-out split.
    groups : array-like (n,), optional
        Group labels for predictive ratios by group.
    min_members : int
        Parameters that fewer training members have are not estimated (left at zero) unless a
        constraint ties them to others.
    source : str
        What the members table is (e.g. its file path), for error messages; a bad cost or exposure
        is named by the column (the name of a ``cost`` / ``exposure`` Series) and the row's line.

    Returns
    -------
    CalibrationResult

    Examples
    --------
    >>> from riskadjust import Population
    >>> from riskadjust.synthetic import home_model, synthetic_population
    >>> m = home_model()
    >>> members, dx = synthetic_population(5000, seed=3)
    >>> pop = Population.from_frames(m, members, dx)
    >>> r = calibrate(pop, members["cost"], members["exposure"], cap=100_000, holdout=0.3, seed=1,
    ...               min_members=30)
    >>> 0 < r.validation.r2 < 1
    True
    >>> bool((r.coefficients["cost"] >= 0).all())
    True
    """
    model = population.model
    n = len(population)
    c, e = _cost_exposure(cost, exposure, n, source)
    y = uncapped = c / e
    if cap is not None:
        y = np.minimum(y, number(cap, "cap (per member-year)", PopulationError, low=0, low_open=True))
    if not 0 <= holdout < 1:
        raise PopulationError(f"holdout must be a fraction in [0, 1), got {holdout}")
    test = generator(seed, "holdout").random(n) < holdout if holdout > 0 else np.zeros(n, dtype=bool)
    train = ~test
    g = None if groups is None else np.asarray(groups)

    train_pop = population.take(train)
    a, v, count = normal_matrices(model, train_pop, e[train], y[train])
    C, d = (np.zeros((0, a.shape[0])), np.zeros(0)) if constraints is None else _constraint_matrix(model, constraints)
    observed = ((np.diag(a) > 0) & (count >= min_members)) | np.any(C != 0, axis=0)
    keep = np.flatnonzero(observed)
    order, labels = _order_constraints(model, keep, nonnegative, monotone, allow_negative)
    b = np.zeros(a.shape[0])
    b[keep], active, multipliers = solve_ordered(a[np.ix_(keep, keep)], v[keep], C[:, keep], d, order)
    binding = labels.iloc[active].reset_index(drop=True).assign(multiplier=multipliers)

    denominator = float(np.sum(e[train] * y[train]) / np.sum(e[train]))
    coefs = model.coefficients[["segment", "term"]].copy()
    kinds = dict(zip(model.terms, model.term_kinds))
    coefs["kind"] = coefs["term"].map(kinds)
    coefs["members"] = count
    coefs["exposure"] = np.diag(a)
    coefs["cost"] = b
    coefs["relative"] = b / denominator
    currency = model.with_coefficients(coefs[["segment", "term"]].assign(coefficient=b), normalisation=1.0,
                                       coding_intensity=0.0)
    relative = model.with_coefficients(coefs[["segment", "term"]].assign(coefficient=b / denominator),
                                       normalisation=1.0, coding_intensity=0.0)
    fit = validate(score(currency, train_pop).raw, y[train], e[train], None if g is None else g[train],
                   uncapped=uncapped[train])
    validation = None
    if test.any():
        test_pop = population.take(test)
        validation = validate(score(currency, test_pop).raw, y[test], e[test], None if g is None else g[test],
                              uncapped=uncapped[test])
    unobserved = tuple(zip(coefs["segment"][~observed], coefs["term"][~observed]))
    return CalibrationResult(coefs, relative, denominator, fit, validation, unobserved,
                             int(train.sum()), int(test.sum()), binding)
