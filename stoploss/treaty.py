"""Excess-of-loss treaties with aggregate terms, reinstatements and a quota share of the layer.

A treaty pays, each year, on a compound S = Y_1 + ... + Y_N of per-claim layer payments
Y = min((X - d)+, m) (cover m excess of the per-claim deductible d; build S with
``compound(frequency.thinned(S_X(d)), ExcessOver(severity, d, m))``, or pass any compound for an
aggregate stop-loss on the whole cost). Aggregate terms, in GEMAct's convention (Pittarello,
Luini & Marchione, "GEMAct: a Python package for non-life (re)insurance modeling", Annals of
Actuarial Science 2024; Layer(cover, deductible, aggr_deductible, n_reinst, reinst_percentage, share)):

    L = q * min((S - D)+, A),      A = (K + 1) m with K reinstatements (or any aggregate limit A)

with aggregate deductible D and quota share q of the layer. Reinstatement k = 1..K restores the
cover used in the band [D + (k - 1) m, D + k m] of S, for the premium c_k P (pro rata as to amount)

    R_k = c_k P min((S - D - (k - 1) m)+, m) / m   (P the initial premium, both after the share),

and the pure initial premium P makes the expected premium income equal the expected loss
(Sundt, "On excess of loss reinsurance with reinstatements", Bull. Swiss Assoc. Actuaries 1991;
GEMAct's ``_reinstatements_costing_adjuster``):

    P = E[L] / (1 + sum_k c_k E[B_k] / m),   B_k = min((S - D - (k - 1) m)+, m),

the quota share multiplying L, P and the reinstatement premiums alike (the B_k are bands of S
before the share).
Every expectation is a difference of stop-loss premiums of S: E[min((S - a)+, l)] = pi(a) - pi(a + l).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stoploss.errors import StopLossError


@dataclass(frozen=True)
class Treaty:
    """Aggregate terms of an excess-of-loss layer (currency amounts per treaty year).

    Parameters
    ----------
    cover : float
        Per-claim cover m of the layer (the width of one reinstatement band).
    aggregate_deductible : float
        D, retained by the cedant in aggregate before the layer pays.
    reinstatements : int or None
        K; the aggregate limit is then (K + 1) m. None: unlimited (no aggregate limit, no
        reinstatement premiums) unless ``aggregate_limit`` is given.
    percentages : float or sequence of float
        c_k, the premium for each reinstatement as a fraction of the initial premium (one for all,
        or one per reinstatement); 0 means free reinstatements.
    aggregate_limit : float, optional
        An aggregate limit without reinstatements (exclusive with ``reinstatements``).
    share : float
        Quota share q of the layer ceded (1 = all).

    Examples
    --------
    >>> t = Treaty(cover=250_000.0, aggregate_deductible=100_000.0, reinstatements=2, percentages=[1.0, 0.5])
    >>> t.limit, t.rates.tolist()
    (750000.0, [1.0, 0.5])
    """

    cover: float
    aggregate_deductible: float = 0.0
    reinstatements: int | None = None
    percentages: object = 0.0
    aggregate_limit: float | None = None
    share: float = 1.0

    def __post_init__(self):
        if not (np.isfinite(self.cover) and self.cover > 0):
            raise StopLossError(f"Treaty: cover must be a positive finite amount, got {self.cover!r}.")
        if not (np.isfinite(self.aggregate_deductible) and self.aggregate_deductible >= 0):
            raise StopLossError(f"Treaty: aggregate_deductible must be >= 0, got {self.aggregate_deductible!r}.")
        if not 0 < self.share <= 1:
            raise StopLossError(f"Treaty: share (quota share) must be in (0, 1], got {self.share!r}.")
        if self.reinstatements is not None:
            if self.aggregate_limit is not None:
                raise StopLossError("Treaty: give reinstatements or aggregate_limit, not both "
                                    "(K reinstatements mean an aggregate limit of (K + 1) * cover).")
            if int(self.reinstatements) != self.reinstatements or self.reinstatements < 0:
                raise StopLossError(f"Treaty: reinstatements must be a whole number >= 0, got {self.reinstatements!r}.")
        elif self.aggregate_limit is not None and not self.aggregate_limit > 0:
            raise StopLossError(f"Treaty: aggregate_limit must be > 0, got {self.aggregate_limit!r}.")
        c = self.rates
        if np.any(~np.isfinite(c) | (c < 0)):
            raise StopLossError("Treaty: reinstatement percentages must be finite and >= 0.")

    @property
    def rates(self) -> np.ndarray:
        """c_k, k = 1..K (empty without reinstatements)."""
        k = int(self.reinstatements or 0)
        c = np.atleast_1d(np.asarray(self.percentages, dtype=float))
        if c.size == 1:
            return np.full(k, float(c[0]))
        if c.size != k:
            raise StopLossError(f"Treaty: {c.size} reinstatement percentages for {k} reinstatements; "
                                "give one, or one per reinstatement.")
        return c

    @property
    def limit(self) -> float:
        """Aggregate limit A: (K + 1) m, the given aggregate limit, or inf."""
        if self.reinstatements is not None:
            return (int(self.reinstatements) + 1) * self.cover
        return float(self.aggregate_limit) if self.aggregate_limit is not None else np.inf


@dataclass(frozen=True)
class TreatyPrice:
    """Expected loss, pure initial premium and expected reinstatement premium of a treaty (currency)."""

    treaty: Treaty
    expected_loss: float
    initial_premium: float
    expected_reinstatement_premium: float
    bands: np.ndarray

    @property
    def summary(self) -> pd.DataFrame:
        """One row per reinstatement: band of S it restores, expected use E[B_k], rate c_k, expected premium."""
        t = self.treaty
        k = np.arange(1, self.bands.size + 1)
        return pd.DataFrame({"reinstatement": k, "band_from": t.aggregate_deductible + (k - 1) * t.cover,
                             "expected_use": self.bands, "rate": t.rates,
                             "expected_premium": self.initial_premium * t.rates * self.bands / t.cover})

    @property
    def totals(self) -> pd.Series:
        return pd.Series({"expected_loss": self.expected_loss, "initial_premium": self.initial_premium,
                          "expected_reinstatement_premium": self.expected_reinstatement_premium,
                          "aggregate_limit": self.treaty.limit, "share": self.treaty.share})


def _band(stop_loss, a: float, width: float) -> float:
    """E[min((S - a)+, width)] = pi(a) - pi(a + width)."""
    top = 0.0 if not np.isfinite(width) else float(stop_loss(a + width))
    return float(stop_loss(a)) - top


def price_treaty(aggregate, treaty: Treaty) -> TreatyPrice:
    """Pure premium of an excess-of-loss layer with aggregate deductible/limit, reinstatements and quota share.

    Parameters
    ----------
    aggregate : CompoundDistribution or any object with ``stop_loss(d)`` = E[(S - d)+]
        S, the year's total of per-claim layer payments (currency).
    treaty : Treaty

    Returns
    -------
    TreatyPrice
        E[L] = q (pi(D) - pi(D + A)), P = E[L] / (1 + sum_k c_k E[B_k] / m) with
        E[B_k] = pi(D + (k-1) m) - pi(D + k m), and the expected reinstatement premium E[L] - P
        (see the module docstring for the sources).

    Examples
    --------
    One claim of 100 a year on average (Poisson), cover 100 with one paid reinstatement: E[L] =
    100 (P(N >= 1) + P(N >= 2)) = 100 (2 - 3/e), E[B_1] = 100 (1 - 1/e), P = E[L] / (2 - 1/e).

    >>> from stoploss import Poisson, Empirical, compound
    >>> s = compound(Poisson(1.0), Empirical([100.0]), method="panjer", h=100.0, upper=2000.0)
    >>> p = price_treaty(s, Treaty(cover=100.0, reinstatements=1, percentages=1.0))
    >>> round(p.expected_loss, 6), round(p.initial_premium, 6)
    (89.636168, 54.920065)
    """
    if not hasattr(aggregate, "stop_loss"):
        raise StopLossError("price_treaty: aggregate must have stop_loss(d), e.g. a CompoundDistribution.")
    t = treaty
    rates = t.rates
    expected = t.share * _band(aggregate.stop_loss, t.aggregate_deductible, t.limit)
    bands = np.array([_band(aggregate.stop_loss, t.aggregate_deductible + k * t.cover, t.cover)
                      for k in range(rates.size)])
    premium = expected / (1.0 + float(np.dot(rates, bands)) / t.cover)
    return TreatyPrice(t, expected, premium, expected - premium, bands)
