"""nn.fit's promises: validation numbers, Ctrl-C that never half-applies a step, a history whose
per-epoch lists always agree, a progress bar in terminals and notebooks, and a live view.

The oracles are hand computations in plain floats, and reference runs that were never
interrupted (a step either happened entirely or not at all)."""

from __future__ import annotations

import io
import random
import signal
import sys
import threading

import pytest

import nn
from nn import optim, plots, train


def _line_problem():
    """y = 2x + 1 with a little noise, a one-weight-one-bias model: everything checkable by hand."""
    rng = random.Random(5)
    X = [[rng.uniform(-1, 1)] for _ in range(30)]
    y = [2 * x[0] + 1 + rng.gauss(0, 0.1) for x in X]
    random.seed(1)
    return nn.Layer(1, 1), X[:20], y[:20], X[20:], y[20:]


def test_validation_loss_and_accuracy_are_the_held_out_numbers_after_the_epoch():
    model, X, y, X_val, y_val = _line_problem()
    h = nn.fit(model, X, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), epochs=4, progress=False,
               validation=(X_val, y_val))
    w, b = model.neurons[0].w[0].data, model.neurons[0].b.data
    by_hand = sum((w * x[0] + b - t) ** 2 for x, t in zip(X_val, y_val)) / len(X_val)
    assert h.val_loss[-1] == pytest.approx(by_hand, rel=1e-12)
    assert h.val_accuracy == [None] * 4 and h.has_validation
    assert len(h.loss) == len(h.accuracy) == len(h.max_change) == len(h.val_loss) == 4

    # classes: the accuracy is the fraction of held-out samples on the right side, counted by hand
    random.seed(0)
    X, y = nn.data.xor(n=60, seed=2)
    model = nn.MLP(2, [6, 2], activation="tanh")
    h = nn.fit(model, X[:40], y[:40], nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), epochs=5,
               progress=False, validation=(X[40:], y[40:]))
    right = 0
    for x, t in zip(X[40:], y[40:]):
        scores = [v.data for v in model(x)]
        right += (scores[1] > scores[0]) == (t == 1)
    assert h.val_accuracy[-1] == right / 20
    assert "validation accuracy" in repr(h)


def test_without_validation_the_history_says_none():
    model, X, y, _, _ = _line_problem()
    h = nn.fit(model, X, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2, progress=False)
    assert h.val_loss == [None, None] and not h.has_validation


@pytest.mark.parametrize("bad, error", [(([[1.0]], [1.0, 2.0]), ValueError), (([], []), ValueError),
                                        ([[1.0]], TypeError)])
def test_bad_validation_data_is_refused_before_training(bad, error):
    model, X, y, _, _ = _line_problem()
    before = model.state_dict()
    with pytest.raises(error, match="validation"):
        nn.fit(model, X, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2, progress=False,
               validation=bad)
    assert model.state_dict() == before


class _CtrlCInStep(optim.SGD):
    """SGD that receives a real SIGINT halfway through writing the weights of step ``at``."""

    def __init__(self, params, lr, at):
        super().__init__(params, lr)
        self.at = at
        self.updated = 0  # parameters updated so far in step ``at``

    def rule(self, sqrt, data, grad, state):
        if self.steps == self.at:
            self.updated += 1
            if self.updated == len(self.params) // 2:
                signal.raise_signal(signal.SIGINT)  # Python runs the handler at the next instruction
        return super().rule(sqrt, data, grad, state)


@pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="needs signal.raise_signal")
def test_ctrl_c_during_an_optimizer_step_finishes_the_step_then_stops():
    random.seed(0)
    X, y = nn.data.xor(n=40)
    model = nn.MLP(2, [16, 2], activation="tanh")
    start = model.state_dict()
    h = nn.fit(model, X, y, nn.CrossEntropyLoss(), _CtrlCInStep(model.parameters(), 0.3, at=3), epochs=10,
               progress=False)
    assert h.stopped == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back

    reference = nn.MLP(2, [16, 2], activation="tanh")
    reference.load_state_dict(start)
    nn.fit(reference, X, y, nn.CrossEntropyLoss(), optim.SGD(reference.parameters(), lr=0.3), epochs=3,
           progress=False)
    moved = [a for a, b in zip(model.state_dict().values(), start.values()) if a != b]
    assert len(moved) > len(start) // 2, "the step was cut short"
    # every weight is exactly where three whole steps put it: the interrupted step was finished
    assert model.state_dict() == reference.state_dict()
    assert h.epochs == 2  # the interrupted epoch (the third) is not recorded


