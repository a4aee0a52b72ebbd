"""Named scopes of the pool simulator: a cost model with its list sizes, covers, budget formulas and evidence.

A preset answers "what budget is the group holding?". Two are defined; their sources are listed in
``stoploss/pool/PRESETS.md`` and, per assumption, in :attr:`Preset.evidence` (shown in the report).

``default``
    A whole commissioning budget (hospital, community, prescribing): the calibrated five-class cost
    model of :func:`~stoploss.pool.cost_model.default_cost_model`, the NHS person-based formula's
    R-squared values, specific attachments from 25,000 to 500,000.

``crump-1991``
    The 1991 general practice fund's hospital scope as simulated by Crump, Cubbon, Drummond, Hawkes &
    Marchment ("Fundholding in general practice and financial risk", BMJ 1991;302:1582-4): the 113
    elective surgical procedures of the fund, about 27 pounds a head a year, referrals simulated year
    by year at the district's rates and priced at average West Midlands hospital prices. Built only
    from what the paper states, and fitted to its district figures only (179,400 residents: mean
    annual cost 4,832,471 pounds, standard deviation 87,149 pounds; see :func:`crump_1991_cost_model`).
    Its 5th-95th percentile spreads at 9,000 and 24,000 patients are then predictions, compared with
    the published 27.5% and 15.3% in the report and in ``tests/stoploss/test_pool_presets.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from stoploss.errors import StopLossError
from stoploss.pool.cost_model import CostModel, default_cost_model
from stoploss.pool.simulate import DEFAULT_ATTACHMENTS, DEFAULT_RISK_MODELS, DEFAULT_SIZES

#: Crump et al. (BMJ 1991), abstract: the district's residents and their simulated annual cost of the
#: fund's procedures (mean and standard deviation over 100 simulated years, pounds).
CRUMP_DISTRICT = {"residents": 179_400, "mean": 4_832_471.0, "sd": 87_149.0}
#: Crump et al.'s list sizes (9,000 to 24,000 in steps of 3,000) and the district.
CRUMP_SIZES = (9_000, 12_000, 15_000, 18_000, 21_000, 24_000, 179_400)
#: Spread of a procedure's hospital price, as the sigma of a lognormal: not stated in the paper (it
#: lists 113 procedures at average regional prices). Only E[X] and E[X^2] per head are fitted, so the
#: split between how many residents are treated and what each costs is this one assumption; the test
#: shows the predicted spreads move by under 1% of themselves for sigma from 0.3 to 0.9.
CRUMP_PRICE_SIGMA = 0.6
#: Far above any 1991 elective procedure price: the Pareto tail the cost model requires carries a
#: negligible mass (below 1e-6) at this threshold.
_CRUMP_TAIL = (25_000.0, 3.0)


def crump_1991_cost_model(price_sigma: float = CRUMP_PRICE_SIGMA) -> CostModel:
    """The cost per resident of the 1991 fund's elective procedures, fitted to Crump et al.'s district.

    One class: a resident has one of the fund's procedures in the year with probability q, at a
    lognormal price (location m, shape ``price_sigma``). The district's mean M and standard
    deviation S over N = 179,400 residents give, for independent residents, the per-head moments

        E[X] = M / N = 26.94 pounds,    Var[X] = S^2 / N   (per-person coefficient of variation 7.64),

    and (q, m) are solved so the model has exactly these two moments. No other figure of the paper
    is used: the spreads at 9,000 and 24,000 patients are then predicted.

    Parameters
    ----------
    price_sigma : float
        Lognormal shape of a procedure's price (not in the paper; see ``CRUMP_PRICE_SIGMA``).

    Examples
    --------
    >>> cm = crump_1991_cost_model()
    >>> round(cm.mean, 2), round(float(np.sqrt(cm.var) / cm.mean), 3)
    (26.94, 7.638)
    """
    if not (np.isfinite(price_sigma) and 0 < price_sigma <= 2):
        raise StopLossError(f"crump_1991_cost_model: price_sigma must be in (0, 2], got {price_sigma!r}.")
    n, m, s = CRUMP_DISTRICT["residents"], CRUMP_DISTRICT["mean"], CRUMP_DISTRICT["sd"]
    mean, var = m / n, s * s / n
    u, alpha = _CRUMP_TAIL

    def build(x):
        q = 1.0 / (1.0 + np.exp(-x[0]))
        return CostModel(("resident",), [1.0], [1.0 - q], [x[1]], float(price_sigma), u, alpha)

    def gap(x):
        cm = build(x)
        return [np.log(cm.mean / mean), np.log(cm.var / var)]

    sol = optimize.least_squares(gap, x0=[np.log(0.02 / 0.98), np.log(mean / 0.02)], xtol=1e-15, ftol=1e-15,
                                 gtol=1e-15)
    if np.max(np.abs(sol.fun)) > 1e-9:
        raise StopLossError(f"crump_1991_cost_model: no procedure rate and price fit the district figures with "
                            f"price_sigma {price_sigma}; choose a smaller price spread.")
    return build(sol.x)


@dataclass(frozen=True, eq=False)
class Preset:
    """A named scope of the pool simulator.

    Attributes
    ----------
    name : str
        The ``--preset`` name.
    scope : str
        What budget the group holds, in words.
    cost_model : CostModel
    sizes, attachments : tuple
        Default list sizes and specific attachments (None: no cover).
    risk_models : dict
        Default budget formulas, name -> R-squared of individual cost.
    mix_cv : float
        Default between-group spread of expected cost per head (``--mix-cv`` overrides it).
    evidence : tuple of (assumption, value, source)
        Every assumption with the public evidence behind it, in words.
    """

    name: str
    scope: str
    cost_model: CostModel
    sizes: tuple
    attachments: tuple
    risk_models: dict
    mix_cv: float
    evidence: tuple = field(default=())


def top_share(cm: CostModel, people: float) -> tuple[float, float]:
    """(share of spend, cost threshold) of the ``people`` share of the population with the highest annual cost.

    Examples
    --------
    >>> share, cut = top_share(default_cost_model(), 0.01)
    >>> round(share, 4), round(cut)
    (0.3333, 100000)
    """
    hi = cm.tail_threshold
    while cm.survival(hi) > people:
        hi *= 2.0
    cut = optimize.brentq(lambda x: float(cm.survival(x)) - people, 1e-9, hi, xtol=1e-9, rtol=1e-13)
    return float(cm.spend_share_above(cut)), float(cut)


def _default() -> Preset:
    cm = default_cost_model()
    (top1, cut1), (top5, _) = top_share(cm, 0.01), top_share(cm, 0.05)
    return Preset(
        name="default", scope="a whole commissioning budget (hospital, community and prescribing)", cost_model=cm,
        sizes=DEFAULT_SIZES, attachments=DEFAULT_ATTACHMENTS, risk_models=dict(DEFAULT_RISK_MODELS), mix_cv=0.0,
        evidence=(
            ("Share of spend held by the top 1% of people", f"{top1:.0%} (1% of people cost more than "
                                                            f"{cut1:,.0f} a year)",
             "32% of English hospital spending is on 1% of the population (Kelly, Stoye & Vera-Hernandez, "
             "IFS Working Paper W15/21, 2015; Fiscal Studies 2016); 21-23% of all US health spending "
             "(AHRQ MEPS Statistical Briefs #448, 2012, and #533, 2018). The default sits at the English hospital "
             "figure, which is more concentrated than a whole budget: see the sensitivity chart."),
            ("Share of spend held by the top 5%", f"{top5:.0%} (a consequence of the calibration, not a target)",
             "about 50% of primary care, hospital and prescribing costs in England 2014/15 (Health Foundation, "
             "'A descriptive analysis of health care use by high-cost, high-need patients in England', 2018); "
             "nearly half of US spending (MEPS #533). The default is more concentrated than both: it "
             "overstates a small group's risk."),
            ("High-cost patient rate", f"{float(cm.survival(100_000.0)):.2%} of people above 100,000 a year; "
                                       f"{float(cm.survival(200_000.0)):.2%} above 200,000",
             "top 1% mean annual cost 22.6 times the mean in MEPS 2012 (#448: $97,956); ours "
             f"{top1 / 0.01:.0f} times the mean."),
            ("People without cost in the year", f"{float(cm.share @ cm.zero_probability):.1%}",
             "13% of the US community population had no health "
                                                         "expenditure in 2018 (MEPS #533)."),
            ("Tail of the largest costs", "Pareto index 2.5 above 100,000",
             "finite variance is required (index above 2); the index is varied in the sensitivity chart."),
            ("Budget formula quality", "R-squared 0, 3.7% (age-sex), 12.6% (age-sex + diagnoses)",
             "person-level R-squared of the NHS person-based resource allocation formula (Dixon et al., "
             "BMJ 2011;342:d2934)."),
            ("Between-practice spread after risk adjustment", "mix_cv 0 (5% with --demo)",
             "Dixon et al. (BMJ 2011): the formula explains 77% of practice-level variation and predicted costs "
             "of about a third of practices miss actual costs by 10% or more, which includes the random "
             "variation this simulator draws; the rest is the group mix. Not measured directly: the "
             "sensitivity chart shows the answer from 0 to 10%."),
        ))


def _crump() -> Preset:
    cm = crump_1991_cost_model()
    q = 1.0 - float(cm.zero_probability[0])
    return Preset(
        name="crump-1991", scope="the 1991 general practice fund's 113 elective surgical procedures",
        cost_model=cm, sizes=CRUMP_SIZES, attachments=(None,), risk_models={"per head": 0.0}, mix_cv=0.0,
        evidence=(
            ("Scope", "113 elective surgical procedures, about 27 pounds a head a year",
             "Crump et al., BMJ 1991;302:1582-4: referral rates of the Central Birmingham district's "
             "residents priced at average West Midlands hospital prices."),
            ("Fitted to", "district of 179,400: mean 4,832,471, SD 87,149 pounds a year",
             f"per head mean {cm.mean:.2f} pounds and per-person coefficient of variation "
             f"{np.sqrt(cm.var) / cm.mean:.2f}; residents independent, as in the paper's simulation."),
            ("Procedure rate and price", f"{q:.2%} of residents a year at a mean price of "
                                         f"{cm.class_mean[0] / q:,.0f} pounds",
             f"solved from the two district figures with a lognormal price spread of sigma {CRUMP_PRICE_SIGMA} "
             "(not stated in the paper; the predictions barely move with it)."),
            ("Budget", "per head (no formula)", "the paper's expected expenditure per practice."),
            ("Covers and shocks", "none", "the paper simulates random yearly variation in need only."),
        ))


_BUILDERS = {"default": _default, "crump-1991": _crump}
PRESET_NAMES = tuple(_BUILDERS)


def preset(name: str) -> Preset:
    """The preset called ``name`` (see the module docstring).

    Examples
    --------
    >>> p = preset("crump-1991")
    >>> p.sizes[0], p.sizes[-1], list(p.risk_models)
    (9000, 179400, ['per head'])
    """
    if name not in _BUILDERS:
        raise StopLossError(f"preset {name!r} is not one of {', '.join(PRESET_NAMES)}.")
    return _BUILDERS[name]()
