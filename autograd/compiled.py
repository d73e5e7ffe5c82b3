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
  samples; ``dot`` nodes whose weights are parameters and whose inputs are shared lists
  become matrix products;
* every gradient receives its contributions in eager's order (see "Eager's order" below): a
  whole-graph replay adds up gradients as eager does, overflow and cancellation included (bit
  for bit where NumPy's functions round as Python's do); with a batch axis, the sums over the
  samples and the matrix products add in NumPy's order (equal to rounding; near overflow,
  where that order could give inf, -inf or a finite number where eager gives nan, the call is
  computed eagerly: see TAME).

NumPy is imported when ``compile`` is first called, so the engine itself never needs it.
"""

from __future__ import annotations

import contextlib
import operator
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from . import ops
from .engine import Value, grad, topological_order
from .engine import sum as engine_sum
from .modes import enable_grad, gc_paused, modes

np: Any = None  # NumPy, imported by _numpy() on first use

INSTALL_HINT = "pip install numpy (or: pip install 'chainrule[compile]')"
CHECKED_SAMPLES = 8  # with batch=True, the first two calls of a shape trace this many samples again
# The guard's cadence: after the second call of a shape, every CHECK_EVERY-th call traces the
# function again. A re-trace costs about as much as tens of replayed steps, so checks are rare.
CHECK_EVERY = 1000


class CompileError(RuntimeError):
    """Compiled mode cannot run this function (or this mode) correctly: run it eagerly."""


class PickIndexError(CompileError, IndexError):
    """A traced index of ``pick`` out of range or not whole: an IndexError, as eager raises."""


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
    (``ops.MASKED_ZERO`` on arrays) and ``values`` (maybe one number) elsewhere: the backward
    pass uses ``where(mask, 0, values * g)``. ``rows``, when set, says that ``mask`` is row
    ``i`` of a 2-D array ``masks`` (``onehot``'s): ``(masks, i)``, so that a backward pass
    multiplies a run of such columns in one call (see _times_columns)."""

    mask: Any
    values: Any
    rows: tuple[Any, int] | None = None  # (masks, i)


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
        return Arrays.sum_of_rows(np.array(xs))

    @staticmethod
    def dot(*operands: Any) -> Any:
        return Arrays.dot_of_rows(np.array(operands))

    # A sum or dot group reads its operands as one (operands, nodes[, samples]) array: these take
    # it as it is (splitting a sum of 300 operands into rows and stacking them again costs more
    # than the sum). They add left to right, as ops.FLOATS does (a cumulative sum is sequential;
    # a reduction may pair the terms otherwise), then + 0.0: eager starts from 0.0, so a sum of
    # -0.0s is 0.0.
    @staticmethod
    def sum_of_rows(rows: Any) -> Any:
        return np.cumsum(rows, axis=0)[-1] + 0.0 if len(rows) else np.zeros(rows.shape[1:])

    @staticmethod
    def dot_of_rows(rows: Any) -> Any:
        n = len(rows) // 2
        total = Arrays.sum_of_rows(rows[:n] * rows[n : 2 * n])
        return total + rows[-1] if len(rows) % 2 else total

    @staticmethod
    def pick(*operands: Any) -> Any:
        return Arrays.pick_of_rows(np.array(operands))

    @staticmethod
    def pick_of_rows(rows: Any) -> Any:
        return Arrays._picked(rows, Arrays._at(rows[-1], len(rows) - 1, "pick"), rows[-1].shape)

    @staticmethod
    def _at(index: Any, n: int, name: str) -> Any:
        """Where ``rows[index]`` (elementwise, of rows shaped (n, *index.shape)) is in the flat
        rows, after ops.index_of's check: an index that is not a whole number from 0 to n - 1 is
        an IndexError, as eagerly."""
        whole = index.astype(np.intp)  # (nan and infinities give some integer, not equal to them)
        bad = (whole != index) | (whole.view(np.uintp) >= n)  # (a negative is huge unsigned)
        if bad.any():
            raise PickIndexError(f"{name}: index {float(np.asarray(index)[bad].flat[0])!r} is not a whole number "
                                 f"from 0 to {n - 1}; pass an index in that range")
        size = index.size
        return whole.reshape(-1) * size + np.arange(size)  # row whole[k], at element k

    @staticmethod
    def _picked(rows: Any, at: Any, shape: Any) -> Any:
        return rows.reshape(-1)[at].reshape(shape)  # (rows: stacked, so the flat read is a view's)

    @staticmethod
    def onehot(index: Any, n: int, value: float = 1.0) -> tuple[Masked, ...]:
        hits = index == np.arange(n).reshape((n,) + (1,) * np.ndim(index))  # ops.onehot: one comparison for all n
        misses = ~hits  # value where hit, a masked zero elsewhere
        return tuple(Masked(mask, value, (misses, i)) for i, mask in enumerate(misses))

    @staticmethod
    def nll(*operands: Any) -> Any:
        return Arrays.nll_of_rows(np.array(operands))

    @staticmethod
    def nll_of_rows(rows: Any) -> Any:
        n, index = len(rows) // 2, rows[-1]
        at = Arrays._at(index, n, "nll")
        return np.log1p(Arrays._nll_sum(rows[:n], at, index.shape)) - Arrays._picked(rows[n : 2 * n], at, index.shape)

    @staticmethod
    def nll_sum(index: Any, *exps: Any) -> Any:
        return Arrays._nll_sum(np.array(exps), Arrays._at(index, len(exps), "nll"), np.shape(index))

    @staticmethod
    def _nll_sum(exps: Any, at: Any, shape: Any) -> Any:
        # ops.nll_sum: the others left to right (a cumulative sum, see sum_of_rows) with e_y
        # replaced by 0.0, which adds nothing (and e_y's inf or nan does not reach them)
        others = exps.copy()
        others.reshape(-1)[at] = 0.0
        return (Arrays._picked(exps, at, shape) - 1.0) + Arrays.sum_of_rows(others)

    @staticmethod
    def detached_max(*xs: Any) -> Any:
        return Arrays.detached_max_of_rows(np.array(xs))

    @staticmethod
    def detached_max_of_rows(rows: Any) -> Any:
        return np.maximum.reduce(rows)  # nan if one is nan; of equal ones the later, as ops.largest

    @staticmethod
    def sign(a: Any) -> Any:
        return np.where(a > 0, 1.0, np.where(a < 0, -1.0, 0.0))  # nan gives 0, as ops.sign

    @staticmethod
    def step(y: Any) -> Masked:
        mask = y <= 0  # ops.step: a masked zero where relu is off, 1 elsewhere (nan included)
        return Masked(mask, 1.0)

    @staticmethod
    def number(x: Any) -> Any:
        return x

    @staticmethod
    def where(condition: Any, value: Any, rule: Callable[[], Any]) -> Any:
        if value is ops.MASKED_ZERO:
            return Masked(condition, rule())
        return np.where(condition, value, rule())


    @staticmethod
    def bce(p: Any, y: Any) -> Any:  # ops.bce: np.maximum keeps nan, as max does
        return (y - 1.0) * np.maximum(np.log1p(-p), ops.BCE_LOG_FLOOR) - y * np.maximum(np.log(p), ops.BCE_LOG_FLOOR)

