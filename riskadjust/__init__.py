"""Risk-adjusted capitation: risk models, scoring, calibration, budgets and contract settlement.

>>> from riskadjust import RiskModel, Population, score, calibrate, allocate, settle
"""

from riskadjust.allocate import AllocationResult, allocate
from riskadjust.calibrate import CalibrationResult, calibrate
from riskadjust.errors import AllocationError, PopulationError, RiskAdjustError, RiskModelError, SettlementError
from riskadjust.model import RiskModel
from riskadjust.population import Population
from riskadjust.score import ScoreResult, score
from riskadjust.settle import SettlementResult, SharedSavings, settle
from riskadjust.validate import ValidationResult, validate

__all__ = [
    "AllocationError", "AllocationResult", "CalibrationResult", "Population", "PopulationError", "RiskAdjustError",
    "RiskModel", "RiskModelError", "ScoreResult", "SettlementError", "SettlementResult", "SharedSavings",
    "ValidationResult", "allocate", "calibrate", "score", "settle", "validate",
]
