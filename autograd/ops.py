"""The table of operations: each one's forward pass and local derivatives, written once.

An entry is ``Op(key, name, derivative)``; its forward function is the namespace's function of
that key (``f.exp``). Forward functions and rules take a *namespace* ``f``, which supplies the
functions they call (``f.exp``, ``f.div``, ...), so the very same line runs on three kinds of
numbers:

* floats (``f = FLOATS``, below): the forward pass, which stores the local derivatives on the
  new node as floats;
* Values (``f = VALUES`` in engine.py): ``backward(create_graph=True)`` recomputes the local
  derivatives as graph nodes, so gradients can be differentiated again;
* arrays (``f = ARRAYS`` in autograd/compiled/arrays.py): compile mode replays a traced graph with NumPy.

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

import functools
import math
import operator
import sys
from collections.abc import Callable
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


def power_const(a: float, b: float) -> float:
    """``a ** b`` for a plain-number exponent, as PyTorch computes it: the exponents 2, 3, -1,
    -2, 0.5 and -0.5 by multiplication, division and square root (which differ from ``pow`` in
    the last bit and at edges: ``(-inf) ** 0.5`` is nan), every other one by ``pow``."""
    special = _SPECIAL_POWERS.get(b)
    return power(a, b) if special is None else special(a)


_SPECIAL_POWERS: dict[float, Callable[[float], float]] = {
    2.0: lambda a: a * a, 3.0: lambda a: a * a * a, -1.0: lambda a: div(1.0, a),
    -2.0: lambda a: div(1.0, a * a), 0.5: lambda a: sqrt(a), -0.5: lambda a: div(1.0, sqrt(a)),
}


def exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return INF


def log(a: float) -> float:
    return math.log(a) if a > 0 else -INF if a == 0 else NAN


def log1p(a: float) -> float:
    """``log(1 + a)``, accurate for tiny ``a`` (``log1p(1e-20)`` is ``1e-20``, not 0)."""
    return math.log1p(a) if a > -1 else -INF if a == -1 else NAN


def sqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0 else NAN  # sqrt(-0.0) is -0.0, as in C


def sigmoid(a: float) -> float:
    e = math.exp(-abs(a))  # two forms, so that exp never overflows: 1 / (1 + e^-a) = e^a / (e^a + 1)
    return 1.0 / (1.0 + e) if a >= 0 else e / (1.0 + e)


def relu(a: float) -> float:
    return 0.0 if a < 0 else a  # -0.0 and nan pass through, as in PyTorch


def sign(a: Any) -> float:
    """abs's derivative (of a float or a Value): 0 at 0 and for nan, as torch.sgn."""
    return 1.0 if a > 0 else -1.0 if a < 0 else 0.0


class _MaskedZero(float):
    """A derivative of exactly 0 that stays 0 times any gradient, inf and nan included.

    PyTorch computes relu's backward as ``where(x <= 0, 0, grad)``, not ``0 * grad``, so an
    infinite gradient arriving at a relu that is off gives 0 there, where ``0.0 * inf`` is nan.
    """

    __slots__ = ()

    def __mul__(self, other: Any) -> float:
        return 0.0

    __rmul__ = __mul__


MASKED_ZERO = _MaskedZero(0.0)


def step(y: Any) -> float:
    """relu's derivative from its result (a float or a Value): 1 where ``y > 0`` and for nan
    (which passes through, as in PyTorch), a masked zero elsewhere."""
    return MASKED_ZERO if y <= 0 else 1.0


# Sums add left to right, as a chain of + would (and as compile mode replays them). Python 3.12
# made sum() of floats compensated (more exact, other last bits): there, add one by one.
left_to_right: Callable[[Any], float] = sum if sys.version_info < (3, 12) else (
    lambda xs: functools.reduce(operator.add, xs, 0))


def dot(*operands: float) -> float:
    """``w · x (+ bias)`` of the operands w1..wn, x1..xn and maybe a bias."""
    n = len(operands) // 2
    total = left_to_right(map(operator.mul, operands, operands[n : 2 * n]))  # w_i * x_i, in C: neurons are hot
    return total + operands[-1] if len(operands) % 2 else total


