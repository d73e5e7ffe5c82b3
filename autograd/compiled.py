"""Compile mode: trace a function of Values once, replay its graph with NumPy.

A training step builds a graph of the same shape every time. ``compile`` runs the function
once on Values (the *trace*), turns the graph into a *program* and replays that program with
NumPy on new numbers, forward and backward, without building any Value:

* the program lists the graph's nodes level by level (a node's level is one more than its
  deepest operand's), and within a level groups the nodes that apply the same table entry to
  the same number of operands: each group is one NumPy operation over a whole array of nodes;
* forward and backward run **the table's own rules** (``ops.TABLE``) on arrays, through the
  ``ARRAYS`` namespace below, as eager mode runs them on floats: no derivative is written twice;
* with ``batch=True`` the function describes ONE sample; the program is replayed over a whole
  batch at once (every node holds a vector over the samples) and the loss is the mean over the
  samples; ``dot`` nodes whose weights are parameters and whose inputs are one shared list
  become matrix products.

NumPy is imported when ``compile`` is first called, so the engine itself never needs it.
"""

from __future__ import annotations

import builtins
import operator
import random
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from . import ops
from .engine import Value, topological_order
from .modes import gc_paused, modes

np: Any = None  # NumPy, imported by _numpy() on first use

INSTALL_HINT = "pip install numpy (or: pip install 'chainrule[compile]')"
CHECKED_SAMPLES = 8  # with batch=True, the first two calls of a shape trace this many samples again


class CompileError(RuntimeError):
    """Compiled mode cannot run this function (or this mode) correctly: run it eagerly."""


def _numpy() -> Any:
    global np
    if np is None:
        try:
            import numpy
        except ImportError as error:
            raise ModuleNotFoundError(
                f"autograd.compile replays graphs with NumPy, which is not installed: {INSTALL_HINT}; "
                "everything else in autograd works without it"
            ) from error
        np = numpy
    return np


# --- the array namespace: the table's rules on whole arrays of nodes ---------------------

class Masked(NamedTuple):
    """A local derivative that is 0 where ``mask`` holds *whatever the gradient is*
    (``ops.MASKED_ZERO`` on arrays): the backward pass uses ``where(mask, 0, values * g)``."""

    mask: Any
    values: Any


class Arrays:
    """The namespace of compile mode: the same functions as ``ops.FLOATS``, on NumPy arrays
    (one element per node of a group, or per node and sample), with the same IEEE-754 results
    (``1/0 = inf``, ``log(0) = -inf``). Replays run under ``np.errstate(all="ignore")``:
    infinities and nans are results here, not warnings."""

    add = staticmethod(operator.add)
    sub = staticmethod(operator.sub)
    mul = staticmethod(operator.mul)
    neg = staticmethod(operator.neg)

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        return np.true_divide(a, b)

    @staticmethod
    def pow(a: Any, b: Any) -> Any:
        return np.power(a, b)  # C's pow, as ops.power

    @staticmethod
    def pow_const(a: Any, b: float) -> Any:
        # b is one number for a whole group (the program groups x ** c by c): PyTorch's forms
        if b == 2.0:
            return a * a
        if b == 3.0:
            return a * a * a
        if b == -1.0:
            return np.true_divide(1.0, a)
        if b == -2.0:
            return np.true_divide(1.0, a * a)
        if b == 0.5:
            return np.sqrt(a)
        if b == -0.5:
            return np.true_divide(1.0, np.sqrt(a))
        return np.power(a, b)

    exp = staticmethod(lambda a: np.exp(a))
    log = staticmethod(lambda a: np.log(a))
    log1p = staticmethod(lambda a: np.log1p(a))
    sqrt = staticmethod(lambda a: np.sqrt(a))
    tanh = staticmethod(lambda a: np.tanh(a))
    abs = staticmethod(lambda a: np.abs(a))

    @staticmethod
    def sigmoid(a: Any) -> Any:
        # ops.sigmoid's two forms, so that exp never overflows
        e = np.exp(np.where(a >= 0, -a, a))
        return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    @staticmethod
    def relu(a: Any) -> Any:
        return np.where(a < 0, 0.0, a)  # -0.0 and nan pass through, as ops.relu

    @staticmethod
    def sum(*xs: Any) -> Any:
        return np.add.reduce(np.asarray(xs), axis=0, initial=0.0)  # 0.0 + ..., maybe in another order

    @staticmethod
    def dot(*operands: Any) -> Any:
        n = len(operands) // 2
        total = builtins.sum(map(operator.mul, operands[:n], operands[n : 2 * n]))  # ops.dot's order
        return total + operands[-1] if len(operands) % 2 else total

    @staticmethod
    def pick(*operands: Any) -> Any:
        index, n = operands[-1], len(operands) - 1
        if not ((index >= 0) & (index < n) & (index == np.floor(index))).all():  # ops.pick's check
            raise IndexError(f"pick: an index is not a whole number from 0 to {n - 1}")
        return np.take_along_axis(np.stack(operands[:-1]), index[None].astype(np.intp), axis=0)[0]

    @staticmethod
    def onehot(index: Any, n: int) -> tuple[Masked, ...]:
        return tuple(Masked(index != k, np.where(index == k, 1.0, 0.0)) for k in range(n))  # ops.onehot

    @staticmethod
    def detached_max(*xs: Any) -> Any:
        return np.maximum.reduce(xs)  # nan if one is nan; of equal ones the later, as ops.largest

    @staticmethod
    def sign(a: Any) -> Any:
        return np.where(a > 0, 1.0, np.where(a < 0, -1.0, 0.0))  # nan gives 0, as ops.sign

    @staticmethod
    def step(y: Any) -> Masked:
        mask = y <= 0  # ops.step: a masked zero where relu is off, 1 elsewhere (nan included)
        return Masked(mask, np.where(mask, 0.0, 1.0))

    @staticmethod
    def number(x: Any) -> Any:
        return x

    @staticmethod
    def where(condition: Any, value: Any, rule: Callable[[], Any]) -> Any:
        if value is ops.MASKED_ZERO:
            return Masked(condition, np.where(condition, 0.0, rule()))
        return np.where(condition, value, rule())


    @staticmethod
    def bce(p: Any, y: Any) -> Any:  # ops.bce: np.maximum keeps nan, as max does
        return (y - 1.0) * np.maximum(np.log1p(-p), ops.BCE_LOG_FLOOR) - y * np.maximum(np.log(p), ops.BCE_LOG_FLOOR)

