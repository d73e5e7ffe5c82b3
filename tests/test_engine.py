"""Behaviour of the engine besides each operation's numbers: structure, passes, modes, errors."""

from __future__ import annotations

import gc
import math
import random
import tracemalloc

import pytest
from conftest import central_difference

import autograd
from autograd import GradcheckError, Value, detect_anomaly, grad, gradcheck, no_grad


def test_node_records_operation_and_operands_in_order():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a - b
    assert (c.op, c.children, c.label) == ("-", (a, b), "")
    assert (a.op, a.children, a.grad) == ("", (), 0.0)
    assert isinstance(Value(3).data, float) and float(Value(3)) == 3.0


def test_numbers_on_either_side_become_constant_operands():
    x = Value(4.0)
    for y, expected in [(2 - x, -2.0), (x - 2, 2.0), (8 / x, 2.0), (2 ** Value(3.0), 8.0), (3 * x, 12.0), (1 + x, 5.0)]:
        assert y.data == expected
        assert any(c.is_constant for c in y.children)


def test_comparisons_use_data_but_equality_and_hash_are_identity():
    a, b = Value(1.0), Value(1.0)
    assert a <= b and a >= b and not a < b and a < 2 and b > 0.5
    assert a != b and a == a and len({a, b}) == 2 and {a: 1}[a] == 1


def test_backward_through_a_shared_node_adds_the_paths():
    x = Value(3.0)
    y = x * x + x  # x used three times: dy/dx = 2x + 1
    y.backward()
    assert x.grad == 7.0


def test_gradients_accumulate_across_passes_like_pytorch():
    x = Value(1.5)
    h = x.tanh()
    y = h * h
    y.backward()
    once_x, once_h = x.grad, h.grad
    y.backward()
    assert x.grad == 2 * once_x and h.grad == 2 * once_h  # not compounded through interior nodes
    autograd.zero_grad([x, h])
    y.backward(gradient=3.0)
    assert math.isclose(x.grad, 3 * once_x)


def test_a_million_node_chain_forward_and_backward():
    x = Value(1.0)
    c = Value(1.0 + 1e-7)
    y = x
    for _ in range(500_000):
        y = y * c + 0.0  # 1,000,000 operation nodes deep
    y.backward()
    assert math.isclose(x.grad, (1.0 + 1e-7) ** 500_000, rel_tol=1e-9)
    del y  # freeing the chain must not overflow the C stack either


def test_graph_is_freed_by_reference_counting_alone():
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        x = Value(0.5)
        y = x
        for _ in range(20_000):
            y = (y * x).tanh() + x
        y.backward()
        built = tracemalloc.get_traced_memory()[0]
        del y
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    finally:
        gc.enable()
    assert built - before > 5_000_000  # the graph was big (60,000 nodes)
    # and went away without the cycle collector (what stays is CPython's tuple free lists)
    assert after - before < 0.05 * (built - before)


def test_no_grad_results_are_leaves():
    x = Value(2.0)
    with no_grad():
        y = x * x + 1
    assert (y.op, y.children, y.data) == ("", (), 5.0)
    assert autograd.is_grad_enabled()
    z = y * x
    z.backward()
    assert x.grad == 5.0 and y.grad == 2.0  # no path through y to x


def test_no_grad_works_as_a_decorator():
    @no_grad()
    def f(v):
        return v * 2

    assert f(Value(1.0)).children == ()


def test_grad_leaves_dot_grad_untouched_and_handles_unused_inputs():
    x, y, unused = Value(2.0), Value(3.0), Value(9.0)
    z = x * y
    assert grad(z, [x, y, unused]) == [3.0, 2.0, 0.0]
    assert x.grad == 0.0 and y.grad == 0.0


def _d(f, order, p):
    """The order-th derivative of f at p by the engine, recording all but the last pass."""
    x = Value(p)
    y = f(x)
    for k in range(order):
        (y,) = grad(y, [x], create_graph=k < order - 1)
    return float(y)


def test_higher_order_derivatives_match_finite_differences_of_lower_ones():
    f = lambda x: x.tanh() * x.exp() + (x ** 3) / (1 + x * x)
    for order in (1, 2, 3):
        lower = lambda p, order=order: _d(f, order - 1, p[0])
        numerical = central_difference(lower, [0.4], 0, eps=1e-5)
        assert math.isclose(_d(f, order, 0.4), numerical, rel_tol=1e-6), order


def test_backward_with_create_graph_makes_grad_a_value():
    x = Value(3.0)
    y = x ** 3
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value) and float(x.grad) == 27.0
    (second,) = grad(x.grad, [x])
    assert second == 18.0


def test_detect_anomaly_names_the_first_operation_that_made_a_nan():
    x = Value(-1.0, label="x")
    with detect_anomaly():
        y = x * 2  # fine
        with pytest.raises(FloatingPointError, match=r"sqrt produced nan .*-2\.0"):
            (y.sqrt() + 1).tanh()
    x.sqrt()  # outside the block: nan, no error


