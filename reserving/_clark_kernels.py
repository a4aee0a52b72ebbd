"""Numba kernels for Clark's (2003) growth-curve reserving, batched over segments.

Clark, D. R. (2003), "LDF Curve-Fitting and Stochastic Reserving: A Maximum Likelihood
Approach", CAS Forum (Fall), 41-92. Incremental amounts ``c[i, t]`` of origin ``i`` over the age
interval ``(x[t-1], x[t]]`` are over-dispersed Poisson with mean

    mu[i, t] = U_i (G(x[t]) - G(x[t-1]))        LDF method: one ultimate U_i per origin
    mu[i, t] = P_i ELR (G(x[t]) - G(x[t-1]))    Cape Cod: premium (exposure) P_i times one ELR

and variance ``sigma^2 mu``. Growth curves (share of ultimate emerged by age x):

    loglogistic  G(x) = x^w / (x^w + theta^w)
    weibull      G(x) = 1 - exp(-(x / theta)^w)

The log-likelihood ``sum c log mu - mu`` is maximised over ``(w, theta)`` after profiling out the
ultimates (section 2 of the paper): ``U_i = sum_t c[i, t] / D_i`` with ``D_i = sum_t dG[i, t]``
over origin ``i``'s observed intervals, resp. ``ELR = sum c / sum_i P_i D_i``, which leaves

    LDF:      l(w, theta) = sum c log dG - sum_i C_i log D_i          (C_i = sum_t c[i, t])
    Cape Cod: l(w, theta) = sum c log dG - C log sum_i P_i D_i        (C = sum_i C_i)

maximised by Newton's method on ``(log w, log theta)`` with a Levenberg damping and exact first
and second derivatives, started from the best point of a small grid. Then (section 3):

    sigma^2 = sum (c - mu)^2 / mu / (n - p)       n cells, p = origins + 2 (LDF) or 3 (Cape Cod)
    R_i = U_i (G(x_max) - G(x_i))                 reserve; x_i the origin's latest age
    process variance of R_i   = sigma^2 R_i
    parameter covariance of R = -sigma^2 dR' H^-1 dR

with ``H`` the Hessian of the full log-likelihood in ``(U_1..U_n or ELR, w, theta)`` at the
maximum (Clark's "Fisher information"; the observed matrix, as R ChainLadder's ``ClarkLDF``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

LOGLOGISTIC = 0
WEIBULL = 1

OK = 0
NOT_CONVERGED = 1
SINGULAR = 2
TOO_FEW = 3

_MAX_ITER = 200


@njit(cache=True, nogil=True)
def growth(x, omega, theta, curve, out):
    """G(x) and its derivatives in (w, theta) into out: G, G_w, G_t, G_ww, G_wt, G_tt.

    Loglogistic, with ``L = log theta - log x``: ``G_p = -G(1-G) a_p`` and
    ``G_pq = 2 G (1-G)^2 a_p a_q - G (1-G) b_pq`` where ``a = (L, w/theta)`` and
    ``b = (L^2, (wL + 1)/theta, w(w-1)/theta^2)``. Weibull, with ``v = (x/theta)^w`` and
    ``M = log x - log theta``: ``G_p = e^-v v c_p``, ``G_pq = e^-v v (d_pq - v c_p c_q)`` where
    ``c = (M, -w/theta)`` and ``d = (M^2, -(wM + 1)/theta, w(w+1)/theta^2)``.
    ``x = 0`` gives all zeros; ``x = inf`` gives G = 1 and zero derivatives.
    """
    for k in range(6):
        out[k] = 0.0
    if x <= 0.0:
        return
    if not np.isfinite(x):
        out[0] = 1.0
        return
    if curve == LOGLOGISTIC:
        big_l = np.log(theta) - np.log(x)
        z = omega * big_l
        if z > 700.0:
            return
        g = 1.0 / (1.0 + np.exp(z))
        h = g * (1.0 - g)
        a0, a1 = big_l, omega / theta
        out[0] = g
        out[1] = -h * a0
        out[2] = -h * a1
        k2 = 2.0 * h * (1.0 - g)
        out[3] = k2 * a0 * a0 - h * big_l * big_l
        out[4] = k2 * a0 * a1 - h * (omega * big_l + 1.0) / theta
        out[5] = k2 * a1 * a1 - h * omega * (omega - 1.0) / (theta * theta)
    else:
        big_m = np.log(x) - np.log(theta)
        z = omega * big_m
        if z > 700.0:
            out[0] = 1.0
            return
        v = np.exp(z)
        e = np.exp(-v)
        ev = e * v
        c0, c1 = big_m, -omega / theta
        out[0] = -np.expm1(-v)
        out[1] = ev * c0
        out[2] = ev * c1
        out[3] = ev * (big_m * big_m - v * c0 * c0)
        out[4] = ev * (-(omega * big_m + 1.0) / theta - v * c0 * c1)
        out[5] = ev * (omega * (omega + 1.0) / (theta * theta) - v * c1 * c1)


@njit(cache=True, nogil=True)
def _curve_table(ages, omega, theta, curve):
    """(J + 1, 6): G and derivatives at 0 (row 0) and at each age (rows 1..J)."""
    table = np.zeros((ages.size + 1, 6))
    for j in range(ages.size):
        growth(ages[j], omega, theta, curve, table[j + 1])
    return table


@njit(cache=True, nogil=True)
def _add_log(q, out, weight):
    """out += weight * (log q, (log q)_p, (log q)_pq) for q = (value, 2 first, 3 second derivatives)."""
    v = q[0]
    out[0] += weight * np.log(v)
    out[1] += weight * q[1] / v
    out[2] += weight * q[2] / v
    out[3] += weight * (q[3] / v - q[1] * q[1] / (v * v))
    out[4] += weight * (q[4] / v - q[1] * q[2] / (v * v))
    out[5] += weight * (q[5] / v - q[2] * q[2] / (v * v))


@njit(cache=True, nogil=True)
def profile_loglik(log_omega, log_theta, incr, ages, exposure, cape_cod, curve, out):
    """Profile log-likelihood (constant dropped) and its derivatives in (w, theta) into out.

    Returns False where an observed interval has no growth (dG <= 0) or a total is not positive.
    """
    omega, theta = np.exp(log_omega), np.exp(log_theta)
    table = _curve_table(ages, omega, theta, curve)
    n_org, n_lag = incr.shape
    for k in range(6):
        out[k] = 0.0
    dg = np.zeros(6)
    total = np.zeros(6)
    row = np.zeros(6)
    c_total = 0.0
    for j in range(n_lag):
        col = 0.0
        seen = False
        for i in range(n_org):
            if np.isfinite(incr[i, j]):
                col += incr[i, j]
                seen = True
        if not seen:
            continue
        for k in range(6):
            dg[k] = table[j + 1, k] - table[j, k]
        if dg[0] <= 0.0:
            return False
        if col != 0.0:
            _add_log(dg, out, col)
    for i in range(n_org):
        c_i = 0.0
        for k in range(6):
            row[k] = 0.0
        seen = False
        for j in range(n_lag):
            if np.isfinite(incr[i, j]):
                seen = True
                c_i += incr[i, j]
                for k in range(6):
                    row[k] += table[j + 1, k] - table[j, k]
        if not seen:
            continue
        if cape_cod:
            c_total += c_i
            for k in range(6):
                total[k] += exposure[i] * row[k]
        elif c_i != 0.0:
            if row[0] <= 0.0:
                return False
            _add_log(row, out, -c_i)
    if cape_cod:
        if total[0] <= 0.0 or c_total <= 0.0:
            return False
        _add_log(total, out, -c_total)
    return np.isfinite(out[0])


@njit(cache=True, nogil=True)
def _log_space(w, t, d, grad, hess):
    """Gradient and Hessian of the profile in (log w, log theta) from those in (w, theta)."""
    grad[0] = w * d[1]
    grad[1] = t * d[2]
    hess[0, 0] = w * w * d[3] + w * d[1]
    hess[0, 1] = w * t * d[4]
    hess[1, 0] = hess[0, 1]
    hess[1, 1] = t * t * d[5] + t * d[2]


@njit(cache=True, nogil=True)
def maximise(incr, ages, exposure, cape_cod, curve):
    """(log w, log theta, loglik, converged) maximising :func:`profile_loglik`.

    Start: the best of a grid w in {0.5, 1, 1.5, 2, 3} x theta in step x {0.5, 1, 2, 4, 8, 16, 32}
    (step: the months per lag; at least two ages).
    Then damped Newton steps in log space until the step is below 1e-10 (converged) or no damping
    improves the likelihood while the gradient is still material.
    """
    out = np.zeros(6)
    best_a, best_b, best = 0.0, np.log(ages[0]), -np.inf
    step = ages[1] - ages[0]
    for w in (0.5, 1.0, 1.5, 2.0, 3.0):
        for m in (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0):
            a, b = np.log(w), np.log(step * m)
            if profile_loglik(a, b, incr, ages, exposure, cape_cod, curve, out) and out[0] > best:
                best_a, best_b, best = a, b, out[0]
    if not np.isfinite(best):
        return best_a, best_b, best, False
    grad = np.zeros(2)
    hess = np.zeros((2, 2))
    a, b = best_a, best_b
    profile_loglik(a, b, incr, ages, exposure, cape_cod, curve, out)
    f = out[0]
    for _ in range(_MAX_ITER):
        _log_space(np.exp(a), np.exp(b), out, grad, hess)
        scale = max(abs(hess[0, 0]), abs(hess[1, 1]), 1e-300)
        lam = 0.0
        moved = False
        for _ in range(60):
            h00, h11, h01 = hess[0, 0] - lam, hess[1, 1] - lam, hess[0, 1]
            det = h00 * h11 - h01 * h01
            if h00 < 0.0 and det > 0.0:
                da = -(h11 * grad[0] - h01 * grad[1]) / det
                db = -(h00 * grad[1] - h01 * grad[0]) / det
                na, nb = min(max(a + da, -30.0), 30.0), min(max(b + db, -30.0), 30.0)
                if profile_loglik(na, nb, incr, ages, exposure, cape_cod, curve, out) and out[0] >= f:
                    if abs(na - a) < 1e-10 and abs(nb - b) < 1e-10:
                        return na, nb, out[0], True
                    a, b, f = na, nb, out[0]
                    moved = True
                    break
            lam = scale * 1e-6 if lam == 0.0 else lam * 4.0
        if not moved:
            profile_loglik(a, b, incr, ages, exposure, cape_cod, curve, out)
            _log_space(np.exp(a), np.exp(b), out, grad, hess)
            ok = abs(grad[0]) + abs(grad[1]) < 1e-8 * max(1.0, abs(f))
            return a, b, f, ok
    profile_loglik(a, b, incr, ages, exposure, cape_cod, curve, out)
    return a, b, out[0], False


@njit(cache=True, nogil=True)
def _cholesky_inverse(m):
    """Inverse of a symmetric positive-definite matrix by Cholesky; (inverse, ok)."""
    k = m.shape[0]
    low = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1):
            s = m[i, j]
            for p in range(j):
                s -= low[i, p] * low[j, p]
            if i == j:
                if not s > 0.0:
                    return low, False
                low[i, i] = np.sqrt(s)
            else:
                low[i, j] = s / low[j, j]
    inv_low = np.zeros((k, k))
    for i in range(k):
        inv_low[i, i] = 1.0 / low[i, i]
        for j in range(i):
            s = 0.0
            for p in range(j, i):
                s -= low[i, p] * inv_low[p, j]
            inv_low[i, j] = s / low[i, i]
    return inv_low.T @ inv_low, True


@njit(cache=True, nogil=True)
def clark_one(incr, latest_lag, ages, exposure, cape_cod, curve, max_age, out_g, out_reserve, out_process,
              out_param_cov):
    """Fit one segment; fills the (I,) reserve, process variance, (I, I) parameter covariance, (J,) G.

    Returns (w, theta, elr, sigma^2, status). ``status``: OK, NOT_CONVERGED, SINGULAR (the
    information matrix is not negative definite: no parameter variance), TOO_FEW (n <= p).
    """
    n_org, n_lag = incr.shape
    rows = np.flatnonzero(latest_lag >= 0)
    n_rows = rows.size
    n_obs = 0
    for i in rows:
        for j in range(n_lag):
            if np.isfinite(incr[i, j]):
                n_obs += 1
    n_par = 3 if cape_cod else n_rows + 2
    log_w, log_t, _, converged = maximise(incr, ages, exposure, cape_cod, curve)
    omega, theta = np.exp(log_w), np.exp(log_t)
    table = _curve_table(ages, omega, theta, curve)
    for j in range(n_lag):
        out_g[j] = table[j + 1, 0]
    g_max = np.zeros(6)
    growth(max_age, omega, theta, curve, g_max)
    # ultimates: U_i (LDF) or P_i ELR (Cape Cod)
    c_row = np.zeros(n_org)
    d_row = np.zeros(n_org)
    for i in rows:
        for j in range(n_lag):
            if np.isfinite(incr[i, j]):
                c_row[i] += incr[i, j]
                d_row[i] += table[j + 1, 0] - table[j, 0]
    elr = np.nan
    ult = np.zeros(n_org)
    if cape_cod:
        num, den = 0.0, 0.0
        for i in rows:
            num += c_row[i]
            den += exposure[i] * d_row[i]
        elr = num / den
        for i in rows:
            ult[i] = exposure[i] * elr
    else:
        for i in rows:
            ult[i] = c_row[i] / d_row[i]
    # scale sigma^2 (Pearson chi-square over degrees of freedom)
    chi2 = 0.0
    for i in rows:
        for j in range(n_lag):
            if np.isfinite(incr[i, j]):
                mu = ult[i] * (table[j + 1, 0] - table[j, 0])
                chi2 += (incr[i, j] - mu) ** 2 / mu
    sigma2 = chi2 / (n_obs - n_par) if n_obs > n_par else np.nan
    g_lat = np.zeros(n_org)
    for i in rows:
        g_lat[i] = table[latest_lag[i] + 1, 0]
        out_reserve[i] = ult[i] * (g_max[0] - g_lat[i])
        out_process[i] = sigma2 * out_reserve[i]
    status = OK if converged else NOT_CONVERGED
    if n_obs <= n_par:
        return omega, theta, elr, sigma2, TOO_FEW
    # Hessian of the full log-likelihood; parameters (U_rows or ELR, w, theta)
    n_u = 1 if cape_cod else n_rows
    hess = np.zeros((n_par, n_par))
    for r in range(n_rows):
        i = rows[r]
        u = 0 if cape_cod else r
        scale_u = exposure[i] if cape_cod else 1.0
        for j in range(n_lag):
            c = incr[i, j]
            if not np.isfinite(c):
                continue
            d0 = table[j + 1, 0] - table[j, 0]
            d1 = table[j + 1, 1] - table[j, 1]
            d2 = table[j + 1, 2] - table[j, 2]
            d11 = table[j + 1, 3] - table[j, 3]
            d12 = table[j + 1, 4] - table[j, 4]
            d22 = table[j + 1, 5] - table[j, 5]
            level = ult[i] / scale_u  # U_i, or ELR
            hess[u, u] += -c / (level * level)
            hess[u, n_u] += -scale_u * d1
            hess[u, n_u + 1] += -scale_u * d2
            hess[n_u, n_u] += -c * d1 * d1 / (d0 * d0) + c * d11 / d0 - ult[i] * d11
            hess[n_u, n_u + 1] += -c * d1 * d2 / (d0 * d0) + c * d12 / d0 - ult[i] * d12
            hess[n_u + 1, n_u + 1] += -c * d2 * d2 / (d0 * d0) + c * d22 / d0 - ult[i] * d22
    for p in range(n_par):
        for q in range(p):
            hess[p, q] = hess[q, p]
    cov, ok = _cholesky_inverse(-hess)
    if not ok:
        out_param_cov[:, :] = np.nan
        return omega, theta, elr, sigma2, SINGULAR if status == OK else status
    grad = np.zeros((n_par, n_rows))
    for r in range(n_rows):
        i = rows[r]
        scale_u = exposure[i] if cape_cod else 1.0
        grad[0 if cape_cod else r, r] = scale_u * (g_max[0] - g_lat[i])
        gl = np.zeros(6)
        growth(ages[latest_lag[i]], omega, theta, curve, gl)
        grad[n_u, r] = ult[i] * (g_max[1] - gl[1])
        grad[n_u + 1, r] = ult[i] * (g_max[2] - gl[2])
    param = sigma2 * (grad.T @ cov @ grad)
    for r in range(n_rows):
        for q in range(n_rows):
            out_param_cov[rows[r], rows[q]] = param[r, q]
    return omega, theta, elr, sigma2, status


@njit(cache=True, nogil=True, parallel=True)
def clark_batch(incr, latest_lag, ages, exposure, cape_cod, curve, max_age):
    """:func:`clark_one` over the leading (segment) axis.

    Shapes: ``incr`` (S, I, J) incremental amounts, NaN outside the data; ``latest_lag`` (S, I);
    ``ages`` (J,) the age at the end of each interval (intervals start at 0 and at the previous
    age); ``exposure`` (S, I) (Cape Cod only). Returns omega, theta, elr, sigma2, status (S,),
    growth (S, J), reserve and process variance (S, I), parameter covariance (S, I, I).
    """
    n_seg, n_org, n_lag = incr.shape
    omega = np.full(n_seg, np.nan)
    theta = np.full(n_seg, np.nan)
    elr = np.full(n_seg, np.nan)
    sigma2 = np.full(n_seg, np.nan)
    status = np.zeros(n_seg, dtype=np.int64)
    g = np.full((n_seg, n_lag), np.nan)
    reserve = np.full((n_seg, n_org), np.nan)
    process = np.full((n_seg, n_org), np.nan)
    param_cov = np.full((n_seg, n_org, n_org), np.nan)
    for s in prange(n_seg):
        w, t, e, s2, st = clark_one(incr[s], latest_lag[s], ages, exposure[s], cape_cod, curve, max_age,
                                    g[s], reserve[s], process[s], param_cov[s])
        omega[s], theta[s], elr[s], sigma2[s], status[s] = w, t, e, s2, st
    return omega, theta, elr, sigma2, status, g, reserve, process, param_cov
