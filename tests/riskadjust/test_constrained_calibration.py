"""Calibration under non-negativity and hierarchy constraints.

References: statsmodels WLS where no constraint binds (and, with the binding constraints imposed by
merging columns, where they bind, completed by an independent KKT check); scipy's bounded least
squares (``lsq_linear``, BVLS, an exact active-set method) for non-negativity alone; scipy's SLSQP
on the quadratic programme; and, on small random problems, a brute-force search over active sets
(``naive_ordered_wls``).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import lsq_linear, minimize

from riskadjust import Population
from riskadjust._active_set import solve_ordered
from riskadjust.calibrate import calibrate
from riskadjust.errors import RiskModelError
from tests.riskadjust.naive import naive_design, naive_ordered_wls

CAP = 60_000.0


@pytest.fixture(scope="module")
def home(home):
    """The home model with only cell coefficients in the small institutional segment."""
    c = home.coefficients
    return home.with_coefficients(c[(c["segment"] == "community") | c["term"].isin(set(home.cells["term"]))])


@pytest.fixture(scope="module")
def data(home, sample):
    members, dx = sample
    X = naive_design(home, members, dx)
    y = np.minimum(members["cost"].to_numpy() / members["exposure"].to_numpy(), CAP)
    return members, Population.from_frames(home, members, dx), X, y, members["exposure"].to_numpy()


@pytest.fixture(scope="module")
def constrained(data):
    members, pop = data[:2]
    return calibrate(pop, members["cost"], members["exposure"], cap=CAP)


def _rel(a, b):
    """Largest difference relative to the largest coefficient (currency per member-year)."""
    return np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(b)))


def _order_rows(model, seen):
    """``G`` (rows: b >= 0 per seen parameter, then parent - child >= 0 per segment) over the seen parameters."""
    keys = list(zip(model.coefficients["segment"], model.coefficients["term"]))
    cols = {k: j for j, k in enumerate(k for k, s in zip(keys, seen) if s)}
    rows = []
    for j in range(len(cols)):
        rows.append(np.eye(len(cols))[j])
    for seg in model.segments:
        for p, c in zip(model.hierarchy["parent"], model.hierarchy["child"]):
            if (seg, p) in cols and (seg, c) in cols:
                r = np.zeros(len(cols))
                r[cols[seg, p]], r[cols[seg, c]] = 1.0, -1.0
                rows.append(r)
    return np.array(rows)


def test_no_binding_constraint_equals_statsmodels_wls(home, data):
    """Costs drawn from positive, hierarchy-ordered true coefficients: nothing binds, plain WLS results."""
    members, pop, X, _, w = data
    kinds = dict(zip(home.terms, home.term_kinds))
    below = home.hierarchy.groupby("parent").size()
    truth = np.array([{"cell": 1500.0, "interaction": 300.0, "count": 200.0}.get(kinds[t], 1000.0 + 800.0 * below.get(t, 0))
                      for t in home.coefficients["term"]])
    y = X @ truth + np.random.default_rng(7).normal(0.0, 40.0, len(members))
    r = calibrate(pop, y * w, w)
    assert r.binding.empty
    seen = X.sum(axis=0) > 0
    ref = sm.WLS(y, X[:, seen], weights=w).fit().params
    assert _rel(r.coefficients["cost"].to_numpy()[seen], ref) < 1e-8


def test_constraints_hold_exactly(home, data, constrained):
    X = data[2]
    b = constrained.coefficients["cost"].to_numpy()
    assert (b >= 0).all()
    seen = X.sum(axis=0) > 0
    assert np.all(_order_rows(home, seen) @ b[seen] >= 0)  # parent >= child in floating point, no tolerance
    kinds = constrained.binding.groupby("constraint").size()
    assert kinds["non-negative"] >= 3 and kinds["hierarchy"] >= 1  # the data make both kinds bind
    cost = constrained.coefficients.set_index(["segment", "term"])["cost"]
    for row in constrained.binding.itertuples():
        assert cost[row.segment, row.term] == (0.0 if row.constraint == "non-negative" else cost[row.segment, row.child])
    assert (constrained.binding["multiplier"] > 0).all()
    # unconstrained, the same data give negative coefficients and inversions
    members, pop = data[:2]
    free = calibrate(pop, members["cost"], members["exposure"], cap=CAP, nonnegative=False, monotone=False)
    assert (free.coefficients["cost"] < 0).any() and free.binding.empty


def test_binding_solution_is_wls_on_merged_columns_and_kkt_optimal(home, data, constrained):
    """Impose the reported binding constraints on the naive design (tied columns added, zeroed ones
    dropped): statsmodels WLS gives the same coefficients, and the multipliers that the naive
    gradient needs are >= 0, so the KKT conditions hold: the solution is the constrained optimum."""
    members, pop, X, y, w = data
    keys = list(zip(home.coefficients["segment"], home.coefficients["term"]))
    index = {k: j for j, k in enumerate(keys)}
    seen = X.sum(axis=0) > 0
    group = {j: j for j in range(len(keys)) if seen[j]}
    for row in constrained.binding.itertuples():
        if row.constraint == "non-negative":
            group[index[row.segment, row.term]] = -1
    for row in constrained.binding.itertuples():
        if row.constraint == "hierarchy":
            p, c = index[row.segment, row.term], index[row.segment, row.child]
            group[c] = group[p]
    cols = sorted({g for g in group.values() if g >= 0})
    Z = np.column_stack([X[:, [j for j, g in group.items() if g == col]].sum(axis=1) for col in cols])
    ref = sm.WLS(y, Z, weights=w).fit().params
    want = np.zeros(len(keys))
    for j, g in group.items():
        if g >= 0:
            want[j] = ref[cols.index(g)]
    b = constrained.coefficients["cost"].to_numpy()
    assert _rel(b, want) < 1e-8
    # KKT: X'W(Xb - y) = sum of multiplier x constraint row, multipliers >= 0
    gradient = (X.T @ (w * (X @ b - y)))[seen]
    G = _order_rows(home, seen)
    labels = [("non-negative", k[0], k[1], "") for k, s in zip(keys, seen) if s]
    labels += [("hierarchy", seg, p, c) for seg in home.segments
               for p, c in zip(home.hierarchy["parent"], home.hierarchy["child"])
               if seen[index.get((seg, p), 0)] and (seg, p) in index and (seg, c) in index and seen[index[seg, c]]]
    bound = [labels.index(tuple(r)) for r in constrained.binding[["constraint", "segment", "term", "child"]]
             .itertuples(index=False)]
    lam, *_ = np.linalg.lstsq(G[bound].T, gradient, rcond=None)
    assert np.max(np.abs(G[bound].T @ lam - gradient)) < 1e-9 * np.max(np.abs(X.T @ (w * y)))
    assert lam.min() > 0
    np.testing.assert_allclose(constrained.binding["multiplier"], lam, rtol=1e-6)


def test_non_negativity_alone_equals_scipy_bvls(data):
    members, pop, X, y, w = data
    r = calibrate(pop, members["cost"], members["exposure"], cap=CAP, monotone=False)
    seen = X.sum(axis=0) > 0
    sw = np.sqrt(w)
    ref = lsq_linear(sw[:, None] * X[:, seen], sw * y, bounds=(0, np.inf), method="bvls", tol=1e-15).x
    assert _rel(r.coefficients["cost"].to_numpy()[seen], ref) < 1e-8  # BVLS is exact: same active set


def test_constrained_equals_scipy_slsqp(home, data, constrained):
    """SLSQP stops on the change of the objective (ftol), so it finds coefficients only to about the
    square root of that: here it reaches 1.1e-6 of the largest coefficient, asserted below 2e-6 (the
    exact checks are the BVLS test below, the KKT test above and the brute force on small problems)."""
    _, _, X, y, w = data
    seen = X.sum(axis=0) > 0
    A = X[:, seen].T @ (w[:, None] * X[:, seen])
    v = X[:, seen].T @ (w * y)
    s = np.sqrt(np.diag(A))
    As, vs = A / np.outer(s, s), v / s
    G = _order_rows(home, seen) / s
    f = np.abs(vs).max()
    ref = minimize(lambda z: (0.5 * z @ As @ z - vs @ z) / f, np.zeros(len(v)), jac=lambda z: (As @ z - vs) / f,
                   method="SLSQP", constraints=[{"type": "ineq", "fun": lambda z: G @ z, "jac": lambda z: G}],
                   options={"ftol": 1e-16, "maxiter": 2000})
    assert ref.success
    assert _rel(constrained.coefficients["cost"].to_numpy()[seen], ref.x / s) < 2e-6


def test_constrained_equals_scipy_bvls_on_chain_parameters(home, data, constrained):
    """In the home model every category has at most one child once the hierarchy is reduced to its
    direct links, so ``b_parent = b_child + u``, ``b_leaf = u`` with all ``u >= 0`` turns non-negativity
    and monotonicity into bounds: scipy's exact BVLS on the reparametrised design is the reference."""
    _, _, X, y, w = data
    keys = list(zip(home.coefficients["segment"], home.coefficients["term"]))
    seen = X.sum(axis=0) > 0
    cols = [j for j in range(len(keys)) if seen[j]]
    at = {keys[j]: k for k, j in enumerate(cols)}
    below = {}
    for seg in home.segments:
        edges = {(p, c) for p, c in zip(home.hierarchy["parent"], home.hierarchy["child"])
                 if (seg, p) in at and (seg, c) in at}
        direct = {(p, c) for p, c in edges if not any((p, q) in edges and (q, c) in edges for q, _ in edges)}
        for p, c in direct:
            assert (seg, p) not in below  # at most one direct child
            below[seg, p] = (seg, c)
    T = np.zeros((len(cols), len(cols)))
    for key, k in at.items():
        node = key
        while node is not None:
            T[k, at[node]] = 1.0
            node = below.get(node)
    sw = np.sqrt(w)
    u = lsq_linear(sw[:, None] * (X[:, cols] @ T), sw * y, bounds=(0, np.inf), method="bvls", tol=1e-15).x
    assert _rel(constrained.coefficients["cost"].to_numpy()[seen], T @ u) < 1e-8


