"""Random expression graphs with shared subexpressions, and higher-order derivatives,
against PyTorch float64 (skipped without PyTorch)."""

from __future__ import annotations

import math

import pytest
from conftest import same, torch
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
from autograd import Value, grad

if torch is None:
    pytest.skip("PyTorch not installed (CI installs torch==2.13.0)", allow_module_level=True)

# Each step combines earlier nodes (any of them, so nodes are shared by several later ones).
# The ops are chosen to stay finite on bounded inputs, so gradients are comparable.
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1.5 + b * b),
    "pow": lambda a, b: (1.0 + a * a) ** (b.tanh()),
}
UNARY = {
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "relu": lambda a: a.relu(),
    "abs": lambda a: abs(a),
    "exp": lambda a: (a.tanh()).exp(),
    "log": lambda a: (1.0 + a * a).log(),
    "sqrt": lambda a: (2.0 + a.tanh()).sqrt(),
    "neg": lambda a: -a,
    "square": lambda a: a ** 2,
}

leaf_values = st.floats(min_value=-3, max_value=3, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


@st.composite
def programs(draw):
    n_leaves = draw(st.integers(1, 4))
    leaves = draw(st.lists(leaf_values, min_size=n_leaves, max_size=n_leaves))
    steps = []
    for k in range(draw(st.integers(1, 25))):
        available = n_leaves + k
        kind = draw(st.sampled_from(["unary", "binary", "binary", "sum", "dot"]))
        if kind == "unary":
            steps.append((kind, draw(st.sampled_from(sorted(UNARY))), [draw(st.integers(0, available - 1))]))
        elif kind == "binary":
            args = [draw(st.integers(0, available - 1)) for _ in range(2)]
            steps.append((kind, draw(st.sampled_from(sorted(BINARY))), args))
        else:
            m = draw(st.integers(1, 4))
            steps.append((kind, kind, [draw(st.integers(0, available - 1)) for _ in range(2 * m if kind == "dot" else m)]))
    return leaves, steps


def run(program, leaf, total, dot, tanh_squash):
    leaves, steps = program
    nodes = [leaf(v) for v in leaves]
    for kind, name, args in steps:
        xs = [nodes[i] for i in args]
        if kind == "unary":
            out = UNARY[name](xs[0])
        elif kind == "binary":
            out = BINARY[name](xs[0], xs[1])
        elif kind == "sum":
            out = total(xs)
        else:
            half = len(xs) // 2
            out = dot(xs[:half], xs[half:])
        nodes.append(tanh_squash(out))  # keep magnitudes bounded for the next steps
    return nodes[: len(leaves)], total(nodes[len(leaves):])


def engine(program, pattern):
    """Run on Values, recording where a node was squashed (it depends on values, which agree to
    rounding with PyTorch's), so PyTorch's run squashes the same nodes."""

    def squash(v):
        pattern.append(abs(v.data) >= 50)
        return v.tanh() if pattern[-1] else v

    return run(program, Value, autograd.sum, autograd.dot, squash)


def pytorch(program, squash_pattern):
    it = iter(squash_pattern)
    return run(program, lambda v: torch.tensor(v, requires_grad=True), lambda xs: torch.stack(list(xs)).sum(),
               lambda ws, xs: torch.dot(torch.stack(list(ws)), torch.stack(list(xs))),
               lambda t: t.tanh() if next(it) else t)


@settings(max_examples=150, deadline=None)
@given(programs())
def test_random_graphs_with_shared_nodes_match_pytorch(program):
    pattern: list[bool] = []
    leaves, out = engine(program, pattern)
    out.backward()
    tleaves, tout = pytorch(program, pattern)
    tout.backward()
    assert same(out.data, tout.item(), rel=1e-9, abs_=1e-9)
    for mine, theirs in zip(leaves, tleaves):
        theirs_grad = 0.0 if theirs.grad is None else theirs.grad.item()  # None: unused leaf
        assert same(mine.grad, theirs_grad, rel=1e-7, abs_=1e-9), (mine.grad, theirs_grad)


COMPOSITIONS = {
    "tanh(x*y)+x^3/(1+y^2)": lambda x, y: (x * y).tanh() + x ** 3 / (1 + y * y),
    "sigmoid(x)*exp(-y)": lambda x, y: x.sigmoid() * (-y).exp(),
    "log(1+x^2)*sqrt(1+y^2)": lambda x, y: (1 + x * x).log() * (1 + y * y).sqrt(),
    "x^y": lambda x, y: x ** y,
    "relu(x)*y+abs(y)*x": lambda x, y: x.relu() * y + abs(y) * x,
    "dot+sum": lambda x, y: autograd.dot([x, y], [y, x], bias=x) * autograd.sum([x, y, x * y]),
}
TORCH_COMPOSITIONS = {
    **COMPOSITIONS,
    "dot+sum": lambda x, y: (torch.dot(torch.stack([x, y]), torch.stack([y, x])) + x) * torch.stack([x, y, x * y]).sum(),
}


@pytest.mark.parametrize("name", sorted(COMPOSITIONS))
@pytest.mark.parametrize("point", [(0.7, 1.3), (1.9, -0.4), (0.35, 2.2)])
def test_second_and_third_derivatives_match_pytorch_double_backward(name, point):
    x, y = Value(point[0]), Value(point[1])
    gx, gy = grad(COMPOSITIONS[name](x, y), [x, y], create_graph=True)
    hessian = [grad(g, [x, y], create_graph=True) for g in (gx, gy)]
    third = grad(hessian[0][0], [x, y])  # d3/dx3 and d3/dx2dy

    tx, ty = (torch.tensor(p, requires_grad=True) for p in point)
    tgx, tgy = torch.autograd.grad(TORCH_COMPOSITIONS[name](tx, ty), [tx, ty], create_graph=True)
    thessian = [torch.autograd.grad(g, [tx, ty], create_graph=True, allow_unused=True) for g in (tgx, tgy)]
    tthird = torch.autograd.grad(thessian[0][0], [tx, ty], allow_unused=True) if thessian[0][0].requires_grad else (None, None)

    def num(t):
        return 0.0 if t is None else t.item()

    assert same(float(gx), num(tgx)) and same(float(gy), num(tgy))
    for mine_row, theirs_row in zip(hessian, thessian):
        for mine, theirs in zip(mine_row, theirs_row):
            assert same(float(mine), num(theirs), rel=1e-9, abs_=1e-10), (float(mine), num(theirs))
    for mine, theirs in zip(third, tthird):
        assert same(float(mine), num(theirs), rel=1e-9, abs_=1e-10), (float(mine), num(theirs))
    assert not math.isnan(float(third[0]))
