"""Training steps: what ``fit`` runs for each mini-batch, eagerly or compiled.

``fit`` is one loop (shuffle, mini-batches, a step per batch, the epoch's record) over a *steps*
object with this interface, whichever way the steps are computed:

    steps.epoch(order, size)  a step on each batch of ``size`` samples of ``order``: (the mean loss
                              over the samples, the fraction predicted right, or None)
    steps.step(indices)       trains on the samples at ``indices``: (the batch's mean loss, how
                              many of them the model predicted right before the update, or None)
    steps.weights()           a copy of every weight, for ``steps.max_change(copy)`` later
    steps.evaluate(X, y)      the loss and accuracy on other samples, training nothing
    steps.finish(interrupted) leaves the model's parameters (and the optimizer) up to date

``EagerSteps`` (here) builds each step's graph of Values and runs ``backward()`` and
``optimizer.step()``; ``nn.compiled.CompiledSteps`` replays one traced sample graph over the
whole batch with NumPy; ``nn.xla.JaxSteps`` runs that program jitted by JAX, an epoch's batches
in one call. Each runs its weight update inside ``hold()``: ``fit`` passes a hold
under which Ctrl-C waits, so the weights all move or none do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from autograd import Value, gc_paused, no_grad

from .losses import Loss, accuracy
from .module import Module
from .optim import Optimizer

Hold = Callable[[], AbstractContextManager[Any]]


class Steps:
    """The training steps of ``model`` under ``loss_fn`` and ``optimizer``; subclasses say how
    a step is computed (``step``) and where the weights live while training runs."""

    def __init__(self, model: Module, loss_fn: Loss, optimizer: Optimizer, hold: Hold = nullcontext):
        self.model, self.loss_fn, self.optimizer, self.hold = model, loss_fn, optimizer, hold
        self.params = model.parameters()

    def epoch(self, order: Sequence[int], size: int) -> tuple[float, float | None]:
        """A step on each batch of ``size`` samples in ``order``: the mean loss over the samples,
        and the fraction predicted right (None for losses without classes)."""
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        results = [self.step(batch) for batch in batches]
        return summary([(loss, len(b)) for (loss, _), b in zip(results, batches)], [r for _, r in results], len(order))

    def step(self, indices: Sequence[int]) -> tuple[float, int | None]:  # pragma: no cover - subclasses
        raise NotImplementedError

    def weights(self) -> Any:
        """A copy of every weight as it is now."""
        return [p.data for p in self.params]

    def max_change(self, before: Any) -> float:
        """The largest move of any weight since ``before`` (a ``weights()`` copy); nan if any moved by nan."""
        return max(abs(p.data - float(b)) for p, b in zip(self.params, before))

    def sync(self) -> None:
        """Make every parameter's ``.data`` hold the weights (eagerly, it always does)."""

    def evaluate(self, X: Sequence[Any], y: Sequence[Any]) -> tuple[float, float | None]:
        """The mean loss and the accuracy (None without classes) of the model on ``X``, ``y``,
        building no graph and training nothing: what ``fit`` records for validation samples.

        >>> import nn
        >>> from autograd import Value
        >>> class Double(nn.Module):
        ...     def forward(self, x):
        ...         return Value(2.0 * x[0])
        >>> model = Double()
        >>> model.w = nn.Parameter(0.0)
        >>> Steps(model, nn.MSELoss(), nn.optim.SGD([model.w], lr=0.1)).evaluate([[1.0], [2.0]], [2.0, 5.0])
        (0.5, None)
        """
        self.sync()
        with no_grad():
            outputs = [self.model(x) for x in X]
            loss = self.loss_fn(outputs, list(y)).data
        return loss, accuracy(self.loss_fn, [_numbers(o) for o in outputs], list(y))

    def finish(self, interrupted: bool) -> None:
        """Leave the parameters holding the trained weights; after an interruption with no
        gradient (an unfinished step's are partial)."""
        self.sync()
        if interrupted:
            self.model.zero_grad()


class EagerSteps(Steps):
    """Each step builds the batch's graph of Values: the model on every sample, the loss,
    ``backward()``, then ``optimizer.step()``.

    >>> import random, nn
    >>> from nn import optim
    >>> from nn.steps import EagerSteps
    >>> random.seed(0)
    >>> model = nn.MLP(2, [4, 2])
    >>> steps = EagerSteps(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
    ...                    [[0.5, -1.0], [1.0, 2.0]], [1, 0])
    >>> loss, right = steps.step([0, 1])
    >>> loss > 0, right in (0, 1, 2)
    (True, True)
    """

    def __init__(self, model: Module, loss_fn: Loss, optimizer: Optimizer, X: Sequence[Any], y: Sequence[Any],
                 hold: Hold = nullcontext):
        super().__init__(model, loss_fn, optimizer, hold)
        self.X, self.y = X, y

    def step(self, indices: Sequence[int]) -> tuple[float, int | None]:
        targets = [self.y[i] for i in indices]
        with gc_paused():  # a step's graph holds no cycles: no collector scans while it lives
            outputs = [self.model(self.X[i]) for i in indices]
            loss = self.loss_fn(outputs, targets)
            self.optimizer.zero_grad()
            loss.backward()
            with self.hold():
                self.optimizer.step()
        return loss.data, self.loss_fn.count_correct([_numbers(o) for o in outputs], targets)


def summary(losses: Sequence[tuple[float, int]], rights: Sequence[int | None], n: int) -> tuple[float, float | None]:
    """An epoch's mean loss over its ``n`` samples and the fraction predicted right (None if a
    count is None), from each batch's ``(mean loss, samples)`` in order and the counts of right
    predictions."""
    total = 0.0
    for loss, samples in losses:
        total += loss * samples
    right = None if any(r is None for r in rights) else sum(r for r in rights if r is not None)
    return total / n, None if right is None else right / n


def _numbers(output: Any) -> Any:
    """A model output as plain floats, so a step's graph can be freed as soon as it ends."""
    if isinstance(output, Value):
        return output.data
    return [float(v) for v in output]
