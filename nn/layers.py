"""Neurons, layers, activations and containers."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence
from typing import Any

import autograd
from autograd import Parameter, Value, dot_unchecked

from .module import Inputs, Module, as_inputs

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid")


def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    return activation


MAX_SIZE = 1_000_000  # far beyond what a scalar engine can train; refuses typos like 10**8 at once


def _check_size(n: Any, what: str, capped: bool = True) -> int:
    """``n`` as an int if it is a whole number from 1 to ``MAX_SIZE`` (with ``capped=False``:
    any positive one, for counting the weights an architecture asks for)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{what} must be a whole number, got {type(n).__name__}")
    if int(n) < 1 or (capped and int(n) > MAX_SIZE):
        raise ValueError(f"{what} must be a whole number from 1 to {MAX_SIZE:,}, got {n!r}")
    return int(n)


# How many parameters a module may have: about 1 GB of Values and 15 s to build (a GPT of 1.9
# million), and minutes per training step for a scalar engine. A module past it is refused before
# anything is built, with its estimate; raise it (nn.layers.MAX_PARAMETERS = ...) to build bigger.
MAX_PARAMETERS = 2_000_000
BYTES_PER_PARAMETER = 450  # how much a process grows per parameter built (its Value, float, label and lists)


def _check_parameters(count: int, what: str) -> None:
    """A ValueError with the estimate when ``what`` would have more than ``MAX_PARAMETERS`` parameters."""
    if count > MAX_PARAMETERS:
        size = count * BYTES_PER_PARAMETER
        memory = f"about {size / 1e9:,.1f} GB" if size < 10**30 else f"{count_text(size)} bytes"
        raise ValueError(f"{what} would have {count_text(count)} parameters ({memory} of memory as Values), more "
                         f"than nn.layers.MAX_PARAMETERS = {MAX_PARAMETERS:,}; make it smaller, or if you have the "
                         f"memory and the time, raise the limit first: nn.layers.MAX_PARAMETERS = {count_text(count, '_')}")


def count_text(n: int, separator: str = ",") -> str:
    """A count for a message, however large (Python will not print an int of thousands of digits)."""
    return f"{n:{separator}}" if n < 10**30 else f"about 10^{int(n.bit_length() * math.log10(2))}"


def activation_function(activation: str) -> Any:
    """The Value method for a named activation ("linear": None, nothing to apply)."""
    return None if _check_activation(activation) == "linear" else getattr(Value, activation)


def activate(v: Value, activation: str) -> Value:
    """Apply a named activation to one Value ("linear" returns it unchanged)."""
    f = activation_function(activation)
    return v if f is None else f(v)