def test_ctrl_c_outside_a_step_still_stops_at_once():
    random.seed(0)
    X, y = nn.data.xor(n=40)
    model = nn.MLP(2, [4, 2])

    class CtrlCInLoss(nn.CrossEntropyLoss):
        calls = 0

        def forward(self, outputs, targets):
            self.calls += 1
            if self.calls == 5:
                signal.raise_signal(signal.SIGINT)
            return super().forward(outputs, targets)

    h = nn.fit(model, X, y, CtrlCInLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=10, batch_size=10,
               progress=False)
    assert h.stopped == "interrupted" and h.epochs == 1


@pytest.mark.parametrize("where", ["accuracy", "validation"])
def test_an_interrupt_while_an_epoch_is_recorded_leaves_equal_lists(where):
    model, X, y, X_val, y_val = _line_problem()

    class Interrupting(nn.MSELoss):
        calls = val_calls = 0

        def count_correct(self, outputs, targets):  # called as each step's numbers are gathered
            self.calls += 1
            if where == "accuracy" and self.calls == 5:
                raise KeyboardInterrupt
            return None

        def forward(self, outputs, targets):
            if where == "validation" and len(outputs) == len(X_val):
                self.val_calls += 1
                if self.val_calls > 3:
                    raise KeyboardInterrupt
            return super().forward(outputs, targets)

    h = nn.fit(model, X, y, Interrupting(), optim.SGD(model.parameters(), lr=0.1), epochs=10, progress=False,
               validation=(X_val, y_val))
    assert h.stopped == "interrupted"
    assert 1 <= h.epochs < 10
    assert len(h.loss) == len(h.accuracy) == len(h.max_change) == len(h.val_loss) == len(h.val_accuracy)
    plots.loss_curve(h)  # draws without complaint


def test_fit_in_another_thread_leaves_signals_alone():
    model, X, y, _, _ = _line_problem()
    result = {}

    def run():
        result["h"] = nn.fit(model, X, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2,
                             progress=False)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert result["h"].stopped == "epochs"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_without_tqdm_is_one_line_of_text(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    model, X, y, _, _ = _line_problem()
    nn.fit(model, X, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), epochs=3)
    text = sys.stderr.getvalue()
    assert "\r3/3 epochs loss " in text and text.endswith("\n")


class _FakeShell:
    config = {"IPKernelApp": {}}


def _pretend_notebook(monkeypatch):
    pytest.importorskip("IPython")
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: _FakeShell())
    assert train.in_notebook()


def test_progress_bar_shows_in_a_notebook_though_stderr_is_no_terminal(monkeypatch):
    pytest.importorskip("tqdm")
    _pretend_notebook(monkeypatch)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    model, X, y, _, _ = _line_problem()
    nn.fit(model, X, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), epochs=3)
    assert "3/3" in sys.stderr.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    nn.fit(model, X, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), epochs=3, progress=False)
    assert sys.stderr.getvalue() == ""


def test_no_progress_bar_where_nobody_watches(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    model, X, y, _, _ = _line_problem()
    nn.fit(model, X, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), epochs=3)
    assert sys.stderr.getvalue() == ""


def test_live_view_in_a_notebook_redraws_one_picture_in_place(monkeypatch):
    pytest.importorskip("matplotlib")
    _pretend_notebook(monkeypatch)
    import IPython.display

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj))

    def display(obj, display_id=False):
        assert display_id is True  # so later pictures replace this one
        shown.append(("display", obj))
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    random.seed(0)
    X, y = nn.data.xor(n=40)
    model = nn.MLP(2, [4, 2], activation="tanh")
    h = nn.fit(model, X[:30], y[:30], nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=3,
               live=True, validation=(X[30:], y[30:]))
    assert h.epochs == 3
    assert [kind for kind, _ in shown][0] == "display" and all(kind == "update" for kind, _ in shown[1:])
    assert len(shown) >= 2  # the first epoch, and the final picture
    assert shown[-1][1].data.startswith(b"\x89PNG")


def test_live_view_draws_curves_and_for_2d_classes_the_boundary():
    pytest.importorskip("matplotlib")
    random.seed(0)
    X, y = nn.data.xor(n=40)
    model = nn.MLP(2, [4, 2], activation="tanh")
    h = nn.fit(model, X, y, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2, progress=False)
    fig = plots.LiveView(10, model, X, y).figure(h)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("epoch 2/10: loss ") and "what the model says now" in titles
    assert fig.axes[0].get_xlim() == (1, 10)  # the x range is the whole run from the start
    assert len(plots.LiveView(10, None, X, y).figure(h).axes) == 1


def _points(ax):
    """(x, y) of every scattered sample in the axes, with its marker path's vertex count."""
    found = []
    for coll in ax.collections:
        offsets = getattr(coll, "get_offsets", lambda: [])()
        if len(offsets) and coll.get_label() and not coll.get_label().startswith("_"):
            found.append((coll.get_label(), [tuple(p) for p in offsets], len(coll.get_paths()[0].vertices)))
    return found