def test_allow_negative_and_switches(home, data, constrained):
    members, pop = data[:2]
    free = calibrate(pop, members["cost"], members["exposure"], cap=CAP, nonnegative=False, monotone=False)
    negative = free.coefficients.loc[free.coefficients["cost"] < 0, "term"].iloc[0]
    r = calibrate(pop, members["cost"], members["exposure"], cap=CAP, allow_negative=[negative], monotone=False)
    assert negative not in set(r.binding["term"])
    assert (r.coefficients.loc[r.coefficients["term"] != negative, "cost"] >= 0).all()
    with pytest.raises(RiskModelError, match="'NOPE' is not a term of the model"):
        calibrate(pop, members["cost"], members["exposure"], allow_negative=["NOPE"])


def test_equalities_that_contradict_non_negativity_are_refused(data):
    members, pop = data[:2]
    cons = pd.DataFrame({"constraint": [1], "segment": ["community"], "term": ["DIAB"], "weight": [1.0],
                         "value": [-5.0]})
    with pytest.raises(RiskModelError, match="no coefficients satisfy the equality constraints"):
        calibrate(pop, members["cost"], members["exposure"], constraints=cons)
    ok = calibrate(pop, members["cost"], members["exposure"], constraints=cons.assign(value=150.0))
    assert ok.coefficients.set_index(["segment", "term"]).loc[("community", "DIAB"), "cost"] == pytest.approx(150.0, rel=1e-12)


