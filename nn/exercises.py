"""Checks for the exercises at the end of each notebook: each says "right" or "not yet" and why.

A check never needs the notebook's earlier cells: it builds its own problem, compares the
learner's answer with an independent computation and prints one verdict: a line starting "right:" or "not yet:".
Solutions, for teachers: ``notebooks/solutions/`` in the repository (kept out of the notebooks,
so a learner meets the exercise before the answer).

>>> check_slope(lambda f, x: (f(x + 1e-6) - f(x - 1e-6)) / 2e-6)
right: your slopes match the derivatives (x² at 3 → 6, x³ at -2 → 12, sin at 0 → 1)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from autograd import Value, no_grad


def _verdict(ok: bool, right: str, wrong: str) -> None:
    print(f"right: {right}" if ok else f"not yet: {wrong}")


def _call(fn: Any, *args: Any) -> tuple[Any, str]:
    """Run the learner's function; an exception becomes a message, not a traceback."""
    try:
        return fn(*args), ""
    except Exception as error:  # a learner's bug is reported as the verdict
        return None, f"{type(error).__name__}: {error}"


def _close(a: Any, b: float, rel: float = 1e-4) -> bool:
    try:
        return math.isclose(float(a), b, rel_tol=rel, abs_tol=1e-8)
    except (TypeError, ValueError):
        return False


# notebook 0 ---------------------------------------------------------------------------------

def check_slope(slope: Callable[[Callable[[float], float], float], float]) -> None:
    """``slope(f, x)`` must estimate f's slope at x by nudging x (no calculus needed)."""
    cases = [("x²", lambda x: x * x, 3.0, 6.0), ("x³", lambda x: x**3, -2.0, 12.0), ("sin", math.sin, 0.0, 1.0)]
    for name, f, x, expected in cases:
        got, error = _call(slope, f, x)
        if error or not _close(got, expected, 1e-3):
            return _verdict(False, "", error or f"the slope of {name} at {x:g} is {expected:g}; yours says {got!r}")
    return _verdict(True, "your slopes match the derivatives (x² at 3 → 6, x³ at -2 → 12, sin at 0 → 1)", "")


def check_direction(direction: int) -> None:
    """``direction`` (+1 or −1): which way x should move, from 2.5, to make x² − 2x smaller."""
    def f(x: float) -> float:
        return x * x - 2 * x

    if direction not in (1, -1):
        return _verdict(False, "", f"direction is +1 or -1; you gave {direction!r}")
    moved = 2.5 + direction * 0.1
    return _verdict(f(moved) < f(2.5), f"f goes down from {f(2.5)} to {f(moved):.2f}: against the slope",
                    f"f goes up from {f(2.5)} to {f(moved):.2f}: the slope is +3, so going right goes up")


# notebook 1 ---------------------------------------------------------------------------------

def check_softplus_rule(rule: Callable[[float], float]) -> None:
    """``rule(x)`` must be d/dx log(1 + eˣ), checked against nudging softplus itself."""
    def softplus(x: float) -> float:
        return math.log1p(math.exp(x))

    for x in (-3.0, -0.5, 0.0, 1.0, 4.0):
        expected = (softplus(x + 1e-6) - softplus(x - 1e-6)) / 2e-6
        got, error = _call(rule, x)
        if error or not _close(got, expected, 1e-5):
            return _verdict(False, "", error or f"at x = {x:g} the slope of softplus is {expected:.6f}; yours gives {got!r}")
    return _verdict(True, "that is softplus's slope at every point tried (it is the sigmoid!)", "")


def topological_check_graph() -> Value:
    """The graph of the ordering exercise: c = a·b, d = c + a, e = d·c (a and c used twice)."""
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    c = a * b
    c.label = "c"
    d = c + a
    d.label = "d"
    e = d * c
    e.label = "e"
    return e


def check_order(order: Sequence[str]) -> None:
    """``order`` must list the labels of ``topological_check_graph()`` inputs first, so that every
    node comes after all the nodes it is computed from (the order ``backward()`` walks in reverse).
    The reverse, output first, is named as such: it is the other reading of the exercise."""
    nodes: dict[str, Value] = {}
    stack = [topological_check_graph()]
    while stack:
        v = stack.pop()
        nodes[v.label] = v
        stack.extend(v.children)
    if not isinstance(order, (list, tuple)) or sorted(order) != sorted(nodes):
        return _verdict(False, "", f"list each of {sorted(nodes)} exactly once; you gave {order!r}")
    place = {label: i for i, label in enumerate(order)}
    if all(place[child.label] > place[label] for label, v in nodes.items() for child in v.children):
        return _verdict(False, "", "that is the order backward() processes them in (e first); "
                                   "list them the other way round, inputs first")
    for label, v in nodes.items():
        for child in v.children:
            if place[child.label] > place[label]:
                return _verdict(False, "", f"{label} is computed from {child.label}, so {child.label} must come first")
    return _verdict(True, f"{' → '.join(order)}: every node comes after what it is made from", "")


