"""Step 2 of compile mode (see ``autograd.compiled``): groups of nodes, each one NumPy
operation over an array of nodes (``Group``), or one matrix product (``Layer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import ops
from . import PickIndexError
from .arrays import ARRAYS
from .sums import Round, add_at, add_rounds, all_distinct, as_index, column_runs, times_columns


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
        # an n-ary entry (op.on_rows) reads its operands in one read, arity-major (operands, nodes[, samples]);
        # other operations one read per operand (a slice, no copy, when the slots are consecutive)
        self.of_rows = getattr(ARRAYS, op.on_rows) if op.on_rows else None
        self.read = as_index(operands.T.reshape(-1)) if self.of_rows else [as_index(column) for column in operands.T]
        # set by Program._plan_backward:
        self.columns: list[int] = []  # the operands whose gradients are needed
        self.locals: list[tuple[str, Any, Any]] | None = None  # see _plan_locals
        self.runs: list[tuple[int, int]] = []  # when the rule runs at each replay: see column_runs
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
            add_rounds(grads, self.finish, late)
        if not self.columns:
            return
        rows, out = saved
        upstream = grads[self.out]
        if self.direct is not None:  # computed in place: the first (and only) gradients of these slots
            contributions = grads[self.direct][None]
        else:
            contributions = np.empty((len(self.columns),) + upstream.shape)
        if self.locals is None:  # run the table's rule on the arrays
            times_columns(self.op.derivative(ARRAYS, out, *rows), self.columns, self.runs, upstream, contributions)
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
        add_rounds(grads, self.rounds, flat)

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
        found = self._what_locals_are(locals_, stand_ins, out)
        if found is None:  # computed from the operands: the rule runs at each replay
            self.locals = None
            self.runs = column_runs(locals_, self.columns)
        else:
            self.locals = self._runs_of(found)

    def _what_locals_are(self, locals_: Sequence[Any], stand_ins: list[Any], out: Any) -> list[tuple[str, Any]] | None:
        """For each needed column, what its local derivative is: a masked zero, a number, the
        result, or an operand as it is; None if one of them is computed from the operands."""
        found: list[tuple[str, Any]] = []
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
                if source is None or stand_ins[source] is not local:
                    return None
                found.append(("operands", source))
        return found

    def _runs_of(self, found: list[tuple[str, Any]]) -> list[tuple[str, Any, Any]]:
        """Consecutive columns of the same kind as one entry ``(kind, columns, source)``: one NumPy call each."""
        runs: list[tuple[str, int, list[Any]]] = []  # (kind, first column, sources)
        for i, (what, source) in enumerate(found):
            if runs and runs[-1][0] == what and (what != "operands" or self.of_rows and runs[-1][2][-1] + 1 == source):
                runs[-1][2].append(source)  # the next column, from the next operand: the same slice
            else:
                runs.append((what, i, [source]))
        planned: list[tuple[str, Any, Any]] = []
        for what, first, sources in runs:
            into = slice(first, first + len(sources))
            if what == "numbers":
                planned.append((what, into, np.array(sources, dtype=float)))
            elif what == "operands":  # rows[source]: a slice of the stacked operands, or one operand
                planned.append((what, into, slice(sources[0], sources[-1] + 1) if self.of_rows else sources[0]))
            else:
                planned.append((what, into, None))
        return planned


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
        self.inputs = as_index(inputs[:, 0]) if one_list else inputs
        self.cells = None if one_list else cells
        self.x_shape = (inputs.shape[0],) if one_list else inputs.shape
        self.distinct = all_distinct(weights) and (bias is None or all_distinct(bias))
        self.distinct_inputs = all_distinct(inputs)
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
            add_rounds(grads, self.finish, late)
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
