"""The one exception type the stop-loss package raises for bad input."""


class StopLossError(ValueError):
    """Invalid model, data or setting; the message says what is wrong, where, and what to do."""
