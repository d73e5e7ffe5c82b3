"""One parametrised test over the whole operation table (PyTorch's OpInfo idea).

Every entry of ``autograd.ops.TABLE`` has a case here (a test fails if one is missing): its
value and gradient are checked against central finite differences and high-precision
``mpmath`` values at ordinary points, and against PyTorch float64 at ordinary and edge points
(0, negatives, large magnitudes, kinks, poles).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import mpmath
import pytest
from conftest import central_difference, needs_torch, same, torch

import autograd
from autograd import Value, no_grad
from autograd.engine import record
from autograd.ops import TABLE

mpmath.mp.dps = 40


@dataclass
class Case:
    key: str  # the entry in ops.TABLE
    fn: Callable  # on Values; by default the same code runs on torch tensors
    exact: Callable  # the value in mpmath at high precision (the value oracle)
    ordinary: list[tuple]  # smooth points: finite differences apply
    edges: list[tuple] = field(default_factory=list)  # checked against PyTorch
    torch_fn: Callable | None = None
    op: str = ""  # the expected .op of the result


mp = mpmath.mpf
ORD2 = [(1.5, -2.25), (-0.7, 0.3), (3.0, 4.0), (-2.5, -1.25)]
ORD1 = [(0.3,), (-1.7,), (2.5,), (0.05,)]
POSITIVE = [(0.3,), (1.7,), (25.0,), (1e-3,)]

CASES = [
    Case("add", lambda a, b: a + b, lambda a, b: mp(a) + mp(b), ORD2,
         [(0.0, -0.0), (1e308, 1e308), (math.inf, -math.inf)], op="+"),
    Case("sub", lambda a, b: a - b, lambda a, b: mp(a) - mp(b), ORD2,
         [(0.0, 0.0), (-1e308, 1e308), (math.inf, math.inf)], op="-"),
    Case("mul", lambda a, b: a * b, lambda a, b: mp(a) * mp(b), ORD2,
         [(0.0, -3.0), (1e200, 1e200), (math.inf, 0.0)], op="*"),
    Case("div", lambda a, b: a / b, lambda a, b: mp(a) / mp(b), ORD2,
         [(1.0, 0.0), (-1.0, 0.0), (0.0, 0.0), (3.0, -0.0), (1e-300, 1e300), (1e300, 1e-300)], op="/"),
    Case("pow", lambda a, b: a ** b, lambda a, b: mp(a) ** mp(b), [(1.5, 2.5), (0.7, -1.3), (3.0, 0.5), (2.0, 3.0)],
         [(0.0, 2.0), (0.0, 0.0), (0.0, -1.0), (-8.0, 1 / 3), (-2.0, 3.0), (-2.0, 2.0), (1e10, 40.0),
          (-1e10, 41.0), (0.0, 0.5)], op="**"),
    Case("pow_const", lambda a: a ** 3.0, lambda a: mp(a) ** 3, ORD1, [(0.0,), (-2.0,), (1e200,)], op="**"),
    Case("neg", lambda a: -a, lambda a: -mp(a), ORD1, [(0.0,), (math.inf,)], op="neg"),
    Case("abs", lambda a: abs(a), lambda a: abs(mp(a)), ORD1, [(0.0,), (-0.0,), (-1e308,)], op="abs"),
    Case("exp", lambda a: a.exp(), lambda a: mpmath.exp(a), ORD1, [(0.0,), (709.0,), (710.0,), (1000.0,), (-1000.0,)],
         op="exp"),
    Case("log", lambda a: a.log(), lambda a: mpmath.log(a), POSITIVE, [(0.0,), (-1.0,), (1e-300,), (1e300,), (math.inf,)],
         op="log"),
    Case("log1p", lambda a: a.log1p(), lambda a: mpmath.log1p(a), POSITIVE + [(-0.5,), (1e-20,)],
         [(0.0,), (-1.0,), (-2.0,), (1e-300,), (1e300,), (math.inf,)], op="log1p"),
    Case("sqrt", lambda a: a.sqrt(), lambda a: mpmath.sqrt(a), POSITIVE, [(0.0,), (-1.0,), (1e300,), (1e-300,)],
         op="sqrt"),
    Case("tanh", lambda a: a.tanh(), lambda a: mpmath.tanh(a), ORD1, [(0.0,), (20.0,), (-20.0,), (1000.0,)], op="tanh"),
    Case("sigmoid", lambda a: a.sigmoid(), lambda a: 1 / (1 + mpmath.exp(-mp(a))), ORD1,
         [(0.0,), (40.0,), (-40.0,), (1000.0,), (-1000.0,)], op="sigmoid"),
    Case("relu", lambda a: a.relu(), lambda a: max(mp(a), 0), ORD1, [(0.0,), (-0.0,), (-3.0,), (1e300,)], op="relu"),
    Case("sum", lambda *xs: autograd.sum(xs), lambda *xs: mpmath.fsum(xs),
         [(1.0, -2.5, 3.25), (0.1, 0.2, 0.3, 0.4, 0.5)], [(1e308, 1e308, -1e308)],
         torch_fn=lambda *xs: torch.stack(xs).sum(), op="sum"),
    Case("dot", lambda w1, w2, x1, x2, b: autograd.dot([w1, w2], [x1, x2], b),
         lambda w1, w2, x1, x2, b: mp(w1) * mp(x1) + mp(w2) * mp(x2) + mp(b),
         [(0.5, -1.5, 2.0, 3.0, 0.25), (-0.3, 0.8, -1.1, 0.4, -2.0)], [(0.0, 1e200, 1.0, 1e200, 0.0)],
         torch_fn=lambda w1, w2, x1, x2, b: torch.dot(torch.stack([w1, w2]), torch.stack([x1, x2])) + b, op="dot"),
    # BCELoss's term: probability p, target y; the logs are clamped at -100 only at the edges
    Case("bce", lambda p, y: record(TABLE["bce"], p, y), lambda p, y: (mp(y) - 1) * mpmath.log1p(-mp(p)) - mp(y) * mpmath.log(p),
         [(0.3, 1.0), (0.6, 0.25), (0.05, 0.0), (0.999, 0.7)], [(0.0, 1.0), (0.0, 0.0), (1.0, 0.0), (1.0, 1.0),
                                                             (1e-13, 0.3), (1 - 1e-16, 1.0), (1e-300, 0.5)],
         torch_fn=lambda p, y: torch.nn.functional.binary_cross_entropy(p, y), op="bce"),
]
CASES += [
    # the middle operand, picked by a constant index: the gradient goes to it alone
    Case("pick", lambda a, b, c: autograd.pick([a, b, c], 1), lambda a, b, c: mp(b),
         [(1.5, -2.25, 0.5), (0.0, 3.0, -1.0)], [(math.inf, 2.0, math.nan), (0.0, -0.0, 0.0)],
         torch_fn=lambda a, b, c: torch.stack([a, b, c])[1], op="pick"),
    # log-sum-exp shifted by the detached max: the shift passes no gradient, and the true
    # derivative (softmax) needs none through it, as in PyTorch's logsumexp
    Case("detached_max", lambda a, b: _logsumexp([a, b], autograd.detached_max([a, b])),
         lambda a, b: mpmath.log(mpmath.exp(a) + mpmath.exp(b)), [(0.5, -1.25), (2.0, 2.5), (-3.0, 1.0)],
         [(1000.0, 999.0), (-1000.0, -1000.0), (0.0, -0.0)],
         torch_fn=lambda a, b: _logsumexp([a, b], torch.stack([a, b]).max().detach()), op="+"),
    # cross-entropy's term from exps e and shifted scores d, class 1: log1p((e1 - 1) + e0 + e2) - d1
    # (its operands taken as independent numbers; test_losses checks it against cross_entropy)
    Case("nll", lambda e0, e1, e2, d0, d1, d2: autograd.nll([e0, e1, e2], [d0, d1, d2], 1),
         lambda e0, e1, e2, d0, d1, d2: mpmath.log1p((mp(e1) - 1) + mp(e0) + mp(e2)) - mp(d1),
         [(0.5, 0.8, 0.3, -0.7, -0.2, -1.2), (1.0, 0.1, 0.25, 0.0, -2.3, -1.4), (0.2, 1.0, 0.1, -1.6, 0.0, -2.3)],
         [(1e-300, 1.0, 1e-300, -690.0, 0.0, -690.0), (0.0, 0.0, 0.0, 1.0, 2.0, 3.0), (math.inf, 0.5, 0.2, 1.0, -0.5, 0.0),
          (0.5, math.nan, 0.5, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, -math.inf, 0.0, -math.inf)],
         torch_fn=lambda e0, e1, e2, d0, d1, d2: torch.log1p((e1 - 1.0) + (e0 + e2)) - torch.stack([d0, d1, d2])[1],
         op="nll"),
]
BY_KEY = {c.key: c for c in CASES}


def _logsumexp(xs, m):
    total = xs[0] - m
    total = total.exp()
    for x in xs[1:]:
        total = total + (x - m).exp()
    return total.log() + m


def test_every_table_entry_has_a_case():
    assert set(TABLE) == set(BY_KEY), "add a Case for each operation in ops.TABLE"


def evaluate(case: Case, point: tuple) -> tuple[float, list[float], Value]:  # value, grads, node
    xs = [Value(p) for p in point]
    y = case.fn(*xs)
    y.backward()
    return y.data, [x.grad for x in xs], y


def value_only(case: Case, point: list[float]) -> float:
    with no_grad():
        return case.fn(*[Value(p) for p in point]).data


ORDINARY = [(c, p) for c in CASES for p in c.ordinary]
EDGES = [(c, p) for c in CASES for p in c.ordinary + c.edges]


@pytest.mark.parametrize("case,point", ORDINARY, ids=[f"{c.key}{p}" for c, p in ORDINARY])
def test_value_and_gradient_against_mpmath_and_finite_differences(case, point):
    value, grads, y = evaluate(case, point)
    assert y.op == case.op and [c for c in y.children if not c.is_constant] == list(y.children)[: len(point)]
    assert same(value, float(case.exact(*point)), rel=1e-15, abs_=1e-300)
    for i, g in enumerate(grads):
        numerical = central_difference(lambda p: float(case.exact(*p)), list(point), i)
        assert math.isclose(g, numerical, rel_tol=1e-6, abs_tol=1e-8), (i, g, numerical)


@needs_torch
@pytest.mark.parametrize("case,point", EDGES, ids=[f"{c.key}{p}" for c, p in EDGES])
def test_value_and_gradient_against_pytorch_float64(case, point):
    value, grads, _ = evaluate(case, point)
    ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    ty = (case.torch_fn or case.fn)(*ts)
    ty.backward()
    assert same(value, ty.item()), (value, ty.item())
    for i, (g, t) in enumerate(zip(grads, ts)):
        assert same(g, t.grad.item()), (i, g, t.grad.item())


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_edges_never_raise_and_stay_ieee(case):
    for point in case.edges:
        value, grads, _ = evaluate(case, point)  # no ZeroDivisionError, OverflowError, ValueError
        assert isinstance(value, float) and all(isinstance(g, float) for g in grads)
