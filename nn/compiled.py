"""Compiled training steps: what ``fit(..., compile=True)`` runs instead of the eager step.

A step of ``fit`` is: the model on each sample of a batch, the loss (the mean of the samples'
terms), ``backward()``, ``optimizer.step()``. Here the graph of ONE sample (the model, then the
loss of that sample against its target) is traced once with ``autograd.compile(...,
batch=True)`` and replayed over every batch with NumPy. The target is an input of that graph,
like the pixels (a class index that ``autograd.nll`` reads, a ±1 label, a regression value), so
one program serves every sample and every batch.

While training runs, the parameters live in one float64 array, and the optimizer's own update
rule (``optimizer.rule``, the one ``step()`` runs and the tests check against PyTorch) is
applied to that whole array at once, with the optimizer's state (momentum, Adam's averages)
held as arrays too. ``sync()`` writes the weights back to every parameter's ``.data``, the last
gradients to ``.grad`` and the state back to the optimizer; ``fit`` calls it when it returns,
when it is interrupted and before anything that reads the model (validation, the live view),
so a user never sees stale weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import autograd
from autograd import CompileError, no_grad
from autograd.compiled import CHECK_EVERY

from .losses import BCELoss, Loss
from .module import Module
from .optim import Optimizer

# The guard traces the sample graph again (on 16 samples in the first two steps, then on one sample
# every CHECK_EVERY steps, compile mode's one cadence) and stops training if it differs.


class ArrayTraining:
    """The state of a compiled training loop: ``model``'s parameters in one float64 array
    (``theta``), the optimizer's running state (momentum, Adam's averages) as arrays, and the
    last gradients. ``update(grads)`` moves them by the optimizer's own rule; ``sync()`` writes
    them back to the parameters and the optimizer. ``what`` and ``otherwise`` name the caller
    and the eager way in messages."""

    def __init__(self, model: Module, optimizer: Optimizer, what: str, otherwise: str):
        try:
            import numpy as np
        except ImportError as error:
            raise ModuleNotFoundError(f"{what} replays the training step with NumPy, which is not installed: "
                                      f"{autograd.compiled.INSTALL_HINT}; or {otherwise}") from error
        self.np = np
        self.model, self.optimizer = model, optimizer
        self.params = model.parameters()
        if len(optimizer.params) != len(self.params) or any(a is not b for a, b in zip(optimizer.params, self.params)):
            raise ValueError(f"{what}: the optimizer must update exactly model.parameters(), in that order")
        self.grads = np.zeros(len(self.params))
        self.read()

    def read(self) -> None:
        """Start from the parameters' ``.data`` and the optimizer's state as they are now."""
        np = self.np
        self.theta = np.array([p.data for p in self.params], dtype=float)
        self.state = tuple(None if column[0] is None else np.array(column, dtype=float)
                           for column in zip(*self.optimizer.state))

    def update(self, grads: Any) -> None:
        """What ``optimizer.step()`` does, by its own rule, on every parameter at once."""
        opt = self.optimizer
        opt.steps += 1
        with self.np.errstate(all="ignore"):  # a diverging run gives inf and nan, as eagerly, without warnings
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


class CompiledSteps(ArrayTraining):
    """Training steps of ``model`` under ``loss_fn`` and ``optimizer`` on samples ``X`` with
    targets ``y``, replayed with NumPy; ``step(indices)`` trains on those samples.

    >>> import random, nn
    >>> from nn import optim
    >>> from nn.compiled import CompiledSteps
    >>> random.seed(0)
    >>> model = nn.MLP(2, [4, 1])
    >>> opt = optim.SGD(model.parameters(), lr=0.1)
    >>> steps = CompiledSteps(model, nn.HingeLoss(), opt, [[0.5, -1.0], [1.0, 2.0]], [1, -1])
    >>> loss, outputs = steps.step([0, 1])
    >>> outputs.shape, loss > 0       # one row of outputs per sample
    ((2, 1), True)
    >>> steps.sync()       # the parameters' .data now hold the weights after the step
    """

    def __init__(self, model: Module, loss_fn: Loss, optimizer: Optimizer, X: Sequence[Any], y: Sequence[Any]):
        super().__init__(model, optimizer, "fit(compile=True)", "train with compile=False")
        np = self.np
        self.loss_fn = loss_fn
        try:
            self.X = np.asarray(X, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("fit(compile=True): every sample must be numbers of the same shape (one array of "
                             "inputs); train with compile=False for other inputs") from None
        with no_grad():  # the number of outputs, which the targets must match
            first = model(_values(X[0]))
        width = 1 if isinstance(first, autograd.Value) else len(first)
        self.T = np.array([loss_fn.target_numbers(i, t, width) for i, t in enumerate(y)], dtype=float)
        self.compiled = autograd.compile(self._sample_loss, self.params, batch=True, check_every=CHECK_EVERY)

    def _sample_loss(self, x: Any, target: list[Any]) -> tuple[autograd.Value, Any]:
        out = self.model(x)
        # the model's output rides along (aux): fit counts the right answers from it
        return self.loss_fn([out], [target[0] if len(target) == 1 else target]), out

    def step(self, indices: Sequence[int]) -> tuple[float, Any]:
        """One training step on the samples at ``indices``: the batch loss and the model's
        outputs before the step (an array, one row per sample), as the eager step gives them."""
        np = self.np
        with np.errstate(all="ignore"):  # a diverging run gives inf and nan, as eagerly, without warnings
            try:
                loss, grads, aux = self.compiled.evaluate((self.X[indices], self.T[indices]), self.theta)
            except CompileError as error:
                raise CompileError(f"fit(compile=True) with {type(self.model).__name__} and {self.loss_fn!r}: "
                                   f"{error}; or train with compile=False") from None
            outputs = np.asarray(aux, dtype=float).reshape(len(indices), -1)
            if isinstance(self.loss_fn, BCELoss):  # BCE refuses what is not a probability, before any update
                bad = np.flatnonzero(~((outputs >= 0.0) & (outputs <= 1.0)).all(axis=1))
                if bad.size:
                    row = outputs[bad[0]]
                    self.loss_fn.check_output(int(bad[0]), float(row[~((row >= 0.0) & (row <= 1.0))][0]))
        self.update(grads)
        return float(loss), outputs

    def accuracy(self, outputs: list[Any], indices: Sequence[int]) -> float | None:
        """The fraction of the samples at ``indices`` whose ``outputs`` (arrays of rows, in
        that order) the loss counts as right; None for losses without classes."""
        right = self.loss_fn.count_correct(self.np.concatenate(outputs), self.T[indices])
        return None if right is None else right / len(indices)

    def max_change(self, before: Any) -> float:
        """The largest move of any weight since ``before`` (a copy of ``theta``), as fit's
        eager ``max(abs(p.data - b) ...)`` gives it (nan included)."""
        with self.np.errstate(all="ignore"):  # (inf - inf in a diverging run: nan, as eagerly, without a warning)
            changes = self.np.abs(self.theta - before)
        largest = float(changes.max())
        return largest if largest == largest else max(changes.tolist())  # Python's max treats nan its own way


def _values(sample: Any) -> Any:
    """A sample with each number made a Value, as the traced step sees it."""
    if isinstance(sample, (list, tuple)):
        return [_values(s) for s in sample]
    return autograd.Value(float(sample))
