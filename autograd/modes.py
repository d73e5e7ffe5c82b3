"""Modes that change how operations record: ``no_grad``, ``detect_anomaly`` and naming scopes.

The state is one module-level object read by every operation, so the common case (recording,
no anomaly checks) costs a single attribute test. It is not thread-local: use modes from one
thread at a time.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .ops import Op


class Tag:
    """What a node is besides its numbers: the operation that made it, its label, its scope.

    Nodes without a label share one Tag per (operation, scope), so the tag costs nothing per node.
    """

    __slots__ = ("op", "label", "scope")

    def __init__(self, op: Op, label: str, scope: "Scope"):
        self.op = op
        self.label = label
        self.scope = scope


class Scope:
    """A named region of graph building, e.g. one ``nn`` module; drawings group nodes by it.

    Scopes nest: each has a parent (the root scope has none). Entering a scope (``with
    scope_object:``) records the nodes created inside under it, and must happen inside its
    parent; leaving returns to the parent. An ``nn`` module keeps its Scope and enters it on
    every call, so all calls of one module are one group.
    """

    __slots__ = ("name", "parent", "depth", "tags")

    def __init__(self, name: str, parent: "Scope | None" = None):
        self.name = name
        self.parent = parent
        self.depth: int = 0 if parent is None else parent.depth + 1
        self.tags = _TagCache(self)

    def path(self) -> tuple["Scope", ...]:
        """The scopes from the outermost (the root excluded) down to this one."""
        chain = []
        scope: Scope | None = self
        while scope is not None and scope.parent is not None:
            chain.append(scope)
            scope = scope.parent
        return tuple(reversed(chain))

    def __enter__(self) -> "Scope":
        state.scope = self
        state.tags = self.tags
        return self

    def __exit__(self, *exc: Any) -> None:
        parent = self.parent if self.parent is not None else ROOT
        state.scope = parent
        state.tags = parent.tags

    def __repr__(self) -> str:
        return "Scope(" + "/".join(s.name for s in self.path()) + ")"


class _TagCache(dict):
    """op -> the shared, label-less Tag of that op in one scope."""

    def __init__(self, scope: Scope):
        super().__init__()
        self.scope = scope

    def __missing__(self, op: Op) -> Tag:
        tag = self[op] = Tag(op, "", self.scope)
        return tag


ROOT = Scope("")


class _State:
    __slots__ = ("grad_enabled", "anomaly", "fast", "scope", "tags")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.fast = True  # recording, and no anomaly checks: the path every op takes first
        self.scope = ROOT
        self.tags = ROOT.tags

    def update(self) -> None:
        self.fast = self.grad_enabled and not self.anomaly
        self.tags = self.scope.tags


state = _State()


@contextmanager
def _setting(name: str, value: Any) -> Iterator[None]:
    saved = getattr(state, name)
    setattr(state, name, value)
    state.update()
    try:
        yield
    finally:
        setattr(state, name, saved)
        state.update()


def no_grad() -> Any:
    """Operations inside build no graph: their results are leaves (as ``torch.no_grad``).

    Also works as a decorator.

    >>> from autograd import Value, no_grad
    >>> x = Value(2.0)
    >>> with no_grad():
    ...     y = x * x
    >>> y.op, y.children
    ('', ())
    """
    return _setting("grad_enabled", False)


def enable_grad() -> Any:
    """Record graphs again inside a ``no_grad`` block (as ``torch.enable_grad``)."""
    return _setting("grad_enabled", True)


def is_grad_enabled() -> bool:
    """Whether operations currently record a graph."""
    return state.grad_enabled


def detect_anomaly() -> Any:
    """Raise ``FloatingPointError`` at the first nan or inf an operation produces.

    Forward: an operation whose result is nan while no operand was nan, or infinite while
    every operand was finite. Backward: a gradient contribution that is nan or infinite while
    the incoming gradient was finite. The message names the operation, its inputs and the
    node's label.

    >>> from autograd import Value, detect_anomaly
    >>> with detect_anomaly():
    ...     Value(0.0, label="x").log()
    Traceback (most recent call last):
    ...
    FloatingPointError: log produced -inf in the forward pass from inputs (x=0.0); ...
    """
    return _setting("anomaly", True)


def current_scope() -> Scope:
    """The scope new nodes are recorded under (the root scope outside any)."""
    return state.scope


def scope(name: str) -> Scope:
    """A new scope inside the current one, to use with ``with``: nodes created inside are
    recorded under it, and ``draw`` groups them in a cluster labelled ``name``.

    >>> from autograd import Value, scope
    >>> with scope("Neuron 1"):
    ...     y = Value(2.0) * 3
    >>> y.scope
    Scope(Neuron 1)
    """
    return Scope(name, state.scope)


class gc_paused:
    """Pause Python's cyclic garbage collector inside the block, then restore it as it was.

    The engine's graphs hold no reference cycles (reference counting frees them), but a big
    graph is many container objects, and the collector would scan them again and again while
    it is built or walked. ``backward()`` and a top-level ``nn`` module call run inside this.
    Nesting is fine: only the outermost block switches the collector.

    >>> import gc
    >>> from autograd import gc_paused
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """

    __slots__ = ("was_enabled",)

    def __enter__(self) -> "gc_paused":
        self.was_enabled = gc.isenabled()
        if self.was_enabled:
            gc.disable()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.was_enabled:
            gc.enable()
