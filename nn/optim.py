"""Optimizers: they move each parameter against its gradient, step by step.

Both follow ``torch.optim``'s update rules exactly (defaults, weight decay added to the
gradient, momentum buffer started from the first gradient, Adam's bias corrections), so from
the same start and gradients they reach the same parameters.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import autograd
from autograd import Value


def _check_number(value: Any, what: str, low: float = 0.0, low_open: bool = False, below: float | None = None) -> float:
    """``value`` as a float, or a ValueError saying what ``what`` must be (an optimizer checks
    each setting when it is set, so a bad one never becomes a nan weight or a ZeroDivisionError
    many steps later)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond the float range, such as 10**400
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    if number < low or (low_open and number == low):
        raise ValueError(f"{what} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if below is not None and number >= below:
        raise ValueError(f"{what} must be below {below}, got {value!r}")
    return number


_positive = functools.partial(_check_number, low=0.0, low_open=True)


def _check_betas(value: Any, what: str) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{what} must be a pair (beta1, beta2), got {value!r}")
    beta = what.removesuffix("s")
    return _check_number(value[0], f"{beta}1", below=1.0), _check_number(value[1], f"{beta}2", below=1.0)


class Optimizer:
    """Holds the parameters; ``zero_grad()`` clears their gradients, ``step()`` updates them.

    A subclass writes its update once, as ``rule(sqrt, data, grad, state)``: plain arithmetic
    (and ``sqrt``) that runs on one parameter's floats, as ``step()`` calls it, and unchanged on
    NumPy arrays holding every parameter at once, as ``fit(compile=True)`` calls it. ``state``
    is the parameter's tuple of running numbers (momentum, averages), kept in ``self.state``.

    Settings (``lr``, ...) are checked whenever they are set, at construction or later, as in a
    schedule (``optimizer.lr = 0.01``): a value the constructor refuses is refused there too, so
    a nan learning rate never turns the weights into nan, eagerly or compiled. A subclass lists
    its settings' checks in ``checks``.

    >>> import math
    >>> import numpy as np
    >>> from autograd import Value
    >>> from nn import optim
    >>> opt = optim.SGD([Value(1.0), Value(-1.0)], lr=0.1, momentum=0.9)
    >>> opt.rule(math.sqrt, 1.0, 2.0, (None,))    # one parameter: the step 0.1·2, the new momentum
    (0.2, (2.0,))
    >>> delta, (momentum,) = opt.rule(np.sqrt, np.array([1.0, -1.0]), np.array([2.0, 4.0]), (None,))
    >>> delta.tolist(), momentum.tolist()         # every parameter at once, by the same lines
    ([0.2, 0.4], [2.0, 4.0])
    """

    checks: dict[str, Callable[[Any, str], Any]] = {}  # setting -> check(value, what) giving the value to keep
    lr: float  # the learning rate, which each subclass sets (a schedule may change it between steps)

    def __setattr__(self, name: str, value: Any) -> None:
        check = self.checks.get(name)
        object.__setattr__(self, name, value if check is None else check(value, f"{type(self).__name__} {name}"))

    def __init__(self, params: Iterable[Value], state: tuple[float | None, ...] = ()):
        if hasattr(params, "parameters") and callable(params.parameters):
            raise TypeError(f"{type(self).__name__}: pass model.parameters(), not the model itself")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"{type(self).__name__}: params[{i}] is a {type(p).__name__}, expected a Value")
        self.steps = 0
        self.state: list[tuple[Any, ...]] = [state] * len(self.params)  # per parameter, in params order

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0 (do it before each backward pass)."""
        autograd.zero_grad(self.params)

    def step(self) -> None:
        """Move every parameter by its update: ``p.data -= delta``."""
        self.steps += 1
        rule, state = self.rule, self.state
        for i, p in enumerate(self.params):
            delta, state[i] = rule(math.sqrt, p.data, float(p.grad), state[i])
            p.data -= delta

    def rule(self, sqrt: Callable[[Any], Any], data: Any, grad: Any, state: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        """The update of parameters holding ``data`` with gradient ``grad`` at step
        ``self.steps``: ``(delta, new state)``; the step subtracts ``delta``."""
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

    checks = {"lr": _positive, "momentum": _check_number, "weight_decay": _check_number}

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, state=(None,))  # the momentum buffer: none before the first step
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay

    def rule(self, sqrt: Callable[[Any], Any], data: Any, grad: Any, state: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        g = grad + self.weight_decay * data if self.weight_decay else grad
        if not self.momentum:
            return self.lr * g, state
        buf = state[0]
        g = g if buf is None else self.momentum * buf + g  # the new buffer
        return self.lr * g, (g,)


class Adam(Optimizer):
    """Adam (Kingma & Ba), with PyTorch's defaults and bias corrections.

    Settings are checked when they are set: ``lr`` and ``eps`` must be finite and positive
    (unlike PyTorch, ``eps=0`` is refused: it turns a zero gradient into 0 / 0 = nan), ``betas``
    in [0, 1), ``weight_decay`` finite and >= 0.

    >>> from autograd import Value
    >>> from nn import optim
    >>> w = Value(1.0)
    >>> opt = optim.Adam([w], lr=0.1)
    >>> (w * w).backward(); opt.step()
    >>> round(w.data, 6)       # the first Adam step moves by lr, whatever the gradient's size
    0.9
    """

    # eps = 0 is refused: a weight whose gradient has been 0 so far would get 0 / 0 (PyTorch
    # silently makes it nan); any positive eps, however small, keeps the step finite
    checks = {"lr": _positive, "betas": _check_betas, "eps": _positive, "weight_decay": _check_number}

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, state=(0.0, 0.0))  # the running averages m and v
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay

    def rule(self, sqrt: Callable[[Any], Any], data: Any, grad: Any, state: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        beta1, beta2 = self.betas
        g = grad + self.weight_decay * data if self.weight_decay else grad
        m, v = state
        m = m + (1 - beta1) * (g - m)  # PyTorch's lerp form
        v = beta2 * v + (1 - beta2) * g * g
        bias_correction1 = 1 - beta1**self.steps
        bias_correction2 = 1 - beta2**self.steps
        denom = sqrt(v) / sqrt(bias_correction2) + self.eps
        return (self.lr / bias_correction1) * (m / denom), (m, v)
