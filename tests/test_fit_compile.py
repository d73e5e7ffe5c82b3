"""fit(compile=True) and `chainrule train --compile`: the same training as eager, replayed.

The oracle is eager training itself (``fit`` with ``compile=False``), whose losses, optimizers
and backward pass the other tests check against mpmath, hand-derived formulas and PyTorch
float64: from the same initial weights, on the same batches, the compiled history must equal
eager's within 1e-9 relative over 20 epochs, and the weights, gradients and optimizer state it
leaves behind must be eager's too.
"""

from __future__ import annotations

import importlib.util
import math
import random
import subprocess
import sys
import textwrap

import pytest

import nn
from autograd import CompileError, Parameter, Value

np = pytest.importorskip("numpy")
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # compiled training prints no NumPy warnings


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= rel * max(1.0, abs(b))


def _fit_both(make, loss_fn, optimizer, **options):
    """fit eagerly and compiled from the same initial weights: [(history, model, optimizer)] × 2."""
    runs = []
    for compiled in (False, True):
        model, X, y = make()
        opt = optimizer(model.parameters())
        history = nn.fit(model, X, y, loss_fn, opt, progress=False, compile=compiled, **options)
        runs.append((history, model, opt))
    return runs


def _assert_same_training(runs):
    (eager_history, eager_model, eager_opt), (history, model, opt) = runs
    assert history.stopped == eager_history.stopped
    assert len(history.loss) == len(eager_history.loss)
    for a, b in zip(history.loss, eager_history.loss):
        assert abs(a - b) <= 1e-9 * abs(b), (a, b)
    assert history.accuracy == eager_history.accuracy
    for a, b in zip(history.max_change, eager_history.max_change):
        assert close(a, b)
    for p, q in zip(model.parameters(), eager_model.parameters()):  # .data and .grad synced when fit returned
        assert close(p.data, q.data) and close(p.grad, q.grad)
    assert opt.steps == eager_opt.steps
    for mine, theirs in zip(opt.state, eager_opt.state):  # momentum, Adam's averages: eager steps may follow
        assert all(a is b is None or close(a, b) for a, b in zip(mine, theirs))
    assert history.loss[-1] < history.loss[0]


def _moons():
    X, y = nn.data.moons(n=60, noise=0.1, seed=2)
    random.seed(5)
    return nn.MLP(2, [8, 8, 1]), X, [2 * t - 1 for t in y]


def _xor():
    X, y = nn.data.xor(n=40, seed=1)
    random.seed(6)
    return nn.MLP(2, [6, 1], activation="tanh"), X, y


def test_moons_hinge_sgd_momentum_trains_as_eager():
    _assert_same_training(_fit_both(_moons, nn.HingeLoss(), lambda ps: nn.optim.SGD(ps, lr=0.05, momentum=0.9),
                                    epochs=20, batch_size=16))


def test_xor_mse_adam_with_weight_decay_trains_as_eager():
    _assert_same_training(_fit_both(_xor, nn.MSELoss(), lambda ps: nn.optim.Adam(ps, lr=0.02, weight_decay=0.01),
                                    epochs=20, batch_size=8))


def test_xor_mse_on_two_outputs_and_validation_trains_as_eager():
    def make():
        X, y = nn.data.xor(n=40, seed=3)
        random.seed(7)
        return nn.MLP(2, [5, 2], activation="tanh"), X[:30], [[float(t), 1.0 - t] for t in y[:30]]

    X, y = nn.data.xor(n=40, seed=3)
    validation = (X[30:], [[float(t), 1.0 - t] for t in y[30:]])
    runs = _fit_both(make, nn.MSELoss(half=True), lambda ps: nn.optim.SGD(ps, lr=0.1, weight_decay=0.001),
                     epochs=20, batch_size=7, validation=validation)
    _assert_same_training(runs)
    assert runs[0][0].val_loss == pytest.approx(runs[1][0].val_loss, rel=1e-9)


def test_xor_cross_entropy_sgd_trains_as_eager():
    def make():
        X, y = nn.data.xor(n=48, seed=2)
        random.seed(9)
        return nn.MLP(2, [8, 2], activation="tanh"), X, y

    _assert_same_training(_fit_both(make, nn.CrossEntropyLoss(), lambda ps: nn.optim.SGD(ps, lr=0.2, momentum=0.5),
                                    epochs=20, batch_size=10))


@pytest.mark.slow
def test_digits_cross_entropy_trains_as_eager():
    """Notebook 5's network and optimizer on 64 of the digits (the eager side takes the time)."""
    def make():
        X, y = nn.data.digits()
        random.seed(0)
        return nn.Sequential(nn.Layer(64, 32), nn.Tanh(), nn.Layer(32, 10)), X[:64], y[:64]

    _assert_same_training(_fit_both(make, nn.CrossEntropyLoss(), lambda ps: nn.optim.SGD(ps, lr=0.1, momentum=0.9),
                                    epochs=20, batch_size=32))


