"""``Module``: parameters, names, gradients and state for everything in ``nn``.

A module's parameters are found by walking its attributes in the order they were set:
``Parameter`` values, ``Module`` values, and lists of either. Names are dotted paths such as
``layers.0.neurons.3.w.1``, as in PyTorch's ``named_parameters()``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

from autograd import Parameter, Scope, Value, gc_paused
from autograd.modes import state
from autograd.value import all_values


class Module:
    """Base class of networks and their parts. Subclasses implement ``forward``.

    Calling a module calls ``forward`` inside a naming scope (``autograd.scope``), so drawings
    group the nodes it creates under its ``name`` ("Layer 1", "Neuron 3", ...).
    """

    name: str = ""

    def forward(self, x: Any) -> Any:  # pragma: no cover - every module overrides it
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def __call__(self, x: Any) -> Any:
        # this module's naming scope under the current one, made once per parent and kept
        # (one cached entry, so it cannot grow); its name is read when it is made
        parent = state.scope
        cached = self.__dict__.get("_scope_cache")
        if cached is None or cached[0] is not parent:
            cached = self.__dict__["_scope_cache"] = (parent, Scope(self.name or type(self).__name__, parent))
        scope = cached[1]
        if not parent.depth:  # the outermost call builds a whole graph: no cycle scans meanwhile
            with gc_paused(), scope:
                return self.forward(x)
        state.scope, state.tags = scope, scope.tags  # `with scope:` written out: this runs per neuron
        try:
            return self.forward(x)
        finally:
            state.scope, state.tags = parent, parent.tags

    # --- parameters ----------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module | Parameter]]:
        """(name, Module or Parameter) for each direct part, in attribute order."""
        for attr, value in vars(self).items():
            if attr.startswith("_"):
                continue
            if isinstance(value, (Module, Parameter)):
                yield attr, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Module, Parameter)):
                        yield f"{attr}.{i}", item

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` for every parameter, in a stable order.

        >>> import nn, random
        >>> random.seed(0)
        >>> [name for name, _ in nn.Neuron(2).named_parameters()]
        ['w.0', 'w.1', 'b']
        """
        out: list[tuple[str, Parameter]] = []
        for name, part in self.named_children():
            if isinstance(part, Module):
                out.extend((f"{name}.{sub}", p) for sub, p in part.named_parameters())
            else:
                out.append((name, part))
        return out

    def parameters(self) -> list[Parameter]:
        """Every parameter (leaf Value that training changes), in a stable order: that of
        ``named_parameters``, without making the names (``zero_grad`` runs every step)."""
        out: list[Parameter] = []
        for _, part in self.named_children():
            if isinstance(part, Module):
                out.extend(part.parameters())
            else:
                out.append(part)
        return out

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0 (do it before each backward pass)."""
        for p in self.parameters():
            p.grad = 0.0

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


def _few(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


class Inputs(list):
    """A list of Values that ``as_inputs`` checked, with their numbers read once (``numbers``):
    a Layer hands it to each of its neurons, which then check and read nothing again."""

    __slots__ = ("numbers",)
    numbers: list[float]


def as_inputs(x: Any, n: int, who: str) -> Inputs:
    """Check that ``x`` is a list of ``n`` numbers or Values; numbers become input leaves x0, x1, ..."""
    if isinstance(x, (Value, numbers.Real)) and n == 1:
        x = [x]
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise TypeError(f"{who}: expected a list of {n} numbers or Values, got {type(x).__name__}")
    if len(x) != n:
        raise ValueError(f"{who}: expected {n} inputs, got {len(x)}; the input size must match nin={n}")
    if all_values(x):
        inputs = Inputs(x)
    else:
        for i, v in enumerate(x):
            if not isinstance(v, (Value, numbers.Real)):
                raise TypeError(f"{who}: input {i} is a {type(v).__name__}; inputs must be numbers or Values")
        inputs = Inputs(v if isinstance(v, Value) else Value(v, label=f"x{i}") for i, v in enumerate(x))
    inputs.numbers = [v.data for v in inputs]
    return inputs