ARRAYS = Arrays()
# n-ary entries whose group reads its operands as one (operands, nodes[, samples]) array
OF_ROWS = {ops.SUM: Arrays.sum_of_rows, ops.DOT: Arrays.dot_of_rows, ops.PICK: Arrays.pick_of_rows,
           ops.DETACHED_MAX: Arrays.detached_max_of_rows, ops.NLL: Arrays.nll_of_rows}


# --- the program ---------------------------------------------------------------------------
#
# Slots: every node of the traced graph has a number, its row in the program's arrays of values
# and gradients (one column per sample with a batch axis). Slots 0..P-1 hold the parameters,
# then the inputs, then the other leaves (constants, Values captured from outside the
# function), then the computed nodes, group by group (each group's nodes in consecutive slots,
# so that a group's results are a slice of the arrays), the groups in level order: a node comes
# after its operands.
#
# Eager's order. Floating-point addition is not associative: eager adds the contributions into
# each gradient in one fixed order (nodes in reverse topological order, each node's operands in
# order), and a replay that adds them otherwise can round otherwise, or overflow where eager
# cancels (-w/w at a tiny w sends w +1/w and -1/w). The program keeps eager's order: within a
# group, contributions to one slot are added in *rounds* (the first one of each slot, then the
# second one, ...; many rounds over the same slots in one cumulative sum), from the group's last
# node back; a slot whose contributions come from several groups in an order that differs from
# eager's (the groups run level by level) has them set aside in the *late* array, in eager's
# order, and added up just before its own group runs backward. The matrix products of batch
# mode are the exception: BLAS sums in its own order (tests allow for it: within 1e-12 of the
# largest contribution).

class Round(NamedTuple):
    """``grads[slots] += values[positions]`` (``=`` with ``assign``: the slots' first gradient).
    A *stacked* round is several rounds over the same slots in one: ``positions`` is (rounds,
    slots), added one row after the other by a cumulative sum."""

    slots: Any
    positions: Any
    assign: bool
    stacked: bool = False


def _index(slots: Any) -> Any:
    """``slots`` (a 1-D array) as a slice when they are consecutive and ascending (indexing
    with it gives a view, no copy), else as they are."""
    if not slots.size:
        return slice(0, 0)
    first, last = int(slots[0]), int(slots[-1])
    if last - first == slots.size - 1 and (slots.size == 1 or bool((np.diff(slots) == 1).all())):
        return slice(first, last + 1)
    return slots


def _rounds(slots: Any, positions: Any) -> list[Round]:
    """``grads[slots] += values[positions]`` split into rounds in which no slot repeats (so that
    ``+=`` adds every value), each slot's values added in the order given. Within a round the
    pairs are sorted by position, so that reads and writes are slices where they can be."""
    if not slots.size:
        return []
    order = _stable_order(slots)
    rank = np.empty(slots.size, dtype=np.intp)
    rank[order] = _ranks(slots[order])  # how many values of its slot come before this one
    by_round = order[_stable_order(rank[order])]  # round by round, each sorted by slot
    bounds = np.searchsorted(rank[by_round], np.arange(int(rank.max()) + 2)).tolist()
    return _make_rounds(slots[by_round], positions[by_round], bounds)


def _make_rounds(slots: Any, positions: Any, bounds: list[int]) -> list[Round]:
    """Rounds from (slot, position) pairs listed round after round, each round sorted by slot
    (round i is ``bounds[i]:bounds[i + 1]``), where a slot in a round is in every round before
    it: consecutive rounds of one size then hold the same slots. Three or more of them are
    stacked (a layer's inputs get one contribution from each of its neurons): a cumulative sum
    adds each slot's values one after the other, as the rounds would, in one NumPy call. (Two
    cost less as two adds, over slices often.) A round alone is sorted by position (slices
    where it can)."""
    rounds = []
    sizes = np.diff(bounds)
    runs = _runs(sizes)  # rounds of one size
    for i, j in zip(runs[:-1], runs[1:]):
        a, n = bounds[i], int(sizes[i])
        if j - i > 2:
            rounds.append(Round(_index(slots[a : a + n]), positions[a : bounds[j]].reshape(j - i, n), False, True))
            continue
        for a, b in zip(bounds[i:j], bounds[i + 1 : j + 1]):
            by = np.argsort(positions[a:b], kind="stable")
            rounds.append(Round(_index(slots[a:b][by]), _index(positions[a:b][by]), False))
    return rounds


def _runs(*keys: Any) -> list[int]:
    """Where the runs of equal keys (arrays of one length) begin, and where the last ends."""
    if not keys[0].size:
        return [0]
    change = np.zeros(keys[0].size + 1, dtype=bool)
    change[[0, -1]] = True
    for k in keys:
        change[1:-1] |= k[1:] != k[:-1]
    return np.flatnonzero(change).tolist()


def _ranks(keys: Any) -> Any:
    """For keys sorted so that equal ones are next to each other: how many equal ones come
    before each."""
    if not keys.size:
        return keys
    first = np.r_[True, keys[1:] != keys[:-1]]
    index = np.arange(keys.size)
    return index - np.maximum.accumulate(np.where(first, index, 0))


def _stable_order(keys: Any) -> Any:
    """``np.argsort(keys, kind="stable")`` for non-negative integer keys: a radix sort, several
    times faster, when they fit in 16 bits."""
    if keys.size and int(keys.max()) < 2**16:
        keys = keys.astype(np.uint16)
    return np.argsort(keys, kind="stable")


def _add_rounds(target: Any, rounds: list[Round], values: Any) -> None:
    for slots, positions, assign, stacked in rounds:
        if stacked:
            terms = values[positions]  # (rounds, slots[, samples])
            if not assign:
                terms = np.concatenate((target[slots][None], terms))
            target[slots] = np.cumsum(terms, axis=0)[-1]
        elif assign:
            target[slots] = values[positions]
        else:
            target[slots] += values[positions]


class Overflowing(Exception):
    """Raised by a batch replay whose numbers come near overflow (see TAME); the call is then
    computed eagerly (Compiled._eager_batch)."""


