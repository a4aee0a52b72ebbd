"""Slow, obvious Clark (2003) reference: derivative-free fit and finite-difference information.

Independent of :mod:`reserving._clark_kernels`: the growth curve is evaluated directly, the
likelihood is maximised by Nelder-Mead over (log omega, log theta) with the ultimates profiled
out in closed form, and the Hessian of the full log-likelihood is taken by central differences.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def growth(x, omega, theta, curve):
    x = np.asarray(x, dtype=float)
    if np.all(np.isinf(x)):
        return np.ones(x.shape)
    with np.errstate(divide="ignore"):
        if curve == "loglogistic":
            return np.where(x > 0, x**omega / (x**omega + theta**omega), 0.0)
        return np.where(x > 0, 1.0 - np.exp(-((x / theta) ** omega)), 0.0)


def _cells(tri):
    """(origin, age_from, age_to, increment) of every observed cell of a one-segment triangle."""
    incr = tri.incremental[0]
    ages = tri.development - tri.development[0] / 2.0
    start = np.concatenate([[0.0], ages[:-1]])
    i, j = np.nonzero(np.isfinite(incr))
    return i, start[j], ages[j], incr[i, j]


def loglik(params, tri, curve, exposure=None):
    """Full ODP log-likelihood sum c log mu - mu; params = (U_1..U_n or ELR, omega, theta)."""
    i, x0, x1, c = _cells(tri)
    omega, theta = params[-2], params[-1]
    dg = growth(x1, omega, theta, curve) - growth(x0, omega, theta, curve)
    level = params[0] * exposure[i] if exposure is not None else params[:-2][i]
    mu = level * dg
    return float(np.sum(c * np.log(mu) - mu))


def profiled(log_params, tri, curve, exposure=None):
    """Ultimates (or ELR) in closed form at (omega, theta), then the full parameter vector."""
    omega, theta = np.exp(log_params)
    i, x0, x1, c = _cells(tri)
    dg = growth(x1, omega, theta, curve) - growth(x0, omega, theta, curve)
    n = tri.n_origins
    c_row = np.bincount(i, c, n)
    d_row = np.bincount(i, dg, n)
    if exposure is not None:
        return np.array([c.sum() / np.sum(exposure * d_row), omega, theta])
    return np.concatenate([c_row / d_row, [omega, theta]])


def fit(tri, curve, exposure=None, max_age=np.inf):
    """(params, sigma2, reserves, process se, parameter se, total se) as Clark (2003) section 3."""
    def objective(z):
        return -loglik(profiled(z, tri, curve, exposure), tri, curve, exposure)

    start = [np.log(1.2), np.log(3.0 * tri.development[0])]
    for _ in range(3):  # restarts shrink Nelder-Mead's collapsed simplex
        best = minimize(objective, start, method="Nelder-Mead",
                        options={"xatol": 1e-11, "fatol": 1e-12, "maxiter": 4000})
        start = best.x
    params = profiled(best.x, tri, curve, exposure)
    i, x0, x1, c = _cells(tri)
    omega, theta = params[-2], params[-1]
    dg = growth(x1, omega, theta, curve) - growth(x0, omega, theta, curve)
    level = params[0] * exposure[i] if exposure is not None else params[:-2][i]
    mu = level * dg
    sigma2 = np.sum((c - mu) ** 2 / mu) / (c.size - params.size)
    half = tri.development[0] / 2.0
    age = tri.development[tri.latest_lag[0]] - half

    def reserves(p):
        ult = p[0] * exposure if exposure is not None else p[:-2]
        return ult * (growth(max_age - half, p[-2], p[-1], curve) - growth(age, p[-2], p[-1], curve))

    hess, grad = hessian(params, tri, curve, exposure), reserve_gradient(params, reserves)
    cov = -sigma2 * grad.T @ np.linalg.solve(hess, grad)
    r = reserves(params)
    return params, sigma2, r, np.sqrt(sigma2 * r), np.sqrt(np.diag(cov)), np.sqrt(sigma2 * r.sum() + cov.sum())


def hessian(params, tri, curve, exposure=None):
    """Central finite differences (relative step 1e-4) of the full log-likelihood."""
    h = 1e-4 * np.abs(params)
    k = params.size
    out = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            ea, eb = np.eye(k)[a] * h[a], np.eye(k)[b] * h[b]
            out[a, b] = (loglik(params + ea + eb, tri, curve, exposure) - loglik(params + ea - eb, tri, curve, exposure)
                         - loglik(params - ea + eb, tri, curve, exposure)
                         + loglik(params - ea - eb, tri, curve, exposure)) / (4 * h[a] * h[b])
    return out


def reserve_gradient(params, reserves):
    """(k, I) central differences of the reserves in each parameter."""
    h = 1e-4 * np.abs(params)
    k = params.size
    return np.array([(reserves(params + np.eye(k)[a] * h[a]) - reserves(params - np.eye(k)[a] * h[a])) / (2 * h[a])
                     for a in range(k)])
