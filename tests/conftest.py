"""Fixtures shared by every package's tests."""

from __future__ import annotations

import numba
import pytest


@pytest.fixture
def on_threads():
    """``run(fn)`` calls ``fn()`` with Numba on one thread, then on two, and returns both results.

    Every random result must be the same whatever the number of threads; a test compares the two.
    """

    def run(fn):
        before = numba.get_num_threads()
        try:
            results = []
            for n in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
                numba.set_num_threads(n)
                results.append(fn())
            return results
        finally:
            numba.set_num_threads(before)

    return run
