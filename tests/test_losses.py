"""Losses at edge points: values and gradients against mpmath and PyTorch's documented clamping
(always), and against PyTorch float64 itself (when installed); and what the losses refuse."""

from __future__ import annotations

import math
import random
import struct

import mpmath
import pytest
from conftest import needs_torch, torch

import autograd
import nn
from autograd import Value, grad

mpmath.mp.dps = 60


def _ours(loss_fn, rows, targets):
    """The loss value and the gradient of every output, row by row."""
    values = [[Value(v) for v in row] for row in rows]
    loss = loss_fn(values, targets)
    flat = grad(loss, [v for row in values for v in row])
    it = iter(flat)
    return loss.data, [[next(it) for _ in row] for row in rows]


# --- cross-entropy: mpmath's exact log-softmax -----------------------------------------------

def _mp_cross_entropy(rows, targets):
    """Mean of log Σ exp(s) − s_y and its gradient (softmax − one-hot) / n, with 60 digits."""
    n = len(rows)
    total, grads = mpmath.mpf(0), []
    for row, y in zip(rows, targets):
        s = [mpmath.mpf(v) for v in row]
        z = mpmath.fsum(mpmath.exp(v) for v in s)
        total += mpmath.log(z) - s[y]
        grads.append([float((mpmath.exp(v) / z - (1 if j == y else 0)) / n) for j, v in enumerate(s)])
    return float(total / n), grads


CE_CASES = [
    ([[30.0, 0.0]], [0]),              # confident and right: loss e^-30 ≈ 9.36e-14
    ([[35.0, 0.0]], [0]),              # 6.3e-16: lost entirely by adding the max back and subtracting it
    ([[0.0, -40.0, -45.0]], [0]),      # 4.2e-18
    ([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], [1, 2]),
    ([[0.3, -1.2, 2.0], [1.5, 0.5, -0.5]], [2, 0]),
    ([[1e-10, 0.0], [5.0, 5.0, 5.0]], [1, 2]),  # near-ties and exact ties
    ([[-30.0, 0.0]], [0]),             # confident and wrong
]


@pytest.mark.parametrize("traced", [False, True], ids=["int-targets", "value-targets"])
@pytest.mark.parametrize("rows, targets", CE_CASES)
def test_cross_entropy_matches_mpmath_to_the_last_digits(rows, targets, traced):
    # a target may be a Value (an input traced by compile mode): the same numbers by one nll node
    loss, grads = _ours(nn.CrossEntropyLoss(), rows, [Value(float(y)) for y in targets] if traced else targets)
    want, want_grads = _mp_cross_entropy(rows, targets)
    assert math.isclose(loss, want, rel_tol=1e-13, abs_tol=0.0), (loss, want)
    for row, wrow in zip(grads, want_grads):
        for g, w in zip(row, wrow):
            assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-15), (g, w)


def test_a_traced_target_gives_the_int_targets_numbers_to_the_bit():
    # one nll node (value targets) against the separate nodes of int targets: the same float
    # operations in the same order, so the same loss and gradients, not merely close ones
    rng = random.Random(5)
    for _ in range(200):
        n = rng.randint(2, 12)
        rows = [[rng.choice([rng.gauss(0, 3), rng.uniform(-800, 800), 0.0, -0.0]) for _ in range(n)] for _ in range(3)]
        targets = [rng.randrange(n) for _ in rows]
        loss_fn = nn.CrossEntropyLoss()
        assert _ours(loss_fn, rows, targets) == _ours(loss_fn, rows, [Value(float(y)) for y in targets]), (rows, targets)


@needs_torch
@pytest.mark.parametrize("traced", [False, True], ids=["int-targets", "value-targets"])
@pytest.mark.parametrize("rows, targets", CE_CASES)
def test_cross_entropy_matches_pytorch(rows, targets, traced):
    loss, grads = _ours(nn.CrossEntropyLoss(), rows, [Value(float(y)) for y in targets] if traced else targets)
    tensors = [torch.tensor([row], requires_grad=True) for row in rows]  # rows may differ in width
    tl = sum(torch.nn.functional.cross_entropy(t, torch.tensor([y])) for t, y in zip(tensors, targets)) / len(rows)
    tl.backward()
    # PyTorch forms 1 + tiny before its log (gap 35: 6.66e-16 where the exact value is 6.31e-16):
    # within one rounding of 1 of it in value, and to the last digits in gradient
    assert math.isclose(loss, tl.item(), rel_tol=1e-12, abs_tol=2.3e-16), (loss, tl.item())
    for row, t in zip(grads, tensors):
        for g, w in zip(row, t.grad[0].tolist()):
            assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-15), (g, w)


