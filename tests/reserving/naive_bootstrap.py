"""Slow, obvious references for the ODP bootstrap: explicit GLM design matrices and loops.

Nothing here imports the package's kernels: the chain ladder, the hat matrix, the analytic
prediction error and the bootstrap itself are written out from the papers on a single
triangle (full square, volume-weighted factors, every link used).
"""

from __future__ import annotations

import numpy as np
import statsmodels.api as sm


def chain_ladder(cum: np.ndarray):
    """Volume-weighted factors, latest diagonal and IBNR per origin of a square triangle."""
    n = cum.shape[0]
    f = np.array([cum[: n - 1 - j, j + 1].sum() / cum[: n - 1 - j, j].sum() for j in range(n - 1)])
    latest = np.array([cum[i, n - 1 - i] for i in range(n)])
    ibnr = np.array([latest[i] * (np.prod(f[n - 1 - i:]) - 1.0) for i in range(n)])
    return f, latest, ibnr


def fitted_incremental(cum: np.ndarray) -> np.ndarray:
    """England & Verrall (2002) A3: back from the latest diagonal by dividing by the factors."""
    n = cum.shape[0]
    f, latest, _ = chain_ladder(cum)
    fitted_cum = np.full((n, n), np.nan)
    for i in range(n):
        fitted_cum[i, n - 1 - i] = latest[i]
        for j in range(n - 2 - i, -1, -1):
            fitted_cum[i, j] = fitted_cum[i, j + 1] / f[j]
    inc = fitted_cum.copy()
    inc[:, 1:] = fitted_cum[:, 1:] - fitted_cum[:, :-1]
    return inc


def design(n: int):
    """Cells (i, j) of the upper triangle and the GLM design: intercept, origins 2.., lags 2..."""
    cells = [(i, j) for i in range(n) for j in range(n - i)]
    x = np.zeros((len(cells), 2 * n - 1))
    for row, (i, j) in enumerate(cells):
        x[row, 0] = 1.0
        if i > 0:
            x[row, i] = 1.0
        if j > 0:
            x[row, n - 1 + j] = 1.0
    return cells, x


def residuals_scale_hat(cum: np.ndarray):
    """Pearson residuals, scale phi = sum r^2 / (N - p) and leverages from the dense hat matrix.

    ``H = W^1/2 X (X' W X)^-1 X' W^1/2``, ``W = diag(m)`` (Shapland 2016 eq. 3.23).
    Returns dicts keyed by cell and phi.
    """
    n = cum.shape[0]
    inc = cum.copy()
    inc[:, 1:] = cum[:, 1:] - cum[:, :-1]
    m = fitted_incremental(cum)
    cells, x = design(n)
    mv = np.array([m[c] for c in cells])
    qv = np.array([inc[c] for c in cells])
    r = (qv - mv) / np.sqrt(np.abs(mv))
    phi = (r**2).sum() / (len(cells) - x.shape[1])
    w_half = np.diag(np.sqrt(np.abs(mv)))
    hat = w_half @ x @ np.linalg.inv(x.T @ np.diag(np.abs(mv)) @ x) @ x.T @ w_half
    return dict(zip(cells, r)), phi, dict(zip(cells, np.diag(hat)))


def analytic_prediction_error(cum: np.ndarray):
    """Renshaw (1994) / England & Verrall (2002) section 7 prediction error of the ODP model.

    Quasi-Poisson GLM with log link, origin and development factors, scale from Pearson's
    chi-square; ``MSEP = phi * mu + d' Cov(beta) d`` with ``d = sum mu x`` (delta method).
    Returns (reserve per origin, prediction error per origin, total reserve, total error).
    """
    n = cum.shape[0]
    inc = cum.copy()
    inc[:, 1:] = cum[:, 1:] - cum[:, :-1]
    cells, x = design(n)
    y = np.array([inc[c] for c in cells])
    fit = sm.GLM(y, x, family=sm.families.Poisson()).fit(scale="X2")
    phi = fit.scale
    cov = fit.cov_params()
    reserves, errors, grad_total = [], [], np.zeros(x.shape[1])
    total_process = 0.0
    for i in range(n):
        grad = np.zeros(x.shape[1])
        reserve = 0.0
        for j in range(n - i, n):
            row = np.zeros(x.shape[1])
            row[0] = 1.0
            if i > 0:
                row[i] = 1.0
            if j > 0:
                row[n - 1 + j] = 1.0
            mu = np.exp(row @ fit.params)
            reserve += mu
            grad += mu * row
        reserves.append(reserve)
        errors.append(np.sqrt(phi * reserve + grad @ cov @ grad))
        grad_total += grad
        total_process += phi * reserve
    total = sum(reserves)
    return np.array(reserves), np.array(errors), total, np.sqrt(total_process + grad_total @ cov @ grad_total)


def bootstrap(cum: np.ndarray, n_sims: int, rng: np.random.Generator, residuals: str = "dof"):
    """England & Verrall (2002) Appendix 3 with one gamma draw per future cell.

    Returns (n_sims, n) simulated IBNR per origin (no bias correction).
    """
    n = cum.shape[0]
    m = fitted_incremental(cum)
    r_cells, phi, h_cells = residuals_scale_hat(cum)
    cells = list(r_cells)
    r = np.array([r_cells[c] for c in cells])
    if residuals == "dof":
        n_obs, n_par = len(cells), 2 * n - 1
        pool = r * np.sqrt(n_obs / (n_obs - n_par))
    else:
        h = np.array([h_cells[c] for c in cells])
        inner = h < 1 - 1e-9
        pool = r[inner] / np.sqrt(1 - h[inner])
    out = np.zeros((n_sims, n))
    for s in range(n_sims):
        pseudo = np.full((n, n), np.nan)
        for i, j in cells:
            pseudo[i, j] = m[i, j] + pool[rng.integers(len(pool))] * np.sqrt(abs(m[i, j]))
        pseudo_cum = np.cumsum(np.nan_to_num(pseudo), axis=1)
        pseudo_cum[np.isnan(pseudo)] = np.nan
        f, latest, _ = chain_ladder(pseudo_cum)
        for i in range(1, n):
            c = latest[i]
            for j in range(n - i, n):
                mean = c * (f[j - 1] - 1.0)
                c = c * f[j - 1]
                out[s, i] += np.sign(mean) * rng.gamma(abs(mean) / phi, phi) if mean != 0 else 0.0
    return out


def genins() -> np.ndarray:
    """Taylor & Ashe (1983) cumulative triangle, as shipped by chainladder-python ('genins')."""
    import chainladder as cl

    return np.asarray(cl.load_sample("genins").values[0, 0], dtype=float)
