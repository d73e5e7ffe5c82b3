"""Compile mode: trace a function of Values once, replay its graph with NumPy.

A training step builds a graph of the same shape every time. ``compile`` runs the function
once on Values (the *trace*), turns the graph into a *program* and replays that program with
NumPy on new numbers, forward and backward, without building any Value. The package reads in
the order of that pipeline:

1. ``trace.py``: run the function once on Values (``trace``), and read the traced graph into
   arrays (``read_graph``): each node's table entry, operands and level, and a fingerprint.
2. ``groups.py``: group the nodes of each level that apply the same table entry to the same
   number of operands: each group is one NumPy operation over an array of nodes (``Group``);
   with ``batch=True``, ``dot`` nodes whose weights are parameters and whose inputs are shared
   lists become one matrix product (``Layer``).
3. ``arrays.py``: forward and backward run **the table's own rules** (``ops.TABLE``) on arrays,
   through the ``ARRAYS`` namespace, as eager mode runs them on floats: no derivative is
   written twice.
4. ``program.py``: plan the groups over numbered slots and in eager's order of adding
   gradients (``sums.py``), and run them (``Program.run``). ``print(compiled.code)`` shows the
   program of the last call, one line per group.
5. ``function.py``: the compiled function (``Compiled``) keeps a program per shape of
   arguments and guards it: later calls trace again now and then and must build the same graph.

With ``batch=True`` the function describes ONE sample; the program is replayed over a whole
batch at once (every node holds a vector over the samples) and the loss is the mean over the
samples. Every gradient receives its contributions in eager's order (``sums.py``): a
whole-graph replay adds up gradients as eager does, overflow and cancellation included (bit
for bit where NumPy's functions round as Python's do); with a batch axis, the sums over the
samples and the matrix products add in NumPy's order (equal to rounding; near overflow, where
that order could give inf, -inf or a finite number where eager gives nan, the call is computed
eagerly: see ``sums.TAME``).

NumPy is imported when ``compile`` is first called (the steps import it), so the engine itself
never needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..engine import Value

if TYPE_CHECKING:
    from .function import Compiled

INSTALL_HINT = "pip install numpy (or: pip install 'chainrule[compile]')"
CHECKED_SAMPLES = 8  # with batch=True, the first two calls of a shape trace this many samples again
# The guard's cadence: after the second call of a shape, every CHECK_EVERY-th call traces the
# function again. A re-trace costs about as much as tens of replayed steps, so checks are rare.
CHECK_EVERY = 1000
BACKENDS = ("numpy", "jax")  # how a program runs: NumPy replays it, or JAX jits it for XLA (xla.py)


class CompileError(RuntimeError):
    """Compiled mode cannot run this function (or this mode) correctly: run it eagerly."""


class PickIndexError(CompileError, IndexError):
    """A traced index of ``pick`` out of range or not whole: an IndexError, as eager raises."""


class Result(NamedTuple):
    """What a compiled function returns: the output's number (the mean over the samples with
    ``batch=True``), d output / d parameter for each parameter, in ``parameters`` order, and
    the numbers of the aux Values (when ``fn`` returned ``(result, aux)``; one entry per sample
    with ``batch=True``)."""

    value: float
    grads: list[float]
    aux: Any = None


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as error:
        raise ModuleNotFoundError(
            f"autograd.compile replays graphs with NumPy, which is not installed: {INSTALL_HINT}; "
            "everything else in autograd works without it"
        ) from error
    return numpy


def compile(  # noqa: A001  (autograd.compile, like torch.compile)
    fn: Callable[..., Any],
    parameters: Sequence[Value],
    *,
    batch: bool = False,
    penalty: Callable[[], Any] | None = None,
    check_every: int = CHECK_EVERY,
    backend: str = "numpy",
) -> Compiled:
    """Compile ``fn`` (a function of Values returning one Value) into a replayed NumPy program.

    Call the result with numbers where ``fn`` takes Values (a number or nested lists of numbers
    per argument): it returns ``Result(value, grads, aux)``, ``fn``'s value and d value / d p
    for each of ``parameters`` (read from their ``.data`` at each call; no ``.grad`` is
    touched). ``fn`` may return ``(result, aux)``, aux a Value or a list of Values of the
    result's graph (a model's outputs, say): ``aux`` then holds their numbers.
    The first call of each shape of arguments traces ``fn`` once; later calls replay the
    program.

    ``batch=True``: ``fn`` describes ONE sample; each argument is a list over the samples, and
    the result is the mean of ``fn`` over them, plus ``penalty()`` (a function of the
    parameters only, e.g. an L2 term), with its gradients. Any number of samples, no retrace.

    Guard: the second call of each shape, and every ``check_every``-th after it (default
    ``CHECK_EVERY``, 1000), traces ``fn``
    again and raises ``CompileError`` if the graph differs, which a branch on the data
    (``if v.data > 0:``) makes it do. With ``batch=True`` the first two calls check up to 8
    samples of the batch (picked at random, seeded), later checked calls one sample. A call that
    raises while it traces does not count: the next call makes its check. Needs NumPy.

    >>> import autograd
    >>> from autograd import Parameter
    >>> w = Parameter(2.0)
    >>> step = autograd.compile(lambda x: (w * x).tanh(), [w])
    >>> result = step(0.5)
    >>> round(result.value, 6), round(result.grads[0], 6)
    (0.761594, 0.209987)
    """
    _numpy()
    if not callable(fn):
        raise TypeError(f"autograd.compile: expected a function of Values, got {type(fn).__name__}")
    if isinstance(parameters, Value) or not isinstance(parameters, Sequence):
        raise TypeError("autograd.compile: parameters must be a list of Values (e.g. model.parameters())")
    for i, p in enumerate(parameters):
        if not isinstance(p, Value) or p._edges:
            raise TypeError(f"autograd.compile: parameters[{i}] must be a leaf Value, got {p!r}")
    if penalty is not None and not batch:
        raise TypeError("autograd.compile: penalty= goes with batch=True (without it, add the term inside fn)")
    if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 0:
        raise ValueError(f"autograd.compile: check_every must be a whole number >= 0, got {check_every!r}")
    if backend not in BACKENDS:
        raise ValueError(f"autograd.compile: backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if backend == "jax":
        from .xla import jax_modules

        jax_modules()
    from .function import Compiled

    return Compiled(fn, parameters, batch, penalty, check_every, backend)


def __getattr__(name: str) -> Any:
    """The steps' public names (``autograd.compiled.Compiled``, ``.Program``, ...), imported
    on first use: importing ``autograd`` must not import NumPy."""
    if name in _LAZY:
        _numpy()
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LAZY = {"Compiled": "function", "Program": "program", "Group": "groups", "Layer": "groups", "ARRAYS": "arrays"}

__all__ = ["compile", "Compiled", "CompileError", "Result", "INSTALL_HINT", "CHECK_EVERY", "BACKENDS"]
