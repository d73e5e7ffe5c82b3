"""Modes that change how operations record: ``no_grad``, ``detect_anomaly`` and naming scopes.

Each thread has its own modes, as in PyTorch: one thread evaluating under ``no_grad`` never
stops another from recording its graph. ``modes()`` is this thread's ``Modes``; every operation
reads ``modes().recording`` first: the current scope's tags while recording with no anomaly
checks (nearly always), ``None`` otherwise.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from .ops import CONSTANT, LEAF, PARAMETER, TABLE, Op

# what ``autograd`` exports from here
__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "scope", "Scope", "current_scope",
           "gc_paused"]


class Tag(NamedTuple):
    """What a node is besides its numbers: the operation that made it, its label, its scope.

    Nodes without a label share one Tag per (operation, scope), so a tag costs nothing per node.
    """

    op: Op
    label: str
    scope: Scope


class Scope:
    """A named region of graph building, e.g. one ``nn`` module; drawings group nodes by it.

    Scopes nest: each has a parent (the root scope has none). ``with a_scope:`` records the
    nodes created inside under it, and leaving returns to the scope that was current before.
    A Scope object can be entered again and again (an ``nn`` module enters its own on every
    call, so all calls of one module are one group in a drawing).
    """

    __slots__ = ("name", "parent", "depth", "tags")

    def __init__(self, name: str, parent: Scope | None = None):
        if not isinstance(name, str):
            raise TypeError(f"Scope(name): expected str, got {type(name).__name__}")
        self.name = name
        self.parent = parent
        self.depth: int = 0 if parent is None else parent.depth + 1
        # each operation's one shared Tag for the nodes made here without a label
        self.tags = {op: Tag(op, "", self) for op in (*TABLE.values(), LEAF, CONSTANT, PARAMETER)}

    def path(self) -> tuple[Scope, ...]:
        """The scopes from the outermost (the root excluded) down to this one."""
        return () if self.parent is None else (*self.parent.path(), self)

    def __enter__(self) -> Scope:  # (runs for every nn module call: written out, not via Modes.set)
        m = _per_thread.modes
        m.entered.append(m.scope)
        m.scope = self
        if m.recording is not None:
            m.recording = self.tags
        return self

    def __exit__(self, *exc: Any) -> None:
        m = _per_thread.modes
        m.scope = scope = m.entered.pop()
        if m.recording is not None:
            m.recording = scope.tags

    def __repr__(self) -> str:
        return "Scope(" + "/".join(s.name for s in self.path()) + ")"


ROOT = Scope("")


class Modes:
    """One thread's modes: each thread starts recording, with no checks, in the root scope."""

    __slots__ = ("grad_enabled", "anomaly", "scope", "recording", "entered")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.scope = ROOT
        self.recording: dict[Op, Tag] | None = ROOT.tags  # see the module's docstring
        self.entered: list[Scope] = []  # the scopes to return to, innermost last

    def set(self, name: str, value: Any) -> None:
        setattr(self, name, value)
        self.recording = self.scope.tags if self.grad_enabled and not self.anomaly else None


class _PerThread(threading.local):
    def __init__(self) -> None:
        self.modes = Modes()


_per_thread = _PerThread()  # (its one attribute read costs about 12 plain attribute reads)


def modes() -> Modes:
    """This thread's modes."""
    return _per_thread.modes


@contextmanager
def _setting(name: str, value: bool) -> Iterator[None]:
    m = modes()
    saved = getattr(m, name)
    m.set(name, value)
    try:
        yield
    finally:
        m.set(name, saved)


def no_grad() -> Any:
    """Operations inside build no graph: their results are leaves (as ``torch.no_grad``).

    Also works as a decorator. It holds for the current thread only.

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
    """Whether operations in this thread currently record a graph."""
    return modes().grad_enabled


def detect_anomaly() -> Any:
    """Raise ``FloatingPointError`` at the first nan or inf an operation produces.

    Forward: an operation whose result is nan while no operand was nan, or infinite while
    every operand was finite. Backward: a gradient contribution, or a sum of contributions,
    that is nan or infinite while what it was made from was finite. The message names the
    operation, its inputs and the node's label.

    >>> from autograd import Value, detect_anomaly
    >>> with detect_anomaly():
    ...     Value(0.0, label="x").log()
    Traceback (most recent call last):
    ...
    FloatingPointError: log produced -inf in the forward pass from inputs (x=0.0); ...
    """
    return _setting("anomaly", True)


def current_scope() -> Scope:
    """The scope new nodes are recorded under in this thread (the root scope outside any)."""
    return _per_thread.modes.scope  # (modes(), inlined: every nn module call asks)


def scope(name: str) -> Scope:
    """A new scope inside the current one, to use with ``with``: nodes created inside are
    recorded under it, and ``draw`` groups them in a cluster labelled ``name``.

    >>> from autograd import Value, scope
    >>> with scope("Neuron 1"):
    ...     y = Value(2.0) * 3
    >>> y.scope
    Scope(Neuron 1)
    """
    return Scope(name, modes().scope)


@contextmanager
def gc_paused() -> Iterator[None]:
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
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
