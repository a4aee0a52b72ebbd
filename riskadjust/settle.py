"""End-of-year settlement of capitation contracts: withholds, a high-cost pool, risk corridors, shared savings.

For each contract, with budget ``B`` (capitation), actual cost ``A``, carve-outs ``K`` (costs the
payer funds outside the budget, e.g. transplants) and ``P`` paid to it by the **high-cost pool**:

* the pool (top-sliced from the envelope by :func:`riskadjust.allocate`, ``collected``) pays each
  contract its cost above the pool's cap (``high_cost``: per group, the sum over its members of
  ``max(cost - cap, 0)``, aggregated before it reaches us). Rule ``"full"``: every claim is paid in
  full and the pool's **balance** ``collected - paid`` may be negative (a deficit the payer funds);
  rule ``"pro_rata"``: when claims exceed the pool each is scaled down so that exactly the pool is
  paid out, and a surplus stays as the balance. Either way ``paid = collected - balance`` to the penny;
* ``net = A - K - P`` and the provider's **gain** ``g = B - net`` (negative = overspend);
* the **payer's share** ``s`` of the gain:

  - risk **corridors** ``[(lower, upper, payer_share), ...]`` (fractions of ``B``): the part of ``|g|``
    between ``lower x B`` and ``upper x B`` is shared with the payer at ``payer_share``, for gains
    (the provider pays back) and losses (the payer pays in) alike; ``gain_corridors`` and
    ``loss_corridors`` replace them on one side (asymmetric corridors, e.g. the payer sharing more
    of losses than of gains);
  - **shared savings** ``SharedSavings(rate, minimum_rate, cap_rate)`` replaces the corridors for
    gains: when ``g >= minimum_rate x B`` the provider keeps ``min(rate x g, cap_rate x B)`` from
    the first pound, otherwise nothing; the payer takes the rest;
  - neither: full risk, ``s = 0``;

* the **withhold** ``w x B`` was held back during the year; ``withhold_returned`` (e.g. a quality
  score in [0, 1]) of it is released at settlement;
* **due to provider** ``= w x B x withhold_returned - s + P``; a negative amount is due to the payer.
  The provider's result is ``g - s - w x B x (1 - withhold_returned)``.

Settlement is in integer pence: amounts are read to the penny, each payer share and withhold is
rounded to the nearest penny (halves away from zero), pool payments are shared out by largest
remainder, and the ``..._pence`` columns are exact integers; the currency columns show the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from _kit.validate import number
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
    """Amounts per contract (currency, and exact integer pence in the ``..._pence`` columns); positive
    ``due_to_provider`` is paid by the payer. ``pool`` holds the high-cost pool's account (or None):
    ``collected, claimed, paid, balance`` in currency and the same as integer ``..._pence``."""

    summary: pd.DataFrame
    pool: dict | None = None

    @property
    def totals(self) -> dict:
        s = self.summary
        out = {k: float(s[k].sum()) for k in ("budget", "net_actual", "gain", "payer_share", "withheld",
                                              "pool_paid", "due_to_provider", "due_to_payer", "provider_result")}
        if self.pool is not None:
            out.update({f"pool_{k}": v for k, v in self.pool.items()})
        return out


def _bands(corridors, name: str):
    bands = sorted((float(lo), float(hi), float(sh)) for lo, hi, sh in corridors)
    for k, (lo, hi, sh) in enumerate(bands):
        if not (0 <= lo < hi) or not 0 <= sh <= 1:
            raise SettlementError(f"{name} {k} ({lo}, {hi}, {sh}): need 0 <= lower < upper and share in [0, 1]")
        if k and lo < bands[k - 1][1]:
            raise SettlementError(f"{name} {k} starts at {lo} inside the previous band ending at {bands[k - 1][1]}")
    return bands


def _corridor_share(magnitude: np.ndarray, budget: np.ndarray, bands) -> np.ndarray:
    share = np.zeros_like(magnitude)
    for lo, hi, sh in bands:
        share += sh * np.clip(magnitude - lo * budget, 0.0, (hi - lo) * budget)
    return share


def _pence(x, name: str) -> np.ndarray:
    """Amounts (currency) as integer pence; they must be whole pennies."""
    p = np.round(x * 100.0)
    if np.any(np.abs(x * 100.0 - p) > 1e-6 * np.maximum(1.0, np.abs(x))):
        raise SettlementError(f"{name}: amounts must be whole pennies")
    return p.astype(np.int64)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def _pool_payments(claims: np.ndarray, collected: int, rule: str) -> np.ndarray:
    """Pence paid on each claim (pence): in full, or scaled to the pool by largest remainder."""
    if rule == "full" or claims.sum() <= collected:
        return claims.copy()
    exact = claims * (collected / claims.sum())
    paid = np.minimum(np.floor(exact), claims).astype(np.int64)
    short = collected - int(paid.sum())
    room = np.flatnonzero(paid < claims)
    paid[room[np.argsort(-(exact - paid)[room], kind="stable")][:short]] += 1
    return paid


def high_cost_by_group(cost, groups, cap: float) -> pd.Series:
    """Each group's claim on the high-cost pool: the sum over its members of ``max(cost - cap, 0)``.

    Only the totals per group leave this function (no member rows), as the pool needs them.

    Parameters
    ----------
    cost : array-like (n,)
        Cost of each member in the period (currency, >= 0).
    groups : array-like (n,)
        Group (contract) of each member.
    cap : float
        The pool's cap per member (currency, > 0).

    Examples
    --------
    >>> high_cost_by_group([10_000, 70_000, 120_000], ["A", "A", "B"], 50_000).tolist()
    [20000.0, 70000.0]
    """
    c = np.asarray(cost, dtype=float)
    g = np.asarray(groups)
    if c.shape != g.shape or c.ndim != 1:
        raise SettlementError(f"cost and groups need one value per member: {c.shape} and {g.shape}")
    if not (np.isfinite(cap) and cap > 0):
        raise SettlementError(f"the pool's cap must be a positive amount, got {cap!r}")
    if np.any(~np.isfinite(c) | (c < 0)):
        raise SettlementError("member costs must be finite and >= 0")
    return pd.Series(np.maximum(c - cap, 0.0)).groupby(g, sort=True).sum().rename_axis("group").rename("high_cost")


def settle(budget, actual, *, withhold: float = 0.0, withhold_returned=1.0, corridors=None, gain_corridors=None,
           loss_corridors=None, shared_savings: SharedSavings | None = None, carve_outs=0.0, high_cost=None,
           pool: float | None = None, pool_rule: str = "full", contracts=None) -> SettlementResult:
    """Settle capitation contracts (see the module docstring for the rules).

    Parameters
    ----------
    budget, actual : float or array-like
        Capitation budget and actual cost per contract (currency, whole pennies).
    withhold : float
        Fraction of the budget withheld during the year (typically 0.10-0.20).
    withhold_returned : float or array-like
        Fraction of the withhold released (e.g. quality score); default all.
    corridors : list of (lower, upper, payer_share), optional
        Risk-sharing bands as fractions of budget, for gains and losses; ``upper`` may be ``inf``.
    gain_corridors, loss_corridors : list of (lower, upper, payer_share), optional
        Bands for gains only or losses only (replacing ``corridors`` on that side).
    shared_savings : SharedSavings, optional
        Shared-savings terms for gains (corridors then apply to losses only).
    carve_outs : float or array-like
        Costs excluded from the settlement (currency).
    high_cost : float or array-like, optional
        Each contract's cost above the high-cost pool's cap (currency, aggregated per contract; at
        most ``actual - carve_outs``); needs ``pool``.
    pool : float, optional
        The amount top-sliced into the high-cost pool (currency).
    pool_rule : {"full", "pro_rata"}
        Pay claims in full (the balance may go negative) or scale them to the pool when they exceed it.
    contracts : list of str, optional
        Labels for the rows of the summary.

    Examples
    --------
    >>> r = settle(1_000_000, 1_100_000, withhold=0.10, carve_outs=20_000,
    ...            corridors=[(0.0, 0.02, 0.0), (0.02, 0.05, 0.5), (0.05, float("inf"), 0.8)])
    >>> r.summary[["gain", "payer_share", "due_to_provider"]].iloc[0].tolist()
    [-80000.0, -39000.0, 139000.0]
    >>> r = settle([500_000, 500_000], [560_000, 470_000], high_cost=[90_000, 10_000], pool=80_000,
    ...            pool_rule="pro_rata")
    >>> r.summary["pool_paid"].tolist(), r.pool["balance"]
    ([72000.0, 8000.0], 0.0)
    """
    B, A, K, q = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=float))
                                       for x in (budget, actual, carve_outs, withhold_returned)))
    if np.any(~np.isfinite(B) | (B <= 0)):
        raise SettlementError(f"contract {int(np.flatnonzero(~(B > 0))[0])}: budget must be positive")
    if np.any(~np.isfinite(A) | (A < 0)) or np.any(~np.isfinite(K) | (K < 0)) or np.any(K > A):
        raise SettlementError("actual cost must be >= 0 and carve-outs between 0 and actual cost")
    if not 0 <= withhold < 1 or np.any((q < 0) | (q > 1)):
        raise SettlementError("withhold must be in [0, 1) and withhold_returned in [0, 1]")
    Bp, Ap, Kp = _pence(B, "budget"), _pence(A, "actual"), _pence(K, "carve_outs")
    paid = np.zeros_like(Bp)
    account = None
    if (high_cost is None) != (pool is None):
        raise SettlementError("the high-cost pool needs both high_cost (per contract) and pool (the amount collected)")
    if pool is not None:
        if pool_rule not in ("full", "pro_rata"):
            raise SettlementError(f"pool_rule must be 'full' or 'pro_rata', got {pool_rule!r}")
        H = np.broadcast_to(np.atleast_1d(np.asarray(high_cost, dtype=float)), B.shape)
        if np.any(~np.isfinite(H) | (H < 0)):
            raise SettlementError("high_cost must be >= 0 for every contract")
        Hp = _pence(H, "high_cost")
        if np.any(Hp > Ap - Kp):
            raise SettlementError("high_cost above actual cost less carve-outs: a contract cannot claim more from "
                                  "the pool than it spent")
        collected = int(_pence(np.array([number(pool, "the pool collected", SettlementError, low=0)]), "pool")[0])
        paid = _pool_payments(Hp, collected, pool_rule)
        pence = {"collected": collected, "claimed": int(Hp.sum()), "paid": int(paid.sum()),
                 "balance": collected - int(paid.sum())}
        account = {**{k: v / 100.0 for k, v in pence.items()}, **{f"{k}_pence": v for k, v in pence.items()}}
    net = Ap - Kp - paid
    gain = Bp - net
    gains = _bands(gain_corridors if gain_corridors is not None else corridors or [], "gain corridor")
    losses = _bands(loss_corridors if loss_corridors is not None else corridors or [], "loss corridor")
    payer = np.where(gain > 0, _corridor_share(np.abs(gain).astype(float), Bp.astype(float), gains),
                     -_corridor_share(np.abs(gain).astype(float), Bp.astype(float), losses))
    if shared_savings is not None:
        ss = shared_savings
        if not (0 <= ss.rate <= 1 and ss.minimum_rate >= 0 and ss.cap_rate >= 0):
            raise SettlementError(f"shared savings terms out of range: {ss}")
        keeps = np.where(gain >= ss.minimum_rate * Bp, np.minimum(ss.rate * gain, ss.cap_rate * Bp), 0.0)
        payer = np.where(gain > 0, gain - keeps, payer)
    payer = _round_half_away(payer)
    withheld = _round_half_away(withhold * Bp)
    released = _round_half_away(withheld * q)
    due = released - payer + paid
    labels = contracts if contracts is not None else [f"contract {k + 1}" for k in range(B.size)]
    columns = {"budget": Bp, "carve_outs": Kp, "actual": Ap, "pool_paid": paid, "net_actual": net, "gain": gain,
               "payer_share": payer, "withheld": withheld, "withhold_released": released,
               "due_to_provider": np.maximum(due, 0), "due_to_payer": np.maximum(-due, 0),
               "provider_result": gain - payer - (withheld - released)}
    out = pd.DataFrame({k: v / 100.0 for k, v in columns.items()}, index=pd.Index(labels, name="contract"))
    for k in ("pool_paid", "payer_share", "due_to_provider", "due_to_payer"):
        out[f"{k}_pence"] = columns[k]
    return SettlementResult(out, account)
