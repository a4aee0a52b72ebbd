"""Least squares under order constraints: a primal active-set method on the normal equations.

Solves the strictly convex quadratic programme::

    minimise    1/2 b'Ab - v'b              (A = X'WX positive definite on the kept parameters, v = X'Wy)
    subject to  C b = d                     (chosen equalities)
                b_i >= b_j   for each row (i, j) of ``order`` (j = -1 means b_i >= 0)

by the primal active-set method of Nocedal & Wright, *Numerical Optimization*, 2nd ed., 2006,
Algorithm 16.3: from a feasible point, solve the equality-constrained problem with the working set
``W`` of inequalities held as equalities, step towards its solution until a constraint outside
``W`` blocks (it joins ``W``), and at a solution of the working problem drop the constraint with the
most negative Lagrange multiplier; stop when every multiplier in ``W`` is >= 0 (the KKT conditions,
their equation 16.37, hold).

Every inequality here ties two coefficients or one to zero, so the working problem is solved
exactly by merging: the parameters tied together by ``W`` share one value (their columns of ``X``
are added, as for equal coefficients), those tied to zero are dropped. A binding constraint
therefore holds exactly in floating point (``b_i == b_j``, ``b_i == 0.0``), not to a tolerance.
The feasible start is ``b = 0`` when ``d = 0`` (every order constraint holds there) and otherwise a
vertex from :func:`scipy.optimize.linprog` (HiGHS). The problems are small (one parameter per
term and segment), so dense linear algebra is used throughout, on one BLAS thread
(``threadpoolctl``, which scikit-learn brings in with chainladder): BLAS's own thread pool gains
nothing at these sizes and, on a busy machine, made each 200 x 200 solve about 30 times slower.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from scipy.optimize import linprog
from threadpoolctl import threadpool_limits

from riskadjust.errors import RiskModelError

SINGULAR = ("the normal equations are singular or nearly so: some terms are collinear in these data (rare "
            "terms that occur only together, or every member of a segment with the same count term); raise "
            "min_members, merge terms with constraints or drop a term")


def solve_kkt(a: np.ndarray, v: np.ndarray, C: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``b`` minimising ``1/2 b'Ab - v'b`` subject to ``C b = d`` (the KKT system
    ``[[A, C'], [C, 0]] [b; l] = [v; d]``), with one step of iterative refinement."""
    k = C.shape[0]
    if k:
        K = np.block([[a, C.T], [C, np.zeros((k, k))]])
        rhs = np.concatenate([v, d])
        kind = "sym"
    else:
        K, rhs, kind = a, v, "pos"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", linalg.LinAlgWarning)
            x = linalg.solve(K, rhs, assume_a=kind)
            x = x + linalg.solve(K, rhs - K @ x, assume_a=kind)
    except (linalg.LinAlgError, linalg.LinAlgWarning, ValueError) as exc:
        raise RiskModelError(SINGULAR) from exc
    return x[: a.shape[0]]


def _rows(order: np.ndarray, n: int) -> np.ndarray:
    """Dense constraint rows ``G`` with ``G b >= 0`` for the order pairs."""
    G = np.zeros((len(order), n))
    G[np.arange(len(order)), order[:, 0]] = 1.0
    tied = order[:, 1] >= 0
    G[np.flatnonzero(tied), order[tied, 1]] = -1.0
    return G


