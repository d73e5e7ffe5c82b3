"""``Module``: parameters, names, gradients and state for everything in ``nn``.

A module's parameters are found by walking its attributes in the order they were set:
parameters (Values whose ``is_parameter`` is True, made by ``autograd.Parameter``), modules,
and lists or tuples of them, nested to any depth. Names are dotted paths such as
``layers.0.neurons.3.w.1``, as in PyTorch's ``named_parameters()``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import autograd
from autograd import Scope, Value, current_scope, gc_paused


class Module:
    """Base class of networks and their parts. Subclasses implement ``forward``.

    Calling a module calls ``forward`` inside a naming scope (``autograd.scope``), so drawings
    group the nodes it creates under its ``name`` ("Layer 1", "Neuron 3", ...).
    """

    name: str = ""

    def forward(self, x: Any) -> Any:  # pragma: no cover - every module overrides it
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def __call__(self, x: Any) -> Any:
        # The module's naming scope under the current one is made once per parent and kept, so
        # that all calls of a module are one group in a drawing (one entry: it cannot grow).
        parent = current_scope()
        cached = self.__dict__.get("_scope")
        if cached is None or cached.parent is not parent:
            cached = self.__dict__["_scope"] = Scope(self.name or type(self).__name__, parent)
        if parent.depth:
            with cached:
                return self.forward(x)
        with gc_paused(), cached:  # the outermost call builds a whole graph: no cycle scans meanwhile
            return self.forward(x)

    # --- parameters ----------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module | Value]]:
        """(name, Module or parameter) for each direct part, in attribute order; the items of
        lists and tuples (nested too) are named by their indices: ``w.0``, ``rows.2.5``."""
        for attr, value in vars(self).items():
            if not attr.startswith("_"):
                yield from _parts(attr, value)

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(dotted name, parameter)`` for every parameter, in a stable order.

        >>> import nn, random
        >>> random.seed(0)
        >>> [name for name, _ in nn.Neuron(2).named_parameters()]
        ['w.0', 'w.1', 'b']
        """
        out: list[tuple[str, Value]] = []
        for name, part in self.named_children():
            if isinstance(part, Module):
                out.extend((f"{name}.{sub}", p) for sub, p in part.named_parameters())
            else:
                out.append((name, part))
        return out

    def parameters(self) -> list[Value]:
        """Every parameter (leaf Value that training changes), in ``named_parameters`` order."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0 (do it before each backward pass)."""
        autograd.zero_grad(self.parameters())

    # --- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, float]:
        """``{name: value}`` for every parameter, as plain floats."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set every parameter from ``state`` (as made by ``state_dict``).

        Raises ``ValueError`` naming the missing, unexpected or non-numeric entries, and then
        changes nothing.
        """
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict: expected a dict of name -> number, got {type(state).__name__}")
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        bad = [k for k in params if k in state and (not isinstance(state[k], numbers.Real) or isinstance(state[k], bool))]
        problems = []
        if missing:
            problems.append(f"missing {_few(missing)}")
        if unexpected:
            problems.append(f"unexpected {_few(unexpected)}")
        if bad:
            problems.append(f"not a number: {_few(bad)}")
        if problems:
            raise ValueError(
                f"load_state_dict: the state does not fit this {type(self).__name__} ({'; '.join(problems)}); "
                "was it saved from a model of the same architecture?"
            )
        for name, p in params.items():
            p.data = float(state[name])

    # --- description ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this module's architecture (for model files)."""
        raise TypeError(f"{type(self).__name__} has no config(); only built-in modules can be saved as a whole")

    def extra_repr(self) -> str:
        """The constructor arguments shown by ``repr``; a module that has one is described by it."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        parts = [(name, part) for name, part in self.named_children() if isinstance(part, Module)]
        if extra or not parts:
            return f"{type(self).__name__}({extra})"
        body = "\n".join(f"  ({name}): " + repr(part).replace("\n", "\n  ") for name, part in parts)
        return f"{type(self).__name__}(\n{body}\n)"


def _parts(name: str, value: Any) -> Iterator[tuple[str, Module | Value]]:
    if isinstance(value, Module) or (isinstance(value, Value) and value.is_parameter):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _parts(f"{name}.{i}", item)


def _few(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


class Inputs(list[Any]):
    """A list of Values that ``as_inputs`` checked: a Layer hands it to each of its neurons,
    which then check nothing again (they use ``autograd.dot_unchecked``)."""


def as_inputs(x: Any, n: int, who: str) -> Inputs:
    """Check that ``x`` is a list of ``n`` numbers or Values; numbers become input leaves x0, x1, ..."""
    if isinstance(x, (Value, numbers.Real)) and n == 1:
        x = [x]
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise TypeError(f"{who}: expected a list of {n} numbers or Values, got {type(x).__name__}")
    if len(x) != n:
        raise ValueError(f"{who}: expected {n} inputs, got {len(x)}; the input size must match nin={n}")
    for i, v in enumerate(x):
        if not isinstance(v, (Value, numbers.Real)) or isinstance(v, bool):
            raise TypeError(f"{who}: input {i} is a {type(v).__name__}; inputs must be numbers or Values")
    return Inputs(v if isinstance(v, Value) else Value(v, label=f"x{i}") for i, v in enumerate(x))