def test_decision_boundary_covers_every_sample_and_tells_train_from_test():
    pytest.importorskip("matplotlib")
    random.seed(0)
    X, y = nn.data.animals(n=80, seed=1)
    X = [[w / 10, length / 50] for w, length in X]
    model = nn.Sequential(nn.Layer(2, 3), nn.Sigmoid(), nn.Layer(3, 2))
    ax = plots.decision_boundary(model, X[:60], y[:60], test=(X[60:], y[60:]), class_names=("cat", "dog"),
                                 scale=(10, 50), xlabel="weight (kg)", ylabel="length (cm)", resolution=20)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for w, length in X:  # every sample, in kg and cm, lies inside the shaded square
        assert x0 < w * 10 < x1 and y0 < length * 50 < y1
    groups = {label: (pts, corners) for label, pts, corners in _points(ax)}
    assert set(groups) == {"cat (train)", "dog (train)", "cat (test)", "dog (test)"}
    assert groups["cat (train)"][1] != groups["cat (test)"][1]  # circles and triangles
    assert len(groups["cat (test)"][0]) + len(groups["dog (test)"][0]) == 20
    assert ax.get_xlabel() == "weight (kg)"


def test_decision_boundary_names_the_held_out_samples_as_told_and_the_live_view_calls_them_validation():
    pytest.importorskip("matplotlib")
    random.seed(0)
    X, y = nn.data.xor(n=40)
    model = nn.MLP(2, [4, 2], activation="tanh")
    ax = plots.decision_boundary(model, X[:30], y[:30], test=(X[30:], y[30:]), held_out="validation", resolution=10)
    assert {label for label, *_ in _points(ax)} == {"0 (train)", "1 (train)", "0 (validation)", "1 (validation)"}
    h = nn.fit(model, X[:30], y[:30], nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=1,
               progress=False, validation=(X[30:], y[30:]))
    boundary = plots.LiveView(10, model, X[:30], y[:30], validation=(X[30:], y[30:])).figure(h).axes[1]
    assert {label for label, *_ in _points(boundary)} == {"0 (train)", "1 (train)", "0 (validation)", "1 (validation)"}


def test_probabilities_follow_the_model_kind():
    from autograd import Value

    class Score(nn.Module):
        def forward(self, x):
            return Value(x[0])

    p = plots.probabilities(Score(), [2.0])
    assert p[1] == pytest.approx(1 / (1 + 2.718281828459045 ** -2.0)) and sum(p) == pytest.approx(1)
    s = 1 / (1 + 2.718281828459045 ** -0.3)  # the model's own output is the probability: no second sigmoid
    assert plots.probabilities(nn.Sequential(Score(), nn.Sigmoid()), [0.3]) == pytest.approx([1 - s, s])
    assert plots.predict_class(Score(), [-0.1]) == 0 and plots.predict_class(Score(), [0.1]) == 1


def test_confusion_matrix_counts_by_hand():
    pytest.importorskip("matplotlib")
    from autograd import Value

    class Nearest(nn.Module):  # class k scores -|x - k|: predicts the nearest whole number 0..2
        def forward(self, x):
            return [Value(-abs(x[0] - k)) for k in range(3)]

    X = [[0.1], [0.9], [1.2], [2.4], [1.6], [0.4]]
    y = [0, 1, 2, 2, 1, 1]
    counts = plots.confusion_matrix(Nearest(), X, y, class_names=["zero", "one", "two"])
    assert counts == [[1, 0, 0], [1, 1, 1], [0, 1, 1]]


def test_loss_curve_shows_training_and_validation_with_names():
    pytest.importorskip("matplotlib")
    model, X, y, X_val, y_val = _line_problem()
    h = nn.fit(model, X, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), epochs=5, progress=False,
               validation=(X_val, y_val))
    ax = plots.loss_curve(h)
    assert [line.get_label() for line in ax.get_lines()] == ["training", "validation"]
    assert list(ax.get_lines()[1].get_ydata()) == h.val_loss
    assert ax.get_ylabel() == "loss (mean squared error)"
    axes = plots.loss_curves({"a": h, "b": h})
    assert [a.get_title() for a in axes] == ["a", "b"]


def test_weight_images_show_each_neurons_weights_in_place():
    pytest.importorskip("matplotlib")
    random.seed(0)
    layer = nn.Layer(6, 3)
    fig = plots.weight_images(layer, (2, 3), columns=3)
    image = fig.axes[1].get_images()[0].get_array()
    assert image[1][2] == layer.neurons[1].w[5].data  # row 1, column 2 is weight 1·3 + 2
    with pytest.raises(ValueError, match="2×2"):
        plots.weight_images(layer, (2, 2))