# notebook 2 ---------------------------------------------------------------------------------

def valley() -> tuple[list[float], list[float]]:
    """The one-weight problem of notebook 2: 20 points made with w = 3 plus noise."""
    rng = random.Random(1)
    xs = [i / 10 for i in range(1, 21)]
    return xs, [3 * x + rng.gauss(0, 0.2) for x in xs]


def descend(learning_rate: float, steps: int, w: float = -1.0) -> list[float]:
    """w after each of ``steps`` gradient-descent steps on ``valley()``'s ½-MSE cost, by hand
    (dC/dw = mean((w·x − y)·x)): the independent computation the check uses."""
    xs, ys = valley()
    path = [w]
    for _ in range(steps):
        w -= learning_rate * sum((w * x - t) * x for x, t in zip(xs, ys)) / len(xs)
        path.append(w)
    return path


def check_learning_rate(learning_rate: float) -> None:
    """A learning rate that brings w within 0.01 of the bottom in at most 10 steps, from w = −1."""
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
        return _verdict(False, "", f"a learning rate is a positive number; you gave {learning_rate!r}")
    xs, ys = valley()
    best = sum(x * t for x, t in zip(xs, ys)) / sum(x * x for x in xs)  # the bottom of the valley
    path = descend(float(learning_rate), 10)
    if not all(math.isfinite(w) for w in path) or abs(path[-1] - best) > 0.01:
        far = "it overshoots and flies off" if not math.isfinite(path[-1]) or abs(path[-1]) > 10 else "it is still"
        return _verdict(False, "", f"after 10 steps w = {path[-1]:.4g}, the bottom is {best:.4f}: {far}"
                        + (" on its way: try a larger rate" if far == "it is still" and path[-1] < best else ""))
    return _verdict(True, f"10 steps reach w = {path[-1]:.4f} (bottom {best:.4f})", "")


def check_half_mse(half_mse: Callable[[Sequence[float], Sequence[float]], float]) -> None:
    """``half_mse(predicted, actual)``: the mean over the samples of ½·(predicted − actual)²."""
    cases = [([0.8, 0.3, 0.6], [1.0, 0.0, 1.0], (0.04 + 0.09 + 0.16) / 2 / 3), ([2.0], [5.0], 4.5)]
    for predicted, actual, expected in cases:
        got, error = _call(half_mse, predicted, actual)
        if error or not _close(got, expected, 1e-12):
            return _verdict(False, "", error or f"for {predicted} vs {actual} the cost is {expected:.6g}; yours: {got!r}")
    return _verdict(True, "difference, squared, halved, averaged", "")


# notebook 3 ---------------------------------------------------------------------------------

def _seed_network() -> tuple[Any, Any, list[float], float]:
    """Notebook 3's network with its loss's gradients in every ``.grad``: (L1, L2, S, error)."""
    import nn

    rng_state = random.getstate()
    random.seed(7)
    l1, l2 = nn.Layer(2, 3), nn.Layer(3, 1)
    net = nn.Sequential(l1, nn.Sigmoid(), l2)
    random.setstate(rng_state)
    x, target = [0.4, -1.2], 1.0
    with no_grad():
        S = [v.data for v in nn.Sigmoid()(l1(x))]
    prediction = net(x)
    out = prediction[0] if isinstance(prediction, list) else prediction
    nn.MSELoss(half=True)([out], [target]).backward()
    return l1, l2, S, out.data - target


def _against_backward(got: Any, error: str, expected: list[float]) -> None:
    if error or not isinstance(got, (list, tuple)) or len(got) != len(expected) \
            or not all(_close(g, e, 1e-9) for g, e in zip(got, expected)):
        return _verdict(False, "", error or f"backward() says {[round(e, 6) for e in expected]}; yours: {got!r}")
    return _verdict(True, f"{[round(e, 6) for e in expected]}, as backward() computes", "")


def check_bias_gradients(grad_b1: Callable[[list[float], list[float], float], list[float]]) -> None:
    """``grad_b1(S, W2, error)``: ∂ℓ/∂b1[j] for every hidden unit of L1 → sigmoid → L2 → ½(ŷ−y)²,
    given the sigmoid outputs S, L2's weights W2 and the error ŷ − y. Checked against
    ``backward()`` on a network the check builds."""
    l1, l2, S, err = _seed_network()
    got, error = _call(grad_b1, S, [w.data for w in l2.neurons[0].w], err)
    return _against_backward(got, error, [n.b.grad for n in l1.neurons])


