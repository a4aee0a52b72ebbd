"""Slow, obvious reference implementations of the chain-ladder and Mack kernels.

Plain Python loops over lists, written from the definitions (chainladder-python's
conventions for the link-ratio options, Mack 1993 for the standard errors), so that the
Numba kernels can be compared against them on random triangles.
"""

from __future__ import annotations

import math


def link_weights(c, valuation_index, n_periods, drop_high, drop_low, exclude):
    """0/1 weights of used link ratios, from the rules in the module docstring of the kernels."""
    n_org, n_lag = len(c), len(c[0])
    w = [[0.0] * (n_lag - 1) for _ in range(n_org)]
    window = 1 <= n_periods < n_org - 1
    for j in range(n_lag - 1):
        candidates = []
        for i in range(n_org):
            if i + j + 1 > valuation_index:
                continue
            if window and i + j < valuation_index - n_periods:
                continue
            x, y = c[i][j], c[i][j + 1]
            if math.isnan(x) or math.isnan(y) or x == 0:
                continue
            candidates.append((y / x, x, i))
        candidates.sort()
        keep = candidates[drop_low[j]: len(candidates) - drop_high[j]]
        if not keep:
            keep = candidates
        for _, _, i in keep:
            if not exclude[i][j]:
                w[i][j] = 1.0
    return w


def ldf(c, w, average):
    """Factors: volume sum y / sum x, simple mean of y / x, regression sum xy / sum x^2."""
    out = []
    for j in range(len(c[0]) - 1):
        pairs = [(c[i][j], c[i][j + 1]) for i in range(len(c)) if w[i][j]]
        if average == "volume":
            num, den = sum(y for _, y in pairs), sum(x for x, _ in pairs)
        elif average == "simple":
            num, den = sum(y / x for x, y in pairs), len(pairs)
        else:
            num, den = sum(x * y for x, y in pairs), sum(x * x for x, _ in pairs)
        out.append(num / den if den != 0 else 1.0)
    return out


def sigma_and_std_err(c, w, average, f):
    """Mack's sigma^2 = sum x^(2-a) (y/x - f)^2 / (n-1) and std_err^2 = sigma^2 / sum x^(2-a)."""
    a = {"volume": 1, "simple": 2, "regression": 0}[average]
    sig, se = [], []
    for j in range(len(c[0]) - 1):
        pairs = [(c[i][j], c[i][j + 1]) for i in range(len(c)) if w[i][j]]
        if len(pairs) < 2:
            sig.append(float("nan"))
            se.append(float("nan"))
            continue
        s2 = sum(x ** (2 - a) * (y / x - f[j]) ** 2 for x, y in pairs) / (len(pairs) - 1)
        sig.append(math.sqrt(s2))
        se.append(math.sqrt(s2 / sum(x ** (2 - a) for x, _ in pairs)))
    return sig, se


def mack_volume(c, f, sigma, std_err):
    """Mack (1993) Theorem 3 in closed form for volume weights, no tail, every origin observed.

    mse(R_i) = C_iI^2 sum_k sigma_k^2 / f_k^2 (1 / C_ik + 1 / sum_{n<=I-k} C_nk), split as
    process (first term) and parameter (second term, = std_err_k^2 / f_k^2) parts, and the
    total's extra parameter covariance 2 C_iI sum_{j>i} C_jI sum_k std_err_k^2 / f_k^2.
    Returns (process, parameter) per origin and the total standard error.
    """
    n = len(c)
    latest_lag = [max(j for j in range(len(c[i])) if not math.isnan(c[i][j])) for i in range(n)]
    proc, par, ult, terms = [], [], [], []
    for i in range(n):
        lag = latest_lag[i]
        cik = c[i][lag]
        p = q = 0.0
        path = []
        for k in range(lag, len(f)):
            path.append(cik)
            cik *= f[k]
        u = cik
        for idx, k in enumerate(range(lag, len(f))):
            p += sigma[k] ** 2 / f[k] ** 2 / path[idx]
            q += std_err[k] ** 2 / f[k] ** 2
        proc.append(u * math.sqrt(p))
        par.append(u * math.sqrt(q))
        ult.append(u)
        terms.append(q)
    total2 = sum(x * x for x in proc) + sum(x * x for x in par)
    for i in range(n):
        for j in range(i + 1, n):
            total2 += 2 * ult[i] * ult[j] * terms[i]
    return proc, par, math.sqrt(total2)