def index_of(index: float, n: int, name: str) -> int:
    """``index`` as an int, if it is a whole number from 0 to n - 1 (an IndexError otherwise)."""
    if not (0 <= index < n and index == math.floor(index)):  # (False for nan)
        raise IndexError(f"{name}: index {index!r} is not a whole number from 0 to {n - 1}; pass an index in that range")
    return int(index)


def pick(*operands: float) -> float:
    """``values[index]`` of the operands v0..vn-1 and a whole-number ``index`` last."""
    return operands[index_of(operands[-1], len(operands) - 1, "pick")]


def onehot(index: Any, n: int, value: float = 1.0) -> tuple[float, ...]:
    """pick's derivatives: 1 (or ``value``) for the picked operand, a masked zero for the
    others (PyTorch's indexing backward puts the gradient there and exactly 0 elsewhere)."""
    index = float(index)
    return tuple(value if k == index else MASKED_ZERO for k in range(n))


def nll_sum(index: float, *exps: float) -> float:
    """``(e_y - 1) + Σ_{j≠y} e_j`` (y = ``index``), the sum in ``nll``'s log1p: the others added
    left to right, as ``sum`` would."""
    y = index_of(index, len(exps), "nll")
    return (exps[y] - 1.0) + left_to_right(exps[:y] + exps[y + 1 :])


def nll(*operands: float) -> float:
    """Cross-entropy's term, −log softmax(s)[y], from the exponentials e_j = exp(d_j) of the
    shifted scores d_j = s_j - max(s), the d_j, and the class y (operands e.., d.., y):
    ``log1p((e_y - 1) + Σ_{j≠y} e_j) - d_y``. (With y the top class e_y - 1 is exactly 0, and
    log1p keeps the tiny loss of a confident prediction, which forming 1 + tiny would round away.)"""
    n = len(operands) // 2
    return log1p(nll_sum(operands[-1], *operands[:n])) - operands[n + index_of(operands[-1], n, "nll")]


def largest(*xs: float) -> float:
    """The largest of ``xs``, nan if one is nan; of equal ones (0.0, -0.0) the later, as NumPy's maximum."""
    if any(x != x for x in xs):
        return NAN
    return functools.reduce(lambda a, b: a if a > b else b, xs)


def where(condition: Any, value: Any, rule: Callable[[], Any]) -> Any:
    """``value`` where ``condition`` holds, else ``rule()`` (not run where it is not needed)."""
    return value if condition else rule()


# PyTorch's binary cross-entropy clamps each log at -100 (so p = 0 or 1 gives a finite loss) and
# divides its gradient by p(1 - p) clamped at EPSILON, the float32 literal 1e-12
BCE_LOG_FLOOR = -100.0
BCE_EPSILON = 9.999999960041972e-13  # (the float32 nearest 1e-12, as a double)


def bce(p: float, y: float) -> float:
    """Binary cross-entropy of a probability ``p`` and a target ``y``, as PyTorch computes it:
    ``(y - 1)·max(log1p(-p), -100) - y·max(log p, -100)`` (nan stays nan)."""
    return (y - 1.0) * max(log1p(-p), BCE_LOG_FLOOR) - y * max(log(p), BCE_LOG_FLOOR)


# The namespace of the forward pass: IEEE-754 functions on Python floats. ``number`` gives the
# plain number of an operand: conditions in rules test numbers, never nodes.
FLOATS = SimpleNamespace(
    add=operator.add, sub=operator.sub, mul=operator.mul, neg=operator.neg, div=div, pow=power,
    pow_const=power_const, exp=exp, log=log, log1p=log1p, sqrt=sqrt, tanh=math.tanh, sigmoid=sigmoid,
    relu=relu, abs=math.fabs, sum=lambda *xs: left_to_right(xs), dot=dot,
    pick=pick, detached_max=largest, sign=sign, step=step, onehot=onehot, where=where, number=lambda x: x,
    bce=bce,  # (added for BCELoss: one node whose structure does not depend on p)
    nll=nll, nll_sum=nll_sum,  # (added for CrossEntropyLoss with a traced target: one node, O(classes))
)