@st.composite
def problems(draw):
    """A small full-rank weighted least-squares problem with order constraints (and maybe one equality)."""
    n = draw(st.integers(2, 5))
    m = draw(st.integers(n + 3, 25))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = (rng.random((m, n)) < 0.5).astype(float)
    X[:, 0] = 1.0
    w = rng.uniform(0.2, 1.0, m)
    y = X @ rng.normal(0.0, 500.0, n) + rng.gamma(1.0, 300.0, m)
    A = X.T @ (w[:, None] * X)
    assume(np.linalg.cond(A) < 1e6)
    bounds = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda t: t[0] != t[1]),
                          unique=True, max_size=3))
    order = np.array([(i, -1) for i in bounds] + pairs, dtype=np.int64).reshape(-1, 2)
    C, d = np.zeros((0, n)), np.zeros(0)
    if draw(st.booleans()):
        C = np.zeros((1, n))
        C[0, draw(st.integers(0, n - 1))] = 1.0
        d = np.array([draw(st.sampled_from([0.0, 50.0, 400.0]))])
    return A, X.T @ (w * y), C, d, order


def _dense(order, n):
    G = np.zeros((len(order), n))
    for k, (i, j) in enumerate(order):
        G[k, i] = 1.0
        if j >= 0:
            G[k, j] = -1.0
    return G


