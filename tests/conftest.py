"""Shared test helpers: oracles that are independent of the code under test."""

from __future__ import annotations

import math
import os
import shutil

import pytest

try:
    import torch

    torch.set_default_dtype(torch.float64)
except ImportError:  # PyTorch is an optional oracle; CI installs it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed (CI installs torch==2.13.0)")
# in CI the Graphviz binary must be there; elsewhere tests that render skip without it
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"), reason="Graphviz 'dot' not installed"
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
