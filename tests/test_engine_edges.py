"""The engine's edges, each pinned with an oracle that needs no PyTorch: modes per thread,
derivative rules that do not overflow, PyTorch's masked zeros and forward edge values (written
from PyTorch's documented behaviour), detect_anomaly and gradcheck at their limits, and second
derivatives of every table entry against mpmath."""

from __future__ import annotations

import math
import threading

import mpmath
import pytest
from conftest import same

import autograd
from autograd import Value, detect_anomaly, grad, gradcheck, no_grad, scope
from autograd.engine import record
from autograd.ops import TABLE

mpmath.mp.dps = 50
INF, NAN = math.inf, math.nan


# --- modes are per thread -------------------------------------------------------------------

def test_no_grad_in_one_thread_never_stops_another_from_recording():
    stop = threading.Event()

    def evaluate_forever():
        x = Value(1.0)
        while not stop.is_set():
            with no_grad():
                x * x

    other = threading.Thread(target=evaluate_forever)
    other.start()
    try:
        w = Value(3.0)
        for _ in range(300):
            y = w * w + w
            y.backward()
            assert y.op == "+" and w.grad == 7.0  # recorded every time: d(w^2 + w)/dw = 7
            w.grad = 0.0
    finally:
        stop.set()
        other.join()
    assert autograd.is_grad_enabled()


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_mode_on():
    inside, release = threading.Event(), threading.Event()

    def hold():
        with no_grad():
            inside.set()
            release.wait(5)

    other = threading.Thread(target=hold)
    other.start()
    inside.wait(5)
    with no_grad():
        assert not autograd.is_grad_enabled()
    release.set()
    other.join()
    assert autograd.is_grad_enabled() and (Value(2.0) * 3).op == "*"


def test_scopes_are_per_thread_and_exit_to_the_scope_that_was_current():
    a = scope("a")
    with scope("b") as b:
        with a:
            assert autograd.current_scope() is a
        assert autograd.current_scope() is b  # not a's parent, the root
    seen = []
    with scope("main thread"):
        t = threading.Thread(target=lambda: seen.append(autograd.current_scope().name))
        t.start()
        t.join()
    assert seen == [""]  # the other thread is in its own root scope


def test_bad_arguments_to_scope_and_topological_order_are_type_errors():
    with pytest.raises(TypeError, match="expected str"):
        scope(None)
    with pytest.raises(TypeError, match="expected a Value"):
        autograd.topological_order(None)


def test_star_import_keeps_pythons_sum():
    namespace: dict = {}
    exec("from autograd import *", namespace)
    assert "sum" not in namespace and "Value" in namespace


# --- rules that do not overflow -------------------------------------------------------------

@pytest.mark.parametrize("b", [1e-300, 1e-200, 1e-100, 1e-80, 1e80, 1e160, 1e300, -1e300, -1e-300])
def test_division_and_log_derivatives_are_exact_at_extreme_magnitudes(b):
    a = 0.75
    x, y = Value(a), Value(b)
    da, db = grad(x / y, [x, y])
    exact = lambda p, q: mpmath.mpf(p) / mpmath.mpf(q)
    assert same(da, float(mpmath.diff(lambda p: exact(p, b), a)), rel=1e-12)
    assert same(db, float(-mpmath.mpf(a) / mpmath.mpf(b) ** 2), rel=1e-12)
    if b > 0:
        (dlog,) = grad(y.log(), [y])
        assert same(dlog, float(1 / mpmath.mpf(b)), rel=1e-12)


@pytest.mark.parametrize("x0", [1e-300, 1e-150, 1e-77, 1e-60, 1e60, 1e77, 1e150, 1e300])
def test_second_derivative_of_c_over_x_is_exact_where_it_is_finite(x0):
    x = Value(x0)
    (d1,) = grad(3.0 / x, [x], create_graph=True)
    (d2,) = grad(d1, [x])
    true_d1 = -3 / mpmath.mpf(x0) ** 2
    true_d2 = 6 / mpmath.mpf(x0) ** 3
    for ours, true in ((float(d1), true_d1), (d2, true_d2)):
        expected = float(true)  # inf only where the true value itself passes 1.8e308
        assert same(ours, expected, rel=1e-12), (ours, expected)


# --- PyTorch's masked zeros and edge values (from its derivatives.yaml and kernels) ----------

def backward_with(y: Value, upstream: float) -> None:
    y.backward(upstream)


@pytest.mark.parametrize("upstream", [INF, NAN])
def test_relu_off_passes_no_gradient_even_an_infinite_one(upstream):
    for x0 in (-3.0, 0.0, -0.0):
        x = Value(x0)
        backward_with(x.relu(), upstream)
        assert x.grad == 0.0  # PyTorch: where(result <= 0, 0, grad)
    x = Value(NAN)
    backward_with(x.relu(), 1.0)
    assert x.grad == 1.0  # nan passes through relu, and so does the gradient