@settings(max_examples=150, deadline=None)
@given(problems())
def test_active_set_equals_brute_force_and_slsqp(problem):
    A, v, C, d, order = problem
    G = _dense(order, len(v))
    want = naive_ordered_wls(A, v, G, C, d)
    assume(want is not None)  # the equality and the order constraints can contradict each other
    b, binding, lam = solve_ordered(A, v, C, d, order)
    assert _rel(b, want) < 1e-9
    if not len(C):  # order constraints alone hold exactly (an equality is solved only to rounding)
        assert np.all(G @ b >= 0)
    else:
        assert np.all(G @ b >= -1e-9 * max(1.0, np.abs(b).max()))
    np.testing.assert_allclose(C @ b, d, rtol=1e-12, atol=1e-9)
    assert np.all(lam >= 0) and np.all(G[binding] @ b == 0)  # binding constraints hold as exact equalities
    rows = np.vstack([C, G[np.abs(G @ b) <= 1e-9 * max(1.0, np.abs(b).max())]])
    if np.linalg.matrix_rank(rows) < len(rows):
        return  # SLSQP needs independent active constraints (it fails on e.g. b_0 = 0 with b_0 >= 0)
    s = np.sqrt(np.diag(A))
    cons = [{"type": "ineq", "fun": lambda z: G @ (z / s), "jac": lambda z: G / s}]
    if len(C):
        cons.append({"type": "eq", "fun": lambda z: C @ (z / s) - d, "jac": lambda z: C / s})
    f = np.abs(v / s).max()
    ref = minimize(lambda z: (0.5 * z @ (A / np.outer(s, s)) @ z - (v / s) @ z) / f, np.zeros(len(v)),
                   jac=lambda z: ((A / np.outer(s, s)) @ z - v / s) / f, method="SLSQP", constraints=cons,
                   options={"ftol": 1e-16, "maxiter": 1000})
    assert _rel(b, ref.x / s) < 1e-6  # SLSQP's own accuracy (see test_constrained_equals_scipy_slsqp)


def test_cli_reports_binding_constraints(tmp_path, capsys):
    from riskadjust.cli import main
    from riskadjust.synthetic import home_model, load_sample

    args = ["calibrate", "--demo", "--cap", "50000", "--holdout", "0.3", "--out", str(tmp_path / "c.csv")]
    assert main(args + ["--binding", str(tmp_path / "b.csv")]) == 0
    out = capsys.readouterr().out
    members, dx = load_sample()
    want = calibrate(Population.from_frames(home_model(), members, dx), members["cost"], members["exposure"],
                     cap=50_000, holdout=0.3, seed=0, min_members=10)
    got = pd.read_csv(tmp_path / "b.csv", keep_default_na=False)
    assert got[["constraint", "segment", "term", "child"]].values.tolist() == \
        want.binding[["constraint", "segment", "term", "child"]].values.tolist()
    assert "binding constraints" in out and f'"binding_non_negative": {want.totals["binding_non_negative"]}' in out
    assert (pd.read_csv(tmp_path / "c.csv")["cost"] >= 0).all()
    assert main(args + ["--no-nonnegative", "--no-monotone"]) == 0
    assert (pd.read_csv(tmp_path / "c.csv")["cost"] < 0).any() and "binding constraints" not in capsys.readouterr().out