def check_w2_gradients(grad_W2: Callable[[list[float], float], list[float]]) -> None:  # noqa: N803
    """``grad_W2(S, error)``: ∂ℓ/∂W2[j] for L2's weights, from the sigmoid outputs S and the
    error ŷ − y. Checked against ``backward()`` on a network the check builds."""
    _, l2, S, err = _seed_network()
    got, error = _call(grad_W2, S, err)
    return _against_backward(got, error, [w.grad for w in l2.neurons[0].w])


# notebook 4 ---------------------------------------------------------------------------------

def check_xor_settings(settings: dict[str, Any]) -> None:
    """Train ``nn.MLP(2, [hidden, 2], activation)`` with Adam(lr) for ``epochs`` on xor; right
    when it gets at least 90% of 100 held-out points right."""
    import nn
    from nn import optim

    try:
        hidden, activation = int(settings["hidden"]), settings["activation"]
        lr, epochs = float(settings["lr"]), int(settings["epochs"])
    except (KeyError, TypeError, ValueError) as error:
        return _verdict(False, "", f"settings needs hidden, activation, lr and epochs ({error})")
    if not (1 <= hidden <= 32 and 1 <= epochs <= 200):
        return _verdict(False, "", "keep hidden between 1 and 32 and epochs at most 200 (so the check is quick)")
    X, y = nn.data.xor(n=180, seed=3)
    rng_state = random.getstate()
    random.seed(0)
    try:
        model = nn.MLP(2, [hidden, 2], activation=activation)
    except ValueError as error:
        return _verdict(False, "", str(error))
    finally:
        random.setstate(rng_state)
    nn.fit(model, X[:80], y[:80], nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=lr), epochs=epochs,
           batch_size=16, progress=False)
    with no_grad():
        right = nn.CrossEntropyLoss().count_correct([model(x) for x in X[80:]], y[80:])
    return _verdict(right >= 90, f"{right} of 100 held-out points right",
                    f"{right} of 100 held-out points right; xor needs a bend: a nonlinear activation and enough units")


def check_cross_entropy(cross_entropy: Callable[[list[float], int], float]) -> None:
    """``cross_entropy(scores, target)``: −log of the softmax probability of the right class,
    for one sample; checked against ``nn.CrossEntropyLoss``, scores of ±1000 included."""
    import nn
    from autograd import Value

    for scores, target in (([2.0, 1.0, 0.1], 0), ([0.5, -1.5], 1), ([1000.0, -1000.0, 999.0], 2)):
        expected = nn.CrossEntropyLoss()([[Value(v) for v in scores]], [target]).data
        got, error = _call(cross_entropy, list(scores), target)
        if error or not _close(got, expected, 1e-9):
            return _verdict(False, "", error or f"for scores {scores} and class {target} the loss is "
                                              f"{expected:.6g}; yours: {got!r} (large scores: subtract the largest first)")
    return _verdict(True, "the log of the summed exponentials, minus the right class's score", "")


# notebook 5 ---------------------------------------------------------------------------------

def check_accuracy_from_counts(accuracy_from: Callable[[list[list[int]]], float]) -> None:
    """``accuracy_from(counts)``: the fraction right, from a confusion matrix (rows true, columns predicted)."""
    cases = [([[5, 1], [2, 2]], 0.7), ([[3, 0, 0], [1, 1, 0], [0, 0, 5]], 0.9)]
    for counts, expected in cases:
        got, error = _call(accuracy_from, counts)
        if error or not _close(got, expected, 1e-12):
            return _verdict(False, "", error or f"for {counts} the accuracy is {expected}; yours: {got!r}")
    return _verdict(True, "the diagonal over the total", "")


def check_softmax(softmax: Callable[[list[float]], list[float]]) -> None:
    """``softmax(scores)``: probabilities e^s_i / Σ e^s_j from raw scores, stable for large
    scores; checked against ``nn.softmax``."""
    import nn
    from autograd import Value

    for scores in ([2.0, 1.0, 0.1], [0.0] * 10, [1000.0, 999.0, -1000.0]):
        expected = [p.data for p in nn.softmax([Value(v) for v in scores])]
        got, error = _call(softmax, list(scores))
        if error or not isinstance(got, (list, tuple)) or len(got) != len(expected) \
                or not all(_close(g, e, 1e-9) for g, e in zip(got, expected)):
            return _verdict(False, "", error or f"for {scores} the probabilities are "
                                              f"{[round(e, 4) for e in expected]}; yours: {got!r}")
    return _verdict(True, "exponentials over their sum, the largest score subtracted first", "")