@pytest.mark.parametrize("stop", [{"tol": 0.05}, {"min_delta": 0.01}])
def test_compiled_fit_stops_where_eager_fit_stops(stop):
    runs = _fit_both(_moons, nn.HingeLoss(), lambda ps: nn.optim.SGD(ps, lr=0.05), epochs=40, batch_size=30, **stop)
    (eager_history, _, _), (history, _, _) = runs
    assert history.stopped == eager_history.stopped == next(iter(stop))
    assert history.epochs == eager_history.epochs < 40


def _moons_probabilities():
    X, y = nn.data.moons(n=60, noise=0.1, seed=4)
    random.seed(8)
    return nn.Sequential(nn.Layer(2, 8), nn.Tanh(), nn.Layer(8, 1), nn.Sigmoid()), X, y


def test_moons_bce_adam_trains_as_eager():
    _assert_same_training(_fit_both(_moons_probabilities, nn.BCELoss(), lambda ps: nn.optim.Adam(ps, lr=0.05),
                                    epochs=20, batch_size=16))


def test_bce_on_outputs_that_are_not_probabilities_stops_as_eagerly_before_any_update():
    X, y = nn.data.moons(n=20, seed=4)
    for compiled in (False, True):
        random.seed(8)
        model = nn.MLP(2, [4, 1])  # no Sigmoid: outputs outside [0, 1]
        before = model.state_dict()
        with pytest.raises(ValueError, match="not a probability in \\[0, 1\\]; end the model with a Sigmoid"):
            nn.fit(model, X, y, nn.BCELoss(), nn.optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=False,
                   compile=compiled)
        assert model.state_dict() == before


def test_training_goes_on_eagerly_after_a_compiled_fit_as_if_eager_all_along():
    """sync() hands the weights and the optimizer's state back: a later eager fit continues."""
    results = []
    for first in (False, True):
        model, X, y = _moons()
        opt = nn.optim.Adam(model.parameters(), lr=0.01)
        nn.fit(model, X, y, nn.HingeLoss(), opt, epochs=3, batch_size=16, progress=False, compile=first)
        results.append(nn.fit(model, X, y, nn.HingeLoss(), opt, epochs=3, batch_size=16, progress=False, seed=1))
    for a, b in zip(results[1].loss, results[0].loss):
        assert abs(a - b) <= 1e-9 * abs(b)


class _InterruptAt(nn.optim.SGD):
    """SGD that is interrupted (as by Ctrl-C) when the update of step ``at`` begins."""

    def __init__(self, params, at):
        super().__init__(params, lr=0.05)
        self.at = at

    def rule(self, sqrt, data, grad, state):
        if self.steps == self.at:
            raise KeyboardInterrupt
        return super().rule(sqrt, data, grad, state)


def test_an_interrupted_compiled_fit_leaves_the_weights_of_the_last_finished_step():
    runs = _fit_both(_moons, nn.HingeLoss(), lambda ps: _InterruptAt(ps, at=7), epochs=5, batch_size=16)
    (eager_history, eager_model, _), (history, model, _) = runs
    assert history.stopped == eager_history.stopped == "interrupted"
    assert history.epochs == eager_history.epochs == 1  # 4 steps an epoch: step 7 is in the second
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert close(p.data, q.data) and p.grad == q.grad == 0.0


@pytest.mark.parametrize("compile", [True, pytest.param("jax", marks=pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="JAX not installed (pip install 'chainrule[jax]')"))])
def test_a_model_whose_graph_depends_on_the_data_is_refused_with_a_clear_error(compile):
    class Branchy(nn.Module):
        def __init__(self):
            self.w = Parameter(0.5)

        def forward(self, x):
            return self.w * x[0] if x[0].data > 0 else self.w * x[1]

    X, y = [[1.0, 2.0], [-1.0, 3.0], [2.0, 1.0], [-2.0, 0.5]], [1, 1, 1, 1]
    model = Branchy()
    with pytest.raises(CompileError, match=r"fit\(compile=.*depends on the data"):
        nn.fit(model, X, y, nn.HingeLoss(), nn.optim.SGD(model.parameters(), lr=0.1), epochs=3, progress=False,
               compile=compile)
    assert model.w.data == 0.5


