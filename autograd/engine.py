"""The engine: ``Value``, the one place nodes are recorded, and the chain rule.

A node holds four things: its number (``data``), its accumulated gradient (``grad``), its
``_edges`` and its ``_info``. ``_edges`` is one tuple: the operands, then the local derivative
of this node with respect to each operand, computed as floats in the forward pass::

    z = x * y   ->   z._edges == (x, y, y.data, x.data)      # d z/d x = y, d z/d y = x

Backward is then one loop, ``operand.grad += local * node.grad``, from the output back to the
leaves. No node holds a closure or a reference to itself, so a graph has no reference cycles
and is freed by reference counting as soon as nothing refers to its output. ``_info`` is a
shared ``Tag``: the operation (an entry of the table in ops.py), the label, the scope.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Sequence
from itertools import filterfalse, repeat
from types import SimpleNamespace
from typing import Any, NamedTuple

from . import ops
from .modes import Scope, Tag, _per_thread, gc_paused, modes
from .ops import FLOATS, INF, Op

# what ``autograd`` exports from here
__all__ = ["Value", "Parameter", "constant", "dot", "dot_unchecked", "pick", "detached_max",
           "binary_cross_entropy", "nll", "grad", "backward_steps", "Step", "topological_order", "zero_grad"]


def _real(x: Any, what: str) -> float:
    if isinstance(x, numbers.Real):
        try:
            return float(x)
        except OverflowError:  # an int beyond the largest double (about 1.8e308)
            raise OverflowError(f"{what}: {type(x).__name__} too large for a float (at most about 1.8e308 in "
                                "magnitude); scale it down") from None
    raise TypeError(f"{what}: expected a Value or a real number (int or float), got {type(x).__name__}")


def _tag(op: Op, label: Any, scope: Scope | None = None) -> Tag:
    """A leaf's (or a relabelled node's) tag; unlabelled ones share their scope's tag."""
    if not isinstance(label, str):
        raise TypeError(f"Value label: expected str, got {type(label).__name__}")
    scope = scope or modes().scope
    return Tag(op, label, scope) if label else scope.tags[op]


