"""``Value``: one scalar node of a computation graph.

A node holds four things: its number (``data``), its accumulated gradient (``grad``), its
``_edges`` and its ``_info``. ``_edges`` is one tuple: the operands, then the local derivative
of this node with respect to each operand, computed as floats during the forward pass::

    z = x * y   ->   z._edges == (x, y, y.data, x.data)      # d z/d x = y, d z/d y = x

Backward is then one generic loop, ``operand.grad += local * node.grad`` (see backward.py).
No node holds a closure or a reference to itself, so a graph has no reference cycles and is
freed by reference counting the moment the last reference to its output goes.
``_info`` is a shared ``Tag``: the operation (from the table in ops.py), the label, the scope.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from . import ops
from .modes import Tag, state
from .ops import FLOATS, Op

_OPERAND_HINT = "use a Value or a real number (int or float)"


def _check_real(x: Any, what: str) -> float:
    if isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(f"{what}: expected a Value or a real number, got {type(x).__name__} ({_OPERAND_HINT})")


def _new_node(data: float, edges: tuple, info: Tag) -> "Value":
    """A Value from its four parts, without __init__'s checks (the engine made the parts)."""
    node = Value.__new__(Value)
    node.data = data
    node.grad = 0.0
    node._edges = edges
    node._info = info
    return node


def constant(x: Any, op_name: str = "Value") -> "Value":
    """A plain number as a leaf Value marked constant (drawn as such; never a parameter)."""
    if isinstance(x, Value):
        return x
    data = x if type(x) is float else _check_real(x, f"unsupported operand for '{op_name}'")
    return _new_node(data, (), state.tags[ops.CONSTANT])


def _node(op: Op, out: float, operands: tuple, data: Sequence[float]) -> "Value":
    """The result of ``op`` on ``operands`` (whose floats are ``data``), recorded per the mode.

    The operations below call this only off the fast path (no_grad, detect_anomaly); on it,
    they make the node directly, as this does when recording."""
    if state.anomaly:
        _check_forward(op, out, operands, data)
    if state.grad_enabled:
        return _new_node(out, operands + op.derivative(FLOATS, out, *data), state.tags[op])
    return _new_node(out, (), state.tags[ops.LEAF])


def _unary(op: Op, a: "Value") -> "Value":
    x = a.data
    out = op.forward(x)
    if state.fast:
        return _new_node(out, (a,) + op.derivative(FLOATS, out, x), state.tags[op])
    return _node(op, out, (a,), (x,))


def _binary(op: Op, a: "Value", b: Any) -> "Value":
    # a is a Value: the reflected operators (2 * x) make their number a constant first
    if not isinstance(b, Value):
        b = constant(b, op.name)
    x = a.data
    y = b.data
    out = op.forward(x, y)
    if state.fast:
        return _new_node(out, (a, b) + op.derivative(FLOATS, out, x, y), state.tags[op])
    return _node(op, out, (a, b), (x, y))


def apply(op: Op, *operands: Any) -> "Value":
    """Apply a table entry to Values or numbers (numbers become constants): the slow, general path."""
    values = tuple(v if isinstance(v, Value) else constant(v, op.name) for v in operands)
    data = tuple(v.data for v in values)
    return _node(op, op.forward(*data), values, data)


def _check_forward(op: Op, out: float, operands: tuple, data: Sequence[float]) -> None:
    if out == out and abs(out) != ops.INF:
        return
    any_nan = any(d != d for d in data)
    any_inf = any(abs(d) == ops.INF for d in data)
    if (out != out and not any_nan) or (out == out and not any_nan and not any_inf):
        produced = "nan" if out != out else repr(out)
        inputs = ", ".join(f"{describe(v)}={d!r}" for v, d in zip(operands, data))
        raise FloatingPointError(
            f"{op.name} produced {produced} in the forward pass from inputs ({inputs}); "
            "check the inputs of this operation, or the step size that led to them"
        )


