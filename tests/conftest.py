"""Shared test helpers: oracles that are independent of the code under test."""

from __future__ import annotations

import math
import os

import pytest

try:
    import torch

    torch.set_default_dtype(torch.float64)
except ImportError:  # PyTorch is an optional oracle; CI installs it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed (CI installs torch==2.13.0)")


def _layout_program() -> bool:
    from autograd.drawing.graphviz_program import GraphvizMissing, find_program

    try:
        return bool(find_program())
    except GraphvizMissing:
        return False


# in CI a Graphviz program (graphviz-pure or dot) must be there; elsewhere tests that render skip
needs_dot = pytest.mark.skipif(
    not _layout_program() and not os.environ.get("CI"),
    reason="no Graphviz layout program: pip install graphviz-pure (or apt-get install graphviz)",
)


def same(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    """Equal as IEEE doubles up to rounding: nan matches nan, infinities must match exactly."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def central_difference(f, point: list[float], i: int, eps: float = 1e-6) -> float:
    """d f / d point[i] by central differences, f taking and returning plain floats."""
    plus, minus = list(point), list(point)
    plus[i] += eps
    minus[i] -= eps
    return (f(plus) - f(minus)) / (2 * eps)