# With a batch axis, matrix products (BLAS's order, fused multiply-adds), the sums over the
# samples and the penalty's gradient add in another order than eager's: equal to rounding,
# unless a partial sum overflows in one order and not in the other. Their terms are products of
# numbers of the replay (parameters, values, gradients). Products of two numbers below TAME are
# below 1e300, and fewer than 1e8 of them add up to less than the largest double (1.8e308) in
# any order. inf and nan are no danger (they give the same inf or nan in any order, as long as
# the finite terms cannot overflow). So a replay in which a finite parameter, value or gradient
# reaches TAME gives the call to eager mode, where eager's order decides. (Rounding itself
# differs, and an operation after a reordered sum can magnify it: the log of a sum that cancels
# to 0 in one order and to 1 in the other. Whole-graph replays keep eager's order everywhere.)
TAME = 1e150


def _check_tame(a: Any) -> None:
    # the sum of the squares (one BLAS call) bounds the largest square; when it does not show
    # every number below TAME (nan, inf, or large ones), the finite numbers are looked at
    if not np.vdot(a, a) < TAME * TAME:
        finite = a[np.isfinite(a)]
        if finite.size and not abs(finite).max() < TAME:
            raise Overflowing


def _times(local: Any, upstream: Any, out: Any) -> None:
    """``out = local × upstream``, where a masked zero stays 0 even times inf or nan."""
    if local is ops.MASKED_ZERO:
        out[...] = 0.0
    elif isinstance(local, Masked):
        np.multiply(local.values, upstream, out=out)
        mask = local.mask
        if type(mask) is np.ndarray and mask.shape == out.shape:
            np.putmask(out, mask, 0.0)  # (faster than copyto(..., where=))
        else:
            np.copyto(out, 0.0, where=mask)
    else:
        np.multiply(local, upstream, out=out)


def _column_runs(locals_: Sequence[Any], columns: list[int]) -> list[tuple[int, int]]:
    """Runs ``(i, k)`` of needed columns ``columns[i:k]`` whose local derivatives can be
    multiplied in one call: one array for all of them (nll's log1p derivative, the same for
    every exp) or consecutive rows of one array (``Masked.rows``: pick's one-hot). Which
    columns these are depends on the rule's code, not on the numbers: planned once, on stand-ins."""
    runs: list[tuple[int, int]] = []
    for i, j in enumerate(columns):
        local = locals_[j]
        if runs and columns[i - 1] == j - 1:
            start = runs[-1][0]
            first = locals_[columns[start]]
            rows = first.rows if isinstance(first, Masked) else None
            if (local is first and type(local) is np.ndarray) or (
                    rows is not None and isinstance(local, Masked) and local.rows is not None
                    and local.rows[0] is rows[0] and local.rows[1] == rows[1] + i - start):
                runs[-1] = (start, i + 1)
                continue
        runs.append((i, i + 1))
    return runs


def _times_columns(locals_: Sequence[Any], columns: list[int], runs: list[tuple[int, int]], upstream: Any,
                   contributions: Any) -> None:
    """``contributions[i] = locals_[columns[i]] × upstream`` (see _times) for every i, a run
    of columns (see _column_runs) in one multiplication."""
    for i, k in runs:
        local = locals_[columns[i]]
        if k - i == 1:
            _times(local, upstream, contributions[i])
            continue
        if isinstance(local, Masked) and local.rows is not None:  # rows first.. of one array of masks
            masks, first = local.rows
            local = Masked(masks[first : first + k - i], local.values)
        _times(local, upstream, contributions[i:k])


class Group:
    """Nodes of one level that apply the same table entry to the same number of operands: one
    NumPy operation over all of them, forward and backward. What does not depend on the numbers
    (where the operands are read, which gradients are needed, where and in which order the
    contributions go) is planned once, when the program is built."""

    def __init__(self, op: ops.Op, out: slice, operands: Any, exponent: float | None, positions: Any):
        self.op = op
        self.out = out  # the nodes' slots
        self.operands = operands  # (nodes, arity) slots of their operands
        self.exponent = exponent  # for x ** c: the constant c, shared by the group
        self.positions = positions  # the nodes' places in the trace (eager goes backward through them)
        self.shape = operands.shape[::-1]
        # an n-ary entry (OF_ROWS) reads its operands in one read, arity-major (operands, nodes[, samples]);
        # other operations one read per operand (a slice, no copy, when the slots are consecutive)
        self.of_rows = OF_ROWS.get(op)
        self.read = _index(operands.T.reshape(-1)) if self.of_rows else [_index(column) for column in operands.T]
        # set by Program._plan_backward:
        self.columns: list[int] = []  # the operands whose gradients are needed
        self.locals: list[tuple[str, Any, Any]] | None = None  # see _plan_locals
        self.runs: list[tuple[int, int]] = []  # when the rule runs at each replay: see _column_runs
        self.rounds: list[Round] = []  # contributions -> gradients
        self.late: tuple[Any, Any] | None = None  # contributions -> the late array
        self.finish: list[Round] = []  # the late array -> this group's own gradients
        self.direct: slice | None = None  # see Program._plan_writes

    def forward(self, vals: Any, params: Any) -> tuple[Any, Any]:
        if self.of_rows:
            rows = vals[self.read].reshape(self.shape + vals.shape[1:])
            out = self.of_rows(rows)
        else:
            rows = [vals[read] for read in self.read]
            if self.exponent is not None:
                rows[1] = self.exponent  # x ** c: the rules see the number c, as on floats
            out = self.op.forward(ARRAYS, *rows)
        vals[self.out] = out
        return rows, out

    def backward(self, saved: tuple[Any, Any], grads: Any, late: Any, param_grads: Any) -> None:
        if self.finish:
            _add_rounds(grads, self.finish, late)
        if not self.columns:
            return
        rows, out = saved
        upstream = grads[self.out]
        if self.direct is not None:  # computed in place: the first (and only) gradients of these slots
            contributions = grads[self.direct][None]
        else:
            contributions = np.empty((len(self.columns),) + upstream.shape)
        if self.locals is None:  # run the table's rule on the arrays
            _times_columns(self.op.derivative(ARRAYS, out, *rows), self.columns, self.runs, upstream, contributions)
        else:
            for what, into, source in self.locals:
                if what == "numbers":
                    np.multiply(source.reshape((-1,) + (1,) * upstream.ndim), upstream, out=contributions[into])
                elif what == "operands":
                    np.multiply(rows[source], upstream, out=contributions[into])
                elif what == "zeros":
                    contributions[into] = 0.0
                else:  # the result
                    np.multiply(out, upstream, out=contributions[into])
        if self.direct is not None:
            return
        flat = contributions.reshape((-1,) + upstream.shape[1:])  # column-major: position i * nodes + row
        if self.late is not None:
            positions, at = self.late
            late[at] = flat[positions]
        _add_rounds(grads, self.rounds, flat)

    def plan_locals(self, known: dict[Any, Any]) -> None:
        """Run the table's rule once on stand-in arrays: where it gives a number (``+ - sum``),
        an operand (``mul``, ``dot``) or the result (``exp``) as it is, a replay can multiply that
        directly, without running the rule. ``self.locals`` lists runs of needed columns as
        ``(kind, columns, source)``; None when the rule must run at each replay. ``known``
        keeps the plans already made, for groups alike (a layer's neurons at every position)."""
        arity = self.shape[0]
        key = (self.op, arity, self.exponent, tuple(self.columns))
        if key in known:
            self.locals, self.runs = known[key]
            return
        self._plan_locals(arity)
        known[key] = self.locals, self.runs

    def _plan_locals(self, arity: int) -> None:
        stand_ins: list[Any] = [np.ones(1) for _ in range(arity)]
        if self.exponent is not None:
            stand_ins[1] = self.exponent
        out = np.ones(1)
        self.runs = [(i, i + 1) for i in range(len(self.columns))]
        try:
            with np.errstate(all="ignore"):
                locals_ = self.op.derivative(ARRAYS, out, *stand_ins)
        except PickIndexError:  # (a stand-in index out of range: the rule runs at each replay, column by column)
            self.locals = None
            return
        found: list[tuple[str, Any]] = []  # for each needed column: what its local derivative is
        operand = {id(s): n for n, s in enumerate(stand_ins)}
        for j in self.columns:
            local = locals_[j]
            if local is ops.MASKED_ZERO:  # 0 whatever the gradient (detached_max, pick's index)
                found.append(("zeros", None))
            elif type(local) is float:
                found.append(("numbers", local))
            elif local is out:
                found.append(("result", None))
            else:
                source = operand.get(id(local))
                if source is None or stand_ins[source] is not local:  # computed from the operands: the rule runs at each replay
                    self.locals = None
                    self.runs = _column_runs(locals_, self.columns)
                    return
                found.append(("operands", source))
        runs: list[tuple[str, int, list[Any]]] = []  # (kind, first column, sources): one NumPy call each
        for i, (what, source) in enumerate(found):
            if runs and runs[-1][0] == what and (what != "operands" or self.of_rows and runs[-1][2][-1] + 1 == source):
                runs[-1][2].append(source)  # the next column, from the next operand: the same slice
            else:
                runs.append((what, i, [source]))
        self.locals = []
        for what, first, sources in runs:
            into = slice(first, first + len(sources))
            if what == "numbers":
                self.locals.append((what, into, np.array(sources, dtype=float)))
            elif what == "operands":  # rows[source]: a slice of the stacked operands, or one operand
                self.locals.append((what, into, slice(sources[0], sources[-1] + 1) if self.of_rows else sources[0]))
            else:
                self.locals.append((what, into, None))


