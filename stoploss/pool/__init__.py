"""How large must a group be to hold a risk-bearing budget? The pool-risk application.

=================  ================================================================================
module             what it holds
=================  ================================================================================
``cost_model``     a patient's annual cost by morbidity class (``stoploss.Spliced`` per class),
                   calibrated to the concentration of health spending
``simulate``       :func:`simulate_pool` (one group) and :func:`sweep` (list sizes x attachments x
                   budget formulas), with their result objects
``_kernels``       the Numba kernel that simulates group-years
``presets``        named scopes (``default``, ``crump-1991``): cost model, defaults and evidence
                   (sources in ``PRESETS.md``)
``feeds``          what the other packages measured, read from their files (formula R-squared,
                   IBNR error)
``sensitivity``    how the smallest list size moves with each assumption
``report``         the HTML page of a sweep (renders only; drawn with the shared report kit)
``cli``            ``python -m stoploss pool``
=================  ================================================================================
"""

from stoploss.pool.cost_model import CostModel, default_cost_model
from stoploss.pool.simulate import (
    DEFAULT_ATTACHMENTS,
    DEFAULT_RISK_MODELS,
    DEFAULT_SIZES,
    PoolAssumptions,
    PoolResult,
    SweepResult,
    simulate_pool,
    sweep,
)

__all__ = ["CostModel", "DEFAULT_ATTACHMENTS", "DEFAULT_RISK_MODELS", "DEFAULT_SIZES", "PoolAssumptions",
           "PoolResult", "SweepResult", "default_cost_model", "simulate_pool", "sweep"]
