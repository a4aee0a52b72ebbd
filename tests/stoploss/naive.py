"""Slow, obvious reference implementations for the stop-loss tests (mpmath, plain loops)."""

from __future__ import annotations

import mpmath as mp
import numpy as np


def poisson_exponential_stop_loss(lam: float, theta: float, d: float, dps: int = 40) -> float:
    """E[(S - d)+] for compound Poisson(lam) with exponential(theta) claims, by the exact series.

    S given N = n is Gamma(n, theta), so E[(S - d)+ | N = n] = n theta Q(n+1, d/theta) - d Q(n, d/theta)
    with Q the regularised upper incomplete gamma; N = 0 contributes nothing for d >= 0.
    """
    with mp.workdps(dps):
        lam, theta, d = mp.mpf(lam), mp.mpf(theta), mp.mpf(d)
        z = d / theta
        total = mp.mpf(0)
        n = 1
        while True:
            pn = mp.exp(-lam) * lam**n / mp.factorial(n)
            term = pn * (n * theta * mp.gammainc(n + 1, z, mp.inf, regularized=True)
                         - d * mp.gammainc(n, z, mp.inf, regularized=True))
            total += term
            if n > lam and pn < mp.mpf(10) ** (-dps):
                break
            n += 1
        return float(total)


def poisson_exponential_stop_loss_second_moment(lam: float, theta: float, d: float, dps: int = 40) -> float:
    """E[((S - d)+)^2] for compound Poisson(lam) with exponential(theta) claims, by the exact series.

    Given N = n, S ~ Gamma(n, theta) and E[S^j 1{S > d}] = theta^j (n)_j Q(n + j, d/theta), so
    E[((S - d)+)^2 | N = n] = n (n+1) theta^2 Q(n+2, z) - 2 d n theta Q(n+1, z) + d^2 Q(n, z).
    """
    with mp.workdps(dps):
        lam, theta, d = mp.mpf(lam), mp.mpf(theta), mp.mpf(d)
        z = d / theta
        total = mp.mpf(0)
        n = 1
        while True:
            pn = mp.exp(-lam) * lam**n / mp.factorial(n)
            q = [mp.gammainc(n + j, z, mp.inf, regularized=True) for j in range(3)]
            total += pn * (n * (n + 1) * theta**2 * q[2] - 2 * d * n * theta * q[1] + d**2 * q[0])
            if n > lam and pn < mp.mpf(10) ** (-dps):
                break
            n += 1
        return float(total)


def poisson_exponential_tvar(lam: float, theta: float, q: float) -> float:
    """TVaR_q = VaR_q + E[(S - VaR_q)+] / (1 - q) for compound Poisson-exponential, with VaR_q the
    root of P(S <= s) = q, P(S <= s) = sum_n P(N = n) P(Gamma(n, theta) <= s) (an atom e^-lam at 0)."""
    from scipy import optimize, special, stats

    n = np.arange(1, int(lam + 40 * np.sqrt(lam) + 40))
    pn = stats.poisson.pmf(n, lam)

    def cdf(s):
        return np.exp(-lam) + float(np.sum(pn * special.gammainc(n, s / theta)))

    var_q = optimize.brentq(lambda s: cdf(s) - q, 0.0, 200.0 * theta * (lam + 1.0), xtol=1e-13, rtol=1e-15)
    return var_q + poisson_exponential_stop_loss(lam, theta, var_q) / (1.0 - q)


def lognormal_layer(mu: float, sigma: float, a: float, l: float, dps: int = 40) -> float:
    """E[min((X - a)+, l)] for a lognormal, as the integral of the survival function over [a, a+l]."""
    with mp.workdps(dps):
        sf = lambda x: 1 - mp.ncdf((mp.log(x) - mu) / sigma)
        return float(mp.quad(sf, [a, 2 * a, a + l]))


def compound_poisson_lattice(lam: float, values, probs, h: float, n_max: int, k_max: int) -> list:
    """P(S = k h), k = 0..k_max, by direct n-fold convolutions summed over n = 0..n_max (fractions-exact input)."""
    with mp.workdps(50):
        f = [mp.mpf(0)] * (k_max + 1)
        for v, p in zip(values, probs):
            f[int(round(v / h))] += mp.mpf(p)
        g = [mp.mpf(0)] * (k_max + 1)
        conv = [mp.mpf(1)] + [mp.mpf(0)] * k_max
        for n in range(n_max + 1):
            pn = mp.exp(-lam) * mp.mpf(lam) ** n / mp.factorial(n)
            for k in range(k_max + 1):
                g[k] += pn * conv[k]
            conv = [mp.fsum(conv[k - j] * f[j] for j in range(k + 1)) for k in range(k_max + 1)]
        return g


def stop_loss_from_lattice(g, h: float, mean: float, d: float) -> float:
    """E[(S - d)+] = E[S] - E[S ^ d] from lattice probabilities g (mpmath)."""
    with mp.workdps(50):
        limited = mp.fsum(g[k] * min(k * h, d) for k in range(len(g))) + d * (1 - mp.fsum(g))
        return float(mp.mpf(mean) - limited)


def panjer(a: float, b: float, g0: float, f, n_out: int) -> np.ndarray:
    """Panjer recursion written out plainly."""
    g = [0.0] * n_out
    g[0] = g0
    for k in range(1, n_out):
        s = 0.0
        for j in range(1, min(k, len(f) - 1) + 1):
            s += (a + b * j / k) * f[j] * g[k - j]
        g[k] = s / (1 - a * f[0])
    return np.array(g)


def rounding_probabilities(pdf, h: float, n: int) -> np.ndarray:
    """Mean-preserving rounding by quadrature: f_j = E[(1 - |X - jh| / h)+]."""
    from scipy import integrate
    out = np.empty(n)
    for j in range(n):
        lo, hi = max((j - 1) * h, 0.0), (j + 1) * h
        val, _ = integrate.quad(lambda x: (1 - abs(x - j * h) / h) * pdf(x), lo, hi, points=[j * h],
                                epsabs=1e-15, epsrel=1e-12, limit=200)
        out[j] = val
    return out


_MASK = (1 << 64) - 1


def _mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def stream_uniforms(key, block: int, n: int) -> list[float]:
    """The first ``n`` uniforms of ``_kit.random.stream(key, block)``, in Python integers.

    State word j (1..4) = mix(key[j-1] + mix(4 block + j) * golden), then xoshiro256** (Blackman &
    Vigna 2021) and (top 53 bits + 0.5) 2^-53.
    """
    golden = 0x9E3779B97F4A7C15
    s = [_mix64((int(key[j]) + _mix64((4 * block + j + 1) & _MASK) * golden) & _MASK) for j in range(4)]

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & _MASK

    out = []
    for _ in range(n):
        word = rotl((s[1] * 5) & _MASK, 7) * 9 & _MASK
        out.append(((word >> 11) + 0.5) / 2.0**53)
        t = (s[1] << 17) & _MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out
