"""Step 1 of compile mode (see ``autograd.compiled``): trace the function once on
Values, then read the traced graph into arrays (``Graph``), with the fingerprint the guard compares.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import ops
from ..engine import Value, topological_order
from ..modes import gc_paused


class Trace(NamedTuple):
    """A function's graph, traced: its nodes in topological order, the Values made for the
    numbers of its arguments, and the aux Values it returned beside its result."""

    order: list[Value]
    inputs: list[Value]
    aux: Any  # None, or the Value or list of Values that fn returned beside its result


class Graph(NamedTuple):
    """A traced graph as lists, from one pass over its nodes in trace order: what a program is
    planned from, and (``fingerprint``) the structure the guard compares."""

    table: list[Any]  # each node's table entry (None for a leaf)
    kinds: Any  # (array) the same as numbers (CODES)
    arity: Any  # (array) each node's number of operands
    operands: Any  # (array) the positions in the trace of every node's operands, node after node
    level: Any  # (array) 0 for a leaf, else one more than its deepest operand's
    position: dict[Value, int]
    fingerprint: tuple[Any, ...]


CODES = {op: k for k, op in enumerate((None, *ops.TABLE.values()))}  # the table's entries as numbers (None: a leaf)


def trace(fn: Callable[..., Any], args: Sequence[Any]) -> Trace:
    """Run ``fn`` once on Values holding the numbers of ``args``."""
    inputs, built = values_for(args)
    with gc_paused():
        out, aux = split_result(fn(*built))
        return Trace(topological_order(out), inputs, aux)


def parameter_kinds(params: Sequence[Value]) -> dict[Value, tuple[str, int]]:
    return {v: ("p", i) for i, v in enumerate(params)}


def read_graph(traced: Trace, params: dict[Value, tuple[str, int]]) -> Graph:
    """Each node's operation and operands' positions, and which leaves are parameters
    (``params``: see parameter_kinds), inputs or other leaves: two traces with equal
    fingerprints, whose other leaves hold equal numbers, give the same program."""
    inputs: dict[Value, tuple[str, int]] = {}
    for i, v in enumerate(traced.inputs):
        inputs.setdefault(v, ("x", i))
    position: dict[Value, int] = {}
    table: list[Any] = []
    arity: list[int] = []
    operands: list[int] = []
    level: list[int] = []
    leaves: list[Any] = []
    for i, v in enumerate(traced.order):
        position[v] = i
        edges = v._edges
        if edges:  # (itemgetter looks up all the operands in one call)
            n = len(edges) >> 1
            if n == 1:
                mine: Any = (position[edges[0]],)
                level.append(1 + level[mine[0]])
            else:
                mine = operator.itemgetter(*edges[:n])(position)
                level.append(1 + max(operator.itemgetter(*mine)(level)))
            operands += mine
            table.append(v._info.op)
            arity.append(n)
        else:
            leaves.append(params.get(v) or inputs.get(v) or ("c", v.is_constant))
            level.append(0)
            table.append(None)
            arity.append(0)
    aux = [] if traced.aux is None else [traced.aux] if isinstance(traced.aux, Value) else list(traced.aux)
    arities = np.fromiter(arity, dtype=np.intp, count=len(arity))
    positions = np.fromiter(operands, dtype=np.intp, count=len(operands))
    kinds = np.fromiter(map(CODES.__getitem__, table), dtype=np.intp, count=len(table))
    fingerprint = (kinds.tobytes(), arities.tobytes(), positions.tobytes(), tuple(leaves),
                   tuple(position.get(v, -1) for v in aux))
    return Graph(table, kinds, arities, positions, np.fromiter(level, dtype=np.intp, count=len(level)),
                 position, fingerprint)


def other_leaves(order: list[Value], known: Any) -> list[Value]:
    """The leaves (of ``order``, some nodes in trace order) that are neither parameters nor inputs (constants, Values captured from
    outside the function), constants first (their numbers are read once), each kind in order."""
    leaves = [v for v in order if not v._edges and v not in known]
    return [v for v in leaves if v.is_constant] + [v for v in leaves if not v.is_constant]


def same_numbers(xs: Sequence[float], ys: Sequence[float]) -> bool:
    return len(xs) == len(ys) and all(x == y or (x != x and y != y) for x, y in zip(xs, ys))


def _leaves_of(structure: Any, what: str) -> tuple[list[Value], Any]:
    """Values for the numbers of ``structure`` (a number, or nested lists/tuples of numbers),
    in order, and the same structure holding them."""
    if isinstance(structure, (list, tuple)):
        values: list[Value] = []
        items = []
        for item in structure:
            vs, built = _leaves_of(item, what)
            values += vs
            items.append(built)
        return values, type(structure)(items) if isinstance(structure, tuple) else items
    if isinstance(structure, Value):
        raise TypeError(f"{what}: pass plain numbers (the compiled function makes the Values), got a Value")
    try:
        v = Value(float(structure))
    except OverflowError:
        raise OverflowError(f"{what}: a number too large for a float (at most about 1.8e308 in magnitude); "
                            "scale it down") from None
    except (TypeError, ValueError):
        raise TypeError(f"{what}: expected numbers or (nested) lists of numbers, got {type(structure).__name__}") from None
    return [v], v






def values_for(args: Sequence[Any]) -> tuple[list[Value], list[Any]]:
    """Values for the numbers of the arguments (in order), and the arguments holding them."""
    inputs: list[Value] = []
    built = []
    for i, a in enumerate(args):
        vs, b = _leaves_of(a, f"compiled function, argument {i + 1}")
        inputs += vs
        built.append(b)
    return inputs, built


def split_result(out: Any) -> tuple[Value, Any]:
    """What ``fn`` returned, as (result, aux): aux None, a Value or a list of Values."""
    aux = None
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], Value):
        out, aux = out
        if not (isinstance(aux, Value) or isinstance(aux, (list, tuple)) and all(isinstance(v, Value) for v in aux)):
            raise TypeError("autograd.compile: the function returned (result, aux): aux must be a Value or a list of Values")
    if not isinstance(out, Value):
        raise TypeError(f"autograd.compile: the function must return one Value, got {type(out).__name__}")
    return out, aux
