"""``fit(..., compile="jax")``: the compiled training steps on XLA.

The program is the one ``fit(compile=True)`` replays (one traced sample graph of the model and
the loss, ``nn.compiled.CompiledSteps``), emitted as ``jax.numpy`` by ``autograd.compiled.xla``.
Here the optimizer's own update rule (``optimizer.rule``, the one ``step()`` runs) goes inside
the jitted step, and a whole epoch is one jitted call: its batches of full size in a
``lax.scan``, gathered by the epoch's shuffled order inside it, then the last, smaller batch.
Nothing returns to Python between the steps of an epoch.

Python runs a step itself (the NumPy replay of ``CompiledSteps``) where it must: the guard's
first two checks, which trace the model again on samples of the batch, and the first step of
an optimizer whose state starts empty (SGD's momentum buffer). The jitted epoch still has the
same shape then (those batches are passed through unchanged), so it compiles once per fit. An
epoch that meets a bad class index, an output ``BCELoss`` refuses, an inf or a nan, or numbers
near overflow (where XLA's order of adding could give inf where eager's gives a finite number) is run again
batch by batch the NumPy way, which raises eager's error or computes those steps eagerly. So
``compile="jax"`` gives eager's numbers to rounding, as ``compile=True`` does.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from autograd import CompileError
from autograd.compiled.xla import JaxProgram, jax_modules
from autograd.compiled.xla import tame as tame_numbers

from .compiled import CompiledSteps
from .losses import BCELoss, Loss
from .module import Module
from .optim import Optimizer
from .steps import Hold, summary


class JaxSteps(CompiledSteps):
    """``fit``'s steps on XLA: see the module's docstring."""

    def __init__(self, model: Module, loss_fn: Loss, optimizer: Optimizer, X: Sequence[Any], y: Sequence[Any],
                 hold: Hold = nullcontext):
        self.jax, self.jnp = jax_modules()
        super().__init__(model, loss_fn, optimizer, X, y, hold=hold, who="fit(compile='jax')")
        with self.jax.enable_x64(True):
            self.data = (self.jnp.asarray(self.X.reshape(len(self.X), -1)), self.jnp.asarray(self.T))
        self.key = (self.data[0].shape[1], self.T.shape[1])  # the program's: the numbers of a sample and a target
        self.jitted: tuple[Any, Any] | None = None  # (what it was made for, the jitted epoch)
        self.device: tuple[Any, ...] = (None, None, None, None)  # see _on_device

    def epoch(self, order: Sequence[int], size: int) -> tuple[float, float | None]:
        if self._needs_python():  # the guard's first checks, or an optimizer state that starts empty
            return super().epoch(order, size)
        batches = [list(order[start : start + size]) for start in range(0, len(order), size)]
        theta, state = self.theta, self.state
        jitted = self._jitted(batches)
        if jitted is None:  # the NumPy way, from where the jitted epoch started
            self.theta, self.state = theta.copy(), state
            return super().epoch(order, size)
        losses, right = jitted
        return summary([(loss, len(b)) for loss, b in zip(losses, batches)], [right], len(order))

    def _needs_python(self) -> bool:
        first = self.optimizer.steps == 0 and any(s is None for s in self.state)  # a state made by the first step
        return self.compiled.calls.get(self.key, 0) < 2 or first

    def _jitted(self, batches: list[list[int]]) -> tuple[list[float], int | None] | None:
        """The epoch's batches in one jitted call: their losses and how many samples they
        predicted right; None if it met what the NumPy way must run (see above)."""
        np, opt = self.np, self.optimizer
        full = [b for b in batches if len(b) == len(batches[0])]
        last = batches[len(full) :]
        with self.jax.enable_x64(True):
            try:
                self.compiled.replayed((self.X[batches[0]], self.T[batches[0]]), len(batches), self.theta)
            except CompileError as error:
                raise self.named(error) from None
            program = self.compiled.programs[self.key]
            captured = np.array([v.data for v in program.captured], dtype=float)
            epoch = self._epoch_function(program)
            device = epoch(*self._on_device(), opt.steps, np.float64(opt.lr), captured, *self.data, np.array(full),
                           np.array(last, dtype=np.intp) if last else np.zeros((0, 0), dtype=np.intp))
            theta, state, grads, values, aux, bad, tame = self.jax.device_get(device)  # one transfer
            if bad or not tame:
                return None
        outputs = np.concatenate([aux[i].T for i in range(len(full))] + [aux[len(full)][:, : len(b)].T for b in last])
        with self.hold():
            self.theta, self.grads = np.array(theta), np.array(grads)
            self.state = tuple(None if s is None else np.array(s) for s in state)
            opt.steps += len(batches)
        self.device = (self.theta, self.state, device[0], device[1])
        return values.tolist(), self.loss_fn.count_correct(outputs, self.T[[i for b in batches for i in b]])

    def _on_device(self) -> tuple[Any, Any]:
        """The weights and the optimizer's state as JAX arrays: those the last epoch left, while
        nothing else (a step run by Python) has changed them since."""
        theta, state, on_device, state_on_device = self.device
        if theta is not self.theta or state is not self.state:
            on_device = self.jnp.asarray(self.theta)
            state_on_device = tuple(None if s is None else self.jnp.asarray(s) for s in self.state)
        return on_device, state_on_device

    def _epoch_function(self, program: Any) -> Any:
        """The jitted epoch for ``program`` and the optimizer's settings now (its learning rate
        and step count are arguments: a schedule that sets ``lr`` recompiles nothing)."""
        opt = self.optimizer
        made_for = (program, tuple(sorted((k, repr(v)) for k, v in vars(opt).items()
                                          if k not in ("params", "state", "steps", "lr"))))
        if self.jitted is None or self.jitted[0] != made_for:
            self.jitted = (made_for, _jit_epoch(self.jax, JaxProgram(program), opt, isinstance(self.loss_fn, BCELoss)))
        return self.jitted[1]


def _jit_epoch(jax: Any, program: JaxProgram, optimizer: Optimizer, probabilities: bool) -> Any:
    """An epoch of training steps (each: the loss and gradients of a batch, then the optimizer's
    update), jitted. It takes the weights, the optimizer's state, its step count and learning
    rate, the captured numbers, the samples and targets, the full batches' indices (a row per
    batch) and the last batch's (no row, or one). With ``probabilities``,
    outputs outside [0, 1] count as bad (BCELoss refuses them)."""
    jnp = jax.numpy
    gradient = jax.value_and_grad(program.loss, has_aux=True)

    def step(carry: Any, batch: Any, lr: Any, captured: Any, X: Any, T: Any) -> Any:
        theta, state, steps = carry
        inputs = jnp.concatenate([X[batch], T[batch]], axis=1).T  # (inputs of a sample, samples)
        (value, (aux, bad, tame)), grads = gradient(theta, inputs, captured)
        rule = copy.copy(optimizer)  # the optimizer's own rule, at this step count and learning rate (traced
        object.__setattr__(rule, "steps", steps + 1)  # numbers, which the settings' checks do not take: the
        object.__setattr__(rule, "lr", lr)  # checks ran when the user set them)
        delta, state = rule.rule(jnp.sqrt, theta, grads, state)
        if probabilities:
            bad = bad | jnp.any(~((aux >= 0.0) & (aux <= 1.0)))
        tame = tame & tame_numbers(jnp, [grads])
        return (theta - delta, state, steps + 1), grads, (value, aux, bad, tame)

    def epoch(theta: Any, state: Any, steps: Any, lr: Any, captured: Any, X: Any, T: Any, full: Any, last: Any) -> Any:
        def body(carry: Any, batch: Any) -> Any:
            carry, grads, out = step(carry[0], batch, lr, captured, X, T)
            return (carry, grads), out

        (carry, grads), (values, aux, bad, tame) = jax.lax.scan(body, ((theta, state, steps), jnp.zeros_like(theta)),
                                                                full)
        bad, tame = jnp.any(bad), jnp.all(tame)
        if last.shape[0]:
            carry, grads, (value, last_aux, last_bad, last_tame) = step(carry, last[0], lr, captured, X, T)
            values = jnp.concatenate([values, value[None]])
            aux = jnp.concatenate([aux, jnp.pad(last_aux, ((0, 0), (0, aux.shape[2] - last_aux.shape[1])))[None]])
            bad, tame = bad | last_bad, tame & last_tame
        return carry[0], carry[1], grads, values, aux, bad, tame

    return jax.jit(epoch)
