"""Cost functions: how wrong a batch of predictions is, as one Value (the batch mean).

Each loss is called ``loss_fn(outputs, targets)``. ``outputs`` has one entry per sample: a
model's output list, or a single Value. Each loss is built from few n-ary nodes
(``autograd.sum``), so its graph stays small, and matches ``torch.nn``'s loss of the same name
(reduction "mean") in value and gradient.
"""

from __future__ import annotations

import math
import numbers
import struct
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
        if not isinstance(half, bool):  # bool("no") is True: take only a real bool
            raise TypeError(f"MSELoss: half must be True or False, got {half!r}")
        self.half = half

    def forward(self, outputs: Any, targets: Any) -> Value:
        squares = [(o - t) ** 2 for _, o, t in _pairs(outputs, targets, "MSELoss")]
        return autograd.sum(squares) * ((0.5 if self.half else 1.0) / len(squares))

    def __repr__(self) -> str:
        return f"MSELoss(half={self.half})"


class BCELoss(Loss):
    """Binary cross-entropy of probabilities: mean of −[y·log p + (1 − y)·log(1 − p)].

    As PyTorch's ``binary_cross_entropy``: a probability outside [0, 1] (or nan) is an error,
    each log is clamped at −100 (so p = 0 or 1 gives a finite loss), and where p·(1 − p) is
    below PyTorch's ε (1e-12 as a float32) the gradient is PyTorch's clamped
    (p − y) / max(p·(1 − p), ε) rather than the unbounded 1/p.

    >>> from autograd import Value
    >>> import nn
    >>> round(nn.BCELoss()([Value(0.8), Value(0.1)], [1, 0]).data, 6)   # −(log 0.8 + log 0.9) / 2
    0.164252
    """

    def forward(self, outputs: Any, targets: Any) -> Value:
        pairs = _pairs(outputs, targets, "BCELoss")
        terms = []
        for i, p, t in pairs:
            if not 0.0 <= t <= 1.0:
                raise ValueError(f"BCELoss: target {i} is {t!r}; targets are 0 or 1 (probabilities in [0, 1])")
            if not 0.0 <= p.data <= 1.0:
                raise ValueError(f"BCELoss: output {i} is {p.data!r}, not a probability in [0, 1]; "
                                 "end the model with a Sigmoid, or use HingeLoss or CrossEntropyLoss on raw scores")
            terms.append(_bce_term(p, t))
        return autograd.sum(terms) * (1.0 / len(pairs))

    def correct(self, output: Any, target: Any) -> bool:
        p = float(output[0] if isinstance(output, (list, tuple)) else output)
        return (p > 0.5) == (float(target[0] if isinstance(target, (list, tuple)) else target) > 0.5)


# PyTorch's binary_cross_entropy: logs clamped at -100; the backward divides by p(1 - p) clamped
# at EPSILON, which it writes as the float32 literal 1e-12 (so 1 / EPSILON is 1000000003995.8...)
LOG_FLOOR = -100.0
BCE_EPSILON = struct.unpack("f", struct.pack("f", 1e-12))[0]


def _bce_term(p: Value, y: float) -> Value:
    """−[y·log p + (1 − y)·log(1 − p)] for one probability, with PyTorch's clamping."""
    if p.data * (1.0 - p.data) >= BCE_EPSILON:  # both logs are above -28: nothing is clamped
        return -(y * p.log() + (1.0 - y) * (1.0 - p).log())
    # Within 1e-12 of 0 or 1 PyTorch's value and gradient are clamped numbers, not the smooth
    # formula: a node with that value whose derivative is that clamped slope (p - p.data is 0).
    # This branch is chosen by value, as PyTorch's clamp is; a clamp operation in the engine
    # would make it one structure for compiled mode.
    value = -(y * _floored_log(p.data) + (1.0 - y) * _floored_log(1.0 - p.data))
    slope = (p.data - y) / max(p.data * (1.0 - p.data), BCE_EPSILON)
    return (p - p.data) * slope + value


def _floored_log(x: float) -> float:
    return max(math.log(x), LOG_FLOOR) if x > 0.0 else LOG_FLOOR


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
            if n < 2:
                raise ValueError(
                    f"CrossEntropyLoss: outputs[{i}] has {n} score; cross-entropy needs one score per "
                    "class (at least 2). For one output use BCELoss (after a Sigmoid) or HingeLoss")
            top = autograd.detached_max(scores)  # the shift: it passes no gradient and changes no value
            shifted = [s - top for s in scores]
            exps = [d.exp() for d in shifted]
            if isinstance(target, Value):  # a traced input (compile mode): one graph serves every target
                rests = [autograd.sum([e for j, e in enumerate(exps) if j != k]) for k in range(n)]
                e_y, rest, s_y = (autograd.pick(row, target) for row in (exps, rests, shifted))
            else:
                if isinstance(target, bool) or not isinstance(target, numbers.Integral) or not 0 <= int(target) < n:
                    raise ValueError(
                        f"CrossEntropyLoss: target {i} is {target!r}; expected a class index from 0 to {n - 1}")
                y = int(target)
                e_y, rest, s_y = exps[y], autograd.sum([e for j, e in enumerate(exps) if j != y]), shifted[y]
            terms.append(((e_y - 1.0) + rest).log1p() - s_y)
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


