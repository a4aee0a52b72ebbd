"""Errors raised by the reserving package.

Every message names where the problem is (file, row, segment, origin, lag) and what to do.
"""


class TriangleError(ValueError):
    """A triangle's data cannot be used as given (bad shape, value, date or label)."""
