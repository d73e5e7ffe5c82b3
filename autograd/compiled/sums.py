"""Adding gradients in eager's order (see ``autograd.compiled``): rounds, late
contributions, and the TAME bound under which a batch replay may reorder its sums.

Eager's order. Floating-point addition is not associative: eager adds the contributions into
each gradient in one fixed order (nodes in reverse topological order, each node's operands in
order), and a replay that adds them otherwise can round otherwise, or overflow where eager
cancels (-w/w at a tiny w sends w +1/w and -1/w). The program keeps eager's order: within a
group, contributions to one slot are added in *rounds* (the first one of each slot, then the
second one, ...; many rounds over the same slots in one cumulative sum), from the group's last
node back; a slot whose contributions come from several groups in an order that differs from
eager's (the groups run level by level) has them set aside in the *late* array, in eager's
order, and added up just before its own group runs backward. The matrix products of batch
mode are the exception: BLAS sums in its own order (tests allow for it: within 1e-12 of the
largest contribution).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import ops
from .arrays import Masked


class Round(NamedTuple):
    """``grads[slots] += values[positions]`` (``=`` with ``assign``: the slots' first gradient).
    A *stacked* round is several rounds over the same slots in one: ``positions`` is (rounds,
    slots), added one row after the other by a cumulative sum."""

    slots: Any
    positions: Any
    assign: bool
    stacked: bool = False


def as_index(slots: Any) -> Any:
    """``slots`` (a 1-D array) as a slice when they are consecutive and ascending (indexing
    with it gives a view, no copy), else as they are."""
    if not slots.size:
        return slice(0, 0)
    first, last = int(slots[0]), int(slots[-1])
    if last - first == slots.size - 1 and (slots.size == 1 or bool((np.diff(slots) == 1).all())):
        return slice(first, last + 1)
    return slots


def rounds_of(slots: Any, positions: Any) -> list[Round]:
    """``grads[slots] += values[positions]`` split into rounds in which no slot repeats (so that
    ``+=`` adds every value), each slot's values added in the order given. Within a round the
    pairs are sorted by position, so that reads and writes are slices where they can be."""
    if not slots.size:
        return []
    order = stable_order(slots)
    rank = np.empty(slots.size, dtype=np.intp)
    rank[order] = ranks_of(slots[order])  # how many values of its slot come before this one
    by_round = order[stable_order(rank[order])]  # round by round, each sorted by slot
    bounds = np.searchsorted(rank[by_round], np.arange(int(rank.max()) + 2)).tolist()
    return make_rounds(slots[by_round], positions[by_round], bounds)


def make_rounds(slots: Any, positions: Any, bounds: list[int]) -> list[Round]:
    """Rounds from (slot, position) pairs listed round after round, each round sorted by slot
    (round i is ``bounds[i]:bounds[i + 1]``), where a slot in a round is in every round before
    it: consecutive rounds of one size then hold the same slots. Three or more of them are
    stacked (a layer's inputs get one contribution from each of its neurons): a cumulative sum
    adds each slot's values one after the other, as the rounds would, in one NumPy call. (Two
    cost less as two adds, over slices often.) A round alone is sorted by position (slices
    where it can)."""
    rounds = []
    sizes = np.diff(bounds)
    runs = run_bounds(sizes)  # rounds of one size
    for i, j in zip(runs[:-1], runs[1:]):
        a, n = bounds[i], int(sizes[i])
        if j - i > 2:
            rounds.append(Round(as_index(slots[a : a + n]), positions[a : bounds[j]].reshape(j - i, n), False, True))
            continue
        for a, b in zip(bounds[i:j], bounds[i + 1 : j + 1]):
            by = np.argsort(positions[a:b], kind="stable")
            rounds.append(Round(as_index(slots[a:b][by]), as_index(positions[a:b][by]), False))
    return rounds


def run_bounds(*keys: Any) -> list[int]:
    """Where the runs of equal keys (arrays of one length) begin, and where the last ends."""
    if not keys[0].size:
        return [0]
    change = np.zeros(keys[0].size + 1, dtype=bool)
    change[[0, -1]] = True
    for k in keys:
        change[1:-1] |= k[1:] != k[:-1]
    bounds: list[int] = np.flatnonzero(change).tolist()
    return bounds


def ranks_of(keys: Any) -> Any:
    """For keys sorted so that equal ones are next to each other: how many equal ones come
    before each."""
    if not keys.size:
        return keys
    first = np.r_[True, keys[1:] != keys[:-1]]
    index = np.arange(keys.size)
    return index - np.maximum.accumulate(np.where(first, index, 0))


def stable_order(keys: Any) -> Any:
    """``np.argsort(keys, kind="stable")`` for non-negative integer keys: a radix sort, several
    times faster, when they fit in 16 bits."""
    if keys.size and int(keys.max()) < 2**16:
        keys = keys.astype(np.uint16)
    return np.argsort(keys, kind="stable")


def add_rounds(target: Any, rounds: list[Round], values: Any) -> None:
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


def check_tame(a: Any) -> None:
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


def column_runs(locals_: Sequence[Any], columns: list[int]) -> list[tuple[int, int]]:
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


def times_columns(locals_: Sequence[Any], columns: list[int], runs: list[tuple[int, int]], upstream: Any,
                   contributions: Any) -> None:
    """``contributions[i] = locals_[columns[i]] × upstream`` (see _times) for every i, a run
    of columns (see column_runs) in one multiplication."""
    for i, k in runs:
        local = locals_[columns[i]]
        if k - i == 1:
            _times(local, upstream, contributions[i])
            continue
        if isinstance(local, Masked) and local.rows is not None:  # rows first.. of one array of masks
            masks, first = local.rows
            local = Masked(masks[first : first + k - i], local.values)
        _times(local, upstream, contributions[i:k])


def all_distinct(slots: Any) -> bool:
    ordered = np.sort(slots, axis=None)
    return bool((ordered[1:] != ordered[:-1]).all())


def add_at(target: Any, slots: Any, values: Any, distinct: bool) -> None:
    """``target[slots] += values``, adding every value even where a slot repeats."""
    if distinct:
        target[slots] += values
    else:
        np.add.at(target, slots, values)
