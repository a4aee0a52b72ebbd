"""How the answer to "how large must a group be?" moves with each assumption of the pool simulator.

The answer is the smallest list size from which P(overspend > 5%) stays below the chosen level
(:meth:`~stoploss.pool.SweepResult.smallest_size`), for one budget formula without specific
stop-loss. Each assumption is moved alone over a stated range, the others held at the run's values,
and the whole sweep over list sizes is simulated again with the same seed (common random numbers,
so the differences are not noise of the seed). A value the model cannot take (e.g. a formula
R-squared above what a recalibrated cost model's classes can explain) is reported as not possible.

The ranges (``default`` preset): the between-group spread of expected cost per head ``mix_cv``
(0 to 10%; not measured directly, see ``PRESETS.md``), the share of spend held by the 1% of people
above 100,000 (28% to 40%: English hospital spending 32%, the default 33%; the five classes cannot
reach the US whole-budget 21-23%), the Pareto index of the largest costs (2.2 to 4), the budget
formula's R-squared (0 to 20%), the IBNR error CV (0 to 4%) and a common year shock (0 to 3%). For
the ``crump-1991`` preset: the assumed spread of procedure prices, the IBNR error and the shock.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from stoploss.errors import StopLossError
from stoploss.pool.cost_model import CostModel
from stoploss.pool.presets import Preset, crump_1991_cost_model
from stoploss.pool.simulate import PoolAssumptions, sweep

#: Variations: label -> (values, how a value changes the run). "formula" sets the R-squared; the
#: others rebuild the assumptions.
_DEFAULT = {
    "between-group spread of cost per head (mix_cv)": ((0.0, 0.025, 0.05, 0.075, 0.10), "mix_cv"),
    "share of spend of the 1% above 100,000": ((0.28, 0.30, 1.0 / 3.0, 0.40), "spend_share"),
    "Pareto index of the largest costs": ((2.2, 2.5, 3.0, 4.0), "tail_alpha"),
    "budget formula R-squared": ((0.0, 0.037, 0.126, 0.20), "formula"),
    "IBNR error CV": ((0.0, 0.01, 0.02, 0.04), "ibnr_cv"),
    "common year shock CV": ((0.0, 0.01, 0.02, 0.03), "shock_cv"),
}
_CRUMP = {
    "spread of procedure prices (lognormal sigma)": ((0.3, 0.6, 0.9), "price_sigma"),
    "IBNR error CV": ((0.0, 0.01, 0.02, 0.04), "ibnr_cv"),
    "common year shock CV": ((0.0, 0.01, 0.02, 0.03), "shock_cv"),
}


def _assumptions(base: PoolAssumptions, kind: str, value: float) -> PoolAssumptions:
    if kind in ("mix_cv", "ibnr_cv", "shock_cv"):
        return replace(base, **{kind: value})
    if kind in ("spend_share", "tail_alpha"):
        return replace(base, cost_model=CostModel.calibrated(**{kind: value}))
    if kind == "price_sigma":
        return replace(base, cost_model=crump_1991_cost_model(value))
    raise StopLossError(f"sensitivity: unknown assumption kind {kind!r}.")


def _base_value(base: PoolAssumptions, kind: str, r2: float) -> float:
    cm = base.cost_model
    return {"mix_cv": base.mix_cv, "ibnr_cv": base.ibnr_cv, "shock_cv": base.shock_cv, "formula": r2,
            "tail_alpha": cm.tail_alpha,
            "spend_share": float(cm.spend_share_above(cm.tail_threshold)),
            "price_sigma": cm.sigma}[kind]


def sensitivity(chosen: Preset, assumptions: PoolAssumptions, sizes, risk_model: tuple[str, float], *,
                n_years: int = 10_000, seed: int = 0, level: float = 0.05) -> pd.DataFrame:
    """The smallest list size with P(overspend > 5%) below ``level`` as each assumption moves alone.

    Parameters
    ----------
    chosen : Preset
        Which ranges to move (``default`` or ``crump-1991``; see the module docstring).
    assumptions : PoolAssumptions
        The run's values, held while another assumption moves.
    sizes : sequence of int
        Increasing list sizes simulated (the answer is one of them, or not reached).
    risk_model : (name, r_squared)
        The budget formula; no specific stop-loss.
    n_years, seed, level :
        As :func:`~stoploss.pool.sweep`.

    Returns
    -------
    DataFrame
        One row per (assumption, value): ``assumption``, ``value``, ``smallest_size`` (NaN: not
        reached within ``sizes``, or not possible), ``possible`` (False when the model cannot take
        the value), ``is_base`` (the run's own value).

    Examples
    --------
    >>> from stoploss.pool.presets import preset
    >>> p = preset("crump-1991")
    >>> t = sensitivity(p, PoolAssumptions(cost_model=p.cost_model), [9_000, 24_000, 179_400], ("per head", 0.0),
    ...                 n_years=1_000)
    >>> sorted(t["assumption"].unique())[0], int(t["possible"].sum())
    ('IBNR error CV', 11)
    """
    name, r2 = risk_model
    ranges = _CRUMP if chosen.name == "crump-1991" else _DEFAULT
    rows = []
    for label, (values, kind) in ranges.items():
        base_value = _base_value(assumptions, kind, r2)
        if not np.any(np.isclose(values, base_value, rtol=1e-9, atol=1e-12)):
            values = sorted((*values, base_value))
        for value in values:
            row = {"assumption": label, "value": value, "smallest_size": np.nan, "possible": True,
                   "is_base": bool(np.isclose(value, base_value, rtol=1e-9, atol=1e-12))}
            try:
                varied = assumptions if kind == "formula" else _assumptions(assumptions, kind, value)
                result = sweep(sizes, [None], {name: value if kind == "formula" else r2}, assumptions=varied,
                               n_years=n_years, seed=seed, level=level)
                row["smallest_size"] = float(result.totals.iloc[0, 0])
            except StopLossError:
                row["possible"] = False
            rows.append(row)
    return pd.DataFrame(rows)
