"""Compiled training steps: what ``fit(..., compile=True)`` and ``GPT.compiled_step`` run
instead of the eager step.

A training step is: the model on each sample of a batch, the loss, ``backward()``,
``optimizer.step()``. Here a loss function of Values (for ``fit``: the model and the loss of ONE
sample against its target) is traced once with ``autograd.compile`` and replayed with NumPy.
The targets are inputs of that graph, like the pixels (a class index that ``autograd.nll``
reads, a ±1 label, a regression value), so one program serves every sample and every batch.

While training runs, the parameters live in one float64 array, and the optimizer's own update
rule (``optimizer.rule``, the one ``step()`` runs and the tests check against PyTorch) is
applied to that whole array at once, with the optimizer's state (momentum, Adam's averages)
held as arrays too. ``sync()`` writes the weights back to every parameter's ``.data``, the last
gradients to ``.grad`` and the state back to the optimizer; ``fit`` calls it when it returns,
when it is interrupted and before anything that reads the model (validation, the live view),
so a user never sees stale weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import autograd
from autograd import CompileError, no_grad
from autograd.compiled import CHECK_EVERY

from .losses import BCELoss, Loss
from .module import Module
from .optim import Optimizer
from .steps import Hold, Steps

# The guard traces the sample graph again (on 16 samples in the first two steps, then on one sample
# every CHECK_EVERY steps, compile mode's one cadence) and stops training if it differs.


class CompiledTraining(Steps):
    """Training by a compiled loss function ``fn`` of Values: ``model``'s parameters in one
    float64 array (``theta``), the optimizer's running state (momentum, Adam's averages) as
    arrays, and the last gradients. ``replay(args)`` computes the loss, its gradients and the
    aux numbers at ``theta``; ``update(grads)`` moves the weights by the optimizer's own rule;
    ``sync()`` writes them back to the parameters and the optimizer. ``who`` and ``otherwise``
    name the caller and the eager way in messages."""

    def __init__(self, model: Module, loss_fn: Loss, optimizer: Optimizer, fn: Callable[..., Any], *, batch: bool,
                 who: str, otherwise: str, check_every: int = CHECK_EVERY, hold: Hold = nullcontext,
                 backend: str = "numpy"):
        try:
            import numpy as np
        except ImportError as error:
            raise ModuleNotFoundError(f"{who} replays the training step with NumPy, which is not installed: "
                                      f"{autograd.compiled.INSTALL_HINT}; or {otherwise}") from error
        super().__init__(model, loss_fn, optimizer, hold)
        self.np, self.who, self.otherwise = np, who, otherwise
        if len(optimizer.params) != len(self.params) or any(a is not b for a, b in zip(optimizer.params, self.params)):
            raise ValueError(f"{who}: the optimizer must update exactly model.parameters(), in that order")
        self.grads = np.zeros(len(self.params))
        self.read()
        self.compiled = autograd.compile(fn, self.params, batch=batch, check_every=check_every, backend=backend)

    def read(self) -> None:
        """Start from the parameters' ``.data`` and the optimizer's state as they are now."""
        np = self.np
        self.theta = np.array([p.data for p in self.params], dtype=float)
        self.state = tuple(None if column[0] is None else np.array(column, dtype=float)
                           for column in zip(*self.optimizer.state))

    def replay(self, args: Sequence[Any]) -> tuple[float, Any, Any]:
        """The loss, its gradients (an array) and the aux numbers of ``fn`` on ``args`` at the
        weights ``theta``; a ``CompileError`` names the model and the loss."""
        try:
            loss, grads, aux = self.compiled.evaluate(args, self.theta)
        except CompileError as error:
            raise self.named(error) from None
        return float(loss), grads, aux

    def named(self, error: CompileError) -> CompileError:
        """``error`` with the caller, the model and the loss named, and the eager way out."""
        return CompileError(f"{self.who} with {type(self.model).__name__} and {self.loss_fn!r}: {error}; "
                            f"or {self.otherwise}")

    def update(self, grads: Any) -> None:
        """What ``optimizer.step()`` does, by its own rule, on every parameter at once (inside ``hold()``)."""
        opt = self.optimizer
        with self.hold(), self.np.errstate(all="ignore"):  # a diverging run gives inf and nan, as eagerly
            opt.steps += 1
            delta, self.state = opt.rule(self.np.sqrt, self.theta, grads, self.state)
            self.theta -= delta
            self.grads = grads

    def sync(self) -> None:
        """Write the trained weights to every parameter's ``.data``, the last gradients to
        ``.grad``, and the optimizer's state back to it (so eager steps may follow)."""
        for p, d, g in zip(self.params, self.theta.tolist(), self.grads.tolist()):
            p.data, p.grad = d, g
        columns = [[None] * len(self.params) if s is None else s.tolist() for s in self.state]
        self.optimizer.state = list(zip(*columns))

    def weights(self) -> Any:
        return self.theta.copy()

    def max_change(self, before: Any) -> float:
        with self.np.errstate(all="ignore"):  # (inf - inf in a diverging run: nan, as eagerly, without a warning)
            changes = self.np.abs(self.theta - before)
        largest = float(changes.max())
        return largest if largest == largest else max(changes.tolist())  # Python's max treats nan its own way


