"""Reverse mode: topological order, the chain rule, ``backward`` and ``grad``.

The chain rule is one loop. Visiting nodes from the output back to the leaves (reverse
topological order, so a node's gradient is complete before it is passed on), each node hands
each operand ``local * gradient``, where ``local`` is d node / d operand:

    dL/d operand += d node/d operand * dL/d node

The locals are the floats recorded in the forward pass. With ``create_graph=True`` they are
recomputed as Values from the same rules in ops.py, and the products and sums are recorded
too, so the gradients are a graph that can be differentiated again. The common case (floats,
no anomaly checks, no stepper) runs the same loop in ``_chain_rule``, which unpacks the edges
of one- and two-operand nodes instead of slicing them: most nodes are such, and it is the
hottest loop of the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from .modes import gc_paused, state
from .ops import INF
from .value import VALUES, Value, _check_real, constant, describe


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after all of its operands, ``root`` last.

    Iterative depth-first search, so a graph of any depth works (no recursion limit). A node
    is pushed, then a ``None`` marker, then its operands: when the marker comes back off the
    stack, everything below the node is placed, and the node follows it.
    """
    order: list[Value] = []
    seen: set[Value] = set()
    stack: list[Value | None] = [root]
    push, pop = stack.append, stack.pop
    while stack:
        node = pop()
        if node is None:  # the marker: the node under it is complete
            order.append(pop())  # type: ignore[arg-type]
        elif node not in seen:
            seen.add(node)
            edges = node._edges
            if edges:
                push(node)
                push(None)
                stack.extend(edges[(len(edges) >> 1) - 1 :: -1])  # operands reversed: popped in order
            else:  # a leaf has nothing below it: it is placed at once
                order.append(node)
    return order


class _Zero:
    """The starting gradient when gradients are Values: ``_Zero() + g`` is ``g`` itself, so no
    "0 + g" node is recorded."""

    __slots__ = ()

    def __add__(self, other: Any) -> Any:
        return other


_ZERO = _Zero()


def backprop(
    root: Value, seed: Any, *, create_graph: bool = False, on_step: Callable[[Value], None] | None = None
) -> tuple[list[Value], list[Any]]:
    """Every node root depends on, and d root / d node (times ``seed``) for each.

    During the pass each node's ``.grad`` slot holds this pass's gradient (attribute updates
    are the cheapest accumulator Python has); the values it held before are put back at the
    end, whatever happens, so callers decide what to do with the result. ``on_step(node)``,
    if given, is called after each node has passed its gradient on (the backward stepper in
    drawing.py shows these steps).
    """
    order = topological_order(root)
    saved = [node.grad for node in order]
    zero = _ZERO if create_graph else 0.0
    check = state.anomaly
    try:
        for node in order:
            node.grad = zero
        root.grad = seed
        if not (create_graph or check or on_step):
            _chain_rule(order)
            return order, [node.grad for node in order]
        for node in reversed(order):
            edges = node._edges
            if not edges:
                continue
            g = node.grad
            half = len(edges) >> 1
            operands = edges[:half]
            if create_graph:
                locals_ = node._info.op.derivative(VALUES, node, *operands)
            else:
                locals_ = edges[half:]
            if check:  # detect_anomaly: look at every contribution before any is added
                for child, local in zip(operands, locals_):
                    _check_backward(node, child, local, g, local * g)
            for child, local in zip(operands, locals_):
                child.grad += local * g  # the chain rule
            if on_step is not None:
                on_step(node)
        return order, [node.grad for node in order]
    finally:
        for node, old in zip(order, saved):
            node.grad = old


def _chain_rule(order: list[Value]) -> None:
    """backprop's loop for the common case (float gradients, no checks, no steps to show):
    the same chain rule, with the edges of one- and two-operand nodes unpacked directly
    rather than sliced and zipped (3x faster on a long chain of binary operations)."""
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
        elif n:  # n-ary: sum, dot
            g = node.grad
            half = n >> 1
            for child, local in zip(edges[:half], edges[half:]):
                child.grad += local * g


def backward(root: Value, gradient: Any = 1.0, *, create_graph: bool = False) -> None:
    """Add d root / d node (times ``gradient``) into every node's ``.grad``; see Value.backward."""
    if not isinstance(root, Value):
        raise TypeError(f"backward: expected a Value, got {type(root).__name__}")
    seed = _seed(gradient, create_graph)
    with gc_paused():
        order, grads = backprop(root, seed, create_graph=create_graph)
        for node, g in zip(order, grads):
            node.grad = g if node.grad == 0.0 else node.grad + g  # (a Value never == 0.0: identity)


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
    if isinstance(inputs, Value):
        inputs = [inputs]
    inputs = list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"grad: inputs[{i}] must be a Value, got {type(x).__name__}")
    with gc_paused():
        order, grads = backprop(output, _seed(1.0, create_graph), create_graph=create_graph)
    found = dict(zip(order, grads))
    zero: Any = constant(0.0, "grad") if create_graph else 0.0
    return [found.get(x, zero) for x in inputs]  # .get: an input that output does not depend on


class Step(NamedTuple):
    """One step of the backward pass: ``node`` passes its complete gradient on to its operands."""

    node: Value
    grad: float  # d root / d node, complete at this step
    contributions: tuple[tuple[Value, float, float], ...]  # (operand, local derivative, local * grad)


def backward_steps(root: Value, gradient: Any = 1.0) -> Iterator[Step]:
    """The backward pass one node at a time, in ``backward()``'s order, touching no ``.grad``.

    Adding up each step's contributions per operand gives exactly ``backward()``'s gradients.

    >>> from autograd import Value, backward_steps
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> [(s.node.op, s.grad, [c for _, _, c in s.contributions]) for s in backward_steps(a * b + a)]
    [('+', 1.0, [1.0, 1.0]), ('*', 1.0, [-3.0, 2.0])]
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps: expected a Value, got {type(root).__name__}")
    steps: list[Step] = []

    def record(node: Value) -> None:
        g = float(node.grad)
        steps.append(Step(node, g, tuple((c, d, d * g) for c, d in zip(node.children, node.local_grads))))

    backprop(root, _seed(gradient, False), on_step=record)
    yield from steps


def _seed(gradient: Any, create_graph: bool) -> Any:
    if isinstance(gradient, Value):
        return gradient if create_graph else gradient.data
    g = _check_real(gradient, "backward(gradient=...)")
    return constant(g, "backward") if create_graph else g


def _is_bad(x: Any) -> bool:
    x = float(x)
    return x != x or abs(x) == INF


def _check_backward(node: Value, child: Value, local: Any, g: Any, contribution: Any) -> None:
    if _is_bad(contribution) and not _is_bad(g):
        operands = ", ".join(f"{describe(c)}={c.data!r}" for c in node.children)
        raise FloatingPointError(
            f"backward of {node.op} (node {describe(node)}) produced {float(contribution)!r} for operand "
            f"{describe(child)}: local derivative {float(local)!r} times incoming gradient {float(g)!r}; "
            f"inputs ({operands})"
        )


def zero_grad(values: Iterable[Value]) -> None:
    """Set ``.grad`` of each Value back to ``0.0``."""
    for v in values:
        v.grad = 0.0