@pytest.mark.parametrize("rows, targets", CE_CASES)
def test_compiled_cross_entropy_with_the_target_as_an_input_matches_mpmath(rows, targets):
    pytest.importorskip("numpy")
    import autograd

    params = [autograd.Parameter(v) for row in rows for v in row]
    widths = [len(row) for row in rows]

    def loss(*ys):
        it = iter(params)
        return nn.CrossEntropyLoss()([[next(it) for _ in range(w)] for w in widths], list(ys))

    result = autograd.compile(loss, params)(*targets)  # one program: the targets are traced inputs
    want, want_grads = _mp_cross_entropy(rows, targets)
    assert math.isclose(result.value, want, rel_tol=1e-13, abs_tol=0.0), (result.value, want)
    for g, w in zip(result.grads, [w for row in want_grads for w in row]):
        assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-15), (g, w)


def test_cross_entropy_on_one_output_is_an_error_not_zero():
    with pytest.raises(ValueError, match="needs one score per class"):
        nn.CrossEntropyLoss()([[Value(3.0)], [Value(-1.0)]], [0, 0])
    with pytest.raises(ValueError, match="needs one score per class"):
        nn.CrossEntropyLoss()([Value(3.0)], [0])  # a one-output MLP returns a Value per sample


def test_cross_entropy_accepts_numpy_class_indices():
    np = pytest.importorskip("numpy")
    loss = nn.CrossEntropyLoss()([[Value(1.0), Value(2.0)]], [np.int64(1)])
    assert math.isclose(loss.data, math.log1p(math.exp(-1.0)), rel_tol=1e-15)


# --- binary cross-entropy: PyTorch's documented clamping, written out -------------------------

EPS32 = struct.unpack("f", struct.pack("f", 1e-12))[0]  # PyTorch's EPSILON in BCE's backward


def _clamped_bce(p: float, y: float) -> tuple[float, float]:
    """One sample's BCE value and d/dp as PyTorch documents them: logs clamped at -100, and the
    backward's (p - y) / max(p (1 - p), EPSILON), written with mpmath's logs."""
    def log(x):
        return max(float(mpmath.log(mpmath.mpf(x))), -100.0) if x > 0 else -100.0
    value = -(y * log(p) + (1 - y) * log(1 - p))
    slope = float((mpmath.mpf(p) - y) / max(mpmath.mpf(p) * (1 - mpmath.mpf(p)), mpmath.mpf(EPS32)))
    return value, slope


BCE_POINTS = [(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.5), (1.0, 0.3), (1e-20, 1.0),
              (1e-20, 0.0), (1e-50, 1.0), (1e-13, 0.3), (1 - 1e-13, 1.0), (0.2, 0.0), (0.9, 1.0), (0.6, 0.25),
              (1e-11, 1.0)]


@pytest.mark.parametrize("p, y", BCE_POINTS)
def test_bce_value_and_gradient_follow_pytorchs_clamping(p, y):
    loss, grads = _ours(nn.BCELoss(), [[p], [0.5]], [y, 0.5])  # a second sample: the mean divides by 2
    value, slope = _clamped_bce(p, y)
    assert math.isclose(loss, (value + math.log(2)) / 2, rel_tol=1e-14), (loss, value)
    assert math.isclose(grads[0][0], slope / 2, rel_tol=1e-12), (grads[0][0], slope / 2)


@needs_torch
@pytest.mark.parametrize("p, y", BCE_POINTS)
def test_bce_matches_pytorch_at_edges(p, y):
    loss, grads = _ours(nn.BCELoss(), [[p], [0.5]], [y, 0.5])
    t = torch.tensor([p, 0.5], requires_grad=True)
    tl = torch.nn.functional.binary_cross_entropy(t, torch.tensor([y, 0.5]))
    tl.backward()
    assert math.isclose(loss, tl.item(), rel_tol=1e-14)
    assert math.isclose(grads[0][0], t.grad[0].item(), rel_tol=1e-12)


@pytest.mark.parametrize("p", [math.nan, 1.5, -0.1, math.inf, -math.inf, 1.0000000000000002, -5e-324])
def test_bce_refuses_what_is_not_a_probability(p):
    with pytest.raises(ValueError, match="not a probability in \\[0, 1\\]"):
        nn.BCELoss()([Value(p)], [1.0])


