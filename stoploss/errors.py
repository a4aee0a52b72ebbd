"""The stop-loss package's error: an :class:`_kit.errors.EngineError` for bad input, settings or models."""

from _kit.errors import EngineError


class StopLossError(EngineError):
    """Invalid model, data or setting in ``stoploss``; the message says what is wrong, where, and what to do.

    Where is given by the keywords ``file``, ``line``, ``column`` and ``segment`` (a group), as for
    every :class:`~_kit.errors.EngineError`.

    Examples
    --------
    >>> str(StopLossError("value -1.0 is not valid (must be positive)", file="groups.csv", line=3, column="cv",
    ...                   segment="G002"))
    "groups.csv, line 3, column 'cv', segment G002: value -1.0 is not valid (must be positive)"
    """
