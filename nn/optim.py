"""Optimizers: they move each parameter against its gradient, step by step.

Both follow ``torch.optim``'s update rules exactly (defaults, weight decay added to the
gradient, momentum buffer started from the first gradient, Adam's bias corrections), so from
the same start and gradients they reach the same parameters.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import autograd
from autograd import Value


def _check_number(value: Any, what: str, low: float = 0.0, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    if value < low or (low_open and value == low):
        raise ValueError(f"{what} must be {'>' if low_open else '>='} {low}, got {value!r}")
    return float(value)


class Optimizer:
    """Holds the parameters; ``zero_grad()`` clears their gradients, ``step()`` updates them."""

    def __init__(self, params: Iterable[Value]):
        if hasattr(params, "parameters") and callable(params.parameters):
            raise TypeError(f"{type(self).__name__}: pass model.parameters(), not the model itself")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"{type(self).__name__}: params[{i}] is a {type(p).__name__}, expected a Value")
        self.steps = 0

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0 (do it before each backward pass)."""
        autograd.zero_grad(self.params)

    def step(self) -> None:
        self.steps += 1
        for i, p in enumerate(self.params):
            p.data -= self.update(i, p.data, float(p.grad))

    def update(self, i: int, data: float, grad: float) -> float:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent: ``p -= lr * g`` with g = grad + weight_decay·p, and with
    momentum ``buf = momentum·buf + g`` (PyTorch's form, buf starting at the first g).

    >>> from autograd import Value
    >>> from nn import optim
    >>> w = Value(1.0)
    >>> opt = optim.SGD([w], lr=0.1)
    >>> (w * w).backward(); opt.step()
    >>> w.data      # 1 - 0.1 * 2
    0.8
    """

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params)
        self.lr = _check_number(lr, "SGD lr", 0.0, low_open=True)
        self.momentum = _check_number(momentum, "SGD momentum")
        self.weight_decay = _check_number(weight_decay, "SGD weight_decay")
        self.buffers: list[float | None] = [None] * len(self.params)

    def update(self, i: int, data: float, grad: float) -> float:
        g = grad + self.weight_decay * data if self.weight_decay else grad
        if self.momentum:
            buf = self.buffers[i]
            g = self.buffers[i] = g if buf is None else self.momentum * buf + g
        return self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba), with PyTorch's defaults and bias corrections."""

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params)
        self.lr = _check_number(lr, "Adam lr", 0.0, low_open=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_number(betas[0], "Adam beta1"), _check_number(betas[1], "Adam beta2"))
        if not all(b < 1 for b in self.betas):
            raise ValueError(f"Adam betas must be below 1, got {betas!r}")
        self.eps = _check_number(eps, "Adam eps")
        self.weight_decay = _check_number(weight_decay, "Adam weight_decay")
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def update(self, i: int, data: float, grad: float) -> float:
        beta1, beta2 = self.betas
        g = grad + self.weight_decay * data if self.weight_decay else grad
        m = self.m[i] = self.m[i] + (1 - beta1) * (g - self.m[i])  # PyTorch's lerp form
        v = self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
        bias_correction1 = 1 - beta1**self.steps
        bias_correction2 = 1 - beta2**self.steps
        denom = math.sqrt(v) / math.sqrt(bias_correction2) + self.eps
        return (self.lr / bias_correction1) * (m / denom)