@needs_torch
def test_pytorch_refuses_the_same_probabilities():
    for p in (math.nan, 1.5, -0.1):
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            torch.nn.functional.binary_cross_entropy(torch.tensor([p]), torch.tensor([1.0]))


def test_losses_take_a_single_value_per_sample():
    outs = [Value(0.25), Value(0.75)]
    assert math.isclose(nn.BCELoss()(outs, [0, 1]).data, -math.log(0.75), rel_tol=1e-15)
    assert nn.MSELoss()(outs, [0.0, 1.0]).data == 0.0625
    assert nn.HingeLoss()(outs, [1, -1]).data == (0.75 + 1.75) / 2


@pytest.mark.parametrize("half", ["no", 0, 1, None, 1.0])
def test_mse_half_takes_only_a_bool(half):
    with pytest.raises(TypeError, match="half must be True or False"):
        nn.MSELoss(half=half)


# --- binary cross-entropy as one table operation: the same structure whatever the numbers ----

BCE_EDGES = [(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (1e-13, 1.0), (1e-13, 0.0), (1 - 1e-16, 1.0),
             (1 - 1e-16, 0.0), (0.3, 1.0), (0.3, 0.0), (0.6, 0.25), (1e-300, 0.5)]


def _hand_bce(p: float, y: float) -> tuple[float, float, float]:
    """PyTorch's binary_cross_entropy, written out by hand from its definition: the value
    (y − 1)·max(log(1 − p), −100) − y·max(log p, −100) with mpmath's logs, d/dp
    (p − y) / max(p(1 − p), ε) and d/dy −logit(p) = log(1 − p) − log p (not clamped)."""
    P, Y = mpmath.mpf(p), mpmath.mpf(y)
    def log(x):
        return max(mpmath.log(x), -100) if x > 0 else mpmath.mpf(-100)
    value = (Y - 1) * log(1 - P) - Y * log(P)
    dp = (P - Y) / max(P * (1 - P), mpmath.mpf(EPS32))
    dy = mpmath.log(1 - P) - mpmath.log(P) if 0 < p < 1 else (math.inf if p == 0 else -math.inf)
    return float(value), float(dp), float(dy)


@pytest.mark.parametrize("p, y", BCE_EDGES)
def test_bce_term_is_one_node_whose_value_and_gradients_are_pytorchs_formulas(p, y):
    pv, yv = Value(p), Value(y)
    loss = nn.BCELoss()([pv], [yv])  # a target that is a Value: differentiated too, as in PyTorch
    dp, dy = grad(loss, [pv, yv])
    value, want_dp, want_dy = _hand_bce(p, y)
    assert math.isclose(loss.data, value, rel_tol=1e-15, abs_tol=1e-300), (loss.data, value)
    assert math.isclose(dp, want_dp, rel_tol=1e-15), (dp, want_dp)
    assert dy == want_dy or math.isclose(dy, want_dy, rel_tol=1e-12), (dy, want_dy)
    assert [v.op for v in autograd.topological_order(loss) if v.op] == ["bce", "sum", "*"]  # no branch on p


@needs_torch
@pytest.mark.parametrize("p, y", BCE_EDGES)
def test_bce_term_matches_pytorch_float64_exactly(p, y):
    pv, yv = Value(p), Value(y)
    loss = nn.BCELoss()([pv], [yv])
    dp, dy = grad(loss, [pv, yv])
    tp, ty = torch.tensor([p], requires_grad=True), torch.tensor([y], requires_grad=True)
    tl = torch.nn.functional.binary_cross_entropy(tp, ty)
    tl.backward()
    assert loss.data == tl.item() and dp == tp.grad.item(), (loss.data, tl.item(), dp, tp.grad.item())
    assert dy == ty.grad.item() or math.isclose(dy, ty.grad.item(), rel_tol=1e-15)  # its log may differ by an ulp


def test_bce_gradient_can_be_differentiated_again():
    p, y = Value(0.3), Value(1.0)
    (dp,) = grad(nn.BCELoss()([p], [y]), [p], create_graph=True)
    (d2p,) = grad(dp, [p])
    q = 0.3 * 0.7  # d/dp (p − y)/q = (q − (p − y)(1 − 2p)) / q², by hand
    assert math.isclose(d2p, (q - (0.3 - 1.0) * (1 - 0.6)) / q**2, rel_tol=1e-14)
