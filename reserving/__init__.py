"""IBNR reserving for risk-bearing health budgets: triangles, chain-ladder, Mack, bootstrap."""

from reserving.errors import TriangleError
from reserving.triangle import Triangle, TriangleSet

__all__ = ["Triangle", "TriangleSet", "TriangleError"]
