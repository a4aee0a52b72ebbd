"""Slow, obvious reference for the pool simulator: every patient drawn one by one with numpy.

Per simulated year: the group's class mix (Dirichlet when mix_cv > 0), each patient's class, whether
they have any cost, their cost (lognormal; if above the tail threshold, replaced by a Pareto draw
above it, which is exactly the spliced law of ``CostModel``), whether each formula recognises them,
the budget as the sum of predictions, retained cost sum(min(X, a)), the specific premium, the year
factor (common shock, epidemic, IBNR error).
"""

from __future__ import annotations

import numpy as np


def naive_pool_deviation(n_patients, attachment, r_squared, assumptions, n_years, seed):
    """(outturn - budget) / budget per year for one group configuration, patient by patient.

    Before any aggregate stop-loss (``assumptions.aggregate_attachment`` is ignored).
    """
    cm = assumptions.cost_model
    rng = np.random.default_rng(seed)
    rho = r_squared / cm.between_share
    premium = 0.0 if attachment is None else (1 + assumptions.loading) * n_patients * float(cm.excess(attachment))
    shock_s = np.sqrt(np.log1p(assumptions.shock_cv**2))
    ibnr_s = np.sqrt(np.log1p(assumptions.ibnr_cv**2))
    class_mean, mean = cm.class_mean, cm.mean
    dev = np.empty(n_years)
    for y in range(n_years):
        mix = cm.share
        if assumptions.mix_cv > 0:
            mix = rng.dirichlet(assumptions.mix_concentration * cm.share)
        k = np.minimum(np.searchsorted(np.cumsum(mix), rng.random(n_patients)), len(mix) - 1)
        cost = np.exp(cm.log_mu[k] + cm.sigma * rng.standard_normal(n_patients))
        tail = cost > cm.tail_threshold
        cost[tail] = cm.tail_threshold * rng.random(tail.sum()) ** (-1.0 / cm.tail_alpha)
        cost[rng.random(n_patients) < cm.zero_probability[k]] = 0.0
        known = rng.random(n_patients) < rho
        budget = np.where(known, class_mean[k], mean).sum()
        retained = cost.sum() if attachment is None else np.minimum(cost, attachment).sum()
        factor = np.exp(shock_s * rng.standard_normal() - shock_s**2 / 2)
        if rng.random() < assumptions.epidemic_probability:
            factor *= 1 + assumptions.epidemic_uplift
        factor *= np.exp(ibnr_s * rng.standard_normal() - ibnr_s**2 / 2)
        dev[y] = (factor * retained + premium) / budget - 1.0
    return dev


def naive_costs(cost_model, n, seed):
    """``n`` independent patients' annual costs from the national mix (for calibration checks)."""
    cm = cost_model
    rng = np.random.default_rng(seed)
    k = np.minimum(np.searchsorted(np.cumsum(cm.share), rng.random(n)), len(cm.share) - 1)
    cost = np.exp(cm.log_mu[k] + cm.sigma * rng.standard_normal(n))
    tail = cost > cm.tail_threshold
    cost[tail] = cm.tail_threshold * rng.random(tail.sum()) ** (-1.0 / cm.tail_alpha)
    cost[rng.random(n) < cm.zero_probability[k]] = 0.0
    return cost

