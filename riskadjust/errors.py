"""Errors raised by the riskadjust package.

Every message says what is wrong, where (table, row position, segment, term) and what to do.
Patient identifiers are never included: rows are named by their position in the input.
"""


class RiskModelError(ValueError):
    """A risk model's tables are inconsistent (unknown term, cycle, missing cell, bad value)."""


class PopulationError(ValueError):
    """Member or diagnosis data cannot be used as given (missing column, bad age, unknown patient)."""