class Layer:
    """With a batch axis: ``dot`` nodes whose weights (and bias) are parameters, each reading
    one of a few shared lists of inputs (a layer of a network, applied to each sample). One
    matrix product ``W @ X (+ b)`` computes them all: ``W`` holds the distinct weight rows (the
    neurons), ``X`` the distinct input lists as columns, times the samples. (Not in whole
    graphs: BLAS's fused multiply-adds can give a finite number where eager's overflow gives
    inf; there the exact replay of each dot is kept.)

    A layer of ``nn`` keeps each neuron's weights and bias side by side in the parameters: its
    ``[W | b]`` is then a (neurons, n + 1) block of them, read as a view, and one product
    ``[W | b] @ [X; 1]`` gives ``W @ X + b`` forward and both gradients backward
    (``d[W | b] = g @ [X; 1]^T``: ``g x^T`` and the sum of ``g``, over samples and positions).
    BLAS sums these products in its own order, not eager's (to rounding)."""

    locals = None

    def __init__(self, out: slice, weights: Any, inputs: Any, bias: Any, positions: Any, cells: Any):
        self.out = out
        self.positions = positions
        self.weights, self.bias = weights, bias  # (neurons, n) and (neurons,) parameter indices, bias maybe None
        one_list = inputs.shape[1] == 1 and np.array_equal(cells[:, 0], np.arange(out.start, out.stop))
        # one input list: X is vals[inputs] and the results vals[out], views when they can be;
        # else X gathers the (n, lists) input slots and the (neurons, lists) results scatter to ``cells``
        self.inputs = _index(inputs[:, 0]) if one_list else inputs
        self.cells = None if one_list else cells
        self.x_shape = (inputs.shape[0],) if one_list else inputs.shape
        self.distinct = _distinct(weights) and (bias is None or _distinct(bias))
        self.distinct_inputs = _distinct(inputs)
        k, n = weights.shape
        self.n = n
        start = int(weights[0, 0])
        stride = n + (bias is not None)
        self.block = None  # params[block] is [W | b] (or W without a bias), (neurons, stride)
        if np.array_equal(weights, start + stride * np.arange(k)[:, None] + np.arange(n)) and (
                bias is None or np.array_equal(bias, start + stride * np.arange(k) + n)):
            self.block = slice(start, start + k * stride)
        self.dx = False  # whether the inputs' gradients are needed (set by Program._plan_backward)
        self.assign = False  # whether they are the first gradients those slots get (Program._plan_writes)
        self.finish: list[Round] = []
        self.views: dict[int, tuple[Any, Any]] = {}
        self.ones: Any = None  # [X; 1] (with a bias): X is copied into its first n rows

    def _block(self, params: Any) -> Any:
        """``params[block]`` as a (neurons, stride) view, kept while ``params`` is the same array
        (a training loop passes the same one every step)."""
        cached = self.views.get(id(params))
        if cached is not None and cached[0] is params:
            return cached[1]
        if len(self.views) > 4:
            self.views.clear()
        block = params[self.block].reshape(self.weights.shape[0], -1)
        self.views[id(params)] = (params, block)
        return block

    def forward(self, vals: Any, params: Any) -> tuple[Any, Any]:
        X = vals[self.inputs].reshape(self.n, -1)  # (n, lists[ × samples])
        if self.block is None:  # parameters elsewhere: copies
            W = params[self.weights]
            Y = W @ X
            if self.bias is not None:
                Y += params[self.bias][:, None]
        else:
            W = self._block(params)
            if self.bias is not None:
                if self.ones is None or self.ones.shape[1] != X.shape[1]:
                    self.ones = np.ones((self.n + 1, X.shape[1]))
                self.ones[: self.n] = X
                X = self.ones
            if self.cells is None:
                np.matmul(W, X, out=vals[self.out].reshape(len(W), -1))
                return W, X
            Y = W @ X
        if self.cells is None:
            vals[self.out] = Y.reshape(vals[self.out].shape)
        else:
            vals[self.cells] = Y.reshape(self.cells.shape + vals.shape[1:])
        return W, X

    def backward(self, saved: tuple[Any, Any], grads: Any, late: Any, param_grads: Any) -> None:
        if self.finish:
            _add_rounds(grads, self.finish, late)
        W, X = saved
        upstream = grads[self.out if self.cells is None else self.cells].reshape(len(W), -1)
        if self.block is not None:
            self._block(param_grads)[...] += upstream @ X.T
            W = W[:, : self.n]
        else:
            add_at(param_grads, self.weights, upstream @ X.T, self.distinct)
            if self.bias is not None:
                add_at(param_grads, self.bias, upstream.sum(axis=1), self.distinct)
        if not self.dx:
            return
        dx = (W.T @ upstream).reshape(self.x_shape + grads.shape[1:])  # d/dX = W^T g
        if self.assign:
            grads[self.inputs] = dx
        elif self.cells is None and self.distinct_inputs:
            grads[self.inputs] += dx
        else:
            np.add.at(grads, self.inputs, dx)