ARRAYS = Arrays()


# --- the program ---------------------------------------------------------------------------

class Group(NamedTuple):
    """Nodes of one level that apply the same table entry to the same number of operands."""

    op: ops.Op
    out: slice  # the slots of the nodes
    operands: Any  # (k, arity) slots of their operands
    gather: Any  # how to read them, arity-major: a slice when they are consecutive slots, else operands.T
    exponent: float | None  # for x ** c: the constant c, shared by the group
    matmul: tuple[Any, ...] | None  # batch mode: weight slots (k, n), input slots (n,), bias slots (k,) or None, distinct
    distinct: bool  # no slot appears twice among the operands: gradients add with a plain +=
    cache: dict[Any, Any]  # the local derivatives, when the rule gives numbers that do not depend on the operands


class Trace(NamedTuple):
    order: list[Value]
    inputs: list[Value]
    aux: Any  # None, or the Value or list of Values that fn returned beside its result


class Program:
    """A traced graph as a list of groups over numbered slots: slots ``0..P-1`` hold the
    parameters, then the inputs, then the other leaves (constants, Values captured from
    outside the function), then the computed nodes, group by group (each group's nodes in
    consecutive slots), the groups in level order: a node comes after its operands."""

    def __init__(self, trace: Trace, params: list[Value], batch: bool):
        order, inputs = trace.order, trace.inputs
        slot: dict[Value, int] = {}
        for i, v in enumerate(params):
            slot[v] = i
        for v in inputs:
            slot.setdefault(v, len(slot))
        leaves = other_leaves(order, slot)
        for v in leaves:
            slot[v] = len(slot)
        for v in order:
            if not v._edges and v.is_parameter and slot[v] >= len(params):
                raise CompileError(
                    f"the function uses a parameter ({v!r}) that is not among the {len(params)} "
                    "parameters passed to compile; pass all of them (e.g. model.parameters())"
                )
        self.batch = batch
        self.groups = self._groups(order, slot, set(params))  # numbers the computed nodes, group by group
        self.size = len(slot)
        read = [g.operands.reshape(-1) if g.matmul is None else g.matmul[1] for g in self.groups]
        read.append(np.array([slot[order[-1]]]))  # slots read in every sample's column (not only the first)
        self.params_per_sample = bool((np.concatenate(read) < len(params)).any())
        self.n_params = len(params)
        self.n_inputs = len(inputs)
        self.leaves = leaves
        constants = [v for v in leaves if v.is_constant]
        self.constants = np.array([v.data for v in constants], dtype=float)
        self.captured = leaves[len(constants):]  # Values from outside fn: their numbers are read at each call
        self.root = slot[order[-1]]
        aux = [] if trace.aux is None else [trace.aux] if isinstance(trace.aux, Value) else list(trace.aux)
        if any(v not in slot for v in aux):
            raise CompileError("the values returned beside the result (aux) must be nodes of the result's graph")
        self.aux = None if trace.aux is None else (isinstance(trace.aux, Value), np.array([slot[v] for v in aux], dtype=np.intp))
        self.fingerprint = fingerprint(trace, params)
        self.buffers: tuple[Any, Any] | None = None  # the node values and gradients of the last run

    def _groups(self, order: list[Value], slot: dict[Value, int], params: set[Value]) -> list[Group]:
        level: dict[Value, int] = {}
        buckets: dict[tuple[Any, ...], list[Value]] = {}
        for v in order:
            edges = v._edges
            if not edges:
                level[v] = 0
                continue
            operands = edges[: len(edges) // 2]
            level[v] = lv = 1 + max(level[c] for c in operands)
            op = v._info.op
            exponent = operands[1].data if op is ops.POW_CONST else None
            key = (lv, id(op), len(operands), exponent if exponent is None or exponent == exponent else "nan")
            buckets.setdefault(key, []).append(v)
        groups = []
        for (_, _, arity, _), nodes in sorted(buckets.items(), key=lambda item: item[0][:3]):
            op = nodes[0]._info.op
            operands = np.array([[slot[c] for c in v._edges[:arity]] for v in nodes], dtype=np.intp).reshape(len(nodes), arity)
            out = slice(len(slot), len(slot) + len(nodes))  # a group's nodes get consecutive slots: a slice, no copy
            for v in nodes:
                slot[v] = len(slot)
            exponent = nodes[0]._edges[1].data if op is ops.POW_CONST else None
            matmul = self._matmul(nodes, arity, slot, params) if self.batch and op is ops.DOT else None
            groups.append(Group(op, out, operands, _gather(operands), exponent, matmul, _distinct(operands), {}))
        return groups

    @staticmethod
    def _matmul(nodes: list[Value], arity: int, slot: dict[Value, int], params: set[Value]) -> tuple[Any, ...] | None:
        """dot nodes whose weights (and bias) are parameters and whose inputs are one shared
        list: in batch mode, one matrix product ``W @ X + b`` over all samples."""
        n = arity // 2
        xs = nodes[0]._edges[n : 2 * n]
        for v in nodes:
            e = v._edges
            if e[n : 2 * n] != xs or not all(w in params for w in e[:n]) or (arity % 2 and e[2 * n] not in params):
                return None
        weights = np.array([[slot[w] for w in v._edges[:n]] for v in nodes], dtype=np.intp)
        bias = np.array([slot[v._edges[2 * n]] for v in nodes], dtype=np.intp) if arity % 2 else None
        inputs = np.array([slot[x] for x in xs], dtype=np.intp)
        distinct = _distinct(weights) and _distinct(inputs) and (bias is None or _distinct(bias))
        return weights, inputs, bias, distinct

    def run(self, params: Any, inputs: Any, seed: float, width: int | None) -> tuple[Any, Any, Any]:
        """The output (one number, or one per sample), every parameter's gradient and the aux
        values (one row per aux Value; ``None`` without them).
        ``params`` is a (P,) array; ``inputs`` (I,) or, over ``width`` samples, (I, width)."""
        shape = (self.size,) if width is None else (self.size, width)
        if self.buffers is None or self.buffers[0].shape != shape:
            self.buffers = (np.empty(shape), np.empty(shape))  # reused: fresh pages cost more than the replay
        vals, grads = self.buffers
        grads.fill(0.0)
        P, end = self.n_params, self.n_params + self.n_inputs
        if width is None or self.params_per_sample:
            vals[:P] = params.reshape((P,) + (1,) * (len(shape) - 1))  # the same in every sample's column
        else:  # only matrix products read parameters, from the first column
            vals[:P, 0] = params
        vals[P:end] = inputs
        column = (1,) * (len(shape) - 1)
        vals[end : end + len(self.constants)] = self.constants.reshape((-1,) + column)
        end += len(self.constants)
        vals[end : end + len(self.captured)] = np.array([v.data for v in self.captured], dtype=float).reshape(
            (-1,) + column)
        param_grads = np.zeros(P)  # what matrix products give the parameters (already summed over samples)
        with np.errstate(all="ignore"):
            derivatives = [self._forward(g, vals) for g in self.groups]
            grads[self.root] = seed
            for g, locals_ in zip(reversed(self.groups), reversed(derivatives)):
                self._backward(g, locals_, vals, grads, param_grads)
        if width is None:
            total = grads[:P]
        else:
            total = grads[:P].sum(axis=1) if self.params_per_sample else 0.0
        aux = None if self.aux is None else vals[self.aux[1]].copy()
        return vals[self.root].copy(), total + param_grads, aux

    @staticmethod
    def _forward(g: Group, vals: Any) -> Any:
        if g.matmul is not None:
            weights, xs, bias, _ = g.matmul
            W, X = vals[weights, 0], vals[xs]  # parameters: the same in every sample's column, read from the first
            out = W @ X
            if bias is not None:
                out += vals[bias, 0][:, None]
            vals[g.out] = out
            return W, X
        operands = list(vals[g.gather].reshape(g.operands.shape[::-1] + vals.shape[1:]))  # one (k[, width]) per operand
        if g.exponent is not None:
            operands[1] = g.exponent  # x ** c: the rules see the number c, as on floats
        out = g.op.forward(ARRAYS, *operands)
        vals[g.out] = out
        return g.op.derivative(ARRAYS, out, *operands)

    @staticmethod
    def _backward(g: Group, locals_: Any, vals: Any, grads: Any, param_grads: Any) -> None:
        upstream = grads[g.out]
        if g.matmul is not None:
            weights, xs, bias, distinct = g.matmul
            W, X = locals_
            add_at(param_grads, weights, upstream @ X.T, distinct)  # d/dW = g x^T, summed over samples
            add_at(grads, xs, W.T @ upstream, distinct)  # d/dx = W^T g
            if bias is not None:
                add_at(param_grads, bias, upstream.sum(axis=1), distinct)
            return
        factors = g.cache.get("factors")
        if factors is None and all(type(local) is float for local in locals_):  # + - sum: numbers
            factors = g.cache["factors"] = np.array(locals_).reshape((1, -1) + (1,) * (upstream.ndim - 1))
        if factors is not None:
            contributions = factors * upstream[:, None]
        elif len(locals_) == 1:
            contributions = _contribution(locals_[0], upstream)[:, None]
        else:
            contributions = np.stack([_contribution(local, upstream) for local in locals_], axis=1)
        if g.exponent is not None:
            contributions[:, 1] = 0.0  # the constant exponent gets no gradient
        if isinstance(g.gather, slice):
            grads[g.gather] += contributions.swapaxes(0, 1).reshape((-1,) + upstream.shape[1:])
        else:
            add_at(grads, g.operands, contributions, g.distinct)


def _gather(operands: Any) -> Any:
    flat = operands.T.reshape(-1)
    if flat.size and np.array_equal(flat, np.arange(flat[0], flat[0] + flat.size)):
        return slice(int(flat[0]), int(flat[0]) + flat.size)
    return operands.T


def _distinct(slots: Any) -> bool:
    return bool(len(np.unique(slots)) == slots.size)


def add_at(target: Any, slots: Any, values: Any, distinct: bool) -> None:
    """``target[slots] += values``, adding every value even where a slot repeats."""
    if distinct:
        target[slots] += values
    else:
        np.add.at(target, slots, values)


def _contribution(local: Any, upstream: Any) -> Any:
    """local derivative × incoming gradient, where a masked zero stays 0 even times inf or nan."""
    if isinstance(local, Masked):
        return np.where(local.mask, 0.0, local.values * upstream)
    if local is ops.MASKED_ZERO:
        return np.zeros_like(upstream)
    product = local * upstream
    return product if product.shape == upstream.shape else np.broadcast_to(product, upstream.shape)


def other_leaves(order: list[Value], known: Any) -> list[Value]:
    """The leaves that are neither parameters nor inputs (constants, Values captured from
    outside the function), constants first (their numbers are read once), each kind in order."""
    leaves = [v for v in order if not v._edges and v not in known]
    return [v for v in leaves if v.is_constant] + [v for v in leaves if not v.is_constant]


def same_numbers(xs: Sequence[float], ys: Sequence[float]) -> bool:
    return len(xs) == len(ys) and all(x == y or (x != x and y != y) for x, y in zip(xs, ys))


def fingerprint(trace: Trace, params: list[Value]) -> tuple[Any, ...]:
    """The structure of a traced graph: each node's operation and operand positions, and which
    leaves are parameters, inputs or other leaves. Two traces with equal fingerprints, whose
    other leaves hold equal numbers, give the same program."""
    position: dict[Value, int] = {}
    known = {v: ("p", i) for i, v in enumerate(params)}
    for i, v in enumerate(trace.inputs):
        known.setdefault(v, ("x", i))
    parts: list[Any] = []
    for v in trace.order:
        position[v] = len(position)
        edges = v._edges
        if edges:
            operands = edges[: len(edges) // 2]
            parts.append((v._info.op.name, id(v._info.op), tuple(position[c] for c in operands)))
        elif v in known:
            parts.append(known[v])
        else:
            parts.append(("c", v.is_constant))
    aux = [] if trace.aux is None else [trace.aux] if isinstance(trace.aux, Value) else list(trace.aux)
    parts.append(("aux", tuple(position.get(v, -1) for v in aux)))
    return tuple(parts)


# --- compile: the user's entry point -----------------------------------------------------

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
    except (TypeError, ValueError):
        raise TypeError(f"{what}: expected numbers or (nested) lists of numbers, got {type(structure).__name__}") from None
    return [v], v


def _numbers(structure: Any) -> list[float]:
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in _numbers(item)]
    return [float(structure)]


def _shape(structure: Any) -> Any:
    if isinstance(structure, (list, tuple)):
        return tuple(_shape(s) for s in structure)
    return None


class Result(NamedTuple):
    """What a compiled function returns: the output's number (the mean over the samples with
    ``batch=True``), d output / d parameter for each parameter, in ``parameters`` order, and
    the numbers of the aux Values (when ``fn`` returned ``(result, aux)``; one entry per sample
    with ``batch=True``)."""

    value: float
    grads: list[float]
    aux: Any = None


class Compiled:
    """A function of Values compiled by ``autograd.compile``: call it with numbers."""

    def __init__(self, fn: Callable[..., Any], parameters: Sequence[Value], batch: bool, penalty: Any, check_every: int):
        self.fn = fn
        self.parameters = list(parameters)
        self.batch = batch
        self.check_every = check_every
        self.programs: dict[Any, Program] = {}
        self.calls: dict[Any, int] = {}
        self.penalty = None if penalty is None else Compiled(penalty, parameters, False, None, check_every)

    def __repr__(self) -> str:
        return (f"Compiled({getattr(self.fn, '__name__', 'fn')}, {len(self.parameters)} parameters, "
                f"batch={self.batch}, {len(self.programs)} program(s))")

    def _trace(self, args: Sequence[Any]) -> Trace:
        if not modes().grad_enabled:
            raise CompileError("autograd.compile cannot trace under no_grad(): call the compiled function outside it")
        inputs: list[Value] = []
        built = []
        for i, a in enumerate(args):
            vs, b = _leaves_of(a, f"compiled function, argument {i + 1}")
            inputs += vs
            built.append(b)
        with gc_paused():
            out, aux = self.fn(*built), None
            if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], Value):
                out, aux = out
                if not (isinstance(aux, Value) or isinstance(aux, (list, tuple)) and all(isinstance(v, Value) for v in aux)):
                    raise TypeError("autograd.compile: the function returned (result, aux): aux must be a Value or a list of Values")
            if not isinstance(out, Value):
                raise TypeError(f"autograd.compile: the function must return one Value, got {type(out).__name__}")
            return Trace(topological_order(out), inputs, aux)

    def __call__(self, *args: Any, create_graph: bool = False) -> Result:
        """The function's value and the gradients of the parameters at these numbers."""
        _numpy()
        if create_graph:
            raise CompileError("create_graph is not supported in compiled mode (it returns numbers, not a graph): "
                               "call the function on Values and use backward(create_graph=True) eagerly")
        if modes().anomaly:
            raise CompileError("detect_anomaly is not supported in compiled mode: call the function on Values and "
                               "run backward() eagerly inside detect_anomaly() to find where a nan or inf appears")
        value, grads, aux = self.evaluate(args, np.array([p.data for p in self.parameters], dtype=float))
        return Result(float(value), grads.tolist(), aux)

    def evaluate(self, args: Sequence[Any], params: Any) -> tuple[float, Any, Any]:
        """The value, the gradients (an array) and the aux numbers at parameter values
        ``params`` (an array): what a compiled training loop calls, its parameters kept in
        one array."""
        with np.errstate(all="ignore"):  # infinities and nans are results, as in eager mode
            if self.batch:
                value, grads, aux = self._batch_call(args, params)
            else:
                value, grads, aux = self._whole_call(args, params)
            if self.penalty is not None:
                extra, extra_grads, _ = self.penalty.evaluate((), params)
                value, grads = value + extra, grads + extra_grads
        return value, grads, aux

    def _program(self, key: Any, samples: Sequence[Sequence[Any]]) -> Program:
        """The cached program for ``key``, traced on ``samples[0]`` the first time. On checked
        calls the function is traced again on the samples and must build the same graph."""
        calls = self.calls[key] = self.calls.get(key, 0) + 1
        program = self.programs.get(key)
        to_check = samples
        if program is None:
            program = self.programs[key] = Program(self._trace(samples[0]), self.parameters, self.batch)
            to_check = samples[1:]
        elif not (calls <= 2 or (self.check_every and calls % self.check_every == 0)):
            to_check = []
        for sample in to_check:
            trace = self._trace(sample)
            known = set(self.parameters).union(trace.inputs)
            if fingerprint(trace, self.parameters) != program.fingerprint or not same_numbers(
                    [v.data for v in other_leaves(trace.order, known)], [v.data for v in program.leaves]):
                del self.programs[key]  # a later call traces afresh, and is checked again
                raise CompileError(
                    "the function built a different graph on other numbers of the same shape (its structure "
                    "depends on the data, e.g. `if v.data > 0:` or a number read from .data): a replayed graph "
                    "would give wrong results. Express the branch with operations (relu, abs, where-free "
                    "arithmetic) or run it eagerly"
                )
        return program

    def _whole_call(self, args: Sequence[Any], params: Any) -> tuple[Any, Any, Any]:
        program = self._program(_shape(args), [args])
        value, grads, aux = program.run(params, np.array(_numbers(args), dtype=float), 1.0, None)
        return value, grads, _aux_numbers(program, aux)

    def _batch_call(self, args: Sequence[Any], params: Any) -> tuple[Any, Any, Any]:
        if not args:
            raise TypeError("compile(batch=True): call it with one or more arguments, each a list over the samples")
        sizes = {len(a) if isinstance(a, (list, tuple)) or hasattr(a, "shape") else -1 for a in args}
        if len(sizes) != 1 or min(sizes) < 1:
            raise ValueError("compile(batch=True): every argument must be a non-empty list over the same samples")
        (width,) = sizes
        columns = [np.asarray(a, dtype=float).reshape(width, -1) for a in args]
        inputs = np.concatenate(columns, axis=1).T  # (inputs of one sample, samples)
        key = tuple(c.shape[1] for c in columns)
        calls = self.calls.get(key, 0)
        if calls < 2:  # the first two calls check up to CHECKED_SAMPLES samples picked at random (seeded)
            picks = random.Random(calls).sample(range(width), min(width, CHECKED_SAMPLES))
        else:  # later checked calls: one sample, a different one each time
            picks = [calls % width]
        program = self._program(key, [[_as_lists(a[i]) for a in args] for i in picks])
        out, grads, aux = program.run(params, inputs, 1.0 / width, width)
        return out.sum() / width, grads, None if aux is None else [_aux_numbers(program, a) for a in aux.T]


def _aux_numbers(program: Program, aux: Any) -> Any:
    if aux is None or program.aux is None:
        return None
    return float(aux[0]) if program.aux[0] else aux.tolist()


def _as_lists(x: Any) -> Any:
    return x.tolist() if hasattr(x, "tolist") else x


def compile(  # noqa: A001  (autograd.compile, like torch.compile)
    fn: Callable[..., Any],
    parameters: Sequence[Value],
    *,
    batch: bool = False,
    penalty: Callable[[], Any] | None = None,
    check_every: int = 100,
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

    Guard: the second call of each shape, and every ``check_every``-th after it, traces ``fn``
    again and raises ``CompileError`` if the graph differs, which a branch on the data
    (``if v.data > 0:``) makes it do. With ``batch=True`` the first two calls check up to 8
    samples of the batch (picked at random, seeded), later checked calls one sample. Needs NumPy.

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
    return Compiled(fn, parameters, batch, penalty, check_every)


__all__ = ["compile", "Compiled", "CompileError", "Result", "ARRAYS", "INSTALL_HINT"]
