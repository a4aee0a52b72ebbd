"""Risk-adjusted capitation: risk models, scoring, calibration, budgets and contract settlement.

>>> from riskadjust import RiskModel, Population, score, calibrate, allocate, settle
"""

from riskadjust.allocate import AllocationError, AllocationResult, allocate
from riskadjust.calibrate import CalibrationResult, calibrate
from riskadjust.errors import PopulationError, RiskModelError
from riskadjust.model import RiskModel
from riskadjust.population import Population
from riskadjust.score import ScoreResult, score
from riskadjust.settle import SettlementError, SettlementResult, SharedSavings, settle
from riskadjust.validate import ValidationResult, validate

__all__ = [
    "AllocationError", "AllocationResult", "CalibrationResult", "Population", "PopulationError", "RiskModel",
    "RiskModelError", "ScoreResult", "SettlementError", "SettlementResult", "SharedSavings", "ValidationResult",
    "allocate", "calibrate", "score", "settle", "validate",
]