class Trace(NamedTuple):
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


def parameter_kinds(params: Sequence[Value]) -> dict[Value, tuple[str, int]]:
    return {v: ("p", i) for i, v in enumerate(params)}


def read_graph(trace: Trace, params: dict[Value, tuple[str, int]]) -> Graph:
    """Each node's operation and operands' positions, and which leaves are parameters
    (``params``: see parameter_kinds), inputs or other leaves: two traces with equal
    fingerprints, whose other leaves hold equal numbers, give the same program."""
    inputs: dict[Value, tuple[str, int]] = {}
    for i, v in enumerate(trace.inputs):
        inputs.setdefault(v, ("x", i))
    position: dict[Value, int] = {}
    table: list[Any] = []
    arity: list[int] = []
    operands: list[int] = []
    level: list[int] = []
    leaves: list[Any] = []
    for i, v in enumerate(trace.order):
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
    aux = [] if trace.aux is None else [trace.aux] if isinstance(trace.aux, Value) else list(trace.aux)
    arities = np.fromiter(arity, dtype=np.intp, count=len(arity))
    positions = np.fromiter(operands, dtype=np.intp, count=len(operands))
    kinds = np.fromiter(map(CODES.__getitem__, table), dtype=np.intp, count=len(table))
    fingerprint = (kinds.tobytes(), arities.tobytes(), positions.tobytes(), tuple(leaves),
                   tuple(position.get(v, -1) for v in aux))
    return Graph(table, kinds, arities, positions, np.fromiter(level, dtype=np.intp, count=len(level)),
                 position, fingerprint)


