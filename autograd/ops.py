"""The table of operations: each one's forward pass and local derivatives, written once.

An entry is ``Op(name, forward, derivative)``. Both functions take a *namespace* ``f`` first,
which supplies the functions they call (``f.exp``, ``f.div``, ...), so the very same line runs
on three kinds of numbers:

* floats (``f = FLOATS``, below): the forward pass, which stores the local derivatives on the
  new node as floats;
* Values (``f = VALUES`` in engine.py): ``backward(create_graph=True)`` recomputes the local
  derivatives as graph nodes, so gradients can be differentiated again;
* arrays (``f = ARRAYS`` in compiled.py): compile mode replays a traced graph with NumPy.

``forward(f, *operands)`` computes the result; ``derivative(f, out, *operands)`` returns
d out / d operand for each operand, given the result ``out``.

Numerics are IEEE-754 doubles, as in PyTorch float64: ``1/0 = inf``, ``log(0) = -inf``,
``log(-1) = nan``; Python's float functions raise instead, so the float namespace wraps them.
Rules are written in forms that do not overflow where the true derivative is finite
(``d(a/b)/db = -(a/b)/b``, never ``-a/(b*b)``). Conventions at kinks and edges are PyTorch's
(``derivatives.yaml``): ``relu'(0) = 0``, ``abs'(0) = 0``, ``d(0**y)/dy = 0`` for ``y >= 0``,
and its *masked* zeros: ``relu'(x <= 0)`` and the base derivative of ``x**0`` are zeros that
stay zero even times an infinite or nan gradient (``MASKED_ZERO``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import mul
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


def power_const(a: float, b: float) -> float:
    """``a ** b`` for a plain-number exponent, as PyTorch computes it: the exponents 2, 3, -1,
    -2, 0.5 and -0.5 by multiplication, division and square root (which differ from ``pow`` in
    the last bit and at edges: ``(-inf) ** 0.5`` is nan), every other one by ``pow``."""
    if b == 2.0:
        return a * a
    if b == 3.0:
        return a * a * a
    if b == -1.0:
        return div(1.0, a)
    if b == -2.0:
        return div(1.0, a * a)
    if b == 0.5:
        return sqrt(a)
    if b == -0.5:
        return div(1.0, sqrt(a))
    return power(a, b)


def exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return INF


def log(a: float) -> float:
    if a > 0:
        return math.log(a)
    return -INF if a == 0 else NAN


def log1p(a: float) -> float:
    """``log(1 + a)``, accurate for tiny ``a`` (``log1p(1e-20)`` is ``1e-20``, not 0)."""
    if a > -1:
        return math.log1p(a) if a != INF else INF
    return -INF if a == -1 else NAN


def sqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0 else NAN  # sqrt(-0.0) is -0.0, as in C


def sigmoid(a: float) -> float:
    # two forms so that exp never overflows: exp(-a) for a >= 0, exp(a) otherwise
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = exp(a)
    return e / (1.0 + e)


def relu(a: float) -> float:
    return 0.0 if a < 0 else a  # -0.0 and nan pass through, as in PyTorch


def sign(a: float) -> float:
    return 1.0 if a > 0 else -1.0 if a < 0 else 0.0  # 0 and nan give 0, as torch.sgn


class _MaskedZero(float):
    """A derivative of exactly 0 that stays 0 times any gradient, inf and nan included.

    PyTorch computes relu's backward as ``where(x <= 0, 0, grad)``, not ``0 * grad``, so an
    infinite gradient arriving at a relu that is off gives 0 there, where ``0.0 * inf`` is nan.
    """

    __slots__ = ()

    def __mul__(self, other: Any) -> float:
        return 0.0

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return "0.0"


MASKED_ZERO = _MaskedZero(0.0)


class Floats:
    """The namespace of the forward pass: IEEE-754 functions on Python floats."""

    div = staticmethod(div)
    pow = staticmethod(power)
    pow_const = staticmethod(power_const)
    exp = staticmethod(exp)
    log = staticmethod(log)
    log1p = staticmethod(log1p)
    sqrt = staticmethod(sqrt)
    tanh = staticmethod(math.tanh)
    sigmoid = staticmethod(sigmoid)
    relu = staticmethod(relu)
    abs = staticmethod(math.fabs)
    sign = staticmethod(sign)

    @staticmethod
    def number(x: Any) -> Any:
        """The plain number of an operand (conditions in rules test numbers, never nodes)."""
        return x

    @staticmethod
    def where(condition: Any, value: Any, rule: Callable[[], Any]) -> Any:
        """``value`` where ``condition`` holds, else ``rule()`` (not run where it is not needed)."""
        return value if condition else rule()

    sum = staticmethod(sum)  # left to right, as a chain of + would add

    @staticmethod
    def dot(ws: Any, xs: Any) -> float:
        return sum(map(mul, ws, xs))  # the products stay in C: neurons are hot


FLOATS = Floats()


# --- the table ----------------------------------------------------------------------------

class Op:
    """One operation of the engine: a name, a forward function, a derivative rule."""

    __slots__ = ("name", "forward", "derivative")

    def __init__(self, name: str, forward: Callable[..., Any], derivative: Callable[..., tuple]):
        self.name = name
        self.forward = forward
        self.derivative = derivative

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __copy__(self) -> Op:  # an entry of the table is a constant, like a function: nodes that
        return self  # are copied (copy.deepcopy of a model) keep pointing at the same entry

    def __deepcopy__(self, memo: dict) -> Op:
        return self


def _dot(f: Any, *operands: Any) -> Any:
    # operands are w1..wn, x1..xn and maybe a bias: w · x (+ bias)
    n = len(operands) // 2
    total = f.dot(operands[:n], operands[n : 2 * n])
    return total + operands[-1] if len(operands) % 2 else total


def _d_dot(f: Any, out: Any, *operands: Any) -> tuple:
    # d/dw_i = x_i, d/dx_i = w_i, d/dbias = 1
    n = len(operands) // 2
    return (*operands[n : 2 * n], *operands[:n]) + ((1.0,) if len(operands) % 2 else ())


ADD = Op("+", lambda f, a, b: a + b, lambda f, out, a, b: (1.0, 1.0))
SUB = Op("-", lambda f, a, b: a - b, lambda f, out, a, b: (1.0, -1.0))
MUL = Op("*", lambda f, a, b: a * b, lambda f, out, a, b: (b, a))
DIV = Op("/", lambda f, a, b: f.div(a, b), lambda f, out, a, b: (f.div(1.0, b), f.div(-out, b)))
# an exponent that is a Value gets a derivative, out * log(a) (PyTorch's pow.Tensor_Tensor)
POW = Op("**", lambda f, a, b: f.pow(a, b),
         lambda f, out, a, b: (f.where(f.number(b) == 0, MASKED_ZERO, lambda: b * f.pow(a, b - 1.0)),
                               f.where((f.number(a) == 0) & (f.number(b) >= 0), 0.0, lambda: out * f.log(a))))
# a plain-number exponent is a constant: no derivative with respect to it (pow.Tensor_Scalar),
# so x**2 at x < 0 computes no log(x)
POW_CONST = Op("**", lambda f, a, b: f.pow_const(a, b),
               lambda f, out, a, b: (f.where(f.number(b) == 0, MASKED_ZERO, lambda: b * f.pow_const(a, b - 1.0)), 0.0))
NEG = Op("neg", lambda f, a: -a, lambda f, out, a: (-1.0,))
ABS = Op("abs", lambda f, a: f.abs(a), lambda f, out, a: (f.sign(f.number(a)),))
EXP = Op("exp", lambda f, a: f.exp(a), lambda f, out, a: (out,))
LOG = Op("log", lambda f, a: f.log(a), lambda f, out, a: (f.div(1.0, a),))
LOG1P = Op("log1p", lambda f, a: f.log1p(a), lambda f, out, a: (f.div(1.0, a + 1.0),))
SQRT = Op("sqrt", lambda f, a: f.sqrt(a), lambda f, out, a: (f.div(0.5, out),))
TANH = Op("tanh", lambda f, a: f.tanh(a), lambda f, out, a: (1.0 - out * out,))
SIGMOID = Op("sigmoid", lambda f, a: f.sigmoid(a), lambda f, out, a: ((1.0 - out) * out,))
RELU = Op("relu", lambda f, a: f.relu(a), lambda f, out, a: (f.where(f.number(out) <= 0, MASKED_ZERO, lambda: 1.0),))
SUM = Op("sum", lambda f, *xs: f.sum(xs), lambda f, out, *xs: (1.0,) * len(xs))
DOT = Op("dot", _dot, _d_dot)

TABLE: dict[str, Op] = {
    "add": ADD, "sub": SUB, "mul": MUL, "div": DIV, "pow": POW, "pow_const": POW_CONST,
    "neg": NEG, "abs": ABS, "exp": EXP, "log": LOG, "log1p": LOG1P, "sqrt": SQRT, "tanh": TANH,
    "sigmoid": SIGMOID, "relu": RELU, "sum": SUM, "dot": DOT,
}

# Leaves are marked with pseudo-operations (``.op`` is "" for all three): a Value the user
# made, a constant the engine made from a plain-number operand, a parameter a model learns.
LEAF = Op("", lambda f: NAN, lambda f, out: ())
CONSTANT = Op("", lambda f: NAN, lambda f, out: ())
PARAMETER = Op("", lambda f: NAN, lambda f, out: ())