class CompiledSteps(CompiledTraining):
    """``fit``'s steps of ``model`` under ``loss_fn`` and ``optimizer`` on samples ``X`` with
    targets ``y``, replayed with NumPy; ``step(indices)`` trains on those samples.

    >>> import random, nn
    >>> from nn import optim
    >>> from nn.compiled import CompiledSteps
    >>> random.seed(0)
    >>> model = nn.MLP(2, [4, 1])
    >>> opt = optim.SGD(model.parameters(), lr=0.1)
    >>> steps = CompiledSteps(model, nn.HingeLoss(), opt, [[0.5, -1.0], [1.0, 2.0]], [1, -1])
    >>> loss, right = steps.step([0, 1])
    >>> loss > 0, right in (0, 1, 2)
    (True, True)
    >>> steps.sync()       # the parameters' .data now hold the weights after the step
    """

    def __init__(self, model: Module, loss_fn: Loss, optimizer: Optimizer, X: Sequence[Any], y: Sequence[Any],
                 hold: Hold = nullcontext, who: str = "fit(compile=True)"):
        super().__init__(model, loss_fn, optimizer, self._sample_loss, batch=True, who=who,
                         otherwise="train with compile=False", hold=hold)
        np = self.np
        try:
            self.X = np.asarray(X, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{who}: every sample must be numbers of the same shape (one array of "
                             "inputs); train with compile=False for other inputs") from None
        with no_grad():  # the number of outputs, which the targets must match
            first = model(_values(X[0]))
        width = 1 if isinstance(first, autograd.Value) else len(first)
        self.T = np.array([loss_fn.target_numbers(i, t, width) for i, t in enumerate(y)], dtype=float)

    def _sample_loss(self, x: Any, target: list[Any]) -> tuple[autograd.Value, Any]:
        out = self.model(x)
        # the model's output rides along (aux): the step counts the right answers from it
        return self.loss_fn([out], [target[0] if len(target) == 1 else target]), out

    def step(self, indices: Sequence[int]) -> tuple[float, int | None]:
        """One training step on the samples at ``indices``: the batch loss and how many of the
        samples the model's outputs before the step predict right, as the eager step gives them."""
        np = self.np
        targets = self.T[indices]
        with np.errstate(all="ignore"):  # a diverging run gives inf and nan, as eagerly, without warnings
            loss, grads, aux = self.replay((self.X[indices], targets))
            outputs = np.asarray(aux, dtype=float).reshape(len(indices), -1)
            if isinstance(self.loss_fn, BCELoss):  # BCE refuses what is not a probability, before any update
                _check_probabilities(self.loss_fn, outputs)
        self.update(grads)
        return loss, self.loss_fn.count_correct(outputs, targets)


def _check_probabilities(loss_fn: BCELoss, outputs: Any) -> None:
    """BCELoss's error for the first output of a batch outside [0, 1], as the eager loss raises it."""
    outside = ~((outputs >= 0.0) & (outputs <= 1.0))
    bad = outside.any(axis=1).nonzero()[0]
    if bad.size:
        row = outputs[bad[0]]
        loss_fn.check_output(int(bad[0]), float(row[outside[bad[0]]][0]))


def _values(sample: Any) -> Any:
    """A sample with each number made a Value, as the traced step sees it."""
    if isinstance(sample, (list, tuple)):
        return [_values(s) for s in sample]
    return autograd.Value(float(sample))
