"""Slow, obvious Merz-Wüthrich (2008) one-year CDR msep, written from Result 3.3 with plain lists.

Used to check :mod:`reserving._merz_wuthrich_kernels` on random triangles. ``c`` is a list of
rows (cumulative, None after the diagonal), ``f`` and ``s2`` lists of factors and sigma^2.
"""

from __future__ import annotations


def msep(c, f, s2):
    n = len(c)          # origins 0..I
    J = len(c[0]) - 1   # last column
    I = n - 1

    def k_of(i):
        return min(I - i, J)

    def S(j, upto):     # sum of C[i][j] for i = 0..upto
        return sum(c[i][j] for i in range(0, upto + 1))

    ult = []
    for i in range(n):
        u = c[i][k_of(i)]
        for j in range(k_of(i), J):
            u *= f[j]
        ult.append(u)
    terms = {}
    per_origin = []
    for i in range(n):
        k = k_of(i)
        if k == J:
            per_origin.append(0.0)
            terms[i] = 0.0
            continue
        a = s2[k] / f[k] ** 2
        prod = 1.0
        tail = 0.0
        for j in range(k + 1, J):
            D = c[I - j][j]
            prod *= 1 + s2[j] / (f[j] ** 2 * S(j, I - j)) * D / S(j, I - j)
            tail += (D / S(j, I - j)) ** 2 * s2[j] / (f[j] ** 2 * S(j, I - j - 1))
        gamma = (1 + a / c[i][k]) * prod - 1
        delta = a / S(k, I - k - 1) + tail
        upsilon = (1 + a / S(k, I - k)) * prod - 1
        lam = c[i][k] / S(k, I - k) * a / S(k, I - k - 1) + tail
        per_origin.append(ult[i] ** 2 * (gamma + delta))
        terms[i] = upsilon + lam
    total = sum(per_origin)
    for i in range(n):
        for m in range(i + 1, n):
            total += 2 * ult[i] * ult[m] * terms[i]
    return per_origin, total