class Program:
    """A traced graph as a list of groups over numbered slots (see above), replayed forward and
    backward with NumPy."""

    def __init__(self, trace: Trace, params: list[Value], batch: bool):
        order, inputs = trace.order, trace.inputs
        graph = read_graph(trace, parameter_kinds(params))
        slot: dict[Value, int] = {}
        for i, v in enumerate(params):
            slot[v] = i
        for v in inputs:
            slot.setdefault(v, len(slot))
        leaf_at = np.flatnonzero(graph.arity == 0)
        leaf_nodes = [order[i] for i in leaf_at.tolist()]
        leaves = other_leaves(leaf_nodes, slot)
        for v in leaves:
            slot[v] = len(slot)
        self.batch = batch
        self.n_params = len(params)
        self.n_inputs = len(inputs)
        slot_of = np.full(len(order), -1, dtype=np.intp)  # each node's slot, by its position in the trace
        slot_of[leaf_at] = np.fromiter(map(slot.__getitem__, leaf_nodes), dtype=np.intp, count=len(leaf_nodes))
        for i in np.flatnonzero(slot_of[leaf_at] >= len(params)).tolist():
            if leaf_nodes[i].is_parameter:
                raise CompileError(
                    f"the function uses a parameter ({leaf_nodes[i]!r}) that is not among the {len(params)} "
                    "parameters passed to compile; pass all of them (e.g. model.parameters())"
                )
        self.groups = self._groups(order, graph, slot_of, len(slot))  # numbers the computed nodes, group by group
        self.size = self.groups[-1].out.stop if self.groups else len(slot)
        self.root = int(slot_of[-1])
        self.after = int(graph.arity.sum()) - np.cumsum(graph.arity)  # how many operands the nodes after each have
        # with a batch axis, the parameters are copied into every sample's column only when
        # something other than a matrix product's weights reads them
        read = [g.operands.reshape(-1) if isinstance(g, Group) else np.arange(self.size)[g.inputs].reshape(-1)
                for g in self.groups]
        self.params_per_sample = not batch or bool((np.concatenate([*read, [self.root]]) < len(params)).any())
        self.first_gradient = 0 if self.params_per_sample else len(params)  # the rows above hold no gradient
        self.leaves = leaves
        constants = [v for v in leaves if v.is_constant]
        self.constants = np.array([v.data for v in constants], dtype=float)
        self.captured = leaves[len(constants):]  # Values from outside fn: their numbers are read at each call
        aux = [] if trace.aux is None else [trace.aux] if isinstance(trace.aux, Value) else list(trace.aux)
        if any(v not in graph.position for v in aux):
            raise CompileError("the values returned beside the result (aux) must be nodes of the result's graph")
        self.aux = None if trace.aux is None else (
            isinstance(trace.aux, Value), slot_of[[graph.position[v] for v in aux]].astype(np.intp))
        self.fingerprint = graph.fingerprint
        self.n_late = 0
        self.finish: list[Round] = []  # the late array -> the parameters' gradients
        self.zero: list[slice] = []  # the gradients set to 0 before a backward pass (see _plan_writes)
        self._plan_backward()
        self.buffers: tuple[Any, Any, Any] | None = None  # values, gradients, late contributions
        self.param_grads = np.zeros(len(params))  # what matrix products give the parameters (summed over samples)

    def _groups(self, order: list[Value], graph: Graph, slot_of: Any, first: int) -> list[Any]:
        """The computed nodes in groups (see Group), level by level; numbers them from ``first``.
        A group's nodes share a level, a table entry, a number of operands (and pow_const's
        exponent); they keep their order in the trace."""
        arity = graph.arity
        computed = np.flatnonzero(arity)
        exponent = np.zeros(len(order), dtype=np.intp)  # pow_const's exponents, numbered (nan is one)
        numbered: dict[Any, int] = {}
        for i in computed[graph.kinds[computed] == CODES[ops.POW_CONST]].tolist():
            e = order[i]._edges[1].data
            exponent[i] = numbered.setdefault(e if e == e else "nan", len(numbered))
        keys = (graph.level, graph.kinds, arity, exponent)
        by = computed[np.lexsort((computed,) + tuple(k[computed] for k in reversed(keys)))]
        if not by.size:
            return []
        bounds = _runs(*(k[by] for k in keys))
        starts = np.cumsum(arity) - arity  # where each node's operands begin in graph.operands
        groups: list[Any] = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            positions = by[a:b]
            n = int(arity[positions[0]])
            out = slice(first, first + b - a)  # a group's nodes get consecutive slots: a slice, no copy
            slot_of[positions] = np.arange(out.start, out.stop)
            first = out.stop
            operands = slot_of[graph.operands[starts[positions][:, None] + np.arange(n)]]
            op = graph.table[positions[0]]
            layer = self._layer(operands, out, positions) if self.batch and op is ops.DOT else None
            pow_exponent = order[positions[0]]._edges[1].data if op is ops.POW_CONST else None
            groups.append(layer or Group(op, out, operands, pow_exponent, positions))
        return groups

    def _layer(self, operands: Any, out: slice, positions: Any) -> Layer | None:
        """dot nodes whose weights (and bias) are parameters and whose inputs are a few shared
        lists, each neuron (row of weights) reading each list once: a ``Layer``."""
        n = operands.shape[1] // 2
        weights, xs = operands[:, :n], operands[:, n : 2 * n]
        bias = operands[:, 2 * n] if operands.shape[1] % 2 else None
        P = self.n_params
        if not n or (weights >= P).any() or (bias is not None and (bias >= P).any()):
            return None
        rows, neuron = np.unique(operands[:, :n] if bias is None else np.c_[weights, bias], axis=0, return_inverse=True)
        lists, column = np.unique(xs, axis=0, return_inverse=True)
        neuron, column = neuron.reshape(-1), column.reshape(-1)
        cells = np.full((len(rows), len(lists)), -1, dtype=np.intp)
        cells[neuron, column] = np.arange(out.start, out.stop)
        if (cells < 0).any() or len(rows) * len(lists) != len(neuron):  # not every neuron on every list, once
            return None
        return Layer(out, rows[:, :n], lists.T, None if bias is None else rows[:, n], positions, cells)

    def _plan_backward(self) -> None:
        """Which gradients are needed (those of the parameters and of the nodes that depend on
        them), then where each group's contributions go (eager's order, see above), and which
        gradients are written first or zeroed."""
        P, groups = self.n_params, self.groups
        needed = np.zeros(self.size, dtype=bool)
        needed[:P] = True
        unordered = np.zeros(self.size, dtype=bool)  # slots a matrix product adds into (BLAS's order)
        plans: dict[Any, Any] = {}
        for g in groups:
            if isinstance(g, Layer):
                needed[g.out] = True
                g.dx = bool(needed[g.inputs].any())
                unordered[g.inputs] = g.dx
            else:
                reads = needed[g.operands]
                needed[g.out] = reads.any(axis=1)
                g.columns = np.flatnonzero(reads.any(axis=0)).tolist()
                if g.columns:
                    g.plan_locals(plans)
                    if g.locals is not None and all(what == "zeros" for what, _, _ in g.locals):
                        # it passes masked zeros only (detached_max): x + 0.0 is x (but for -0.0, whose
                        # sign cannot reach a parameter's gradient: see _plan_writes), so nothing
                        # needs its gradient, and it adds nothing
                        needed[g.out] = False
                        g.columns = []
        self._plan_writes(needed, self._plan_order(needed, unordered))

    def _plan_order(self, needed: Any, unordered: Any) -> Any:
        """Where each group's contributions go so that every gradient receives them in
        eager's order: the rounds of each group, the late array; returns which slots are late."""
        groups = self.groups
        is_late = np.zeros(self.size, dtype=bool)
        # every contribution of a group to a needed gradient: its slot, group, place in the group's
        # contributions (column-major), and place in eager's backward pass: eager goes from the
        # last node back, each node's operands in order (``self.after[p]`` operands come after node p's)
        parts = []
        for i, g in enumerate(groups):
            if isinstance(g, Group) and g.columns:
                slots = g.operands[:, g.columns].T.reshape(-1)
                eager_at = (self.after[g.positions] + np.array(g.columns)[:, None]).reshape(-1)
                parts.append((slots, np.full(slots.size, i), np.arange(slots.size), eager_at))
        if not parts:
            return is_late
        slot, group, flat, eager_at = (np.concatenate(a) for a in zip(*parts))
        keep = needed[slot]
        slot, group, flat, eager_at = (a[keep] for a in (slot, group, flat, eager_at))
        # eager's order, slot by slot: the contributions in eager's order (eager_at tells them
        # apart), then sorted by slot, stably
        inverse = np.full(int(eager_at.max()) + 1, -1)
        inverse[eager_at] = np.arange(eager_at.size)
        eager = inverse[inverse >= 0]
        eager = eager[_stable_order(slot[eager])]
        eager_slot = slot[eager]
        rank = _ranks(eager_slot)
        # a replay goes from the last group back, in each as eager does (see the rounds below)
        key = ((len(groups) - group) * (int(eager_at.max()) + 1) + eager_at)[eager]
        # a slot's gradient adds up as in eager when, along eager's order, the replay's keys
        # increase from its third contribution on (two add the same in either order)
        behind = np.zeros(key.size, dtype=bool)
        behind[2:] = (key[2:] < key[1:-1]) | ((key[2:] < key[:-2]) & (rank[2:] == 2))
        is_late[eager_slot[(rank >= 2) & behind]] = True
        is_late &= ~unordered
        eager_late = is_late[eager_slot]
        late_ids = eager[eager_late]  # eager's order, slot by slot
        at = np.empty(slot.size, dtype=np.intp)
        at[late_ids] = np.arange(late_ids.size)
        self.n_late = int(late_ids.size)
        late = is_late[slot]
        mine = np.flatnonzero(late)  # (group by group: the contributions are listed so)
        cuts = _runs(group[mine])
        for a, b in zip(cuts[:-1], cuts[1:]):
            groups[int(group[mine[a]])].late = (_index(flat[mine[a:b]]), _index(at[mine[a:b]]))
        # the other contributions in rounds, group by group: the t-th round of a group holds the
        # t-th contribution (in eager's order) of each of its slots, sorted by slot
        ordered = eager[~eager_late]  # on time, slot by slot in eager's order
        ordered = ordered[_stable_order(group[ordered])]  # ... group by group
        t = np.empty(slot.size, dtype=np.intp)
        t[ordered] = _ranks(group[ordered] * self.size + slot[ordered])
        ordered = ordered[_stable_order(t[ordered])]
        ordered = ordered[_stable_order(group[ordered])]  # by group, round, then slot
        of_group, of_round = group[ordered], t[ordered]
        bounds = _runs(of_group, of_round)
        owners = of_group[bounds[:-1]]  # each round's group
        firsts = _runs(owners)  # each group's first round
        slots, positions = slot[ordered], flat[ordered]
        for a, b in zip(firsts[:-1], firsts[1:]):
            groups[int(owners[a])].rounds = _make_rounds(slots, positions, bounds[a : b + 1])
        # the late contributions of each slot are added, in eager's order, just before the slot's
        # group runs backward (the parameters' after the last group)
        late_slots = slot[late_ids]
        starts_of = np.array([g.out.start for g in groups])
        owner = np.searchsorted(starts_of, late_slots, side="right") - 1  # -1: a parameter
        cuts = _runs(owner)  # (late_ids are sorted by slot, so by owner)
        for a, b in zip(cuts[:-1], cuts[1:]):
            i = int(owner[a])
            rounds = _rounds(late_slots[a:b], np.arange(a, b))
            if i < 0:
                self.finish = rounds
            else:
                groups[i].finish = rounds
        return is_late

    def _plan_writes(self, needed: Any, is_late: Any) -> None:
        """Which rounds write a slot's first gradient (``=``, no zeroing needed) and which
        gradients must be zeroed before a backward pass: those that receive ``+=`` first, the
        late ones, the parameters', and needed ones that nothing adds to (a node nothing uses).
        A first gradient is written as it is, where eager computes ``0.0 + it``: that differs
        only for -0.0, and a node's gradient only ever reaches a parameter's through products
        added to 0.0, where the sign of a zero cannot show; the parameters' gradients are added
        to 0.0 at the end (``param_grads``), which turns -0.0 into 0.0 as eager does."""
        slots_of = np.arange(self.size)
        written = np.zeros(self.size, dtype=bool)
        written[self.root] = True
        zero = is_late.copy()
        for g in reversed(self.groups):  # the backward pass's order
            if isinstance(g, Layer):
                if g.dx:
                    slots = slots_of[g.inputs]
                    slots = slots[needed[slots]]
                    g.assign = isinstance(g.inputs, slice) and not written[slots].any()
                    zero[slots[~written[slots]]] |= not g.assign
                    written[slots] = True
                continue
            rounds = []
            for r in g.rounds:
                slots = slots_of[r.slots]
                assign = not written[slots].any()
                zero[slots[~written[slots]]] |= not assign
                written[slots] = True
                rounds.append(Round(r.slots, r.positions, assign, r.stacked))
            g.rounds = rounds
            k = g.shape[1]
            if (len(g.columns) == 1 and g.late is None and len(rounds) == 1 and rounds[0].assign
                    and isinstance(rounds[0].slots, slice) and type(rounds[0].positions) is slice
                    and rounds[0].positions == slice(0, k)):
                g.direct = rounds[0].slots  # computed straight into the gradients: no copy, no add
        zero |= needed & ~written
        zero[: self.first_gradient] = False
        runs = np.flatnonzero(np.diff(np.r_[0, zero.view(np.int8), 0]))  # where runs of zeros start and stop
        self.zero = [slice(int(a), int(b)) for a, b in zip(runs[::2], runs[1::2])]
        if len(self.zero) > 8:  # scattered: zeroing everything is cheaper than many small pieces
            self.zero = [slice(self.first_gradient, self.size)]

    def _buffers(self, width: int | None) -> tuple[Any, Any, Any]:
        column = () if width is None else (width,)
        if self.buffers is None or self.buffers[0].shape[1:] != column:
            vals = np.empty((self.size,) + column)  # reused: fresh pages cost more than the replay
            start = self.n_params + self.n_inputs
            vals[start : start + len(self.constants)] = self.constants.reshape((-1,) + (1,) * len(column))
            self.buffers = (vals, np.zeros((self.size,) + column), np.empty((self.n_late,) + column))
        return self.buffers

    def run(self, params: Any, inputs: Any, seed: float, width: int | None) -> tuple[Any, Any, Any]:
        """The output (one number, or one per sample), every parameter's gradient and the aux
        values (one row per aux Value; ``None`` without them).
        ``params`` is a (P,) array; ``inputs`` (I,) or, over ``width`` samples, (I, width)."""
        vals, grads, late = self._buffers(width)
        P, end = self.n_params, self.n_params + self.n_inputs
        column = (1,) * (vals.ndim - 1)
        if self.params_per_sample:
            vals[:P] = params.reshape((P,) + column)  # the same in every sample's column
        vals[P:end] = inputs
        if self.captured:
            end += len(self.constants)
            vals[end : end + len(self.captured)] = np.array([v.data for v in self.captured], dtype=float).reshape(
                (-1,) + column)
        param_grads = self.param_grads
        param_grads.fill(0.0)
        saved = [g.forward(vals, params) for g in self.groups]
        for rows in self.zero:
            grads[rows] = 0.0
        grads[self.root] = seed
        for g, s in zip(reversed(self.groups), reversed(saved)):
            g.backward(s, grads, late, param_grads)
        _add_rounds(grads, self.finish, late)
        if width is None:
            param_grads += grads[:P]
        else:  # (a gradient row that is never written holds 0: see _buffers)
            for numbers in (params, vals[P:], grads[self.first_gradient :]):
                _check_tame(numbers)
            if self.params_per_sample:
                param_grads += grads[:P].sum(axis=1)
        aux = None if self.aux is None else vals[self.aux[1]].copy()
        return vals[self.root].copy(), param_grads.copy(), aux