# --- the table ----------------------------------------------------------------------------

class Op:
    """One operation of the engine: its key in ``TABLE`` (also the name of its forward
    function in each namespace: ``FLOATS.exp``, ...), the name ``.op`` shows, its derivative rule,
    and how drawings and the explorer present it:

    * ``symbol``: what a drawing writes in the operation's circle (``name`` when not given), or
      a function of the number of operands that gives it (``symbol_of``);
    * ``explain``: the rule of each operand's local derivative as a reader sees it, with
      ``{local}`` (the local derivative's number), ``{k}`` (the operand's place in its group) and
      ``{partner}`` (the number it is multiplied with) put in by the explorer. ``operands`` says
      how operands map to those rules: ``"each"`` (the k-th rule, the last one repeated),
      ``"halves"`` (w1..wn, x1..xn and maybe one more: three rules) or ``"last"`` (values, then
      an index: two rules);
    * ``n_ary``: any number of operands; compile mode runs it on its operands stacked in one array;
    * ``js``, ``js_derivative``: the forward pass and the local derivatives in JavaScript, the
      same formulas as ``forward`` and ``derivative`` on floats, for the explorer to recompute
      a graph in the browser. They see the operands as ``x`` (``a``, ``b``: the first two), the
      result as ``out``, the helpers of explore.js as ``F`` and a masked zero as ``Z``.
    """

    __slots__ = ("key", "name", "derivative", "on_floats", "symbol", "explain", "operands", "js", "js_derivative",
                 "on_rows")

    def __init__(self, key: str, name: str, derivative: Callable[..., tuple[Any, ...]], *,
                 symbol: str | Callable[[int], str] = "",
                 explain: tuple[str, ...] = (), operands: str = "each", js: str = "", js_derivative: str = "",
                 n_ary: bool = False):
        self.key, self.name, self.derivative = key, name, derivative
        # an n-ary entry (any number of operands) runs on arrays as ``<key>_of_rows`` of the
        # namespace, on all its operands stacked in one array (operands, nodes[, samples])
        self.on_rows = f"{key}_of_rows" if n_ary else ""
        self.on_floats: Callable[..., float] = getattr(FLOATS, key, float)  # the forward pass, on floats
        self.symbol, self.explain, self.operands = symbol or name, explain, operands
        self.js, self.js_derivative = js, js_derivative

    def forward(self, f: Any, *operands: Any) -> Any:
        """The result of this operation on ``operands``, computed with namespace ``f``."""
        return getattr(f, self.key)(*operands)

    def symbol_of(self, n_operands: int) -> str:
        """What a drawing writes in the circle of this operation on ``n_operands`` operands."""
        return self.symbol(n_operands) if callable(self.symbol) else self.symbol

    def __repr__(self) -> str:
        return f"Op({self.key!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Op:  # an entry of the table is a constant, like a
        return self  # function: nodes that are copied (copy.deepcopy of a model) keep pointing at it


def _d_dot(f: Any, out: Any, *operands: Any) -> tuple[Any, ...]:
    # operands are w1..wn, x1..xn and maybe a bias: d/dw_i = x_i, d/dx_i = w_i, d/dbias = 1
    n = len(operands) // 2
    return operands[n : 2 * n] + operands[:n] + ((1.0,) if len(operands) % 2 else ())


def _d_bce(f: Any, out: Any, p: Any, y: Any) -> tuple[Any, Any]:
    # PyTorch's: (p - y) / max(p(1 - p), EPSILON) for the probability, finite at p = 0 and 1;
    # -logit(p) = -log(p / (1 - p)) for the target (not clamped: inf at p = 0)
    q = (1.0 - p) * p
    return f.div(p - y, f.where(f.number(q) < BCE_EPSILON, BCE_EPSILON, lambda: q)), -f.log(f.div(p, 1.0 - p))


# Each derivative rule: d out / d operand for each operand, from the result ``out``.
ADD = Op("add", "+", lambda f, out, a, b: (1.0, 1.0),
         explain=("d(a+b)/da = 1", "d(a+b)/db = 1"), js="a + b", js_derivative="[1, 1]")