@pytest.mark.parametrize("upstream", [INF, NAN])
def test_the_base_of_x_to_the_zero_gets_no_gradient_even_an_infinite_one(upstream):
    for make in (lambda x: x ** 0, lambda x: x ** Value(0.0)):
        for x0 in (2.0, 0.0, -2.0):
            x = Value(x0)
            backward_with(make(x), upstream)
            assert x.grad == 0.0


def test_plain_zero_derivatives_still_turn_infinite_gradients_into_nan_as_in_pytorch():
    x = Value(0.0)
    backward_with(abs(x), INF)  # abs'(0) = 0 is an ordinary 0: 0 * inf
    assert math.isnan(x.grad)
    x, e = Value(0.0), Value(2.0)
    backward_with(x ** e, 1.0)
    assert x.grad == 0.0 and e.grad == 0.0  # d(0**y)/dy = 0 for y >= 0
    x = Value(NAN)
    backward_with(abs(x), 1.0)
    assert x.grad == 0.0  # sgn(nan) = 0


@pytest.mark.parametrize("base,exponent,value,grad_", [
    (-INF, 0.5, NAN, NAN), (-0.0, 0.5, -0.0, -INF), (0.0, 0.5, 0.0, INF), (INF, 0.5, INF, 0.0),
    (0.0, -0.5, INF, -INF), (-0.0, -0.5, -INF, -INF), (-INF, -0.5, NAN, -0.0), (INF, -0.5, 0.0, -0.0),
    (-0.0, 3.0, -0.0, 0.0), (-INF, -1.0, -0.0, -0.0), (0.0, -2.0, INF, -INF), (-0.0, -1.0, -INF, -INF),
])
def test_number_exponents_follow_pytorchs_special_cases(base, exponent, value, grad_):
    # PyTorch computes x**0.5 as sqrt, x**-0.5 as rsqrt, x**2, x**3, x**-1, x**-2 by * and /
    x = Value(base)
    y = x ** exponent
    y.backward()
    assert same(y.data, value) and math.copysign(1, y.data) == math.copysign(1, value)
    # (the sign of a zero gradient is not compared: .grad starts at +0.0, and +0.0 + -0.0 is +0.0,
    # where PyTorch's first backward assigns -0.0 to a .grad that was None)
    assert same(x.grad, grad_) and (math.isnan(grad_) or grad_ == 0 or math.copysign(1, x.grad) == math.copysign(1, grad_))


def test_relu_keeps_the_sign_of_negative_zero():
    y = Value(-0.0).relu()
    assert y.data == 0.0 and math.copysign(1, y.data) == -1.0


# --- detect_anomaly and gradcheck at their limits ---------------------------------------------

def test_anomaly_mode_raises_nothing_for_second_derivatives_of_a_square_at_negative_x():
    with detect_anomaly():
        x = Value(-1.5)
        (d1,) = grad(x ** 2, [x], create_graph=True)
        (d2,) = grad(d1, [x])
    assert float(d1) == -3.0 and d2 == 2.0


def test_anomaly_mode_catches_gradients_that_overflow_when_added_up():
    x = Value(1.0, label="x")
    y = x * 1e308 + x * 1e308  # each path's gradient is finite, their sum is not
    with detect_anomaly(), pytest.raises(FloatingPointError, match="overflow"):
        y.backward()


def test_gradcheck_fails_for_a_function_whose_value_is_nan():
    with pytest.raises(autograd.GradcheckError, match="not finite"):
        gradcheck(lambda x: (x - 2.0).log(), [1.0])


def test_gradcheck_refuses_a_zero_step_and_accepts_values_as_inputs():
    with pytest.raises(ValueError, match="eps must be > 0"):
        gradcheck(lambda x: x * x, [1.0], eps=0)
    assert gradcheck(lambda x: x * x, [Value(0.3)])


# --- second derivatives of every table entry, against mpmath -----------------------------------

