"""Cost functions: how wrong a batch of predictions is, as one Value (the batch mean).

Each loss is called ``loss_fn(outputs, targets)``. ``outputs`` has one entry per sample: a
model's output list, or a single Value. Each loss is built from few n-ary nodes
(``autograd.sum``), so its graph stays small, and matches ``torch.nn``'s loss of the same name
(reduction "mean") in value and gradient.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
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


def _check_batch(rows: list, targets: Any, who: str) -> list:
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


def _pairs(outputs: Any, targets: Any, who: str) -> list[tuple[int, Value, float]]:
    """(sample index, output Value, target number) for every output of every sample."""
    rows = _rows(outputs, who)
    targets = _check_batch(rows, targets, who)
    return [(i, o, t) for i, (row, target) in enumerate(zip(rows, targets))
            for o, t in zip(row, _target_row(target, len(row), i, who))]


class Loss:
    """Base class: ``loss_fn(outputs, targets)`` → one Value; ``correct`` for accuracy.

    Subclasses implement ``forward(outputs, targets)``; calling the loss runs it inside a
    naming scope, so drawings show the loss's nodes as one group.
    """

    def __call__(self, outputs: Any, targets: Any) -> Value:
        with scope(type(self).__name__):
            return self.forward(outputs, targets)

    def forward(self, outputs: Any, targets: Any) -> Value:  # pragma: no cover - subclasses implement it
        raise NotImplementedError

    def correct(self, output: Any, target: Any) -> bool | None:
        """Whether one sample's output counts as right (None: this loss has no notion of it)."""
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
        self.half = bool(half)

    def forward(self, outputs: Any, targets: Any) -> Value:
        squares = [(o - t) ** 2 for _, o, t in _pairs(outputs, targets, "MSELoss")]
        return autograd.sum(squares) * ((0.5 if self.half else 1.0) / len(squares))

    def __repr__(self) -> str:
        return f"MSELoss(half={self.half})"


class BCELoss(Loss):
    """Binary cross-entropy of probabilities: mean of −[y·log p + (1 − y)·log(1 − p)].

    As in PyTorch, each log is clamped at −100, so p = 0 or 1 gives a finite loss.
    """

    def forward(self, outputs: Any, targets: Any) -> Value:
        pairs = _pairs(outputs, targets, "BCELoss")
        terms = []
        for i, p, t in pairs:
            if not 0.0 <= t <= 1.0:
                raise ValueError(f"BCELoss: target {i} is {t!r}; targets are 0 or 1 (probabilities in [0, 1])")
            if t != 0.0:
                terms.append(t * _clamped_log(p))
            if t != 1.0:
                terms.append((1.0 - t) * _clamped_log(1.0 - p))
        return autograd.sum(terms) * (-1.0 / len(pairs))

    def correct(self, output: Any, target: Any) -> bool:
        p = float(output[0] if isinstance(output, (list, tuple)) else output)
        return (p > 0.5) == (float(target[0] if isinstance(target, (list, tuple)) else target) > 0.5)


def _clamped_log(p: Value) -> Value:
    out = p.log()
    return out if out.data >= -100.0 else autograd.constant(-100.0, "log")  # flat where clamped, as in PyTorch


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy of raw scores and class indices: mean of −log softmax(s)[y].

    Computed as log-sum-exp(s) − s[y] with the maximum score subtracted first, so scores of
    ±1000 give a finite loss and gradient.

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
            if isinstance(target, bool) or not isinstance(target, numbers.Integral) or not 0 <= int(target) < len(scores):
                raise ValueError(
                    f"CrossEntropyLoss: target {i} is {target!r}; expected a class index from 0 to {len(scores) - 1}"
                )
            top = max(s.data for s in scores)
            log_sum_exp = autograd.sum([(s - top).exp() for s in scores]).log() + top
            terms.append(log_sum_exp - scores[int(target)])
        return autograd.sum(terms) * (1.0 / len(terms))

    def correct(self, output: Any, target: Any) -> bool:
        scores = [float(s) for s in output]
        return max(range(len(scores)), key=scores.__getitem__) == int(target)


class HingeLoss(Loss):
    """Max-margin loss of scores and ±1 labels: mean of max(0, 1 − y·score) (micrograd's demo)."""

    def forward(self, outputs: Any, targets: Any) -> Value:
        terms = []
        for i, score, t in _pairs(outputs, targets, "HingeLoss"):
            if t not in (-1.0, 1.0):
                raise ValueError(f"HingeLoss: target {i} is {t!r}; labels are -1 or +1")
            terms.append((1.0 - t * score).relu())
        return autograd.sum(terms) * (1.0 / len(terms))

    def correct(self, output: Any, target: Any) -> bool:
        score = float(output[0] if isinstance(output, (list, tuple)) else output)
        return (score > 0) == (float(target[0] if isinstance(target, (list, tuple)) else target) > 0)


def accuracy(loss_fn: Loss, outputs: Sequence[Any], targets: Sequence[Any]) -> float | None:
    """The fraction of samples ``loss_fn`` counts as right (None for regression losses)."""
    marks = [loss_fn.correct(o, t) for o, t in zip(outputs, targets)]
    if not marks or marks[0] is None:
        return None
    return sum(bool(m) for m in marks) / len(marks)


