"""Stop-loss pricing: severity and frequency models, compound loss distributions, premiums.

These are the methods. The pool-risk application ("how large must a group be?") builds on them in
:mod:`stoploss.pool`; the command line is :mod:`stoploss.cli`.
"""

from stoploss.aggregate_premium import AggregatePremium, aggregate_premium
from stoploss.banded import BandScaled, SizeBands, basis_by_size, leveraged_trend, trend_by_size
from stoploss.compound import CompoundDistribution, compound, exact_moments
from stoploss.contract import covered_fraction, trend_factor
from stoploss.credibility import Credibility, buhlmann_straub, credibility_weight
from stoploss.distortion import Distortion, distortion_price, proportional_hazard, wang
from stoploss.errors import StopLossError
from stoploss.fit import FrequencyFit, SeverityFit, SplicedFit, TruncatedFit, fit_frequency, fit_severity, fit_spliced
from stoploss.frequency import Binomial, NegativeBinomial, Poisson
from stoploss.layers import ExcessOver, Retained
from stoploss.loadings import Loadings
from stoploss.portfolio import Portfolio
from stoploss.probability_plots import probability_plot
from stoploss.severity import (
    Empirical,
    Gamma,
    GeneralizedPareto,
    Lognormal,
    Pareto,
    SingleParameterPareto,
    Spliced,
    Weibull,
)
from stoploss.specific import SpecificPremium, specific_premium
from stoploss.treaty import Treaty, TreatyPrice, price_treaty

__all__ = [
    "Binomial", "CompoundDistribution", "Empirical", "ExcessOver", "Gamma", "GeneralizedPareto",
    "Lognormal", "NegativeBinomial", "Pareto", "Poisson", "Retained", "SingleParameterPareto",
    "Spliced", "StopLossError", "Weibull", "compound", "exact_moments",
    "AggregatePremium", "Credibility", "Loadings", "SeverityFit", "SpecificPremium", "SplicedFit",
    "aggregate_premium", "buhlmann_straub", "covered_fraction", "credibility_weight", "fit_severity",
    "fit_spliced", "specific_premium", "trend_factor", "FrequencyFit", "TruncatedFit", "fit_frequency",
    "Distortion", "Portfolio", "Treaty", "TreatyPrice", "distortion_price", "price_treaty", "proportional_hazard",
    "wang", "BandScaled", "SizeBands", "basis_by_size", "leveraged_trend", "trend_by_size", "probability_plot",
]
