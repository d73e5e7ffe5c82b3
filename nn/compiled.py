"""Compiled training steps: what ``fit(..., compile=True)`` runs instead of the eager step.

A step of ``fit`` is: the model on each sample of a batch, the loss (the mean of the samples'
terms), ``backward()``, ``optimizer.step()``. Here the per-sample graph (model, then the loss
of that one sample) is compiled once with ``autograd.compile(..., batch=True)`` and replayed
over the whole batch with NumPy. The loss of one sample depends on its target through
constants (a ±1 label, a one-hot pick), so samples are grouped by target and each distinct
target gets its own program: classification (a few classes) compiles a handful of programs.

While training runs, the parameters live in one float64 array; the optimizer's own update rule
(``optimizer.update``, the one tested against PyTorch) is applied to each of them in turn, as
``optimizer.step()`` does. ``sync()`` writes the array back to every parameter's ``.data`` and
the last gradients to ``.grad``; ``fit`` calls it at the end of every epoch, when it stops and
when it is interrupted, so a user never sees stale weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import autograd
from autograd import CompileError

from .losses import Loss
from .module import Module
from .optim import Optimizer

MAX_PROGRAMS = 64  # distinct targets: past this, targets are continuous and eager is the right mode


class CompiledSteps:
    """Training steps of ``model`` under ``loss_fn`` and ``optimizer``, replayed with NumPy.

    >>> import random, nn
    >>> from nn import optim
    >>> from nn.compiled import CompiledSteps
    >>> random.seed(0)
    >>> model = nn.MLP(2, [4, 1])
    >>> opt = optim.SGD(model.parameters(), lr=0.1)
    >>> steps = CompiledSteps(model, nn.HingeLoss(), opt)
    >>> loss, outputs = steps.step([[0.5, -1.0], [1.0, 2.0]], [1, -1])
    >>> len(outputs), loss > 0
    (2, True)
    >>> steps.sync()       # the parameters' .data now hold the weights after the step
    """

    def __init__(self, model: Module, loss_fn: Loss, optimizer: Optimizer):
        try:
            import numpy as np
        except ImportError as error:
            raise ModuleNotFoundError("fit(compile=True) replays the training step with NumPy, which is not installed: "
                                      f"{autograd.compiled.INSTALL_HINT}; or train with compile=False") from error
        self.np = np
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.params = model.parameters()
        if len(optimizer.params) != len(self.params) or any(a is not b for a, b in zip(optimizer.params, self.params)):
            raise ValueError("fit(compile=True): the optimizer must update exactly model.parameters(), in that order")
        self.theta = np.array([p.data for p in self.params], dtype=float)
        self.grads = np.zeros(len(self.params))
        self.programs: dict[str, Any] = {}

    def _program(self, target: Any) -> Any:
        key = repr(target)
        compiled = self.programs.get(key)
        if compiled is None:
            if len(self.programs) >= MAX_PROGRAMS:
                raise CompileError(
                    f"fit(compile=True) compiles one program per distinct target and these targets take more than "
                    f"{MAX_PROGRAMS} values (a regression): train with compile=False"
                )

            def sample_loss(x: Any) -> Any:
                out = self.model(x)
                return self.loss_fn([out], [target]), out  # the model's output rides along (aux): for accuracy

            compiled = self.programs[key] = autograd.compile(sample_loss, self.params, batch=True)
        return compiled

    def step(self, xs: Sequence[Any], targets: Sequence[Any]) -> tuple[float, list[Any]]:
        """One training step on a batch: returns the batch loss and each sample's model output
        (a number, or a list of numbers), as the eager step would give them."""
        np = self.np
        with np.errstate(all="ignore"):  # a diverging run gives inf and nan, as eagerly, without warnings
            loss, grads, outputs = self._mean_over_targets(xs, targets)
        opt = self.optimizer
        opt.steps += 1  # what optimizer.step() does, on the array: the same update rule per parameter
        update = opt.update
        self.theta = np.array([d - update(i, d, g) for i, (d, g) in enumerate(zip(self.theta.tolist(), grads.tolist()))])
        self.grads = grads
        return loss, outputs

    def _mean_over_targets(self, xs: Sequence[Any], targets: Sequence[Any]) -> tuple[float, Any, list[Any]]:
        by_target: dict[str, list[int]] = {}
        for i, t in enumerate(targets):
            by_target.setdefault(repr(t), []).append(i)
        total, grads, outputs = 0.0, self.np.zeros(len(self.params)), [None] * len(xs)
        for indices in by_target.values():
            try:
                value, g, aux = self._program(targets[indices[0]]).evaluate(([xs[i] for i in indices],), self.theta)
            except CompileError as error:
                raise CompileError(f"fit(compile=True) with {type(self.model).__name__} and {self.loss_fn!r}: {error}; "
                                   "or train with compile=False") from None
            total += float(value) * len(indices)
            grads += g * len(indices)
            for i, out in zip(indices, aux):
                outputs[i] = out
        return total / len(xs), grads / len(xs), outputs

    def sync(self) -> None:
        """Write the trained weights to every parameter's ``.data``, the last gradients to ``.grad``."""
        for p, d, g in zip(self.params, self.theta.tolist(), self.grads.tolist()):
            p.data, p.grad = d, g