SUB = Op("sub", "-", lambda f, out, a, b: (1.0, -1.0),
         explain=("d(a−b)/da = 1", "d(a−b)/db = −1"), js="a - b", js_derivative="[1, -1]")
MUL = Op("mul", "*", lambda f, out, a, b: (b, a),
         symbol="×", explain=("d(a·b)/da = b = {partner}", "d(a·b)/db = a = {partner}"), js="a * b",
         js_derivative="[b, a]")
DIV = Op("div", "/", lambda f, out, a, b: (f.div(1.0, b), f.div(-out, b)),
         symbol="÷", explain=("d(a/b)/da = 1/b = {local}", "d(a/b)/db = −a/b² = {local}"), js="a / b",
         js_derivative="[1 / b, -out / b]")  # -(a/b)/b: no b*b to overflow
# an exponent that is a Value is differentiated too (PyTorch's pow.Tensor_Tensor)
POW = Op("pow", "**", lambda f, out, a, b: (f.where(f.number(b) == 0, MASKED_ZERO, lambda: b * f.pow(a, b - 1.0)),
                                            f.where((f.number(a) == 0) & (f.number(b) >= 0), 0.0, lambda: out * f.log(a))),
         explain=("d(aᵇ)/da = b·aᵇ⁻¹ = {local}", "d(aᵇ)/db = aᵇ·ln a = {local}"), js="F.pow(a, b)",
         js_derivative="[b === 0 ? Z : b * F.pow(a, b - 1), a === 0 && b >= 0 ? 0 : out * Math.log(a)]")
# a plain-number exponent is a constant, not differentiated (pow.Tensor_Scalar): x**2 at x < 0
# computes no log(x)
POW_CONST = Op("pow_const", "**", lambda f, out, a, b: (f.where(f.number(b) == 0, MASKED_ZERO,
                                                                lambda: b * f.pow_const(a, b - 1.0)), 0.0),
               explain=("d(aᵇ)/da = b·aᵇ⁻¹ = {local}", "d(aᵇ)/db = 0 (a constant exponent)"),
               js="F.powConst(a, b)", js_derivative="[b === 0 ? Z : b * F.powConst(a, b - 1), 0]")
NEG = Op("neg", "neg", lambda f, out, a: (-1.0,),
         symbol="−", explain=("d(−a)/da = −1",), js="-a", js_derivative="[-1]")
ABS = Op("abs", "abs", lambda f, out, a: (f.sign(a),),
         explain=("d|a|/da = sign(a) = {local}",), js="Math.abs(a)", js_derivative="[F.sign(a)]")
EXP = Op("exp", "exp", lambda f, out, a: (out,),
         explain=("d(eᵃ)/da = eᵃ = {local}",), js="Math.exp(a)", js_derivative="[out]")
LOG = Op("log", "log", lambda f, out, a: (f.div(1.0, a),),
         explain=("d(ln a)/da = 1/a = {local}",), js="Math.log(a)", js_derivative="[1 / a]")
LOG1P = Op("log1p", "log1p", lambda f, out, a: (f.div(1.0, a + 1.0),),
           explain=("d ln(1+a)/da = 1/(1+a) = {local}",), js="Math.log1p(a)",
           js_derivative="[1 / (a + 1)]")
SQRT = Op("sqrt", "sqrt", lambda f, out, a: (f.div(0.5, out),),
          explain=("d(√a)/da = 1/(2√a) = {local}",), js="Math.sqrt(a)", js_derivative="[0.5 / out]")
TANH = Op("tanh", "tanh", lambda f, out, a: (1.0 - out * out,),
          explain=("d tanh(a)/da = 1 − tanh²(a) = {local}",), js="Math.tanh(a)",
          js_derivative="[1 - out * out]")
SIGMOID = Op("sigmoid", "sigmoid", lambda f, out, a: ((1.0 - out) * out,),
             explain=("d σ(a)/da = σ(a)·(1 − σ(a)) = {local}",), js="F.sigmoid(a)",
             js_derivative="[(1 - out) * out]")
