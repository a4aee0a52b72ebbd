"""Errors raised by the riskadjust package: one base, :class:`RiskAdjustError`, and a class per topic.

Every message says what is wrong, where (file, line, column, table, segment, term) and what to do,
with the location keywords of :class:`~_kit.errors.EngineError`. Patient identifiers and the cell
values of member rows are never included: a row is named by its line in the file (or its position
in a table), and the message says what the column should hold.

Examples
--------
>>> err = PopulationError("not F or M (or CMS 2/1)", file="members.csv", line=3, column="sex")
>>> str(err), isinstance(err, RiskAdjustError)
("members.csv, line 3, column 'sex': not F or M (or CMS 2/1)", True)
"""

from _kit.errors import EngineError
from _kit.validate import csv_line


class RiskAdjustError(EngineError):
    """Base of every error the riskadjust package raises on purpose (an :class:`~_kit.errors.EngineError`)."""


class RiskModelError(RiskAdjustError):
    """A risk model's tables are inconsistent (unknown term, cycle, missing cell, bad value)."""


class PopulationError(RiskAdjustError):
    """Member or diagnosis data cannot be used as given (missing column, bad age, unknown patient)."""


class AllocationError(RiskAdjustError):
    """The allocation inputs are inconsistent or the pace-of-change floors exceed the envelope."""


class SettlementError(RiskAdjustError):
    """Settlement terms are inconsistent (overlapping corridors, shares outside [0, 1], ...)."""


def row_error(error: type[RiskAdjustError], message: str, source, row: int, column=None) -> RiskAdjustError:
    """``error`` about data row ``row`` (0-based) of ``source``, named by its file line for a CSV file
    (:func:`_kit.validate.csv_line`), else by its position; ``message`` says what the column should hold.

    Examples
    --------
    >>> str(row_error(PopulationError, "not F or M", "members.csv", 1, "sex"))
    "members.csv, line 3, column 'sex': not F or M"
    >>> str(row_error(PopulationError, "not F or M", "members", 1, "sex"))
    "members, column 'sex': not F or M (row 1)"
    """
    line = csv_line(source, row)
    return error(message if line else f"{message} (row {row})", file=source, line=line, column=column)
