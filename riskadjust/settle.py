"""End-of-year settlement of capitation contracts: withholds, risk corridors, shared savings.

For each contract, with budget ``B`` (capitation), actual cost ``A`` and carve-outs ``K`` (costs the
payer funds outside the budget, e.g. transplants):

* ``net = A - K`` and the provider's **gain** ``g = B - net`` (negative = overspend);
* the **payer's share** ``s`` of the gain:

  - risk **corridors** ``[(lower, upper, payer_share), ...]`` (fractions of ``B``): the part of ``|g|``
    between ``lower x B`` and ``upper x B`` is shared with the payer at ``payer_share``, for gains
    (the provider pays back) and losses (the payer pays in) alike;
  - **shared savings** ``SharedSavings(rate, minimum_rate, cap_rate)`` replaces the corridors for
    gains: when ``g >= minimum_rate x B`` the provider keeps ``min(rate x g, cap_rate x B)`` from
    the first pound, otherwise nothing; the payer takes the rest;
  - neither: full risk, ``s = 0``;

* the **withhold** ``w x B`` was held back during the year; ``withhold_returned`` (e.g. a quality
  score in [0, 1]) of it is released at settlement;
* **due to provider** ``= w x B x withhold_returned - s``; a negative amount is due to the payer.
  The provider's result is ``g - s - w x B x (1 - withhold_returned)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskadjust.errors import SettlementError


@dataclass(frozen=True)
class SharedSavings:
    """Shared-savings terms: provider's share ``rate`` of gains of at least ``minimum_rate x B``,
    capped at ``cap_rate x B`` (all fractions)."""

    rate: float
    minimum_rate: float = 0.0
    cap_rate: float = float("inf")


@dataclass(frozen=True, eq=False)
class SettlementResult:
    """Amounts per contract (currency); positive ``due_to_provider`` is paid by the payer."""

    summary: pd.DataFrame

    @property
    def totals(self) -> dict:
        s = self.summary
        return {k: float(s[k].sum()) for k in ("budget", "net_actual", "gain", "payer_share", "withheld",
                                               "due_to_provider", "due_to_payer", "provider_result")}


def _corridor_share(magnitude: np.ndarray, budget: np.ndarray, corridors) -> np.ndarray:
    bands = sorted((float(lo), float(hi), float(sh)) for lo, hi, sh in corridors)
    for k, (lo, hi, sh) in enumerate(bands):
        if not (0 <= lo < hi) or not 0 <= sh <= 1:
            raise SettlementError(f"corridor {k} ({lo}, {hi}, {sh}): need 0 <= lower < upper and share in [0, 1]")
        if k and lo < bands[k - 1][1]:
            raise SettlementError(f"corridor {k} starts at {lo} inside the previous band ending at {bands[k - 1][1]}")
    share = np.zeros_like(magnitude)
    for lo, hi, sh in bands:
        share += sh * np.clip(magnitude - lo * budget, 0.0, (hi - lo) * budget)
    return share


def settle(budget, actual, *, withhold: float = 0.0, withhold_returned=1.0, corridors=None,
           shared_savings: SharedSavings | None = None, carve_outs=0.0, contracts=None) -> SettlementResult:
    """Settle capitation contracts (see the module docstring for the rules).

    Parameters
    ----------
    budget, actual : float or array-like
        Capitation budget and actual cost per contract (currency).
    withhold : float
        Fraction of the budget withheld during the year (typically 0.10-0.20).
    withhold_returned : float or array-like
        Fraction of the withhold released (e.g. quality score); default all.
    corridors : list of (lower, upper, payer_share), optional
        Risk-sharing bands as fractions of budget; ``upper`` may be ``inf``.
    shared_savings : SharedSavings, optional
        Shared-savings terms for gains (corridors then apply to losses only).
    carve_outs : float or array-like
        Costs excluded from the settlement (currency).
    contracts : list of str, optional
        Labels for the rows of the summary.

    Examples
    --------
    >>> r = settle(1_000_000, 1_100_000, withhold=0.10, carve_outs=20_000,
    ...            corridors=[(0.0, 0.02, 0.0), (0.02, 0.05, 0.5), (0.05, float("inf"), 0.8)])
    >>> r.summary[["gain", "payer_share", "due_to_provider"]].iloc[0].tolist()
    [-80000.0, -39000.0, 139000.0]
    """
    B, A, K, q = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=float))
                                       for x in (budget, actual, carve_outs, withhold_returned)))
    if np.any(~np.isfinite(B) | (B <= 0)):
        raise SettlementError(f"contract {int(np.flatnonzero(~(B > 0))[0])}: budget must be positive")
    if np.any(~np.isfinite(A) | (A < 0)) or np.any(K < 0) or np.any(K > A):
        raise SettlementError("actual cost must be >= 0 and carve-outs between 0 and actual cost")
    if not 0 <= withhold < 1 or np.any((q < 0) | (q > 1)):
        raise SettlementError("withhold must be in [0, 1) and withhold_returned in [0, 1]")
    net = A - K
    gain = B - net
    payer = np.zeros_like(gain)
    if corridors is not None:
        payer = np.sign(gain) * _corridor_share(np.abs(gain), B, corridors)
    if shared_savings is not None:
        ss = shared_savings
        if not (0 <= ss.rate <= 1 and ss.minimum_rate >= 0 and ss.cap_rate >= 0):
            raise SettlementError(f"shared savings terms out of range: {ss}")
        keeps = np.where(gain >= ss.minimum_rate * B, np.minimum(ss.rate * gain, ss.cap_rate * B), 0.0)
        payer = np.where(gain > 0, gain - keeps, payer)
    withheld = withhold * B
    due = withheld * q - payer
    labels = contracts if contracts is not None else [f"contract {k + 1}" for k in range(B.size)]
    out = pd.DataFrame({"budget": B, "carve_outs": K, "actual": A, "net_actual": net, "gain": gain,
                        "payer_share": payer, "withheld": withheld, "withhold_released": withheld * q,
                        "due_to_provider": np.maximum(due, 0.0), "due_to_payer": np.maximum(-due, 0.0),
                        "provider_result": gain - payer - withheld * (1 - q)},
                       index=pd.Index(labels, name="contract"))
    return SettlementResult(out)
