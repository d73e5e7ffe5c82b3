"""chainrule's engine: scalar reverse-mode automatic differentiation.

>>> from autograd import Value
>>> x = Value(2.0, label="x")
>>> y = (x * x + 1).tanh()
>>> y.backward()
>>> round(x.grad, 6)
0.000726

The modules, in the order to read them: ``ops`` (the table of operations: each forward pass
and derivative, written once), ``modes`` (no_grad, detect_anomaly, naming scopes), ``engine``
(``Value``, recording nodes, the chain rule), ``check`` (gradcheck), ``drawing``.
``from autograd import *`` brings the names below, without ``sum``, so that Python's own
``sum`` is not replaced (use ``autograd.sum``).
"""

from .check import GradcheckError, gradcheck
from .drawing import GraphTooLarge, GraphvizMissing, draw, draw_steps, save_steps
from .engine import (
    Parameter,
    Step,
    Value,
    backward_steps,
    constant,
    dot,
    dot_unchecked,
    grad,
    sum,
    topological_order,
    zero_grad,
)
from .modes import Scope, current_scope, detect_anomaly, enable_grad, gc_paused, is_grad_enabled, no_grad, scope

__all__ = [
    "Value", "Parameter", "constant", "dot", "dot_unchecked", "grad", "backward_steps", "Step",
    "topological_order", "zero_grad", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
    "scope", "Scope", "current_scope", "gc_paused", "gradcheck", "GradcheckError",
    "draw", "draw_steps", "save_steps", "GraphTooLarge", "GraphvizMissing",
]

__version__ = "0.1.0"
