"""Errors raised by the riskadjust package.

Every message says what is wrong, where (table, row position, segment, term) and what to do.
Patient identifiers are never included: rows are named by their position in the input.
"""


class RiskModelError(ValueError):
    """A risk model's tables are inconsistent (unknown term, cycle, missing cell, bad value)."""


class PopulationError(ValueError):
    """Member or diagnosis data cannot be used as given (missing column, bad age, unknown patient)."""


def line_of(source: str, row: int) -> str:
    """``" (line <n>)"`` when ``source`` is a CSV file with a header line, else ``""``.

    Rows count data rows from 0, so row ``r`` of a CSV file is on line ``r + 2`` (quoted values
    spanning lines excepted).
    """
    return f" (line {row + 2})" if str(source).lower().endswith(".csv") else ""


def at_row(source: str, row: int) -> str:
    """``"<source> row <row>"``, plus the file line for a CSV file.

    Examples
    --------
    >>> at_row("members.csv", 0), at_row("members", 0)
    ('members.csv row 0 (line 2)', 'members row 0')
    """
    return f"{source} row {row}{line_of(source, row)}"