def _distinct(slots: Any) -> bool:
    ordered = np.sort(slots, axis=None)
    return bool((ordered[1:] != ordered[:-1]).all())


def add_at(target: Any, slots: Any, values: Any, distinct: bool) -> None:
    """``target[slots] += values``, adding every value even where a slot repeats."""
    if distinct:
        target[slots] += values
    else:
        np.add.at(target, slots, values)


def other_leaves(order: list[Value], known: Any) -> list[Value]:
    """The leaves (of ``order``, some nodes in trace order) that are neither parameters nor inputs (constants, Values captured from
    outside the function), constants first (their numbers are read once), each kind in order."""
    leaves = [v for v in order if not v._edges and v not in known]
    return [v for v in leaves if v.is_constant] + [v for v in leaves if not v.is_constant]


def same_numbers(xs: Sequence[float], ys: Sequence[float]) -> bool:
    return len(xs) == len(ys) and all(x == y or (x != x and y != y) for x, y in zip(xs, ys))


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
    except OverflowError:
        raise OverflowError(f"{what}: a number too large for a float (at most about 1.8e308 in magnitude); "
                            "scale it down") from None
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
        self.kinds = parameter_kinds(self.parameters)  # for the guard's fingerprints
        self.batch = batch
        self.check_every = check_every
        self.programs: dict[Any, Program] = {}
        self.calls: dict[Any, int] = {}
        self._last: Program | None = None  # the program of the last batch call (how its aux is shaped)
        self.penalty = None if penalty is None else Compiled(penalty, parameters, False, None, check_every)

    def __repr__(self) -> str:
        return (f"Compiled({getattr(self.fn, '__name__', 'fn')}, {len(self.parameters)} parameters, "
                f"batch={self.batch}, {len(self.programs)} program(s))")

    def _trace(self, args: Sequence[Any]) -> Trace:
        if not modes().grad_enabled:
            raise CompileError("autograd.compile cannot trace under no_grad(): call the compiled function outside it")
        inputs, built = _arguments(args)
        with gc_paused():
            out, aux = _result(self.fn(*built))
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
        if self.batch and aux is not None:  # one entry per sample, numbers as the user's function gave them
            aux = [_aux_numbers(self._last, row) for row in aux] if self._last is not None else None
        return Result(float(value), grads.tolist(), aux)

    def evaluate(self, args: Sequence[Any], params: Any) -> tuple[float, Any, Any]:
        """The value, the gradients (an array) and the aux numbers at parameter values
        ``params`` (an array): what a compiled training loop calls, its parameters kept in
        one array. With ``batch=True`` the aux numbers are an array, one row per sample."""
        with np.errstate(all="ignore"):  # infinities and nans are results, as in eager mode
            if not self.batch:
                return self._whole_call(args, params)
            try:
                value, grads, aux = self._batch_call(args, params)
                if self.penalty is not None:
                    extra, extra_grads, _ = self.penalty._whole_call((), params)
                    _check_tame(extra_grads)  # (added to the samples' gradients in another order than eager's)
                    value, grads = value + extra, grads + extra_grads
            except Overflowing:  # numbers near overflow (see TAME): this call eagerly, where eager's order decides
                return self._eager_batch(args, params)
        return value, grads, aux

    def _program(self, key: Any, samples: Callable[[], Sequence[Sequence[Any]]], params: Any) -> Program:
        """The cached program for ``key``, traced on the first of ``samples()`` the first time.
        On checked calls the function is traced again on the samples and must build the same
        graph (``samples`` is only called then: most calls need none). A trace runs the function
        on the parameter Values: their ``.data`` holds ``params`` (the live numbers during
        compiled training) meanwhile, so a structure that depends on them is seen as it is."""
        calls = self.calls[key] = self.calls.get(key, 0) + 1
        program = self.programs.get(key)
        if program is not None and not (calls <= 2 or (self.check_every and calls % self.check_every == 0)):
            return program
        try:
            with self._parameters_at(params):
                return self._traced(key, program, samples())
        except BaseException:  # (a bad index, a different graph, an interruption) this call counts for nothing:
            # the next one makes the check it missed (or, without a program, traces afresh as a first call)
            self.calls[key] = calls - 1 if key in self.programs else 0
            raise

    def _traced(self, key: Any, program: Program | None, to_check: Sequence[Sequence[Any]]) -> Program:
        if program is None:
            program = self.programs[key] = Program(self._trace(to_check[0]), self.parameters, self.batch)
            to_check = to_check[1:]
        for sample in to_check:
            trace = self._trace(sample)
            known = set(self.parameters).union(trace.inputs)
            if read_graph(trace, self.kinds).fingerprint != program.fingerprint or not same_numbers(
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
        program = self._program(_shape(args) if args else (), lambda: [args], params)
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
        else:  # later checked calls: one sample, at random (seeded): any position of the batch in time
            picks = [random.Random(calls).randrange(width)]
        program = self._program(key, lambda: [[_as_lists(a[i]) for a in args] for i in picks], params)
        self._last = program
        out, grads, aux = program.run(params, inputs, 1.0 / width, width)
        return out.sum() / width, grads, None if aux is None or program.aux is None else aux.T

    def _eager_batch(self, args: Sequence[Any], params: Any) -> tuple[Any, Any, Any]:
        """A batch call (after ``_batch_call`` made its program) computed eagerly: the mean of
        ``fn`` over the samples (left to right, as ``autograd.sum``) plus ``penalty()``, and its
        gradients by ``backward``; aux as the replay gives it."""
        with_aux = self._last is not None and self._last.aux is not None
        with self._parameters_at(params), gc_paused(), enable_grad():  # (a replay may run under no_grad)
            results = [_result(self.fn(*_arguments([_as_lists(a[i]) for a in args])[1])) for i in range(len(args[0]))]
            total = engine_sum([out for out, _ in results]) / len(results)
            if self.penalty is not None:
                total = total + self.penalty.fn()
            grads = np.array(grad(total, self.parameters), dtype=float)
        aux = [[v.data for v in ([a] if isinstance(a, Value) else a)] for _, a in results] if with_aux else None
        return total.data, grads, None if aux is None else np.array(aux, dtype=float)

    @contextlib.contextmanager
    def _parameters_at(self, params: Any) -> Iterator[None]:
        """The parameter Values hold ``params`` (the live numbers of a compiled training loop)
        meanwhile, and get their own numbers back after (the loop syncs them when it ends)."""
        held = [v.data for v in self.parameters]
        try:
            for v, x in zip(self.parameters, params.tolist()):
                v.data = x
            yield
        finally:
            for v, x in zip(self.parameters, held):
                v.data = x


def _arguments(args: Sequence[Any]) -> tuple[list[Value], list[Any]]:
    """Values for the numbers of the arguments (in order), and the arguments holding them."""
    inputs: list[Value] = []
    built = []
    for i, a in enumerate(args):
        vs, b = _leaves_of(a, f"compiled function, argument {i + 1}")
        inputs += vs
        built.append(b)
    return inputs, built


def _result(out: Any) -> tuple[Value, Any]:
    """What ``fn`` returned, as (result, aux): aux None, a Value or a list of Values."""
    aux = None
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], Value):
        out, aux = out
        if not (isinstance(aux, Value) or isinstance(aux, (list, tuple)) and all(isinstance(v, Value) for v in aux)):
            raise TypeError("autograd.compile: the function returned (result, aux): aux must be a Value or a list of Values")
    if not isinstance(out, Value):
        raise TypeError(f"autograd.compile: the function must return one Value, got {type(out).__name__}")
    return out, aux


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
    check_every: int = CHECK_EVERY,
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
    return Compiled(fn, parameters, batch, penalty, check_every)


__all__ = ["compile", "Compiled", "CompileError", "Result", "ARRAYS", "INSTALL_HINT", "CHECK_EVERY"]
