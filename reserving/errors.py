"""Errors raised by the reserving package.

:class:`ReservingError` is the package's :class:`~_kit.errors.EngineError`: every error the
package raises on purpose is one, so ``python -m reserving`` turns it into one line on stderr and
exit status 1. Every message names where the problem is (file, line, column, segment, origin,
lag) and what to do, and never quotes a patient id.

The application's errors subclass it where they are raised: ``ClaimsError`` in
:mod:`reserving.nightly.claims`, ``SegmentError`` in :mod:`reserving.nightly.isolation`.
"""

from _kit.errors import EngineError


class ReservingError(EngineError):
    """Bad input or a bad setting for a reserving method, or a reserving run that cannot complete.

    Examples
    --------
    >>> str(ReservingError("threshold 2 must be in (0, 1]", segment=("north", "acute")))
    'segment north/acute: threshold 2 must be in (0, 1]'
    """


class TriangleError(ReservingError):
    """A triangle's data cannot be used as given (bad shape, value, date or label)."""
