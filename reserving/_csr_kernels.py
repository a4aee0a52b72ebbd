"""Numba kernels of the changing-settlement-rate (CSR) model: fit on a grid of settlement rates, simulate.

Meyers, G. (2015), "Stochastic Loss Reserving Using Bayesian MCMC Models", CAS Monograph 1,
section 6 (the CSR model for paid losses). For the cumulative amount ``C[w, d]`` of origin ``w``
and lag ``d`` (both from 0), ``J`` lags::

    log C[w, d] ~ Normal(mu[w, d], sigma_d^2),   mu[w, d] = alpha_w + beta_d (1 - gamma)^w,
    beta_{J-1} = 0,

every cell independent given the parameters. ``alpha_w`` is the log ultimate of origin ``w``;
``beta_d < 0`` is the log share of it reached by lag ``d``; ``gamma > 0`` means later origins
settle faster (the pattern changes along the origins, which the chain ladder cannot see:
Meyers's explanation of why Mack and the ODP bootstrap put too many outcomes in their lower
tails on Schedule P paid data).

Meyers samples the posterior with MCMC. Here it is computed, using the model's structure: for a
fixed ``gamma`` the mean is linear in ``(alpha, beta)``. Per segment:

1. ``gamma`` runs over a grid (per period) with prior ``Normal(0, gamma_sd)`` (Meyers's JAGS
   script: precision 400, i.e. 0.05 a year);
2. at each grid value, weighted least squares for ``(alpha, beta)`` alternate with new lag
   variances: per lag ``RSS_d / (n_d - H_d)`` (``H_d`` the summed leverages, the restricted
   likelihood's correction), made non-increasing in lag by pool-adjacent-violators (Meyers orders
   them the same way: ``sigma_d^2 = sum_{k >= d} a_k``), a lag block with fewer than
   :data:`MIN_DOF` degrees of freedom pooled with the block before (the last lag's lone cell says
   nothing about its variance), floored at :data:`VARIANCE_FLOOR`;
3. the grid weights are the marginal likelihood of ``gamma`` with ``(alpha, beta)`` integrated out
   under a flat prior, ``log L - 1/2 log det(X' W X)`` (Laplace; exact for the linear part given
   the variances), plus the log prior;
4. given ``gamma``: ``alpha ~ Normal(alpha_hat, tau^2 V)`` with a common variance scale
   ``tau^2 ~ nu / chi2_nu``, ``nu = n - p`` (``n`` cells, ``p`` mean parameters), Jeffreys'
   posterior for the scale;
5. calibration on the triangle's own past (retrospective one-step-ahead errors): the model is
   refitted on the triangle cut back by ``h = 1 .. n_back`` diagonals and every cell of the next
   diagonal is standardised by its predictive standard deviation (:func:`_retrospective`);
   ``lambda = sqrt(mean z^2)`` scales every simulated log deviation. Under the model
   ``lambda`` is near 1; on real run-off it measures how much more the triangle moves than the
   model says (model error: Schedule P paid triangles give a median of about 1.9).

One simulation draws ``gamma`` from the grid weights, ``tau``, ``alpha``, and each open origin's
ultimate ``C[w, J-1] = exp(alpha_hat_w + lambda tau (dev_alpha_w + sigma_{J-1} z_w))``.
Origins already at the last lag keep their observed value. Only ``alpha`` is needed, and its
covariance ``V`` has the block form (``A`` diagonal: the ``alpha`` block of ``X' W X``; ``B`` the
cross block; ``S`` the Schur complement ``D - B' A^-1 B`` with Cholesky factor ``L``)::

    V = A^-1 + K K',   K = A^-1 B L^-T,

so ``dev_alpha = A^-1/2 z1 + K z2`` with ``z1``, ``z2`` standard normal vectors: ``O(I J)`` per
simulation, no ``I x I`` factorisation. The fit costs ``O(G I J^2)`` per segment.

Cells with a non-positive cumulative amount have no logarithm and are left out of the fit; an
origin with no positive cell is not projected.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from _kit.random import gamma as gamma_variate
from _kit.random import normal, stream, uniform

#: Fit status codes of a segment.
OK, TOO_FEW_CELLS, SINGULAR = 0, 1, 2
#: Alternations of WLS and variance steps: at the first grid value, and warm-started at the others.
FIRST_ITERATIONS, ITERATIONS = 40, 12
#: Convergence of the lag variances (largest change of a log variance).
TOLERANCE = 1e-7
#: Fewest residual degrees of freedom behind one estimated lag variance (else pooled with the lag before).
MIN_DOF = 2.0
#: Smallest lag variance of log amounts (Meyers 2015: each of the ten increments a_k >= 1e-6).
VARIANCE_FLOOR = 1e-6
#: Grid values whose posterior weight is below this share of the largest are not simulated.
MIN_WEIGHT = 1e-12


@njit(cache=True, nogil=True)
def _solve(y, obs, g, sig2, a_diag, schur, alpha, beta, resid):
    """Weighted least squares of ``y`` on ``alpha_w + beta_d g_w`` with variances ``sig2`` (J,).

    Fills ``a_diag`` (I,), ``schur`` (P, P) with its Cholesky factor (lower), ``alpha`` (I,),
    ``beta`` (P,), ``resid`` (I, J). Returns ``(log-likelihood, log det X'WX, ok)``.
    Rows with no observed cell get ``a_diag = 0`` and ``alpha = NaN`` and take no part.
    """
    n_org, n_lag = y.shape
    n_par = n_lag - 1
    omega = 1.0 / sig2
    rb = np.zeros(n_par)
    ra = np.zeros(n_org)
    schur[:, :] = 0.0
    for w in range(n_org):
        a_w = 0.0
        r_w = 0.0
        for d in range(n_lag):
            if obs[w, d]:
                a_w += omega[d]
                r_w += omega[d] * y[w, d]
        a_diag[w] = a_w
        ra[w] = r_w
        for d in range(n_par):
            if obs[w, d]:
                schur[d, d] += omega[d] * g[w] * g[w]
                rb[d] += omega[d] * g[w] * y[w, d]
        if a_w > 0.0:
            for d in range(n_par):
                if obs[w, d]:
                    bd = omega[d] * g[w] / a_w
                    rb[d] -= bd * r_w
                    for e in range(d + 1):
                        if obs[w, e]:
                            schur[d, e] -= bd * omega[e] * g[w]
    logdet = 0.0
    for w in range(n_org):
        if a_diag[w] > 0.0:
            logdet += math.log(a_diag[w])
    for j in range(n_par):
        s = schur[j, j]
        for k in range(j):
            s -= schur[j, k] * schur[j, k]
        if not s > 1e-12 * (1.0 + abs(schur[j, j])):
            return 0.0, 0.0, False
        schur[j, j] = math.sqrt(s)
        logdet += 2.0 * math.log(schur[j, j])
        for i in range(j + 1, n_par):
            t = schur[i, j]
            for k in range(j):
                t -= schur[i, k] * schur[j, k]
            schur[i, j] = t / schur[j, j]
    for j in range(n_par):
        t = rb[j]
        for k in range(j):
            t -= schur[j, k] * beta[k]
        beta[j] = t / schur[j, j]
    for j in range(n_par - 1, -1, -1):
        t = beta[j]
        for k in range(j + 1, n_par):
            t -= schur[k, j] * beta[k]
        beta[j] = t / schur[j, j]
    loglik = 0.0
    for w in range(n_org):
        if a_diag[w] == 0.0:
            alpha[w] = np.nan
            continue
        t = ra[w]
        for d in range(n_par):
            if obs[w, d]:
                t -= omega[d] * g[w] * beta[d]
        alpha[w] = t / a_diag[w]
        for d in range(n_lag):
            if obs[w, d]:
                mu = alpha[w] + (beta[d] * g[w] if d < n_par else 0.0)
                resid[w, d] = y[w, d] - mu
                loglik -= 0.5 * (math.log(2.0 * math.pi * sig2[d]) + resid[w, d] ** 2 * omega[d])
    return loglik, logdet, True


@njit(cache=True, nogil=True)
def _k_row(obs, g, sig2, a_diag, schur, w, out):
    """Row ``w`` of ``K = A^-1 B L^-T``: solves ``L K_w' = (A^-1 B)_w'`` by forward substitution."""
    n_par = schur.shape[0]
    for j in range(n_par):
        t = g[w] / (sig2[j] * a_diag[w]) if obs[w, j] else 0.0
        for m in range(j):
            t -= schur[j, m] * out[m]
        out[j] = t / schur[j, j]


@njit(cache=True, nogil=True)
def _variances(resid, obs, g, sig2, floor, a_diag, schur):
    """New lag variances from the residuals of the last :func:`_solve`, non-increasing in lag.

    Per lag, ``RSS_d / (n_d - H_d)`` with ``H_d`` the sum of the cells' leverages
    ``h = (1 / sig2_d) x' (X'WX)^-1 x = (1 / sig2_d) (1 / A_w + |K_w - g_w L^-1 e_d|^2)``
    (restricted maximum likelihood's correction of the residuals' shrinkage), then the
    non-increasing fit weighted by ``n_d - H_d`` (pool-adjacent-violators: the maximum-likelihood
    ordered variances), blocks with fewer than :data:`MIN_DOF` joined to the block before, floored
    at ``floor``. Meyers (2015) orders the variances the same way
    (``sigma_d^2 = sum_{k >= d} a_k``, ``a_k >= 0``). Writes ``sig2`` (J,).
    """
    n_org, n_lag = resid.shape
    n_par = n_lag - 1
    linv = np.zeros((n_par, n_par))
    for j in range(n_par):
        linv[j, j] = 1.0 / schur[j, j]
        for i in range(j + 1, n_par):
            t = 0.0
            for m in range(j, i):
                t -= schur[i, m] * linv[m, j]
            linv[i, j] = t / schur[i, i]
    rss = np.zeros(n_lag)
    dof = np.zeros(n_lag)
    k_w = np.empty(n_par)
    for w in range(n_org):
        if a_diag[w] == 0.0:
            continue
        _k_row(obs, g, sig2, a_diag, schur, w, k_w)
        base = 0.0
        for m in range(n_par):
            base += k_w[m] * k_w[m]
        for d in range(n_lag):
            if not obs[w, d]:
                continue
            q = base
            if d < n_par:
                q = 0.0
                for m in range(n_par):
                    v = k_w[m] - g[w] * linv[m, d]
                    q += v * v
            h = (1.0 / a_diag[w] + q) / sig2[d]
            rss[d] += resid[w, d] ** 2
            dof[d] += max(1.0 - h, 0.0)
    # pool adjacent violators for a non-increasing sequence, weights dof
    value = np.zeros(n_lag)
    weight = np.zeros(n_lag)
    first = np.zeros(n_lag, dtype=np.int64)
    n_blocks = 0
    for d in range(n_lag):
        if dof[d] <= 1e-9:
            continue
        value[n_blocks] = rss[d] / dof[d]
        weight[n_blocks] = dof[d]
        first[n_blocks] = d
        n_blocks += 1
        while n_blocks > 1 and value[n_blocks - 2] < value[n_blocks - 1]:
            wsum = weight[n_blocks - 2] + weight[n_blocks - 1]
            value[n_blocks - 2] = (value[n_blocks - 2] * weight[n_blocks - 2]
                                   + value[n_blocks - 1] * weight[n_blocks - 1]) / wsum
            weight[n_blocks - 2] = wsum
            n_blocks -= 1
    # a block with fewer than MIN_DOF degrees of freedom (e.g. the last lag's lone cell, fitted almost
    # exactly) says next to nothing about its variance: it joins the block before it
    b = n_blocks - 1
    while b > 0:
        if weight[b] < MIN_DOF:
            wsum = weight[b - 1] + weight[b]
            value[b - 1] = (value[b - 1] * weight[b - 1] + value[b] * weight[b]) / wsum
            weight[b - 1] = wsum
            for m in range(b, n_blocks - 1):
                value[m], weight[m], first[m] = value[m + 1], weight[m + 1], first[m + 1]
            n_blocks -= 1
        b -= 1
    # block b covers lags first[b] .. first[b + 1] - 1; lags before the first block take its value
    for b in range(n_blocks):
        lo = 0 if b == 0 else first[b]
        hi = n_lag if b == n_blocks - 1 else first[b + 1]
        for d in range(lo, hi):
            sig2[d] = max(value[b], floor)


@njit(cache=True, nogil=True)
def _fit(y, obs, g, sig2, floor, iterations, a_diag, schur, alpha, beta, resid):
    """Fit at one ``gamma``: alternate WLS and variance updates from ``sig2`` (updated in place).

    Returns ``(log-likelihood, log det X'WX, ok)`` at the final variances.
    """
    old = sig2.copy()
    for _ in range(iterations):
        loglik, logdet, ok = _solve(y, obs, g, sig2, a_diag, schur, alpha, beta, resid)
        if not ok:
            return loglik, logdet, ok
        old[:] = sig2
        _variances(resid, obs, g, sig2, floor, a_diag, schur)
        moved = 0.0
        for d in range(sig2.shape[0]):
            moved = max(moved, abs(math.log(sig2[d] / old[d])))
        if moved < TOLERANCE:
            break
    return _solve(y, obs, g, sig2, a_diag, schur, alpha, beta, resid)


@njit(cache=True, nogil=True)
def _retrospective(y, obs, gam, n_back):
    """Squared standardised one-step-ahead errors of the model on the triangle's own past diagonals.

    For ``h = 1 .. n_back``: cut the triangle to the valuation ``v = I - 1 - h`` (origins and lags
    up to ``v``, cells ``w + d <= v``), fit at the settlement-rate change ``gam`` with lag ``v`` as
    the reference (``beta_v = 0``: one-step predictions do not depend on that choice), and
    standardise each cell of the next diagonal (``w + d = v + 1``, ``1 <= w <= v``) by its
    predictive standard deviation ``sqrt(sigma_d^2 + x' (X'WX)^-1 x)`` (process and parameter
    error, :func:`_variances` for ``x' (X'WX)^-1 x``). Cuts with fewer than three residual degrees
    of freedom are skipped. Returns ``(sum z^2, number of cells)``.
    """
    n_org, n_lag = y.shape
    sum_z2 = 0.0
    n_z = 0
    for h in range(1, n_back + 1):
        v = n_org - 1 - h
        if v < 2 or v + 1 > n_lag - 1:
            break
        m = v + 1
        yc = np.zeros((m, m))
        oc = np.zeros((m, m), dtype=np.bool_)
        cells = 0
        rows = 0
        for w in range(m):
            row = 0
            for d in range(m - w):
                if obs[w, d]:
                    yc[w, d] = y[w, d]
                    oc[w, d] = True
                    row += 1
            cells += row
            rows += row > 0
        if cells - rows - (m - 1) < 3:
            continue
        g = np.empty(m)
        for w in range(m):
            g[w] = (1.0 - gam) ** w
        sig2 = np.ones(m)
        a_diag = np.zeros(m)
        schur = np.zeros((m - 1, m - 1))
        alpha = np.zeros(m)
        beta = np.zeros(m - 1)
        resid = np.zeros((m, m))
        _, _, ok = _fit(yc, oc, g, sig2, VARIANCE_FLOOR, FIRST_ITERATIONS, a_diag, schur, alpha, beta, resid)
        if not ok:
            continue
        linv = np.zeros((m - 1, m - 1))
        for j in range(m - 1):
            linv[j, j] = 1.0 / schur[j, j]
            for i in range(j + 1, m - 1):
                t = 0.0
                for q in range(j, i):
                    t -= schur[i, q] * linv[q, j]
                linv[i, j] = t / schur[i, i]
        k_w = np.empty(m - 1)
        for w in range(1, m):
            d = m - w
            if not obs[w, d] or a_diag[w] == 0.0:
                continue
            _k_row(oc, g, sig2, a_diag, schur, w, k_w)
            quad = 1.0 / a_diag[w]
            for q in range(m - 1):
                diff = k_w[q] - (g[w] * linv[q, d] if d < m - 1 else 0.0)
                quad += diff * diff
            mu = alpha[w] + (beta[d] * g[w] if d < m - 1 else 0.0)
            sum_z2 += (y[w, d] - mu) ** 2 / (sig2[d] + quad)
            n_z += 1
    return sum_z2, n_z


@njit(cache=True, nogil=True)
def _grid_weights(logliks, logdets, log_prior, rate):
    """Posterior weights of the grid: ``exp(rate log L - 1/2 log det(X'WX) + log prior)``, normalised.

    ``rate = 1 / lambda^2`` tempers the likelihood when the triangle moves ``lambda`` times more
    than the model says (a learning rate for a misspecified model: Holmes & Walker 2017,
    Biometrika 104(2); the same scaling as the ``lambda^2`` on the covariance of ``alpha``).
    Weights below :data:`MIN_WEIGHT` of the largest are set to 0.
    """
    logw = rate * logliks - 0.5 * logdets + log_prior
    weight = np.exp(logw - np.max(logw))
    weight[weight < MIN_WEIGHT] = 0.0
    return weight / weight.sum()


@njit(cache=True, nogil=True)
def csr_one(y, obs, latest, at_end, grid, log_prior, n_back, key, n_sims, ibnr, total, post):
    """Fit and simulate one segment (serial: the random variates inline here).

    Shapes: ``y``, ``obs`` (I, J) log cumulative amounts and which are used; ``latest`` (I,);
    ``at_end`` (I,) origins already at the last lag; ``grid``, ``log_prior`` (G,) per-period
    settlement-rate changes and their log prior; ``key`` (4,) stream key. Writes ``ibnr``
    (I, n_sims) simulated ``C[w, J-1] - latest[w]`` (NaN for an origin not projected), ``total``
    (n_sims,) their sum over projected origins, ``post`` (4,): posterior mean and standard
    deviation of ``gamma`` per period, the fit status and the calibration factor ``lambda``.
    ``n_back`` is the number of past diagonals of the calibration (0: none).
    """
    n_org, n_lag = y.shape
    n_par = n_lag - 1
    n_grid = grid.shape[0]
    n_cells = 0
    n_rows = 0
    for w in range(n_org):
        row = 0
        for d in range(n_lag):
            if obs[w, d]:
                row += 1
        n_cells += row
        n_rows += row > 0
    nu = n_cells - n_rows - n_par
    if nu < 3:
        ibnr[:, :] = np.nan
        total[:] = np.nan
        post[0], post[1], post[2], post[3] = np.nan, np.nan, TOO_FEW_CELLS, np.nan
        return
    a_diag = np.zeros(n_org)
    schur = np.zeros((n_par, n_par))
    alpha = np.zeros(n_org)
    beta = np.zeros(n_par)
    resid = np.zeros((n_org, n_lag))
    g = np.empty(n_org)
    sig2s = np.ones((n_grid, n_lag))
    logliks = np.full(n_grid, -np.inf)
    logdets = np.zeros(n_grid)
    sig2 = np.ones(n_lag)
    start = int(np.argmin(np.abs(grid)))
    order = np.argsort(np.abs(np.arange(n_grid) - start))
    for k in order:
        for w in range(n_org):
            g[w] = (1.0 - grid[k]) ** w
        if k != start:
            nearest = k - 1 if k > start else k + 1
            sig2[:] = sig2s[nearest]
        loglik, logdet, ok = _fit(y, obs, g, sig2, VARIANCE_FLOOR, FIRST_ITERATIONS if k == start else ITERATIONS,
                                  a_diag, schur, alpha, beta, resid)
        sig2s[k] = sig2
        if ok:
            logliks[k] = loglik
            logdets[k] = logdet
    if not np.isfinite(np.max(logliks)):
        ibnr[:, :] = np.nan
        total[:] = np.nan
        post[0], post[1], post[2], post[3] = np.nan, np.nan, SINGULAR, np.nan
        return
    weight = _grid_weights(logliks, logdets, log_prior, 1.0)
    sum_z2, n_z = _retrospective(y, obs, grid[np.argmax(weight)], n_back)
    calibration = math.sqrt(sum_z2 / n_z) if n_z > 0 else 1.0
    weight = _grid_weights(logliks, logdets, log_prior, 1.0 / calibration**2)
    cum = np.cumsum(weight)
    mean = 0.0
    for k in range(n_grid):
        mean += weight[k] * grid[k]
    var = 0.0
    for k in range(n_grid):
        var += weight[k] * (grid[k] - mean) ** 2
    post[0], post[1], post[2], post[3] = mean, math.sqrt(var), OK, calibration

    alpha_k = np.zeros((n_grid, n_org))
    sd1_k = np.zeros((n_grid, n_org))
    k_mat = np.zeros((n_grid, n_org, n_par))
    sd_end = np.zeros(n_grid)
    for k in range(n_grid):
        if weight[k] == 0.0:
            continue
        for w in range(n_org):
            g[w] = (1.0 - grid[k]) ** w
        _solve(y, obs, g, sig2s[k], a_diag, schur, alpha, beta, resid)
        sd_end[k] = math.sqrt(sig2s[k, n_lag - 1])
        for w in range(n_org):
            alpha_k[k, w] = alpha[w]
            if a_diag[w] == 0.0:
                continue
            sd1_k[k, w] = 1.0 / math.sqrt(a_diag[w])
            _k_row(obs, g, sig2s[k], a_diag, schur, w, k_mat[k, w])

    state = stream(key, 0)
    z2 = np.empty(n_par)
    for n in range(n_sims):
        u, state = uniform(state)
        k = 0
        while k < n_grid - 1 and cum[k] < u:
            k += 1
        while weight[k] == 0.0:
            k -= 1
        chi2, state = gamma_variate(state, 0.5 * nu)
        tau = math.sqrt(nu / (2.0 * chi2))
        for j in range(n_par):
            z2[j], state = normal(state)
        scale = tau * calibration
        sum_n = 0.0
        for w in range(n_org):
            if sd1_k[k, w] == 0.0:
                ibnr[w, n] = np.nan
                continue
            if at_end[w]:
                ibnr[w, n] = 0.0
                continue
            z1, state = normal(state)
            z3, state = normal(state)
            dev = sd1_k[k, w] * z1 + sd_end[k] * z3
            for j in range(n_par):
                dev += k_mat[k, w, j] * z2[j]
            value = math.exp(alpha_k[k, w] + scale * dev) - latest[w]
            ibnr[w, n] = value
            sum_n += value
        total[n] = sum_n


@njit(cache=True, nogil=True, parallel=True)
def csr_batch(y, obs, latest, at_end, grid, log_prior, n_back, keys, n_sims, ibnr, total, post):
    """:func:`csr_one` for every segment, segments shared out over threads.

    Shapes: ``y``, ``obs`` (S, I, J); ``latest``, ``at_end`` (S, I); ``grid``, ``log_prior``
    (G,); ``keys`` (S, 4); outputs ``ibnr`` (S, I, n_sims), ``total`` (S, n_sims), ``post`` (S, 4).
    Each segment draws from its own stream (block 0 of its key), so results do not depend on the
    number of threads or on the other segments.
    """
    for s in prange(y.shape[0]):
        csr_one(y[s], obs[s], latest[s], at_end[s], grid, log_prior, n_back, keys[s], n_sims, ibnr[s], total[s], post[s])
