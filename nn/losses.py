"""Cost functions: how wrong a batch of predictions is, as one Value (the batch mean).

Each loss is called ``loss_fn(outputs, targets)``. ``outputs`` has one entry per sample: a
model's output list, or a single Value. Each loss is built from few n-ary nodes
(``autograd.sum``), so its graph stays small, and matches ``torch.nn``'s loss of the same name
(reduction "mean") in value and gradient.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import autograd
from autograd import Value, scope


def _rows(outputs: Any, who: str) -> list[list[Value]]:
    if isinstance(outputs, Value) or isinstance(outputs, (str, bytes)) or not hasattr(outputs, "__len__"):
        raise TypeError(f"{who}: outputs must be a list with one entry per sample, got {type(outputs).__name__}")
    rows = []
    for i, out in enumerate(outputs):
        row = [out] if isinstance(out, (Value, numbers.Real)) else list(out)
        for v in row:
            if not isinstance(v, (Value, numbers.Real)):
                raise TypeError(f"{who}: outputs[{i}] holds a {type(v).__name__}, expected Values")
        rows.append([v if isinstance(v, Value) else autograd.constant(v, who) for v in row])
    if not rows:
        raise ValueError(f"{who}: got an empty batch")
    return rows


def _check_batch(rows: list[Any], targets: Any, who: str) -> list[Any]:
    if isinstance(targets, (str, bytes)) or not hasattr(targets, "__len__"):
        raise TypeError(f"{who}: targets must be a list with one entry per sample, got {type(targets).__name__}")
    if len(targets) != len(rows):
        raise ValueError(f"{who}: {len(rows)} outputs but {len(targets)} targets; give one target per sample")
    return list(targets)


def _target_row(t: Any, width: int, i: int, who: str) -> list[float]:
    row = [t] if isinstance(t, numbers.Real) else list(t)
    if len(row) != width or not all(isinstance(v, numbers.Real) for v in row):
        raise ValueError(f"{who}: target {i} is {t!r}, but the output has {width} value(s); give numbers shaped like it")
    return [float(v) for v in row]


def _traced(target: Any) -> list[Value] | None:
    """The Values of a target that holds Values (an input of a compiled step), else None."""
    if isinstance(target, Value):
        return [target]
    if isinstance(target, (list, tuple)) and target and all(isinstance(t, Value) for t in target):
        return list(target)
    return None


def _pairs(loss: Loss, outputs: Any, targets: Any) -> list[tuple[int, Value, Any]]:
    """(sample index, output Value, target) for every output of every sample. A target of
    numbers is checked by ``loss.target_numbers``; a target of Values (the inputs of a compiled
    step, whose numbers ``fit(compile=True)`` checked with it beforehand) is used as it is."""
    who = type(loss).__name__
    rows = _rows(outputs, who)
    targets = _check_batch(rows, targets, who)
    pairs: list[tuple[int, Value, Any]] = []
    for i, (row, target) in enumerate(zip(rows, targets)):
        values = _traced(target)
        if values is not None and len(values) != len(row):
            raise ValueError(f"{who}: target {i} holds {len(values)} Values, but the output has {len(row)}")
        pairs += zip([i] * len(row), row, values if values is not None else loss.target_numbers(i, target, len(row)))
    return pairs


class Loss:
    """Base class: ``loss_fn(outputs, targets)`` → one Value; ``count_correct`` for accuracy.

    Subclasses implement ``forward(outputs, targets)``; calling the loss runs it inside a
    naming scope, so drawings show the loss's nodes as one group.
    """

    def __call__(self, outputs: Any, targets: Any) -> Value:
        with scope(type(self).__name__):
            return self.forward(outputs, targets)

    def forward(self, outputs: Any, targets: Any) -> Value:  # pragma: no cover - subclasses implement it
        raise NotImplementedError

    def target_numbers(self, i: int, target: Any, width: int) -> list[float]:
        """Sample ``i``'s target as the numbers this loss reads, one per output (``width`` of
        them), checked: a ValueError says what is wrong with it. ``fit(compile=True)`` checks
        every target with it once and passes the numbers to the compiled step as inputs."""
        return _target_row(target, width, i, type(self).__name__)

    def count_correct(self, outputs: Any, targets: Any) -> int | None:
        """How many samples the outputs predict right (None: this loss has no notion of it).

        ``outputs`` and ``targets`` are a batch as the loss takes them (one entry per sample: a
        model's output list or one Value, numbers allowed), or the same as 2-D NumPy arrays, one
        row per sample: the outputs' numbers and the targets' ``target_numbers`` (as
        ``fit(compile=True)`` holds them).

        >>> import nn
        >>> nn.CrossEntropyLoss().count_correct([[2.0, 1.0], [0.5, 3.0], [1.0, 1.0]], [0, 0, 0])
        2
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Mean squared error: the mean over all outputs of (ŷ − y)².

    ``half=True`` is the ½·(ŷ − y)² cost of the tutorials ("take the difference, square it,
    divide by 2"), whose gradient is just ŷ − y.

    >>> from autograd import Value, scope
    >>> import nn
    >>> nn.MSELoss(half=True)([Value(3.0), Value(1.0)], [1.0, 1.0]).data   # (½·4 + ½·0) / 2
    1.0
    """

    def __init__(self, half: bool = False):
        if not isinstance(half, bool):  # bool("no") is True: take only a real bool
            raise TypeError(f"MSELoss: half must be True or False, got {half!r}")
        self.half = half

    def forward(self, outputs: Any, targets: Any) -> Value:
        squares = [(o - t) ** 2 for _, o, t in _pairs(self, outputs, targets)]
        return autograd.sum(squares) * ((0.5 if self.half else 1.0) / len(squares))

    def __repr__(self) -> str:
        return f"MSELoss(half={self.half})"


class BCELoss(Loss):
    """Binary cross-entropy of probabilities: mean of −[y·log p + (1 − y)·log(1 − p)].

    As PyTorch's ``binary_cross_entropy``, to the last bit: a probability outside [0, 1] (or
    nan) is an error, each log is clamped at −100 (so p = 0 or 1 gives a finite loss), and the
    gradient is (p − y) / max(p·(1 − p), ε) with PyTorch's ε (1e-12 as a float32), finite where
    1/p is not. Each sample's term is one node, ``autograd.binary_cross_entropy``, so the graph has
    the same structure whatever the probabilities: compiled training can replay it.

    >>> from autograd import Value
    >>> import nn
    >>> round(nn.BCELoss()([Value(0.8), Value(0.1)], [1, 0]).data, 6)   # −(log 0.8 + log 0.9) / 2
    0.164252
    """

    def forward(self, outputs: Any, targets: Any) -> Value:
        pairs = _pairs(self, outputs, targets)
        for i, p, _ in pairs:
            self.check_output(i, p.data)
        return autograd.sum([autograd.binary_cross_entropy(p, t) for _, p, t in pairs]) * (1.0 / len(pairs))

    def target_numbers(self, i: int, target: Any, width: int) -> list[float]:
        row = super().target_numbers(i, target, width)
        if not all(0.0 <= t <= 1.0 for t in row):
            raise ValueError(f"BCELoss: target {i} is {target!r}; targets are 0 or 1 (probabilities in [0, 1])")
        return row

    @staticmethod
    def check_output(i: int, p: float) -> None:
        """A ValueError unless output ``i``, ``p``, is a probability (``fit(compile=True)``
        calls it for the first output of a batch outside [0, 1], as the eager loss would)."""
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"BCELoss: output {i} is {p!r}, not a probability in [0, 1]; "
                             "end the model with a Sigmoid, or use HingeLoss or CrossEntropyLoss on raw scores")

    def count_correct(self, outputs: Any, targets: Any) -> int:
        """Right when the probability and the target are on the same side of ½."""
        outputs, targets = _number_rows(self, outputs, targets)
        return _matches(_above(outputs, 0.5), _above(targets, 0.5))


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy of raw scores and class indices: mean of −log softmax(s)[y].

    With m the largest score (a shift that changes nothing but keeps every exp at most 1) and
    eⱼ = exp(sⱼ − m), the loss is log Σⱼ eⱼ − (s_y − m), computed as
    log1p((e_y − 1) + Σ_{j≠y} eⱼ) − (s_y − m): when y is the top class e_y − 1 is exactly 0 and
    log1p keeps the tiny loss of a confident prediction (gap 35: 6.3e-16, where forming
    1 + 6.3e-16 first would give 6.7e-16, and adding m back and subtracting it would give 0).
    Scores of ±1000 give a finite loss and gradient.

    >>> from autograd import Value, scope
    >>> import nn
    >>> round(nn.CrossEntropyLoss()([[Value(2.0), Value(1.0), Value(0.1)]], [0]).data, 4)
    0.417
    """

    def forward(self, outputs: Any, targets: Any) -> Value:
        rows = _rows(outputs, "CrossEntropyLoss")
        targets = _check_batch(rows, targets, "CrossEntropyLoss")
        terms = []
        for i, (scores, target) in enumerate(zip(rows, targets)):
            n = len(scores)
            _check_classes(i, n)
            top = autograd.detached_max(scores)  # the shift: it passes no gradient and changes no value
            shifted = [s - top for s in scores]
            exps = [d.exp() for d in shifted]
            if isinstance(target, Value):  # a traced input (compile mode): one graph for every target,
                # one node computing _term's numbers for the class the target names
                terms.append(autograd.nll(exps, shifted, target))
            else:
                terms.append(_term(exps, shifted, _class_index(i, target, n)))
        return autograd.sum(terms) * (1.0 / len(terms))

    def target_numbers(self, i: int, target: Any, width: int) -> list[float]:
        _check_classes(i, width)
        return [float(_class_index(i, target, width))]

    def count_correct(self, outputs: Any, targets: Any) -> int:
        """Right when the target's class has the first largest score."""
        outputs, targets = _number_rows(self, outputs, targets)
        return _matches(_first_largest(outputs), _column(targets))


def _term(exps: list[Value], shifted: list[Value], y: int) -> Value:
    """−log softmax(s)[y] from eⱼ = exp(sⱼ − m) and sⱼ − m: log1p((e_y − 1) + Σ_{j≠y} eⱼ) − (s_y − m)."""
    return ((exps[y] - 1.0) + autograd.sum([e for j, e in enumerate(exps) if j != y])).log1p() - shifted[y]


def _check_classes(i: int, n: int) -> None:
    if n < 2:
        raise ValueError(f"CrossEntropyLoss: outputs[{i}] has {n} score; cross-entropy needs one score per "
                         "class (at least 2). For one output use BCELoss (after a Sigmoid) or HingeLoss")


def _class_index(i: int, target: Any, n: int) -> int:
    if isinstance(target, bool) or not isinstance(target, numbers.Integral) or not 0 <= int(target) < n:
        raise ValueError(f"CrossEntropyLoss: target {i} is {target!r}; expected a class index from 0 to {n - 1}")
    return int(target)


class HingeLoss(Loss):
    """Max-margin loss of scores and ±1 labels: mean of max(0, 1 − y·score) (micrograd's demo)."""

    def forward(self, outputs: Any, targets: Any) -> Value:
        terms = [(1.0 - t * score).relu() for _, score, t in _pairs(self, outputs, targets)]
        return autograd.sum(terms) * (1.0 / len(terms))

    def target_numbers(self, i: int, target: Any, width: int) -> list[float]:
        row = super().target_numbers(i, target, width)
        if any(t not in (-1.0, 1.0) for t in row):
            raise ValueError(f"HingeLoss: target {i} is {target!r}; labels are -1 or +1")
        return row

    def count_correct(self, outputs: Any, targets: Any) -> int:
        """Right when the score has the label's sign (a score of 0 counts as -1)."""
        outputs, targets = _number_rows(self, outputs, targets)
        return _matches(_above(outputs, 0.0), _above(targets, 0.0))


def accuracy(loss_fn: Loss, outputs: Any, targets: Any) -> float | None:
    """The fraction of samples ``loss_fn`` counts as right (None for regression losses), with
    ``outputs`` and ``targets`` as ``Loss.count_correct`` takes them."""
    right = loss_fn.count_correct(outputs, targets)
    return None if right is None else right / len(outputs)


# --- counting right answers: on lists of rows (eager) or NumPy arrays (compiled), alike -------

def _number_rows(loss: Loss, outputs: Any, targets: Any) -> tuple[Any, Any]:
    """A batch of outputs and targets as rows of numbers: arrays stay as they are, a batch as
    the loss takes it becomes lists (the outputs' numbers, the targets' ``target_numbers``)."""
    if hasattr(outputs, "shape"):
        return outputs, targets
    rows = [[float(v) for v in row] for row in _rows(outputs, type(loss).__name__)]
    targets = _check_batch(rows, targets, type(loss).__name__)
    return rows, [loss.target_numbers(i, t, len(row)) for i, (row, t) in enumerate(zip(rows, targets))]


def _column(rows: Any) -> Any:
    """The first number of every row."""
    return rows[:, 0] if hasattr(rows, "shape") else [row[0] for row in rows]


def _above(rows: Any, threshold: float) -> Any:
    """Whether the first number of each row is above ``threshold`` (nan is not)."""
    first = _column(rows)
    return first > threshold if hasattr(first, "shape") else [x > threshold for x in first]


def _first_largest(rows: Any) -> Any:
    """The position of each row's first largest number, as Python's ``max`` finds it: a nan
    is never taken over an earlier number, and a nan first is kept (nothing is larger)."""
    if not hasattr(rows, "shape"):
        return [row.index(max(row)) for row in rows]
    scores = rows.copy()
    nan = scores != scores
    scores[nan] = -math.inf
    position = scores.argmax(axis=1)
    position[nan[:, 0]] = 0
    return position


def _matches(a: Any, b: Any) -> int:
    """How many entries of ``a`` and ``b`` are equal, position by position."""
    return int((a == b).sum()) if hasattr(a, "shape") else sum(x == y for x, y in zip(a, b))