@pytest.mark.parametrize("loss_fn, bad, message", [
    (nn.HingeLoss(), 0, "labels are -1 or \\+1"),
    (nn.MSELoss(), [1.0, 2.0], "the output has 1 value"),
])
def test_a_bad_target_anywhere_is_refused_before_training_as_eagerly(loss_fn, bad, message):
    model, X, y = _moons()
    y[-1] = bad  # the last sample: no batch has reached it when a step would fail eagerly
    before = model.state_dict()
    for compiled in (False, True):
        with pytest.raises(ValueError, match=message):
            nn.fit(model, X, y, loss_fn, nn.optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=len(X),
                   progress=False, compile=compiled)
    assert model.state_dict() == before


def test_samples_of_different_shapes_are_refused_with_a_clear_error():
    model = nn.MLP(2, [3, 1])
    with pytest.raises(ValueError, match="numbers of the same shape"):
        nn.fit(model, [[1.0, 2.0], [3.0]], [1, -1], nn.HingeLoss(), nn.optim.SGD(model.parameters(), lr=0.1),
               epochs=1, progress=False, compile=True)


def test_the_optimizer_must_update_the_models_parameters():
    model = nn.MLP(2, [3, 1])
    other = nn.MLP(2, [3, 1])
    with pytest.raises(ValueError, match="exactly model.parameters"):
        nn.fit(model, [[1.0, 2.0]], [1], nn.HingeLoss(), nn.optim.SGD(other.parameters(), lr=0.1), epochs=1,
               progress=False, compile=True)


def _right(loss_fn, output, target):
    """The textbook rule, written out: the class with the first largest score (as Python's max
    picks it), or the score on the label's side of the threshold."""
    if isinstance(loss_fn, nn.CrossEntropyLoss):
        return output.index(max(output)) == target
    threshold = 0.5 if isinstance(loss_fn, nn.BCELoss) else 0.0
    return (output[0] > threshold) == (target > threshold)


@pytest.mark.parametrize("loss_fn, outputs, targets", [
    (nn.HingeLoss(), [[0.5], [-0.5], [0.0], [math.nan], [-0.0], [2.0]], [1, 1, -1, -1, 1, -1]),
    (nn.BCELoss(), [[0.7], [0.5], [0.2], [math.nan], [0.51], [1.0]], [1, 1, 0, 0, 0, 1]),
    (nn.CrossEntropyLoss(), [[1.0, 2.0, 0.5], [2.0, 2.0, 1.0], [math.nan, 1.0, 3.0], [1.0, math.nan, 3.0],
                             [-math.inf, -math.inf, -math.inf], [1.0, 3.0, math.nan], [math.inf, math.inf, 0.0],
                             [0.0, -0.0, 0.0], [math.nan, math.nan, math.nan]], [1, 1, 0, 2, 0, 1, 0, 1, 0]),
])
def test_right_answers_are_counted_alike_on_a_batch_and_on_arrays(loss_fn, outputs, targets):
    rows = [loss_fn.target_numbers(i, t, len(o)) for i, (o, t) in enumerate(zip(outputs, targets))]
    expected = sum(_right(loss_fn, o, t) for o, t in zip(outputs, targets))
    assert loss_fn.count_correct(np.array(outputs), np.array(rows)) == expected
    assert loss_fn.count_correct([[Value(x) for x in o] for o in outputs], targets) == expected
    assert nn.MSELoss().count_correct(np.array(outputs), np.array(rows)) is None


@pytest.mark.parametrize("loss", ["cross-entropy", "hinge", "mse", "bce"])
def test_chainrule_train_compile_prints_the_same_results_as_eager(loss, capsys):
    from chainrule_cli.main import main

    lines = []
    for extra in ([], ["--compile"]):
        code = main(["train", "--data", "xor", "--loss", loss, "--epochs", "5", "--samples", "60", "--no-progress",
                     *extra])
        out, err = capsys.readouterr()
        assert code == 0, err
        lines.append([line for line in out.splitlines() if line.startswith("final loss")])
    assert lines[0] == lines[1] and lines[0]


def test_without_numpy_eager_fit_trains_and_compiled_fit_says_how_to_install_it():
    code = textwrap.dedent("""
        import sys
        sys.modules["numpy"] = None  # makes `import numpy` fail, as if it were not installed
        import nn
        model = nn.MLP(2, [3, 1])
        args = (model, [[0.5, 1.0], [1.0, -1.0]], [1, -1], nn.HingeLoss())
        print(nn.fit(*args, nn.optim.SGD(model.parameters(), lr=0.1), epochs=2, progress=False).stopped)
        try:
            nn.fit(*args, nn.optim.SGD(model.parameters(), lr=0.1), epochs=2, progress=False, compile=True)
        except ModuleNotFoundError as error:
            print(error)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("epochs\n") and "pip install numpy" in out and "compile=False" in out
