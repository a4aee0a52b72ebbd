"""Severities derived from another by a specific stop-loss contract: what is retained, what is ceded.

``Retained(X, a, l)``   the cost the group keeps:  R = X - min((X - a)+, l)
``ExcessOver(X, a, l)`` the reinsurer's payment per claimant above the attachment:
                        Y = min(X - a, l) given X > a

Both keep closed-form limited expectations, so a compound of either is discretised exactly as
the underlying severity is (see ``compound``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import inf

import numpy as np

from stoploss.errors import StopLossError
from stoploss.severity import Severity, _arr


def _check(attachment: float, limit: float, owner: str) -> None:
    if not attachment >= 0 or not np.isfinite(attachment):
        raise StopLossError(f"{owner}: attachment must be a finite amount >= 0, got {attachment!r}.")
    if not limit > 0:
        raise StopLossError(f"{owner}: limit (layer maximum) must be > 0 or inf, got {limit!r}.")


@dataclass(frozen=True, eq=False)
class Retained(Severity):
    """Cost retained by the group after a specific stop-loss "l xs a": R = min(X, a) + (X - a - l)+."""

    severity: Severity
    attachment: float
    limit: float = inf

    def __post_init__(self):
        _check(self.attachment, self.limit, "Retained")

    @property
    def continuous(self) -> bool:  # type: ignore[override]
        return self.severity.continuous

    def right_end(self) -> float:
        if np.isfinite(self.limit):
            end = self.severity.right_end()
            return max(self.attachment, end - self.limit) if np.isfinite(end) else inf
        return min(self.attachment, self.severity.right_end())

    def cdf(self, r):
        r = _arr(r)
        above = self.severity.cdf(r + self.limit) if np.isfinite(self.limit) else np.ones_like(r)
        return np.where(r < self.attachment, self.severity.cdf(r), above)

    def sf(self, r):
        r = _arr(r)
        above = self.severity.sf(r + self.limit) if np.isfinite(self.limit) else np.zeros_like(r)
        return np.where(r < self.attachment, self.severity.sf(r), above)

    def quantile(self, p):
        x = self.severity.quantile(p)
        return np.minimum(x, self.attachment) + np.maximum(x - self.attachment - self.limit, 0.0)

    def _top(self, u):
        """E[(X - a - l)+ ^ u]: the part above the layer, limited at u."""
        if not np.isfinite(self.limit):
            return np.zeros_like(_arr(u))
        return self.severity.layer(self.attachment + self.limit, u)

    def lev(self, u):
        u = _arr(u)
        a = self.attachment
        return np.where(u <= a, self.severity.lev(np.minimum(u, a)),
                        self.severity.lev(a) + self._top(np.maximum(u - a, 0.0)))

    def lev2(self, u):
        """E[(R ^ u)^2]: E[(X ^ a)^2] + E[T^2] + 2 a E[T] with T = min((X - a - l)+, u - a) for u > a."""
        u = _arr(u)
        a, x = self.attachment, self.severity
        below = np.ravel(x.lev2(np.minimum(u, a))).reshape(u.shape)
        if not np.isfinite(self.limit):
            return below
        b = a + self.limit
        w = np.maximum(u - a, 0.0)
        lev2_b = float(np.ravel(x.lev2(b))[0])
        t2 = np.ravel(x.lev2(b + w)).reshape(u.shape) - lev2_b - 2 * b * x.sf_integral(b, b + w)
        return below + np.where(u > a, t2 + 2 * a * x.sf_integral(b, b + w), 0.0)

    def excess(self, u):
        u = _arr(u)
        a, x = self.attachment, self.severity
        top = x.excess(a + self.limit) if np.isfinite(self.limit) else 0.0
        below = x.excess(np.minimum(u, a)) - x.excess(a) + top
        above = x.excess(u + self.limit) if np.isfinite(self.limit) else np.zeros_like(u)
        return np.where(u < a, below, above)

    def moment(self, k: int = 1) -> float:
        a, x = self.attachment, self.severity
        if k == 1:
            top = float(x.excess(a + self.limit)) if np.isfinite(self.limit) else 0.0
            return float(x.lev(a)) + top
        if k == 2:
            base = float(np.ravel(x.lev2(a))[0])
            if not np.isfinite(self.limit):
                return base
            b = a + self.limit
            top2 = x.moment(2) - float(np.ravel(x.lev2(b))[0]) - 2 * b * float(x.excess(b))
            return base + top2 + 2 * a * float(x.excess(b))
        raise StopLossError("Retained.moment: only k = 1 and 2 are available.")


@dataclass(frozen=True, eq=False)
class ExcessOver(Severity):
    """Payment per claimant above the attachment: Y = min(X - a, l) conditional on X > a."""

    severity: Severity
    attachment: float
    limit: float = inf

    def __post_init__(self):
        _check(self.attachment, self.limit, "ExcessOver")
        if float(self.severity.sf(self.attachment)) <= 0:
            raise StopLossError("ExcessOver: no probability above the attachment; nothing would be ceded.")

    @property
    def continuous(self) -> bool:  # type: ignore[override]
        return self.severity.continuous

    @property
    def _s_a(self) -> float:
        return float(self.severity.sf(self.attachment))

    def right_end(self) -> float:
        return min(self.limit, self.severity.right_end() - self.attachment)

    def sf(self, y):
        y = np.maximum(_arr(y), 0.0)
        return np.where(y < self.limit, self.severity.sf(self.attachment + y) / self._s_a, 0.0)

    def cdf(self, y):
        return 1.0 - self.sf(y)

    def quantile(self, p):
        p = _arr(p)
        x = self.severity.quantile(1.0 - (1.0 - p) * self._s_a)
        return np.minimum(np.maximum(x - self.attachment, 0.0), self.limit)

    def lev(self, u):
        return self.severity.layer(self.attachment, np.minimum(_arr(u), self.limit)) / self._s_a

    def lev2(self, u):
        """E[(Y ^ u)^2] = (E[(X ^ (a+w))^2] - E[(X ^ a)^2] - 2a (E[X ^ (a+w)] - E[X ^ a])) / S(a), w = min(u, l)."""
        a, x = self.attachment, self.severity
        w = np.minimum(np.maximum(_arr(u), 0.0), self.limit)
        top = np.ravel(x.lev2(a + w)).reshape(w.shape) - float(np.ravel(x.lev2(a))[0])
        return (top - 2.0 * a * x.sf_integral(a, a + w)) / self._s_a

    def excess(self, u):
        u = np.maximum(_arr(u), 0.0)
        if not np.isfinite(self.limit):
            return self.severity.excess(self.attachment + u) / self._s_a
        width = np.maximum(self.limit - u, 0.0)
        return np.where(width > 0, self.severity.layer(self.attachment + u, width), 0.0) / self._s_a

    def moment(self, k: int = 1) -> float:
        a, x = self.attachment, self.severity
        if k == 1:
            paid = x.layer(a, self.limit) if np.isfinite(self.limit) else x.excess(a)
            return float(paid) / self._s_a
        if k == 2:
            lev2_a = float(np.ravel(x.lev2(a))[0])
            if np.isfinite(self.limit):
                b = a + self.limit
                part = float(np.ravel(x.lev2(b))[0]) - lev2_a - 2 * a * float(x.layer(a, self.limit))
            else:
                part = x.moment(2) - lev2_a - 2 * a * float(x.excess(a))
            return part / self._s_a
        raise StopLossError("ExcessOver.moment: only k = 1 and 2 are available.")