RELU = Op("relu", "relu", lambda f, out, a: (f.step(out),),
          explain=("d relu(a)/da = 1 if a > 0 else 0 = {local}",), js="a < 0 ? 0 : a",
          js_derivative="[F.step(out)]")
SUM = Op("sum", "sum", lambda f, out, *xs: (1.0,) * len(xs),
         symbol="Σ", n_ary=True, explain=("d(Σ aᵢ)/da{k} = 1",), js="F.sum(x)",
         js_derivative="x.map(function () { return 1; })")
DOT = Op("dot", "dot", _d_dot,
         symbol=lambda n: "w·x+b" if n % 2 else "a·b", operands="halves",  # a neuron's, or attention's q·k
         n_ary=True, explain=("d(w·x)/dw{k} = x{k} = {partner}", "d(w·x)/dx{k} = w{k} = {partner}", "d(w·x+b)/db = 1"),
         js="F.dot(x)", js_derivative="F.dDot(x)")
# the operand at a whole-number index (the last operand, a constant or a traced input)
PICK = Op("pick", "pick", lambda f, out, *operands: f.onehot(operands[-1], len(operands) - 1) + (MASKED_ZERO,),
           operands="last", n_ary=True, explain=("d pick/da{k} = {local}", "d pick/d index = 0 (an index)"), js="F.pick(x)",
           js_derivative="F.onehot(x[x.length - 1], x.length - 1, 1).concat([Z])")
# the largest operand, passing no gradient: the shift of a stable softmax, which cancels
# out (PyTorch's log_softmax does not differentiate its max either)
DETACHED_MAX = Op("detached_max", "max", lambda f, out, *xs: (MASKED_ZERO,) * len(xs),
                  n_ary=True, explain=("d max/da{k} = 0 (detached: passes no gradient)",), js="F.largest(x)",
                  js_derivative="x.map(function () { return Z; })")
BCE = Op("bce", "bce", _d_bce,
         explain=("d bce/dp = (p − y)/max(p(1 − p), ε) = {local}", "d bce/dy = −ln(p/(1 − p)) = {local}"),
         js="F.bce(a, b)", js_derivative="F.dBce(a, b)")  # binary cross-entropy (p, target): BCELoss


def _d_nll(f: Any, out: Any, *operands: Any) -> tuple[Any, ...]:
    # every e_j is added once into the sum x that log1p takes: log1p's derivative at x for each;
    # -1 for d_y (a masked zero for the other d_j, as pick's); nothing for the class
    n = len(operands) // 2
    (d_log1p,) = LOG1P.derivative(f, None, f.nll_sum(operands[-1], *operands[:n]))
    picked: tuple[Any, ...] = f.onehot(operands[-1], n, -1.0)
    return (d_log1p,) * n + picked + (MASKED_ZERO,)


# −log softmax(s)[y] from exps e, shifted scores d and the class y: CrossEntropyLoss with a
# traced target (one node, where picking one of the n classes' terms costs n sums of n - 1)
NLL = Op("nll", "nll", _d_nll, operands="halves",
         n_ary=True, explain=("d nll/de{k} = 1/(1 + (e_y − 1) + Σ_{j≠y} e_j) = {local}", "d nll/dd{k} = {local}",
                  "d nll/dy = 0 (a class index)"), js="F.nll(x)", js_derivative="F.dNll(x)")
TABLE: dict[str, Op] = {op.key: op for op in (ADD, SUB, MUL, DIV, POW, POW_CONST, NEG, ABS, EXP, LOG, LOG1P, SQRT,
                                              TANH, SIGMOID, RELU, SUM, DOT, PICK, DETACHED_MAX, BCE,
                                              NLL)}

# Leaves are marked with pseudo-operations (``.op`` is "" for all three): a Value the user
# made, a constant the engine made from a plain-number operand, a parameter a model learns.
LEAF, CONSTANT, PARAMETER = Op("leaf", "", tuple), Op("constant", "", tuple), Op("parameter", "", tuple)
