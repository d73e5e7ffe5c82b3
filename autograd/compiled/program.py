"""Step 4 of compile mode (see ``autograd.compiled``): plan a traced graph as a
program of groups over numbered slots, and run it forward and backward with NumPy.

Slots: every node of the traced graph has a number, its row in the program's arrays of values
and gradients (one column per sample with a batch axis). Slots 0..P-1 hold the parameters,
then the inputs, then the other leaves (constants, Values captured from outside the
function), then the computed nodes, group by group (each group's nodes in consecutive slots,
so that a group's results are a slice of the arrays), the groups in level order: a node comes
after its operands.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..engine import Value
from . import CompileError
from .groups import Group, Layer
from .sums import Round, add_rounds, as_index, check_tame, make_rounds, ranks_of, rounds_of, run_bounds, stable_order
from .trace import CODES, Graph, Trace, other_leaves, parameter_kinds, read_graph


class Program:
    """A traced graph as a list of groups over numbered slots (see above), replayed forward and
    backward with NumPy in eager's order of adding gradients (see ``sums``)."""

    def __init__(self, trace: Trace, params: list[Value], batch: bool):
        graph = read_graph(trace, parameter_kinds(params))
        self.batch = batch
        self.n_params = len(params)
        self.n_inputs = len(trace.inputs)
        slot_of, self.leaves, leaf_slots = _leaf_slots(trace, graph, params)
        self.groups = self._groups(trace.order, graph, slot_of, leaf_slots)  # numbers the computed nodes, group by group
        self.size = self.groups[-1].out.stop if self.groups else leaf_slots
        self.root = int(slot_of[-1])
        self.after = int(graph.arity.sum()) - np.cumsum(graph.arity)  # how many operands the nodes after each have
        # with a batch axis, the parameters are copied into every sample's column only when
        # something other than a matrix product's weights reads them
        read = [g.operands.reshape(-1) if isinstance(g, Group) else np.arange(self.size)[g.inputs].reshape(-1)
                for g in self.groups]
        self.params_per_sample = not batch or bool((np.concatenate([*read, [self.root]]) < len(params)).any())
        self.first_gradient = 0 if self.params_per_sample else len(params)  # the rows above hold no gradient
        constants = [v for v in self.leaves if v.is_constant]
        self.constants = np.array([v.data for v in constants], dtype=float)
        self.captured = self.leaves[len(constants):]  # Values from outside fn: their numbers are read at each call
        self.aux = _aux_slots(trace, graph, slot_of)
        self.fingerprint = graph.fingerprint
        self.n_late = 0
        self.finish: list[Round] = []  # the late array -> the parameters' gradients
        self.zero: list[slice] = []  # the gradients set to 0 before a backward pass (see _plan_writes)
        self._plan_backward()
        self.buffers: tuple[Any, Any, Any] | None = None  # values, gradients, late contributions
        self.param_grads = np.zeros(len(params))  # what matrix products give the parameters (summed over samples)
        self.xla: Any = None  # the program jitted by JAX, made on the first call with backend="jax" (xla.run)

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
        bounds = run_bounds(*(k[by] for k in keys))
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
        eager = eager[stable_order(slot[eager])]
        eager_slot = slot[eager]
        rank = ranks_of(eager_slot)
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
        cuts = run_bounds(group[mine])
        for a, b in zip(cuts[:-1], cuts[1:]):
            groups[int(group[mine[a]])].late = (as_index(flat[mine[a:b]]), as_index(at[mine[a:b]]))
        # the other contributions in rounds, group by group: the t-th round of a group holds the
        # t-th contribution (in eager's order) of each of its slots, sorted by slot
        ordered = eager[~eager_late]  # on time, slot by slot in eager's order
        ordered = ordered[stable_order(group[ordered])]  # ... group by group
        t = np.empty(slot.size, dtype=np.intp)
        t[ordered] = ranks_of(group[ordered] * self.size + slot[ordered])
        ordered = ordered[stable_order(t[ordered])]
        ordered = ordered[stable_order(group[ordered])]  # by group, round, then slot
        of_group, of_round = group[ordered], t[ordered]
        bounds = run_bounds(of_group, of_round)
        owners = of_group[bounds[:-1]]  # each round's group
        firsts = run_bounds(owners)  # each group's first round
        slots, positions = slot[ordered], flat[ordered]
        for a, b in zip(firsts[:-1], firsts[1:]):
            groups[int(owners[a])].rounds = make_rounds(slots, positions, bounds[a : b + 1])
        # the late contributions of each slot are added, in eager's order, just before the slot's
        # group runs backward (the parameters' after the last group)
        late_slots = slot[late_ids]
        starts_of = np.array([g.out.start for g in groups])
        owner = np.searchsorted(starts_of, late_slots, side="right") - 1  # -1: a parameter
        cuts = run_bounds(owner)  # (late_ids are sorted by slot, so by owner)
        for a, b in zip(cuts[:-1], cuts[1:]):
            i = int(owner[a])
            rounds = rounds_of(late_slots[a:b], np.arange(a, b))
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
        add_rounds(grads, self.finish, late)
        if width is None:
            param_grads += grads[:P]
        else:  # (a gradient row that is never written holds 0: see _buffers)
            for numbers in (params, vals[P:], grads[self.first_gradient :]):
                check_tame(numbers)
            if self.params_per_sample:
                param_grads += grads[:P].sum(axis=1)
        aux = None if self.aux is None else vals[self.aux[1]].copy()
        return vals[self.root].copy(), param_grads.copy(), aux


def _leaf_slots(trace: Trace, graph: Graph, params: list[Value]) -> tuple[Any, list[Value], int]:
    """The slots of the leaves: the parameters first, then the inputs, then the other leaves
    (``other_leaves``). Returns each node's slot by its position in the trace (-1 for computed
    nodes, numbered later), the other leaves, and how many slots the leaves take."""
    slot: dict[Value, int] = {}
    for i, v in enumerate(params):
        slot[v] = i
    for v in trace.inputs:
        slot.setdefault(v, len(slot))
    leaf_at = np.flatnonzero(graph.arity == 0)
    leaf_nodes = [trace.order[i] for i in leaf_at.tolist()]
    leaves = other_leaves(leaf_nodes, slot)
    for v in leaves:
        slot[v] = len(slot)
    slot_of = np.full(len(trace.order), -1, dtype=np.intp)
    slot_of[leaf_at] = np.fromiter(map(slot.__getitem__, leaf_nodes), dtype=np.intp, count=len(leaf_nodes))
    for i in np.flatnonzero(slot_of[leaf_at] >= len(params)).tolist():
        if leaf_nodes[i].is_parameter:
            raise CompileError(
                f"the function uses a parameter ({leaf_nodes[i]!r}) that is not among the {len(params)} "
                "parameters passed to compile; pass all of them (e.g. model.parameters())"
            )
    return slot_of, leaves, len(slot)


def _aux_slots(trace: Trace, graph: Graph, slot_of: Any) -> tuple[bool, Any] | None:
    """Where the aux Values are (whether aux is one Value, and their slots); None without aux."""
    if trace.aux is None:
        return None
    aux = [trace.aux] if isinstance(trace.aux, Value) else list(trace.aux)
    if any(v not in graph.position for v in aux):
        raise CompileError("the values returned beside the result (aux) must be nodes of the result's graph")
    return isinstance(trace.aux, Value), slot_of[[graph.position[v] for v in aux]].astype(np.intp)
