"""chainrule's engine: scalar reverse-mode automatic differentiation.

>>> from autograd import Value
>>> x = Value(2.0, label="x")
>>> y = (x * x + 1).tanh()
>>> y.backward()
>>> round(x.grad, 6)
0.000726

The modules, in the order to read them: ``ops`` (the table of operations: each forward pass
and derivative, written once), ``modes`` (no_grad, detect_anomaly, naming scopes), ``engine``
(``Value``, recording nodes, the chain rule), ``check`` (gradcheck), ``drawing``, ``compiled``
(compile mode: a traced graph replayed with NumPy). ``from autograd import *`` brings the
names below, without ``sum`` and ``compile``, so that Python's own are not replaced (use
``autograd.sum``, ``autograd.compile``).
"""

from .check import GradcheckError, gradcheck
from .compiled import CompileError
from .compiled import compile as compile  # not in __all__: it would shadow Python's compile
from .drawing import GraphTooLarge, GraphvizMissing, draw, draw_steps, explore, save_steps
from .engine import (
    Parameter,
    Step,
    Value,
    backward_steps,
    binary_cross_entropy,
    constant,
    detached_max,
    dot,
    dot_unchecked,
    grad,
    pick,
    topological_order,
    zero_grad,
)
from .engine import (
    sum as sum,  # (autograd.sum; left out of __all__ so that "import *" keeps Python's sum)
)
from .modes import Scope, current_scope, detect_anomaly, enable_grad, gc_paused, is_grad_enabled, no_grad, scope

__all__ = [
    "Value", "Parameter", "constant", "dot", "pick", "detached_max", "binary_cross_entropy", "dot_unchecked", "grad", "backward_steps", "Step",
    "topological_order", "zero_grad", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
    "scope", "Scope", "current_scope", "gc_paused", "gradcheck", "GradcheckError",
    "draw", "draw_steps", "save_steps", "explore", "GraphTooLarge", "GraphvizMissing", "CompileError",
]

__version__ = "0.1.0"