class Value:
    """One scalar node of a computation graph, recording how it was computed.

    ``int`` and ``float`` data are stored as ``float``. Operations on Values (``+ - * / **``,
    unary ``-``, ``abs``, ``exp``, ``log``, ``log1p``, ``sqrt``, ``tanh``, ``sigmoid``,
    ``relu``) return new Values that remember their operands and local derivatives;
    ``backward()`` applies the chain rule through them. Plain numbers are accepted on either
    side and become constant leaves.

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
        self.data = _real(data, "Value(data)")
        self.grad: Any = 0.0
        self._edges: tuple[Any, ...] = ()
        self._info = _tag(ops.LEAF, label)

    # --- what the node is ----------------------------------------------------------------
    @property
    def op(self) -> str:
        """The operation that produced this node, e.g. ``"+"``; ``""`` for a leaf."""
        return self._info.op.name

    @property
    def children(self) -> tuple[Value, ...]:
        """The operand Values, in operand order (``()`` for a leaf)."""
        return self._edges[: len(self._edges) // 2]

    @property
    def local_grads(self) -> tuple[float, ...]:
        """d self / d child for each of ``children``, as floats computed in the forward pass."""
        return tuple(float(d) for d in self._edges[len(self._edges) // 2 :])

    @property
    def label(self) -> str:
        """Free text shown in drawings and error messages."""
        return self._info.label

    @label.setter
    def label(self, text: str) -> None:
        self._info = _tag(self._info.op, text, self._info.scope)

    @property
    def scope(self) -> Scope:
        """The naming scope this node was created in (see ``autograd.scope``)."""
        return self._info.scope

    @property
    def is_leaf(self) -> bool:
        return not self._edges

    @property
    def is_constant(self) -> bool:
        """True for a leaf the engine made from a plain-number operand."""
        return self._info.op is ops.CONSTANT

    @property
    def is_parameter(self) -> bool:
        """True for a leaf that a model learns (made by ``autograd.Parameter``)."""
        return self._info.op is ops.PARAMETER

    def __repr__(self) -> str:
        kind = "Parameter" if self.is_parameter else "Value"
        label = f", label={self.label!r}" if self.label else ""
        op = f", op={self.op!r}" if self.op else ""
        return f"{kind}(data={self.data!r}, grad={self.grad!r}{label}{op})"

    def __float__(self) -> float:
        return self.data

    # --- operations: each records one node of the table (see record, below); a plain-number
    # operand becomes a constant leaf. A number exponent is a constant, not differentiated
    # (pow_const: x**2 at x < 0 computes no log); a Value exponent is differentiated too.
    def __add__(self, other: Any) -> Value: return record(ops.ADD, self, constant(other, "+"))
    def __radd__(self, other: Any) -> Value: return record(ops.ADD, constant(other, "+"), self)
    def __sub__(self, other: Any) -> Value: return record(ops.SUB, self, constant(other, "-"))
    def __rsub__(self, other: Any) -> Value: return record(ops.SUB, constant(other, "-"), self)
    def __mul__(self, other: Any) -> Value: return record(ops.MUL, self, constant(other, "*"))
    def __rmul__(self, other: Any) -> Value: return record(ops.MUL, constant(other, "*"), self)
    def __truediv__(self, other: Any) -> Value: return record(ops.DIV, self, constant(other, "/"))
    def __rtruediv__(self, other: Any) -> Value: return record(ops.DIV, constant(other, "/"), self)
    def __rpow__(self, base: Any) -> Value: return record(ops.POW, constant(base, "**"), self)
    def __neg__(self) -> Value: return record(ops.NEG, self)
    def __abs__(self) -> Value: return record(ops.ABS, self)
    def exp(self) -> Value: return record(ops.EXP, self)
    def log(self) -> Value: return record(ops.LOG, self)  # log(0) = -inf, log(x < 0) = nan
    def log1p(self) -> Value: return record(ops.LOG1P, self)  # log(1 + x), accurate for tiny x
    def sqrt(self) -> Value: return record(ops.SQRT, self)
    def tanh(self) -> Value: return record(ops.TANH, self)
    def sigmoid(self) -> Value: return record(ops.SIGMOID, self)
    def relu(self) -> Value: return record(ops.RELU, self)  # max(0, x); relu'(0) = 0, as in PyTorch

    def __pow__(self, exponent: Any) -> Value:
        op = ops.POW if isinstance(exponent, Value) and not exponent.is_constant else ops.POW_CONST
        return record(op, self, constant(exponent, "**"))

    # --- comparisons compare the numbers; == and hash stay identity-based -------------------
    def __lt__(self, other: Any) -> bool: return self.data < constant(other, "<").data
    def __le__(self, other: Any) -> bool: return self.data <= constant(other, "<=").data
    def __gt__(self, other: Any) -> bool: return self.data > constant(other, ">").data
    def __ge__(self, other: Any) -> bool: return self.data >= constant(other, ">=").data

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
        backward(self, gradient, create_graph=create_graph)


def _node(data: float, edges: tuple[Any, ...], info: Tag) -> Value:
    """A Value from its four parts (the engine made them: no checks)."""
    node = Value.__new__(Value)
    node.data = data
    node.grad = 0.0
    node._edges = edges
    node._info = info
    return node


def constant(x: Any, op_name: str = "Value") -> Value:
    """A plain number as a leaf Value marked constant (drawn grey, given no gradient); a Value
    is returned as it is, so operations pass every operand through this."""
    if isinstance(x, Value):
        return x
    data = x if type(x) is float else _real(x, f"unsupported operand for '{op_name}'")
    return _node(data, (), _per_thread.modes.scope.tags[ops.CONSTANT])


def Parameter(data: Any, label: str = "") -> Value:  # noqa: N802  (named like torch.nn.Parameter)
    """A leaf Value that a model learns: ``nn`` makes its weights with it.

    It is an ordinary ``Value`` whose ``is_parameter`` is True (drawn green in drawings).

    >>> from autograd import Parameter
    >>> w = Parameter(0.5, label="w")
    >>> w.is_leaf, w.is_parameter, (w * 2).is_parameter
    (True, True, False)
    """
    return _node(Value(data).data, (), _tag(ops.PARAMETER, label))


# --- recording: the one place a node is made ----------------------------------------------

def record(op: Op, *operands: Value) -> Value:
    """The node for table entry ``op`` applied to ``operands`` (Values): its number, and its
    local derivatives as floats, stored on it for the backward pass."""
    tags = _per_thread.modes.recording  # (modes(), inlined) the scope's tags; None under no_grad or detect_anomaly
    n = len(operands)  # one or two operands, most often: a comprehension costs a call on 3.11
    data: Sequence[float] = (operands[0].data,) if n == 1 else (operands[0].data, operands[1].data) if n == 2 \
        else [v.data for v in operands]
    out = op.on_floats(*data)
    if tags is None:
        m = modes()
        if m.anomaly:
            _check_forward(op, out, operands, data)
        if not m.grad_enabled:  # no_grad: the result is a leaf
            return _node(out, (), m.scope.tags[ops.LEAF])
        tags = m.scope.tags
    node = Value.__new__(Value)  # (what _node does, written out: this runs for every operation)
    node.data = out
    node.grad = 0.0
    node._edges = operands + op.derivative(FLOATS, out, *data)
    node._info = tags[op]
    return node


def _check_forward(op: Op, out: float, operands: Sequence[Value], data: Sequence[float]) -> None:
    """Under detect_anomaly: a nan made from no nan, or an infinity made from finite numbers, stops here."""
    nan_in = any(d != d for d in data)
    if (out != out and not nan_in) or (abs(out) == INF and not nan_in and INF not in map(abs, data)):
        inputs = ", ".join(f"{describe(v)}={d!r}" for v, d in zip(operands, data))
        raise FloatingPointError(f"{op.name} produced {out!r} in the forward pass from inputs ({inputs}); "
                                 "check the inputs of this operation, or the step size that led to them")


def describe(v: Value) -> str:
    """A short name for a node in messages: its label, else its operation, else what leaf it is."""
    return v.label or (f"<{v.op}>" if v.op else "constant" if v.is_constant else "leaf")


# The namespace of ``create_graph``: the derivative rules run on Values, recording nodes. (The
# exponent of ``pow_const`` is a constant, or a node computed from constants only.)
VALUES = SimpleNamespace(
    div=lambda a, b: constant(a, "/") / b, pow=lambda a, b: constant(a, "**") ** b,
    pow_const=lambda a, b: record(ops.POW_CONST, constant(a, "**"), constant(b, "**")),
    log=lambda a: constant(a, "log").log(), sign=ops.sign, step=ops.step, onehot=ops.onehot, where=ops.where,
    number=float, nll_sum=lambda index, *exps: ops.nll_sum(float(index), *exps),
)


# --- n-ary nodes --------------------------------------------------------------------------

def _values(items: Iterable[Any], op_name: str, at_least: int = 0) -> tuple[Value, ...]:
    if isinstance(items, (str, bytes, Value)) or not isinstance(items, Iterable):
        raise TypeError(f"{op_name}: expected a list of Values or numbers, got {type(items).__name__}")
    values = tuple(items)
    if not all(map(isinstance, values, repeat(Value))):  # (checked in C: most lists hold Values only)
        values = tuple(constant(v, op_name) for v in values)
    if len(values) < at_least:
        raise ValueError(f"{op_name}: got no values")
    return values


def sum(values: Iterable[Any], start: Any = 0.0) -> Value:  # noqa: A001  (autograd.sum, like torch.sum)
    """One n-ary node equal to ``start + sum(values)``: one node instead of a chain of ``+``.

    >>> import autograd
    >>> from autograd import Value
    >>> s = autograd.sum([Value(1.0), Value(2.0), 3.0])
    >>> s.data, s.op, len(s.children)
    (6.0, 'sum', 3)
    """
    operands = _values(values, "sum")
    if isinstance(start, Value) or _real(start, "sum(start=...)") != 0:
        operands += (constant(start, "sum"),)
    return record(ops.SUM, *operands) if operands else constant(0.0)


def dot(ws: Sequence[Any], xs: Sequence[Any], bias: Any = None) -> Value:
    """One n-ary node equal to ``sum(w * x for w, x in zip(ws, xs)) + bias``.

    Its operands are the ``ws``, then the ``xs``, then the bias (when given). A neuron is one
    ``dot`` node plus its activation.

    >>> from autograd import Value, dot
    >>> y = dot([Value(2.0), Value(-1.0)], [3.0, 4.0], bias=Value(0.5))
    >>> y.data, y.op
    (2.5, 'dot')
    """
    ws, xs = _values(ws, "dot"), _values(xs, "dot")
    if len(ws) != len(xs) or not ws:
        raise ValueError(f"dot: {len(ws)} weights but {len(xs)} inputs; pass non-empty lists of equal length")
    return record(ops.DOT, *ws, *xs, *(() if bias is None else (constant(bias, "dot"),)))


def dot_unchecked(ws: Sequence[Value], xs: Sequence[Value], bias: Value) -> Value:
    """``dot(ws, xs, bias)`` without its checks, for callers that made sure that ``ws`` and
    ``xs`` are equally long lists of Values and ``bias`` a Value (an ``nn.Layer`` checks its
    inputs once for all its neurons). Anything else gives wrong results or odd errors.

    >>> from autograd import Value, dot_unchecked
    >>> dot_unchecked([Value(2.0)], [Value(3.0)], Value(1.0)).data
    7.0
    """
    return record(ops.DOT, *ws, *xs, bias)


def pick(values: Sequence[Any], index: Any) -> Value:
    """One node equal to ``values[index]``, whose index may itself be a Value (a traced input
    in compile mode, so that one graph serves every index). The picked value gets the whole
    gradient, the others exactly 0; the index gets none.

    >>> from autograd import Value, pick
    >>> scores = [Value(2.0), Value(-1.0), Value(0.5)]
    >>> y = pick(scores, 1)
    >>> y.backward()
    >>> y.data, [s.grad for s in scores]
    (-1.0, [0.0, 1.0, 0.0])
    """
    return record(ops.PICK, *_values(values, "pick", 1), constant(index, "pick"))


def detached_max(values: Sequence[Any]) -> Value:
    """One node equal to the largest of ``values`` that passes no gradient back to them.

    It is the shift of a stable softmax: ``exp(s - m)`` cannot overflow, and the result does
    not depend on ``m``, so no gradient should flow through it (PyTorch's ``log_softmax``
    subtracts its max the same way). Unlike a constant, it is recomputed from the scores, so a
    compiled graph stays right for every input.

    >>> from autograd import Value, detached_max
    >>> a, b = Value(1.0), Value(3.0)
    >>> m = detached_max([a, b])
    >>> m.backward()
    >>> m.data, a.grad, b.grad
    (3.0, 0.0, 0.0)
    """
    return record(ops.DETACHED_MAX, *_values(values, "detached_max", 1))


def binary_cross_entropy(p: Any, target: Any) -> Value:
    """One node equal to ``-[t·log p + (1 - t)·log(1 - p)]`` as PyTorch computes it: each log
    clamped at -100 (so p = 0 or 1 gives a finite loss) and the gradient ``(p - t) /
    max(p·(1 - p), 1e-12)``, finite where 1/p is not. ``nn.BCELoss`` is its mean.

    >>> from autograd import Value, binary_cross_entropy
    >>> p = Value(0.8)
    >>> y = binary_cross_entropy(p, 1.0)
    >>> y.backward()
    >>> round(y.data, 6), round(p.grad, 6)          # -log 0.8, -1/0.8
    (0.223144, -1.25)
    """
    return record(ops.BCE, constant(p, "binary_cross_entropy"), constant(target, "binary_cross_entropy"))


def nll(exps: Sequence[Any], shifted: Sequence[Any], index: Any) -> Value:
    """One node equal to cross-entropy's term −log softmax(s)[index], from the shifted scores
    ``shifted`` (d_j = s_j − max s) and their exponentials ``exps`` (e_j = exp(d_j)):
    ``log1p((e_y − 1) + Σ_{j≠y} e_j) − d_y``, the numbers ``nn.CrossEntropyLoss`` computes with
    separate nodes. The index may be a Value (a traced input in compile mode): one node whose
    structure does not depend on the class, with n + n + 1 operands. Each e_j gets
    ``1 / (1 + x)`` (log1p's derivative, x the sum inside it), d_y gets −1, the other d_j exactly 0.

    >>> import autograd
    >>> from autograd import Value
    >>> s = [Value(2.0), Value(1.0), Value(0.1)]
    >>> shifted = [v - autograd.detached_max(s) for v in s]
    >>> y = autograd.nll([d.exp() for d in shifted], shifted, 0)
    >>> y.backward()
    >>> round(y.data, 4), [round(v.grad, 4) for v in s]     # softmax(s) − onehot(0)
    (0.417, [-0.341, 0.2424, 0.0986])
    """
    exps, shifted = _values(exps, "nll", 1), _values(shifted, "nll", 1)
    if len(exps) != len(shifted):
        raise ValueError(f"nll: {len(exps)} exps but {len(shifted)} shifted scores; pass one of each per class")
    return record(ops.NLL, *exps, *shifted, constant(index, "nll"))


# --- backward: the chain rule ---------------------------------------------------------------

def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after all of its operands, ``root`` last.

    Iterative depth-first search, so a graph of any depth works (no recursion limit). A node
    is pushed, then a ``None`` marker, then its operands: when the marker comes back off the
    stack, everything below the node is placed, and the node follows it. Operands already
    seen are not pushed (in a network most are: every weight is an operand once per sample).
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order: expected a Value, got {type(root).__name__}")
    order: list[Value] = []
    seen: set[Value] = set()
    stack: list[Value | None] = [root]
    is_seen = seen.__contains__
    while stack:
        node = stack.pop()
        if node is None:  # the marker: the node under it is complete
            order.append(stack.pop())  # type: ignore[arg-type]
        elif node not in seen:
            seen.add(node)
            edges = node._edges
            if edges:  # the operands not seen yet, reversed so that they pop in order (filtered in C)
                stack += (node, None)
                stack.extend(filterfalse(is_seen, edges[(len(edges) >> 1) - 1 :: -1]))
            else:  # a leaf has nothing below it: it is placed at once
                order.append(node)
    return order


def _chain_rule(order: list[Value]) -> None:
    """The chain rule on floats, in each node's ``.grad``: from the output back (reverse
    topological order, so a node's gradient is complete before it is passed on), each node
    adds ``local * its gradient`` into each operand's gradient. The edges of one- and
    two-operand nodes (most nodes) are unpacked directly: this is the engine's hottest loop."""
    for node in reversed(order):
        edges = node._edges
        n = len(edges)
        if n == 2:  # one operand: neg, exp, log, tanh, relu, ...
            a, da = edges
            a.grad += da * node.grad
        elif n == 4:  # two operands: + - * / **
            g = node.grad
            a, b, da, db = edges
            a.grad += da * g
            b.grad += db * g
        elif n:  # n operands: sum, dot
            g = node.grad
            half = n >> 1
            for child, local in zip(edges[:half], edges[half:]):
                child.grad += local * g


class Step(NamedTuple):
    """One step of the backward pass: ``node`` passes its complete gradient on to its operands."""

    node: Value
    grad: float  # d root / d node, complete at this step
    contributions: tuple[tuple[Value, float, float], ...]  # (operand, local derivative, local * grad)


def _traced_chain_rule(order: list[Value], seed: Any, create_graph: bool) -> Iterator[Step]:
    """The chain rule written out in full, for everything but plain ``backward()``: the
    gradients kept in a dict (so no ``.grad`` is touched), the local derivatives recomputed
    as Values from the table's rules when ``create_graph`` (so the gradients are a graph),
    every contribution checked under ``detect_anomaly``. Yields a ``Step`` for each node, from
    the output back, once its gradient is complete (a leaf's has no contributions)."""
    grads: dict[Value, Any] = {order[-1]: seed}
    check = modes().anomaly
    for node in reversed(order):
        g = grads[node]  # (every node in the order is reached: it has a gradient by now)
        half = len(node._edges) >> 1
        operands = node._edges[:half]
        locals_ = node._info.op.derivative(VALUES, node, *operands) if create_graph and half else node._edges[half:]
        contributions = tuple((child, local, local * g) for child, local in zip(operands, locals_))
        for child, local, contribution in contributions:
            before = grads.get(child)
            grads[child] = total = contribution if before is None else before + contribution
            if check and _is_bad(total) and not (_is_bad(g) or _is_bad(before or 0.0)):
                _raise_backward(node, child, local, g, contribution, before)
        yield Step(node, g, contributions)


def _is_bad(x: Any) -> bool:
    return not math.isfinite(float(x))


def _raise_backward(node: Value, child: Value, local: Any, g: Any, contribution: Any, before: Any) -> None:
    operands = ", ".join(f"{describe(c)}={c.data!r}" for c in node.children)
    product = f"local derivative {float(local)!r} times incoming gradient {float(g)!r}"
    what = (f"made the gradient of operand {describe(child)} overflow: {float(before)!r} + {float(contribution)!r} "
            f"({product})" if not _is_bad(contribution) else
            f"produced {float(contribution)!r} for operand {describe(child)}: {product}")
    raise FloatingPointError(f"backward of {node.op} (node {describe(node)}) {what}; inputs ({operands})")


def _seed(gradient: Any, create_graph: bool) -> Any:
    if isinstance(gradient, Value):
        return gradient if create_graph else gradient.data
    g = _real(gradient, "backward(gradient=...)")
    return constant(g, "backward") if create_graph else g


def backward(root: Value, gradient: Any = 1.0, *, create_graph: bool = False) -> None:
    """Add d root / d node (times ``gradient``) into every node's ``.grad``; see Value.backward."""
    seed = _seed(gradient, create_graph)
    with gc_paused():
        order = topological_order(root)
        # The float loop passes on what each .grad holds, so it runs only when no inner node
        # holds a gradient already (from an earlier backward() on this graph): nearly always.
        if create_graph or modes().anomaly or any(node.grad for node in order if node._edges):
            for node, g, _ in list(_traced_chain_rule(order, seed, create_graph)):  # (all or nothing)
                node.grad = g if node.grad == 0.0 else node.grad + g  # (a Value never == 0.0: identity)
        else:
            root.grad += seed
            _chain_rule(order)


def grad(output: Value, inputs: Sequence[Value] | Value, *, create_graph: bool = False) -> list[Any]:
    """d output / d input for each input, leaving every ``.grad`` untouched.

    An input that ``output`` does not depend on gets ``0.0``. With ``create_graph=True`` the
    results are Values that can be differentiated again:

    >>> from autograd import Value, grad
    >>> x = Value(2.0)
    >>> y = x ** 3
    >>> dy, = grad(y, [x], create_graph=True)     # 3x^2
    >>> d2y, = grad(dy, [x])                       # 6x
    >>> float(dy), d2y
    (12.0, 12.0)
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad: output must be a Value, got {type(output).__name__}")
    inputs = [inputs] if isinstance(inputs, Value) else list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"grad: inputs[{i}] must be a Value, got {type(x).__name__}")
    with gc_paused():
        found = {step.node: step.grad for step in _traced_chain_rule(
            topological_order(output), _seed(1.0, create_graph), create_graph)}
    zero: Any = constant(0.0, "grad") if create_graph else 0.0
    return [found.get(x, zero) for x in inputs]


def backward_steps(root: Value, gradient: Any = 1.0) -> Iterator[Step]:
    """The backward pass one node at a time, in ``backward()``'s order, touching no ``.grad``.

    Adding up each step's contributions per operand gives exactly ``backward()``'s gradients.

    >>> from autograd import Value, backward_steps
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> [(s.node.op, s.grad, [c for _, _, c in s.contributions]) for s in backward_steps(a * b + a)]
    [('+', 1.0, [1.0, 1.0]), ('*', 1.0, [-3.0, 2.0])]
    """
    steps = _traced_chain_rule(topological_order(root), _seed(gradient, False), False)
    return (step for step in steps if step.contributions)


def zero_grad(values: Iterable[Value]) -> None:
    """Set ``.grad`` of each Value back to ``0.0``."""
    for v in values:
        v.grad = 0.0