class _Ties:
    """Classes of parameters held equal (union-find); node ``n`` stands for zero and stays its class's root."""

    def __init__(self, n: int):
        self.n = n
        self.parent = list(range(n + 1))

    def root(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def tie(self, i: int, j: int) -> bool:
        """Hold ``b_i = b_j`` (``j = -1``: ``b_i = 0``); False if it already held (a dependent constraint)."""
        ri, rj = sorted((self.root(i), self.root(self.n if j < 0 else j)))
        if ri == rj:
            return False
        self.parent[ri if rj == self.n else rj] = rj if rj == self.n else ri
        return True


def _tied_solution(a, v, C, d, order, working) -> np.ndarray:
    """Solve the working problem exactly: merge the parameters ``working`` ties, drop those tied to 0."""
    n = a.shape[0]
    ties = _Ties(n)
    for k in working:
        ties.tie(*order[k])
    roots = np.array([ties.root(i) for i in range(n)])
    member = roots != n
    free = np.unique(roots[member])
    m = free.size
    cls = np.full(n, m)  # class of each parameter; m collects those tied to zero
    cls[member] = np.searchsorted(free, roots[member])
    # merged sums S'AS, S'v and CS (S: parameter x class indicator), by index sums rather than products
    pair = (cls[:, None] * (m + 1) + cls[None, :]).ravel()
    a_tied = np.bincount(pair, weights=a.ravel(), minlength=(m + 1) ** 2).reshape(m + 1, m + 1)[:m, :m]
    v_tied = np.bincount(cls, weights=v, minlength=m + 1)[:m]
    Cs = np.stack([np.bincount(cls, weights=row, minlength=m + 1)[:m] for row in C]) if len(C) else np.zeros((0, m))
    empty = np.all(Cs == 0, axis=1)  # an equality the ties already satisfy (0 = 0) or contradict (0 = d)
    if np.any(empty & (d != 0)):
        raise RiskModelError("the equality constraints cannot hold together with the order constraints "
                             "(non-negativity, hierarchy); check the constraints table")
    z = solve_kkt(a_tied, v_tied, Cs[~empty], d[~empty])
    b = np.zeros(n)
    b[member] = z[cls[member]]
    return b


def _first_guess(a, v, C, d, order, G) -> list[int]:
    """Working set to start from at ``b = 0``, where every (homogeneous) order constraint holds with
    equality, so any independent subset may start: those the unconstrained solution breaks, most
    broken first, skipping any that the ones taken already imply (same tied class). The method then
    drops those that should not bind; this saves one iteration per binding constraint."""
    broken = G @ solve_kkt(a, v, C, d)
    ties = _Ties(a.shape[0])
    working = []
    for k in np.argsort(broken, kind="stable"):
        if broken[k] >= -1e-12 * max(1.0, float(np.max(np.abs(broken)))):
            break
        if ties.tie(*order[k]):
            working.append(int(k))
    return working


def _start(C, d, G, n) -> np.ndarray:
    if not np.any(d != 0):
        return np.zeros(n)
    lp = linprog(np.zeros(n), A_ub=-G if len(G) else None, b_ub=np.zeros(len(G)) if len(G) else None,
                 A_eq=C, b_eq=d, bounds=(None, None), method="highs")
    if lp.status != 0:
        raise RiskModelError("no coefficients satisfy the equality constraints together with the order constraints "
                             "(non-negativity, hierarchy); check the constraints table")
    return lp.x


def solve_ordered(a: np.ndarray, v: np.ndarray, C: np.ndarray, d: np.ndarray, order: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise ``1/2 b'Ab - v'b`` subject to ``C b = d`` and ``b_i >= b_j`` for rows ``(i, j)`` of ``order``.

    Parameters
    ----------
    a : ndarray (n, n)
        Positive-definite matrix (``X'WX``).
    v : ndarray (n,)
        Linear term (``X'Wy``).
    C, d : ndarray (m, n), (m,)
        Equality constraints (rows independent).
    order : int ndarray (k, 2)
        ``(i, j)``: ``b_i >= b_j``; ``j = -1``: ``b_i >= 0``.

    Returns
    -------
    b : ndarray (n,)
        The solution.
    binding : int ndarray
        Rows of ``order`` in the final working set (held as equalities at the solution).
    multipliers : ndarray
        Their Lagrange multipliers (>= 0): the rate at which ``1/2 b'Ab - v'b`` would fall per unit
        the constraint were relaxed.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _solve_ordered(a, v, C, d, np.asarray(order, dtype=np.int64).reshape(-1, 2))


def _solve_ordered(a, v, C, d, order):
    """Algorithm 16.3 itself (see :func:`solve_ordered`)."""
    n = a.shape[0]
    G = _rows(order, n)
    if not len(order):
        return solve_kkt(a, v, C, d), np.zeros(0, dtype=np.int64), np.zeros(0)
    x = _start(C, d, G, n)
    scale = max(1.0, float(np.max(np.abs(v))), float(np.max(np.abs(a))))
    working = _first_guess(a, v, C, d, order, G) if not np.any(x) else []
    for _ in range(20 * (len(order) + n) + 100):
        target = _tied_solution(a, v, C, d, order, working)
        p = target - x
        if np.max(np.abs(p), initial=0.0) <= 1e-13 * max(1.0, float(np.max(np.abs(x), initial=0.0))):
            x = target
            lam = _multipliers(a @ x - v, C, G[working])
            if not working or lam.min() >= -1e-11 * scale:
                w = np.array(working, dtype=np.int64)
                keep = np.argsort(w)
                return x, w[keep], np.maximum(lam[keep], 0.0) if len(w) else np.zeros(0)
            working.pop(int(np.argmin(lam)))
            continue
        gp = G @ p
        gx = G @ x
        alpha, block = 1.0, -1
        outside = np.ones(len(order), dtype=bool)
        outside[working] = False
        for k in np.flatnonzero(outside & (gp < -1e-14 * np.max(np.abs(p)))):
            step = max(0.0, -gx[k] / gp[k])
            if step < alpha:
                alpha, block = step, k
        x = target if block < 0 else x + alpha * p
        if block >= 0:
            working.append(int(block))
    raise RiskModelError("the constrained calibration did not converge (cycling among degenerate constraints); "
                         "switch off the order constraints or drop rare terms (raise min_members)")


def _multipliers(gradient: np.ndarray, C: np.ndarray, Gw: np.ndarray) -> np.ndarray:
    """Multipliers of the working inequalities: ``gradient = C' mu + Gw' lambda`` solved by least squares."""
    M = np.vstack([C, Gw]).T
    if M.shape[1] == 0:
        return np.zeros(0)
    coef = np.linalg.lstsq(M, gradient, rcond=None)[0]
    return coef[C.shape[0]:]