class Neuron(Module):
    """``activation(w · x + b)``: one ``autograd.dot`` node plus its activation.

    Weights and bias start uniform in ±1/√nin, as PyTorch's ``nn.Linear`` does; seed Python's
    ``random`` for the same start every time.

    >>> import random, nn
    >>> random.seed(1)
    >>> n = nn.Neuron(2, activation="tanh")
    >>> y = n([1.0, -2.0])
    >>> y.op, [c.op for c in y.children]
    ('tanh', ['dot'])
    """

    def __init__(self, nin: int, activation: str = "linear"):
        self.nin = _check_size(nin, "Neuron(nin)")
        self.activation = _check_activation(activation)
        bound = 1.0 / math.sqrt(nin)
        self.w = [Parameter(random.uniform(-bound, bound), label=f"w{i}") for i in range(nin)]
        self.b = Parameter(random.uniform(-bound, bound), label="b")
        self._activate = activation_function(activation)

    def forward(self, x: Sequence[Any]) -> Value:
        if type(x) is not Inputs or len(x) != self.nin:  # a Layer passes checked inputs: no second check
            x = as_inputs(x, self.nin, "Neuron")
        try:
            out = dot_unchecked(self.w, x, self.b)
        except AttributeError:  # a weight replaced by a number? say so; any other error goes on
            if len(self.w) == self.nin and all(isinstance(v, Value) for v in (*self.w, self.b)):
                raise
            raise TypeError("Neuron: .w must stay a list of nin Values and .b a Value; to set their "
                            "numbers, assign to w[i].data or use load_state_dict") from None
        return out if self._activate is None else self._activate(out)

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "activation": self.activation}

    @staticmethod
    def parameter_count(nin: int, **settings: Any) -> int:
        """How many parameters ``Neuron(nin, ...)`` has, worked out without building it."""
        return _linear_count(_check_size(nin, "Neuron(nin)", capped=False), 1)

    def extra_repr(self) -> str:
        return f"{self.nin}, activation={self.activation!r}"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs: list of nin → list of nout Values.

    A layer of more than ``nn.layers.MAX_PARAMETERS`` parameters is refused before it is built
    (as every module with parameters is), with the estimate and how to raise the limit.
    """

    def __init__(self, nin: int, nout: int, activation: str = "linear"):
        _check_parameters(Layer.parameter_count(nin, nout), f"Layer({nin}, {nout})")
        self.nin = _check_size(nin, "Layer(nin)")
        self.nout = _check_size(nout, "Layer(nout)")
        self.activation = _check_activation(activation)
        self.neurons = [Neuron(nin, activation) for _ in range(nout)]
        for i, neuron in enumerate(self.neurons):
            neuron.name = f"Neuron {i + 1}"

    def forward(self, x: Sequence[Any]) -> list[Value]:
        x = as_inputs(x, self.nin, "Layer")  # once here, not once per neuron
        return [n(x) for n in self.neurons]

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nout": self.nout, "activation": self.activation}

    @staticmethod
    def parameter_count(nin: int, nout: int, **settings: Any) -> int:
        """How many parameters ``Layer(nin, nout, ...)`` has, worked out without building it."""
        return _linear_count(_check_size(nin, "Layer(nin)", capped=False), _check_size(nout, "Layer(nout)", capped=False))

    def extra_repr(self) -> str:
        return f"{self.nin}, {self.nout}, activation={self.activation!r}"


class _Elementwise(Module):
    activation = "linear"

    def forward(self, x: Any) -> Any:
        if isinstance(x, Value):
            return activate(x, self.activation)
        if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
            raise TypeError(f"{type(self).__name__}: expected a list of Values, got {type(x).__name__}")
        return [activate(v if isinstance(v, Value) else autograd.constant(v, self.activation), self.activation) for v in x]

    def config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def parameter_count(**settings: Any) -> int:
        return 0


class Sigmoid(_Elementwise):
    """Elementwise logistic sigmoid, 1 / (1 + e^-x): list → list."""

    activation = "sigmoid"


class Tanh(_Elementwise):
    """Elementwise tanh: list → list."""

    activation = "tanh"


class ReLU(_Elementwise):
    """Elementwise max(0, x): list → list."""

    activation = "relu"


def _name_parts(modules: Sequence[Module], base: str = "") -> None:
    """Name each part for drawings: "Layer 1", "Sigmoid", "Layer 2" (numbered when repeated)."""
    kinds = [type(m).__name__ for m in modules]
    seen: dict[str, int] = {}
    for m, kind in zip(modules, kinds):
        seen[kind] = seen.get(kind, 0) + 1
        if not m.name:
            m.name = f"{kind} {seen[kind]}" if kinds.count(kind) > 1 else kind


class Sequential(Module):
    """Applies its modules in order; ``seq[0]`` is the first, ``len(seq)`` how many.

    The seed network "L1 → sigmoid → L2":

    >>> import random, nn
    >>> random.seed(0)
    >>> net = nn.Sequential(nn.Layer(2, 3), nn.Sigmoid(), nn.Layer(3, 2))
    >>> len(net), len(net.parameters()), len(net([0.5, -1.0]))
    (3, 17, 2)
    """

    def __init__(self, *modules: Module):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not an nn module")
        self.modules = list(modules)
        _name_parts(self.modules)

    def named_children(self) -> Any:
        for i, m in enumerate(self.modules):
            yield str(i), m  # PyTorch's names: "0.neurons.1.w.0"

    def forward(self, x: Any) -> Any:
        for m in self.modules:
            x = m(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return self.modules[i]

    def __len__(self) -> int:
        return len(self.modules)

    def __iter__(self) -> Any:
        return iter(self.modules)


class MLP(Module):
    """A multi-layer perceptron like micrograd's: ``MLP(2, [16, 16, 1])``.

    Hidden layers use ``activation``; the last layer is linear. The output is a list of one
    Value per output neuron, except that a one-output MLP returns the Value itself, as
    micrograd's does (so ``-1 * model(x)`` works). An MLP of more than ``nn.layers.MAX_PARAMETERS``
    parameters is refused before it is built, with the estimate and how to raise the limit.

    >>> import random, nn
    >>> random.seed(0)
    >>> type(nn.MLP(2, [4, 1])([1.0, 2.0])).__name__, len(nn.MLP(2, [4, 3])([1.0, 2.0]))
    ('Value', 3)
    """

    def __init__(self, nin: int, nouts: Sequence[int], activation: str = "relu"):
        _check_parameters(MLP.parameter_count(nin, nouts), f"MLP({nin}, {list(nouts)!r:.60})")
        self.nin = _check_size(nin, "MLP(nin)")
        self.nouts = [_check_size(n, "MLP(nouts) entries") for n in nouts]
        self.activation = _check_activation(activation)
        sizes = [nin, *self.nouts]
        last = len(self.nouts) - 1
        self.layers = [Layer(sizes[i], sizes[i + 1], activation if i < last else "linear") for i in range(len(self.nouts))]
        _name_parts(self.layers)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nouts": list(self.nouts), "activation": self.activation}

    @staticmethod
    def parameter_count(nin: int, nouts: Sequence[int], **settings: Any) -> int:
        """How many parameters ``MLP(nin, nouts, ...)`` has, worked out without building it."""
        sizes = [_check_size(nin, "MLP(nin)", capped=False),
                 *(_check_size(n, "MLP(nouts) entries", capped=False) for n in _check_sizes(nouts))]
        return sum(_linear_count(sizes[i], sizes[i + 1]) for i in range(len(nouts)))


def _check_sizes(nouts: Any) -> Sequence[Any]:
    if isinstance(nouts, (str, bytes, numbers.Number)) or not hasattr(nouts, "__len__") or not len(nouts):
        raise ValueError(f"MLP(nouts): expected a non-empty list of layer sizes, got {nouts!r:.60}")
    sizes: Sequence[Any] = nouts
    return sizes


def _linear_count(nin: int, nout: int) -> int:
    """The parameters of ``nout`` neurons reading ``nin`` inputs: a weight each, and a bias."""
    return nout * (nin + 1)


def softmax(scores: Sequence[Any]) -> list[Value]:
    """Probabilities from raw scores: e^s_i / Σ e^s_j, computed stably (the max is subtracted).

    >>> from autograd import Value
    >>> import nn
    >>> [round(p.data, 3) for p in nn.softmax([Value(2.0), Value(1.0), Value(0.1)])]
    [0.659, 0.242, 0.099]
    """
    values = [s if isinstance(s, Value) else autograd.constant(s, "softmax") for s in scores]
    if not values:
        raise ValueError("softmax: got no scores")
    top = autograd.detached_max(values)  # a shift that changes no value and passes no gradient
    exps = [(v - top).exp() for v in values]
    total = autograd.sum(exps)
    return [e / total for e in exps]