def describe(v: "Value") -> str:
    """A short name for a node in messages: its label, else its operation, else 'leaf'."""
    info = v._info
    if info.label:
        return info.label
    if info.op.name:
        return f"<{info.op.name}>"
    return "constant" if v.is_constant else "leaf"


class Value:
    """One scalar node of a computation graph, recording how it was computed.

    ``int`` and ``float`` data are stored as ``float``. Operations on Values (``+ - * / **``,
    unary ``-``, ``abs``, ``exp``, ``log``, ``sqrt``, ``tanh``, ``sigmoid``, ``relu``) return new
    Values that remember their operands and local derivatives; ``backward()`` applies the chain
    rule through them. Plain numbers are accepted on either side and become constant leaves.

    >>> from autograd import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b + a
    >>> c.backward()
    >>> c.data, a.grad, b.grad
    (-4.0, -2.0, 2.0)

    ``==`` and ``hash`` are identity-based (Values live in sets and dicts); ``<``, ``<=``,
    ``>``, ``>=`` compare ``.data``. Numerics are IEEE-754 doubles like PyTorch float64:
    ``Value(0.0).log()`` is ``-inf``, never an exception.
    """

    __slots__ = ("data", "grad", "_edges", "_info")

    def __init__(self, data: Any, label: str = ""):
        if isinstance(data, Value):
            raise TypeError("Value(data): data is already a Value; use it directly, or Value(v.data) for a new leaf")
        self.data = _check_real(data, "Value(data)")
        self.grad: Any = 0.0
        self._edges: tuple = ()
        if not isinstance(label, str):
            raise TypeError(f"Value(label=...): expected str, got {type(label).__name__}")
        self._info = Tag(ops.LEAF, label, state.scope) if label else state.tags[ops.LEAF]

    # --- what the node is ----------------------------------------------------------------
    @property
    def op(self) -> str:
        """The operation that produced this node, e.g. ``"+"``; ``""`` for a leaf."""
        return self._info.op.name

    @property
    def children(self) -> tuple["Value", ...]:
        """The operand Values, in operand order (``()`` for a leaf)."""
        return self._edges[: len(self._edges) // 2]

    @property
    def label(self) -> str:
        """Free text shown in drawings and error messages."""
        return self._info.label

    @label.setter
    def label(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"Value.label: expected str, got {type(text).__name__}")
        info = self._info
        self._info = Tag(info.op, text, info.scope)

    @property
    def scope(self) -> Any:
        """The naming scope this node was created in (see ``autograd.scope``)."""
        return self._info.scope

    @property
    def is_leaf(self) -> bool:
        return not self._edges

    @property
    def is_parameter(self) -> bool:
        """True for a leaf that a model learns (made by ``autograd.Parameter``)."""
        return self._info.op is ops.PARAMETER

    @property
    def local_grads(self) -> tuple[float, ...]:
        """d self / d child for each of ``children``, as floats computed in the forward pass."""
        edges = self._edges
        return tuple(float(d) for d in edges[len(edges) // 2 :])

    @property
    def is_constant(self) -> bool:
        """True for a leaf the engine made from a plain-number operand."""
        return self._info.op is ops.CONSTANT

    def __repr__(self) -> str:
        kind = "Parameter" if self._info.op is ops.PARAMETER else "Value"
        label = f", label={self.label!r}" if self.label else ""
        op = f", op={self.op!r}" if self.op else ""
        return f"{kind}(data={self.data!r}, grad={self.grad!r}{label}{op})"

    def __float__(self) -> float:
        return self.data

    # --- arithmetic ------------------------------------------------------------------------
    def __add__(self, other: Any) -> "Value":
        return _binary(ops.ADD, self, other)

    def __radd__(self, other: Any) -> "Value":
        return _binary(ops.ADD, constant(other, ops.ADD.name), self)

    def __sub__(self, other: Any) -> "Value":
        return _binary(ops.SUB, self, other)

    def __rsub__(self, other: Any) -> "Value":
        return _binary(ops.SUB, constant(other, ops.SUB.name), self)

    def __mul__(self, other: Any) -> "Value":
        return _binary(ops.MUL, self, other)

    def __rmul__(self, other: Any) -> "Value":
        return _binary(ops.MUL, constant(other, ops.MUL.name), self)

    def __truediv__(self, other: Any) -> "Value":
        return _binary(ops.DIV, self, other)

    def __rtruediv__(self, other: Any) -> "Value":
        return _binary(ops.DIV, constant(other, ops.DIV.name), self)

    def __pow__(self, exponent: Any) -> "Value":
        return _binary(ops.POW if isinstance(exponent, Value) else ops.POW_CONST, self, exponent)

    def __rpow__(self, base: Any) -> "Value":
        return _binary(ops.POW, constant(base, ops.POW.name), self)

    def __neg__(self) -> "Value":
        return _unary(ops.NEG, self)

    def __abs__(self) -> "Value":
        return _unary(ops.ABS, self)

    def exp(self) -> "Value":
        return _unary(ops.EXP, self)

    def log(self) -> "Value":
        """Natural logarithm: ``log(0) = -inf``, ``log(x < 0) = nan``."""
        return _unary(ops.LOG, self)

    def sqrt(self) -> "Value":
        return _unary(ops.SQRT, self)

    def tanh(self) -> "Value":
        return _unary(ops.TANH, self)

    def sigmoid(self) -> "Value":
        return _unary(ops.SIGMOID, self)

    def relu(self) -> "Value":
        """max(0, x); its derivative at 0 is 0, as in PyTorch."""
        return _unary(ops.RELU, self)

    # --- comparisons compare the numbers; == and hash stay identity-based -------------------
    def __lt__(self, other: Any) -> bool:
        return self.data < _compared(other, "<")

    def __le__(self, other: Any) -> bool:
        return self.data <= _compared(other, "<=")

    def __gt__(self, other: Any) -> bool:
        return self.data > _compared(other, ">")

    def __ge__(self, other: Any) -> bool:
        return self.data >= _compared(other, ">=")

    # (no __eq__: Values compare and hash by identity, so they can key dicts and sets)

    # --- gradients ---------------------------------------------------------------------------
    def backward(self, gradient: Any = 1.0, *, create_graph: bool = False) -> None:
        """Apply the chain rule from this node to every node it depends on.

        Each node's ``.grad`` gets d self / d node (times ``gradient``) added to it, so calling
        twice without zeroing doubles the gradients, as in PyTorch. Iterative: any depth works.
        With ``create_graph=True`` the gradients are recorded as graph nodes: afterwards each
        ``.grad`` is a ``Value`` that can itself be differentiated (``float(x.grad)`` is the
        number).

        >>> from autograd import Value
        >>> x = Value(3.0)
        >>> y = x * x
        >>> y.backward(); y.backward()
        >>> x.grad
        12.0
        """
        from .backward import backward

        backward(self, gradient, create_graph=create_graph)


class _ParameterMark(type):
    """Parameter's metaclass: ``isinstance(v, Parameter)`` reads the mark on the Value's tag."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Value) and obj._info.op is ops.PARAMETER


class Parameter(Value, metaclass=_ParameterMark):
    """A leaf Value that a model learns (``nn`` makes its weights with it); drawn as a parameter.

    ``Parameter(data, label)`` returns a ``Value`` marked as a parameter, and
    ``isinstance(v, Parameter)`` tells the mark. Parameters are not a second class of node:
    backward's loop then meets a single type, and Python's attribute caches stay hot there
    (the demo step's backward pass ran 15-18% faster for it).

    >>> from autograd import Parameter
    >>> w = Parameter(0.5, label="w")
    >>> w.is_leaf, isinstance(w, Parameter), isinstance(w * 2, Parameter)
    (True, True, False)
    """

    __slots__ = ()

    def __new__(cls, data: Any, label: str = "") -> Any:
        node = Value(data, label)
        node._info = Tag(ops.PARAMETER, label, state.scope) if label else state.tags[ops.PARAMETER]
        return node


def _compared(other: Any, op_name: str) -> float:
    if isinstance(other, Value):
        return other.data
    return _check_real(other, f"unsupported operand for '{op_name}'")


# --- n-ary nodes ------------------------------------------------------------------------------

_VALUE_TYPES = frozenset({Value})  # (a Parameter is a Value)


def all_values(items: Iterable[Any]) -> bool:
    """Whether every item is a Value, checked at C speed (no Python-level loop)."""
    return _VALUE_TYPES.issuperset(map(type, items))


def _as_values(items: Iterable[Any], op_name: str) -> tuple["Value", ...]:
    if isinstance(items, (str, bytes, Value)) or not hasattr(items, "__iter__"):
        raise TypeError(f"{op_name}: expected a list of Values or numbers, got {type(items).__name__}")
    return tuple(v if isinstance(v, Value) else constant(v, op_name) for v in items)


def sum(values: Iterable[Any], start: Any = 0.0) -> Value:  # noqa: A001  (autograd.sum, like torch.sum)
    """One n-ary node equal to ``start + sum(values)``: one node instead of a chain of ``+``.

    >>> import autograd
    >>> from autograd import Value
    >>> xs = [Value(1.0), Value(2.0), 3.0]
    >>> s = autograd.sum(xs)
    >>> s.data, s.op, len(s.children)
    (6.0, 'sum', 3)
    """
    operands = _as_values(values, "sum")
    start = _check_real(start, "sum(start=...)") if not isinstance(start, Value) else start
    if isinstance(start, Value) or start != 0:
        operands = operands + (constant(start, "sum"),)
    if not operands:
        return constant(0.0, "sum")
    return _nary(ops.SUM, operands, [v.data for v in operands])


def dot(ws: Sequence[Any], xs: Sequence[Any], bias: Any = None) -> Value:
    """One n-ary node equal to ``sum(w * x for w, x in zip(ws, xs)) + bias``.

    Its operands are the ``ws``, then the ``xs``, then the bias (when given). A neuron is one
    ``dot`` node plus its activation.

    >>> from autograd import Value, dot
    >>> y = dot([Value(2.0), Value(-1.0)], [3.0, 4.0], bias=Value(0.5))
    >>> y.data, y.op
    (2.5, 'dot')
    """
    if len(ws) != len(xs):
        raise ValueError(f"dot: {len(ws)} weights but {len(xs)} inputs; pass lists of equal length")
    operands = (*ws, *xs) if bias is None else (*ws, *xs, bias)
    if not all_values(operands):  # some numbers (or bad types): convert them
        operands = _as_values(operands, "dot")
    return _nary(ops.DOT, operands, [v.data for v in operands])


def dot_of_values(ws: Sequence[Value], xs: Sequence[Value], numbers: Sequence[float], bias: Value) -> Value:
    """``dot(ws, xs, bias)`` for operands known to be Values, given the numbers of ``xs``: no
    checks. ``nn`` layers check their inputs and read their numbers once for all their neurons."""
    operands = (*ws, *xs, bias)
    wdata = [w.data for w in ws]
    out = ops.dot(wdata, numbers, bias.data)
    if state.fast:
        return _new_node(out, operands + ops.dot_locals(wdata, numbers), state.tags[ops.DOT])
    return _node(ops.DOT, out, operands, (*wdata, *numbers, bias.data))


def _nary(op: Op, operands: tuple, data: Sequence[float]) -> Value:
    """The node of an n-ary table entry on Values ``operands`` whose numbers are ``data``."""
    out = op.forward(*data)
    if state.fast:
        return _new_node(out, operands + op.derivative(FLOATS, out, *data), state.tags[op])
    return _node(op, out, operands, data)


# The functions that derivative rules call, on Values (for backward(create_graph=True)).
VALUES = SimpleNamespace(
    div=lambda a, b: apply(ops.DIV, a, b),
    pow=lambda a, b: apply(ops.POW if isinstance(b, Value) else ops.POW_CONST, a, b),
    log=lambda a: apply(ops.LOG, a),
)
