"""Step 3 of compile mode (see ``autograd.compiled``): the table's rules on whole arrays.

A group (``groups.py``) runs an operation of ``ops.TABLE`` on all of its nodes at once by
calling the row's own ``forward`` and ``derivative`` with the namespace ``ARRAYS`` instead of
``ops.FLOATS``: the derivative rules are written once, in the table.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .. import ops
from . import PickIndexError


class Masked(NamedTuple):
    """A local derivative that is 0 where ``mask`` holds *whatever the gradient is*
    (``ops.MASKED_ZERO`` on arrays) and ``values`` (maybe one number) elsewhere: the backward
    pass uses ``where(mask, 0, values * g)``. ``rows``, when set, says that ``mask`` is row
    ``i`` of a 2-D array ``masks`` (``onehot``'s): ``(masks, i)``, so that a backward pass
    multiplies a run of such columns in one call (see times_columns)."""

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
