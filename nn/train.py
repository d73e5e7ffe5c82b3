"""``fit``: the training loop of the tutorials, written once.

    assign initial weights (the model's constructor did)
    repeat for each epoch:
        for each mini-batch:  predict → cost → backward (gradients) → optimizer step
    until the epochs run out, or the weights stop changing (``tol``), or the loss does
    (``min_delta``)
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autograd import Value, gc_paused

from .compiled import CompiledSteps
from .losses import Loss, accuracy
from .module import Module
from .optim import Optimizer


@dataclass
class History:
    """What ``fit`` did: the loss and accuracy of every epoch, and why it stopped.

    ``stopped`` is one of ``"epochs"`` (ran them all), ``"tol"`` (no weight moved more than
    ``tol`` in an epoch), ``"min_delta"`` (the loss changed less than ``min_delta``) or
    ``"interrupted"`` (Ctrl-C: the model keeps the weights of the last finished step).
    ``accuracy`` is the fraction of training samples predicted right during each epoch
    (``None`` for losses without classes, such as ``MSELoss``); ``max_change`` is the largest
    move of any weight in each epoch.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    max_change: list[float] = field(default_factory=list)
    stopped: str = ""

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def __repr__(self) -> str:
        last = f", final loss {self.loss[-1]:.4g}" if self.loss else ""
        acc = f", accuracy {self.accuracy[-1]:.1%}" if self.accuracy and self.accuracy[-1] is not None else ""
        return f"History({self.epochs} epochs{last}{acc}, stopped: {self.stopped})"


def _progress(total: int, enabled: bool) -> Any:
    if enabled and sys.stderr.isatty():
        try:
            from tqdm.auto import tqdm

            return tqdm(total=total, unit="epoch", leave=True)
        except ImportError:  # the bar is a nicety: training works without tqdm
            pass
    return None


def fit(
    model: Module,
    X: Sequence[Any],
    y: Sequence[Any],
    loss_fn: Loss,
    optimizer: Optimizer,
    *,
    epochs: int,
    batch_size: int | None = None,
    tol: float | None = None,
    min_delta: float | None = None,
    seed: int = 0,
    progress: bool = True,
    compile: bool = False,
) -> History:
    """Train ``model`` on ``X``, ``y`` and return a ``History``.

    Each epoch shuffles the samples (seeded by ``seed``) into mini-batches of ``batch_size``
    (``None``: the whole set in one batch) and for each batch runs the model, the loss,
    ``backward()`` and ``optimizer.step()``. Stops after ``epochs``, or once no weight moved
    by more than ``tol`` during an epoch ("until the weights stop changing"), or once the
    epoch loss changed by less than ``min_delta``. A progress bar shows on a terminal unless
    ``progress=False``. Ctrl-C stops cleanly and returns the history so far.

    ``compile=True`` replays each step with NumPy (``nn.compiled.CompiledSteps``): the same
    batches and updates, the same losses to rounding, much faster; the parameters' ``.data``
    are brought up to date at the end of every epoch and when ``fit`` returns.

    >>> import random, nn
    >>> from nn import optim
    >>> random.seed(0)
    >>> X, y = nn.data.xor(n=40)
    >>> model = nn.MLP(2, [8, 2], activation="tanh")
    >>> history = nn.fit(model, X, y, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05),
    ...                  epochs=60, progress=False)
    >>> history.accuracy[-1] > 0.9, history.stopped
    (True, 'epochs')
    """
    if len(X) != len(y):
        raise ValueError(f"fit: {len(X)} samples but {len(y)} targets")
    if not len(X):
        raise ValueError("fit: no training samples")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive whole number, got {epochs!r}")
    size = len(X) if batch_size is None else batch_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"fit: batch_size must be a positive whole number or None, got {batch_size!r}")
    if not isinstance(loss_fn, Loss):
        raise TypeError(f"fit: loss_fn must be an nn loss such as nn.CrossEntropyLoss(), got {type(loss_fn).__name__}")
    params = model.parameters()
    rng = random.Random(seed)
    history = History()
    bar = _progress(epochs, progress)
    order = list(range(len(X)))
    steps = CompiledSteps(model, loss_fn, optimizer) if compile else None
    try:
        for _ in range(epochs):
            before = [p.data for p in params]
            rng.shuffle(order)
            total, outputs_seen, targets_seen = 0.0, [], []
            for start in range(0, len(order), size):
                batch = order[start : start + size]
                targets = [y[i] for i in batch]
                if steps is not None:
                    loss_value, numbers = steps.step([X[i] for i in batch], targets)
                else:
                    with gc_paused():  # a step's graph holds no cycles: no collector scans while it lives
                        outputs = [model(X[i]) for i in batch]
                        loss = loss_fn(outputs, targets)
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                    loss_value, numbers = loss.data, [_numbers(o) for o in outputs]
                total += loss_value * len(batch)
                outputs_seen += numbers
                targets_seen += targets
            if steps is not None:
                steps.sync()
            history.loss.append(total / len(order))
            history.accuracy.append(accuracy(loss_fn, outputs_seen, targets_seen))
            history.max_change.append(max(abs(p.data - b) for p, b in zip(params, before)))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{history.loss[-1]:.4f}")
            if tol is not None and history.max_change[-1] <= tol:
                history.stopped = "tol"
                break
            if min_delta is not None and len(history.loss) > 1 and abs(history.loss[-2] - history.loss[-1]) < min_delta:
                history.stopped = "min_delta"
                break
        else:
            history.stopped = "epochs"
    except KeyboardInterrupt:
        history.stopped = "interrupted"
        if steps is not None:
            steps.sync()
        model.zero_grad()
    finally:
        if bar is not None:
            bar.close()
        if steps is not None and history.stopped != "interrupted":
            steps.sync()  # also when an error stops training: .data never holds stale weights
    return history


def _numbers(output: Any) -> Any:
    """A model output as plain floats, so the epoch's graphs can be freed as it goes."""
    if isinstance(output, Value):
        return output.data
    return [float(v) for v in output]