def test_detect_anomaly_names_the_label_and_catches_backward():
    z = Value(0.0, label="z")
    with detect_anomaly():
        r = z.sqrt()  # sqrt(0) = 0 is fine forward, but its derivative is inf
        r.label = "root"
        with pytest.raises(FloatingPointError, match=r"backward of sqrt \(node root\).*operand z"):
            r.backward()


def test_an_error_during_backward_leaves_every_grad_as_it_was():
    x = Value(0.0, label="x")
    y = x.sqrt() * 2
    x.grad, y.grad = 5.0, -1.0
    with detect_anomaly(), pytest.raises(FloatingPointError):
        y.backward()
    assert (x.grad, y.grad, y.children[0].grad) == (5.0, -1.0, 0.0)


def test_detect_anomaly_ignores_values_that_were_already_inf():
    with detect_anomaly():
        y = Value(math.inf) + 1.0
    assert y.data == math.inf


@pytest.mark.parametrize("bad", ["a", None, 1 + 2j, [1.0], (1.0,), {"x": 1}])
def test_non_numeric_operands_raise_type_error_naming_op_and_type(bad):
    x = Value(1.0)
    name = type(bad).__name__
    for op, call in [("+", lambda: x + bad), ("+", lambda: bad + x), ("*", lambda: x * bad), ("/", lambda: bad / x),
                     ("**", lambda: x ** bad), ("-", lambda: bad - x), ("<", lambda: x < bad)]:
        with pytest.raises(TypeError, match=rf"'{__import__('re').escape(op)}'.*{name}"):
            call()
    with pytest.raises(TypeError, match=name):
        Value(bad)


def test_sum_and_dot_are_single_nodes():
    xs = [Value(float(i)) for i in range(5)]
    s = autograd.sum(xs, start=10.0)
    assert s.op == "sum" and s.data == 20.0 and s.children[:5] == tuple(xs)
    ws = [Value(0.5), Value(-1.0)]
    b = Value(0.25)
    d = autograd.dot(ws, xs[:2], bias=b)
    assert d.children == (ws[0], ws[1], xs[0], xs[1], b)
    with pytest.raises(ValueError, match="2 weights but 3 inputs"):
        autograd.dot(ws, xs[:3])
    with pytest.raises(TypeError, match="list of Values"):
        autograd.sum(3.0)


def test_gradcheck_passes_and_reports_a_wrong_gradient():
    assert gradcheck(lambda x, y: (x * y).tanh() / (1 + y * y), [0.3, -1.2])
    broken = lambda x: x * Value(x.data)  # hides one path from backward: d/dx is 2x, backward says x
    with pytest.raises(GradcheckError, match=r"input 0 \(= 1\.5\) is 1\.5 by backward but 2\.99999"):
        gradcheck(broken, [1.5])


def test_a_parameter_is_a_value_with_a_mark():
    w = autograd.Parameter(0.5, label="w")
    assert isinstance(w, Value) and w.is_parameter and w.is_leaf and w.op == ""
    assert repr(w) == "Parameter(data=0.5, grad=0.0, label='w')"
    w.label = "w1"  # relabelling keeps the mark
    assert w.is_parameter and w.label == "w1"
    y = w * 3.0
    assert not y.is_parameter and not Value(0.5).is_parameter and not autograd.constant(0.5).is_parameter
    y.backward()
    assert w.grad == 3.0


def test_topological_order_is_the_depth_first_postorder_of_the_operands():
    # The order backward accumulates in (and compile mode replays, and drawings number by): each
    # node once, after its operands, in the postorder of a depth-first walk that takes operands
    # in order. The oracle is that walk written recursively, on graphs where operands are shared
    # (weights used by several nodes, a node reused deeper down) and repeated (x * x).

    def postorder(root: Value) -> list[Value]:
        order: list[Value] = []
        seen: set[Value] = set()

        def visit(v: Value) -> None:
            if v not in seen:
                seen.add(v)
                for c in v.children:
                    visit(c)
                order.append(v)

        visit(root)
        return order

    rng = random.Random(7)
    for _ in range(200):
        nodes = [Value(rng.uniform(-1, 1)) for _ in range(4)]
        for _ in range(rng.randint(1, 30)):
            kind = rng.random()
            if kind < 0.3:
                nodes.append(rng.choice(nodes) * rng.choice(nodes))
            elif kind < 0.5:
                nodes.append(autograd.sum(rng.sample(nodes, rng.randint(1, min(4, len(nodes))))))
            elif kind < 0.7:
                k = rng.randint(1, 3)
                nodes.append(autograd.dot(rng.choices(nodes, k=k), rng.choices(nodes, k=k), bias=rng.choice(nodes)))
            else:
                nodes.append(rng.choice(nodes).tanh())
        root = nodes[-1]
        order = autograd.topological_order(root)
        assert order == postorder(root)
        assert len(set(order)) == len(order) and order[-1] is root