SECOND = {  # key: (function on Values, the same in mpmath, a point)
    "add": (lambda a, b: (a + b) * (a + b), lambda a, b: (a + b) ** 2, (0.3, -1.2)),
    "sub": (lambda a, b: (a - b) * (a - b), lambda a, b: (a - b) ** 2, (0.3, -1.2)),
    "mul": (lambda a, b: a * b * a, lambda a, b: a * b * a, (0.7, -1.3)),
    "div": (lambda a, b: a / b, lambda a, b: a / b, (0.7, -1.3)),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b, (1.7, 2.3)),
    "pow_const": (lambda a: a ** 3.5, lambda a: a ** 3.5, (1.3,)),
    "neg": (lambda a: -(a * a), lambda a: -(a * a), (0.4,)),
    "abs": (lambda a: abs(a * a * a), lambda a: abs(a ** 3), (-0.8,)),
    "exp": (lambda a: a.exp(), mpmath.exp, (0.6,)),
    "log": (lambda a: a.log(), mpmath.log, (0.6,)),
    "log1p": (lambda a: a.log1p(), mpmath.log1p, (0.6,)),
    "sqrt": (lambda a: a.sqrt(), mpmath.sqrt, (0.6,)),
    "tanh": (lambda a: a.tanh(), mpmath.tanh, (0.6,)),
    "sigmoid": (lambda a: a.sigmoid(), lambda a: 1 / (1 + mpmath.exp(-a)), (0.6,)),
    "relu": (lambda a: a.relu() * a.relu(), lambda a: max(a, 0) ** 2, (0.6,)),
    "sum": (lambda a, b: autograd.sum([a * a, a * b, b]), lambda a, b: a * a + a * b + b, (0.6, -0.2)),
    "dot": (lambda a, b: autograd.dot([a, b], [b, a * a]), lambda a, b: a * b + b * a * a, (0.6, -0.2)),
    "pick": (lambda a, b: autograd.pick([a * a, a * b * b], 1) * a, lambda a, b: a * b * b * a, (0.6, -0.2)),
    # a log-sum-exp shifted by the detached max has the true second derivatives (the shift cancels)
    "detached_max": (lambda a, b: ((a - (m := autograd.detached_max([a, b]))).exp() + (b - m).exp()).log() + m,
                     lambda a, b: mpmath.log(mpmath.exp(a) + mpmath.exp(b)), (0.6, -0.2)),
    "bce": (lambda p, y: record(TABLE["bce"], p, y), lambda p, y: (y - 1) * mpmath.log1p(-p) - y * mpmath.log(p),
            (0.3, 0.6)),  # BCELoss's term (probability, target), where no clamp acts
    "nll": (lambda a, b: autograd.nll([a, a * b, b], [b, a, a * b], 1), lambda a, b: mpmath.log1p((a * b - 1) + a + b) - a,
            (0.6, 0.8)),  # cross-entropy's term (exps, shifted scores, class)
}


def test_every_table_entry_has_a_second_derivative_case():
    assert set(SECOND) == set(TABLE)


@pytest.mark.parametrize("key", sorted(SECOND))
def test_second_derivatives_against_mpmath(key):
    fn, exact, point = SECOND[key]
    xs = [Value(p) for p in point]
    first = grad(fn(*xs), xs, create_graph=True)
    for i, d1 in enumerate(first):
        second = grad(d1, xs) if isinstance(d1, Value) else [0.0] * len(xs)
        for j, d2 in enumerate(second):
            orders = [0] * len(point)
            orders[i] += 1
            orders[j] += 1
            true = mpmath.diff(lambda *p: exact(*p), [mpmath.mpf(p) for p in point], tuple(orders))
            assert same(d2, float(true), rel=1e-9, abs_=1e-12), (key, i, j, d2, float(true))


# --- pick and detached_max: bad input ------------------------------------------------------------

@pytest.mark.parametrize("index", [2, -1, 0.5, float("nan"), Value(3.0)])
def test_pick_refuses_an_index_that_is_not_a_whole_number_in_range(index):
    with pytest.raises(IndexError, match="not a whole number from 0 to 1"):
        autograd.pick([Value(1.0), Value(2.0)], index)


@pytest.mark.parametrize("index", [3, -1, 0.5, float("nan"), Value(3.0)])
def test_nll_refuses_a_bad_class_and_lists_of_different_lengths(index):
    exps, shifted = [Value(1.0), Value(0.5), Value(0.2)], [Value(0.0), Value(-0.7), Value(-1.6)]
    with pytest.raises(IndexError, match="nll: index .* is not a whole number from 0 to 2"):
        autograd.nll(exps, shifted, index)
    with pytest.raises(ValueError, match="3 exps but 2 shifted scores"):
        autograd.nll(exps, shifted[:2], 0)


@pytest.mark.parametrize("fn", [autograd.pick, autograd.detached_max])
def test_pick_and_detached_max_refuse_no_values_and_non_lists(fn):
    args = (lambda v: (v, 0)) if fn is autograd.pick else (lambda v: (v,))
    with pytest.raises(ValueError, match="no values"):
        fn(*args([]))
    with pytest.raises(TypeError, match="expected a list"):
        fn(*args(Value(1.0)))


def test_detached_max_is_nan_when_a_value_is_nan_and_passes_no_gradient_even_an_infinite_one():
    a, b = Value(1.0), Value(float("nan"))
    assert math.isnan(autograd.detached_max([a, b]).data)
    c = Value(2.0)
    (autograd.detached_max([a, c]) * float("inf")).backward()
    assert a.grad == 0.0 and c.grad == 0.0  # masked zeros: no nan from 0 * inf, as PyTorch's detached max


def test_sums_add_left_to_right_on_every_python_as_a_chain_of_plus_would():
    # Python 3.12's sum() is compensated and would give 1.0 here; eager, compiled replay and a
    # chain of + all give 0.0 (1e16 + 1 rounds back to 1e16)
    xs = [Value(1e16), Value(1.0), Value(-1e16)]
    chained = (xs[0] + xs[1]) + xs[2]
    assert autograd.sum(xs).data == chained.data == 0.0
    assert autograd.dot(xs, [1.0, 1.0, 1.0]).data == 0.0
