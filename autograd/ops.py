"""The table of operations: each one's forward pass and local derivatives, written once.

An entry is ``Op(name, forward, derivative)``:

* ``forward(*data)`` computes the result from the operands' floats, with IEEE-754 semantics
  (``1/0`` is ``inf``, ``log(0)`` is ``-inf``, ``log(-1)`` is ``nan``), as PyTorch float64 does.
* ``derivative(f, out, *operands)`` returns d out / d operand for each operand, given the
  result ``out``. It is written with arithmetic operators and the functions of ``f`` only, so
  the very same line runs on floats (``f = FLOATS``, during the forward pass, where the numbers
  are stored on the new node) and on Values (``f = VALUES``, when ``backward(create_graph=True)``
  records the gradient computation as a graph that can be differentiated again).

Float division and powers raise in Python (``1.0 / 0.0``), so rules divide with ``f.div`` and
raise with ``f.pow``; ``+``, ``-`` and ``*`` never raise on floats. Conventions at kinks and
edges follow PyTorch's ``derivatives.yaml``: ``relu'(0) = 0``, ``abs'(0) = 0``,
``d(x**0)/dx = 0``, ``d(0**y)/dy = 0`` for ``y >= 0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import mul
from types import SimpleNamespace
from typing import Any

INF = math.inf
NAN = math.nan


# --- IEEE-754 versions of the float functions that Python makes raise -------------------

def div(a: float, b: float) -> float:
    """``a / b`` as IEEE-754 defines it: ``1/0 = inf``, ``-1/0 = -inf``, ``0/0 = nan``."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


def power(a: float, b: float) -> float:
    """``a ** b`` as C's ``pow`` (and PyTorch) defines it: ``0 ** -1 = inf``,
    ``(-8) ** (1/3) = nan``, overflow gives ``inf``; never a complex number or an exception."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return -INF if a < 0 and _is_odd_integer(b) else INF
    except ValueError:
        if a == 0:  # zero to a negative power: a pole, signed like the zero for odd powers
            return math.copysign(INF, a) if _is_odd_integer(b) else INF
        return NAN  # a negative base with a non-integer exponent


def exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return INF


def log(a: float) -> float:
    if a > 0:
        return math.log(a)
    return -INF if a == 0 else NAN


def sqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0 else NAN


def sigmoid(a: float) -> float:
    # two forms so that exp never overflows: exp(-a) for a >= 0, exp(a) otherwise
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = exp(a)
    return e / (1.0 + e)


def relu(a: float) -> float:
    return 0.0 if a <= 0 else a  # nan stays nan, as in PyTorch


def sign(a: Any) -> float:
    """The sign of a float or a Value's data: -1.0, 0.0 or 1.0 (nan for nan)."""
    a = float(a)
    return 1.0 if a > 0 else -1.0 if a < 0 else a * 0.0  # 0 -> 0, nan -> nan


# --- the table ----------------------------------------------------------------------------

class Op:
    """One operation of the engine: a name, a forward function on floats, a derivative rule."""

    __slots__ = ("name", "forward", "derivative")

    def __init__(self, name: str, forward: Callable[..., float], derivative: Callable[..., tuple]):
        self.name = name
        self.forward = forward
        self.derivative = derivative

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __copy__(self) -> "Op":  # one object per operation: copies of nodes share it (`is` tests)
        return self

    def __deepcopy__(self, memo: dict) -> "Op":
        return self


def _d_pow_base(f: Any, a: Any, b: Any) -> Any:
    # PyTorch: the exponent 0 gives 0 even at a = 0, where b * a**(b-1) would be 0 * inf
    return 0.0 if float(b) == 0 else b * f.pow(a, b - 1.0)


def _d_pow_exponent(f: Any, out: Any, a: Any, b: Any) -> Any:
    # PyTorch: 0 ** b for b >= 0 is flat in b, though out * log(0) would be 0 * -inf
    return 0.0 if float(a) == 0 and float(b) >= 0 else out * f.log(a)


def dot(ws: Any, xs: Any, bias: float | None = None) -> float:
    """``w · x + bias`` on lists of floats (map(mul) keeps the products in C: neurons are hot)."""
    total = sum(map(mul, ws, xs))
    return total if bias is None else total + bias


def dot_locals(ws: Any, xs: Any) -> tuple:
    """d (w · x + bias) / d (w1..wn, x1..xn, bias): the xs, then the ws, then 1."""
    return (*xs, *ws, 1.0)


def _dot_forward(*data: float) -> float:
    # the table's form: data is w1..wn, x1..xn and maybe a bias
    n = len(data) // 2
    return dot(data[:n], data[n : 2 * n], data[-1] if len(data) % 2 else None)


def _dot_derivative(f: Any, out: Any, *operands: Any) -> tuple:
    n = len(operands) // 2
    return dot_locals(operands[:n], operands[n : 2 * n])[: len(operands)]  # no bias: no trailing 1


ADD = Op("+", lambda a, b: a + b, lambda f, out, a, b: (1.0, 1.0))
SUB = Op("-", lambda a, b: a - b, lambda f, out, a, b: (1.0, -1.0))
MUL = Op("*", lambda a, b: a * b, lambda f, out, a, b: (b, a))
DIV = Op("/", div, lambda f, out, a, b: (f.div(1.0, b), f.div(-a, b * b)))
POW = Op("**", power, lambda f, out, a, b: (_d_pow_base(f, a, b), _d_pow_exponent(f, out, a, b)))
# a plain-number exponent is a constant: no derivative is taken with respect to it (PyTorch's
# pow.Tensor_Scalar), so x**2 at x < 0 does not compute log(x) for nothing
POW_CONST = Op("**", power, lambda f, out, a, b: (_d_pow_base(f, a, b), 0.0))
NEG = Op("neg", lambda a: -a, lambda f, out, a: (-1.0,))
ABS = Op("abs", math.fabs, lambda f, out, a: (sign(a),))
EXP = Op("exp", exp, lambda f, out, a: (out,))
LOG = Op("log", log, lambda f, out, a: (f.div(1.0, a),))
SQRT = Op("sqrt", sqrt, lambda f, out, a: (f.div(0.5, out),))
TANH = Op("tanh", math.tanh, lambda f, out, a: (1.0 - out * out,))
SIGMOID = Op("sigmoid", sigmoid, lambda f, out, a: ((1.0 - out) * out,))
RELU = Op("relu", relu, lambda f, out, a: (1.0 if a > 0 else 0.0,))
SUM = Op("sum", lambda *data: sum(data), lambda f, out, *operands: (1.0,) * len(operands))
DOT = Op("dot", _dot_forward, _dot_derivative)

TABLE: dict[str, Op] = {
    "add": ADD, "sub": SUB, "mul": MUL, "div": DIV, "pow": POW, "pow_const": POW_CONST,
    "neg": NEG, "abs": ABS, "exp": EXP, "log": LOG, "sqrt": SQRT, "tanh": TANH,
    "sigmoid": SIGMOID, "relu": RELU, "sum": SUM, "dot": DOT,
}

# Pseudo-operations that mark leaves: a Value the user made, a constant the engine made from a
# plain number operand, and a parameter (drawn differently; ``.op`` is "" for all three).
LEAF = Op("", lambda: NAN, lambda f, out: ())
CONSTANT = Op("", lambda: NAN, lambda f, out: ())
PARAMETER = Op("", lambda: NAN, lambda f, out: ())  # a leaf that a model learns (autograd.Parameter)

# The functions that derivative rules call, on floats.
FLOATS = SimpleNamespace(div=div, pow=power, log=log)
