"""The engine's error hierarchy: one base, a subclass per package, messages that say where.

Every error the engine raises on purpose is an :class:`EngineError`. Each package subclasses it
(``reserving.errors.ReservingError``, ``stoploss.errors.StopLossError``,
``riskadjust.errors.RiskAdjustError``), and the command lines turn any of them into one line on
stderr and exit status 1 (see :mod:`_kit.cli`). The base derives from ``ValueError``, so callers
that caught ``ValueError`` keep working.

A message names where the problem is (file, line, column, segment) and what to do, and never
quotes the value of an identifier column: a patient id must not reach a log.
"""

from __future__ import annotations


def where(file=None, line=None, column=None, segment=None) -> str:
    """The location part of a message: ``"claims.csv, line 7, column 'amount'"``; empty if none given.

    Examples
    --------
    >>> where("claims.csv", 7, "amount")
    "claims.csv, line 7, column 'amount'"
    >>> where(segment=("north", "acute"))
    'segment north/acute'
    """
    parts = []
    if file is not None:
        parts.append(str(file))
    if line is not None:
        parts.append(f"line {line}")
    if column is not None:
        parts.append(f"column {str(column)!r}")
    if segment is not None:
        label = "/".join(map(str, segment)) if isinstance(segment, tuple) else str(segment)
        parts.append(f"segment {label}")
    return ", ".join(parts)


class EngineError(ValueError):
    """Bad input, a bad setting, or a run that cannot complete; the message says where and what to do.

    Parameters
    ----------
    message : str
        What is wrong and what to do.
    file, line, column, segment : optional
        Where; kept as attributes and put in front of the message.

    Examples
    --------
    >>> str(EngineError("amount is not a number", file="claims.csv", line=7, column="amount"))
    "claims.csv, line 7, column 'amount': amount is not a number"
    """

    def __init__(self, message: str, *, file=None, line=None, column=None, segment=None):
        self.file, self.line, self.column, self.segment = file, line, column, segment
        self.message = message
        place = where(file, line, column, segment)
        super().__init__(f"{place}: {message}" if place else message)
