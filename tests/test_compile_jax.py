"""Compile mode on XLA (``backend="jax"``, ``fit(compile="jax")``): eager's numbers, jitted.

The oracle is eager mode (checked against finite differences, mpmath and PyTorch float64 in
tests/test_ops.py and tests/test_engine.py), as in tests/test_compile.py, whose cases run here
on the JAX backend: within 1e-12 of the largest magnitude of a case, the same nan and inf
pattern. A fit on XLA gives eager's losses within the compile contract's 1e-9 relative. The
tests skip without JAX (``pip install 'chainrule[jax]'``); one checks the message without it.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("jax")

import test_compile  # noqa: E402
from test_compile import NEAR_OVERFLOW, assert_same, eager  # noqa: E402

import autograd  # noqa: E402
import nn  # noqa: E402
from autograd import CompileError, Parameter, Value  # noqa: E402
from nn import optim  # noqa: E402


@pytest.mark.parametrize("name", sorted(test_compile.CASES))
def test_each_operation_on_xla_matches_eager_at_ordinary_and_edge_points(name):
    test_compile.test_each_operation_matches_eager_at_ordinary_and_edge_points(name, backend="jax")


def test_each_n_ary_entry_has_its_form_on_stacked_jax_arrays():
    import jax

    from autograd.compiled.xla import JaxArrays

    f = JaxArrays(jax, jax.numpy)
    assert all(callable(getattr(f, op.on_rows)) for op in autograd.ops.TABLE.values() if op.on_rows)


@pytest.mark.parametrize("exponent", test_compile.EXPONENTS)
def test_power_by_a_number_on_xla_matches_eager_at_edge_points(exponent):
    test_compile.test_power_by_a_number_matches_eager_at_edge_points_with_torch_special_forms(exponent, backend="jax")


def test_a_batch_on_xla_gives_eagers_mean_gradients_and_aux_per_sample():
    random.seed(3)
    model = nn.MLP(3, [5, 4])
    params = model.parameters()
    loss_fn = nn.CrossEntropyLoss()

    def fn(x, t):
        out = model(x)
        return loss_fn([out], [t[0]]), out

    X = [[random.uniform(-2, 2) for _ in range(3)] for _ in range(7)]
    T = [[float(random.randrange(4))] for _ in range(7)]
    result = autograd.compile(fn, params, batch=True, backend="jax")(X, T)
    mean = lambda: autograd.sum([loss_fn([model([Value(v) for v in x])], [int(t[0])]) for x, t in zip(X, T)]) / 7  # noqa: E731
    assert_same(result, *eager(mean, params), "batch on XLA")
    for x, row in zip(X, result.aux):
        assert row == pytest.approx([v.data for v in model(x)], rel=1e-12)


def test_a_bad_traced_index_on_xla_raises_eagers_index_error():
    ws = [Parameter(x) for x in (0.5, -2.0, 3.0)]
    step = autograd.compile(lambda i: autograd.pick(ws, i) * 2.0, ws, backend="jax")
    assert step(2).grads == [0.0, 0.0, 2.0]
    with pytest.raises(IndexError, match="whole number from 0 to 2"):
        step(1.5)


@pytest.mark.parametrize("case", NEAR_OVERFLOW)
@pytest.mark.parametrize("penalty", [None, "edge"])
def test_a_batch_on_xla_near_overflow_gives_eagers_infinities_and_nans(case, penalty):
    # XLA adds in its own order: where terms could overflow (numbers beyond 1e150) the call is eager
    test_compile.test_a_batch_call_near_overflow_gives_eagers_infinities_and_nans(case, penalty, backend="jax")


def test_the_guard_on_xla_catches_a_branch_on_the_data():
    w = Parameter(1.0)
    step = autograd.compile(lambda x: w * x if x.data > 0 else w - x, [w], backend="jax")
    step(1.0)
    with pytest.raises(CompileError, match="different graph"):
        step(-1.0)


def test_an_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'numpy', 'jax'"):
        autograd.compile(lambda: Parameter(1.0) * 2, [], backend="xla")
    with pytest.raises(ValueError, match="compile must be"):
        nn.fit(nn.MLP(1, [1]), [[1.0]], [1.0], nn.MSELoss(), optim.SGD(nn.MLP(1, [1]).parameters(), lr=0.1),
               epochs=1, compile="tpu", progress=False)


def _digits_fit(compile, opt, epochs=5, **kwargs):
    from bench.fit_bench import _digits

    X, y = _digits()
    random.seed(0)
    model = nn.Sequential(nn.Layer(64, 32), nn.Tanh(), nn.Layer(32, 10))
    optimizer = (optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt == "sgd"
                 else optim.Adam(model.parameters(), lr=0.01))
    history = nn.fit(model, X, y, nn.CrossEntropyLoss(), optimizer, epochs=epochs, batch_size=32, progress=False,
                     compile=compile, **kwargs)
    return history, model, optimizer


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_a_five_epoch_digits_fit_on_xla_gives_eagers_losses(opt):
    expected, eager_model, eager_opt = _digits_fit(False, opt)
    history, model, optimizer = _digits_fit("jax", opt)
    for a, b in zip(history.loss, expected.loss):
        assert a == pytest.approx(b, rel=1e-9)
    assert history.accuracy == expected.accuracy
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert p.data == pytest.approx(q.data, rel=1e-9, abs=1e-12)
        assert p.grad == pytest.approx(q.grad, rel=1e-9, abs=1e-12)
    assert optimizer.steps == eager_opt.steps
    for s, t in zip(optimizer.state, eager_opt.state):
        assert s == pytest.approx(t, rel=1e-9, abs=1e-12)


def test_micrograds_demo_fit_on_xla_with_plain_sgd_gives_eagers_losses():
    from bench.compiled import demo_data

    X, y = demo_data()
    runs = []
    for compile in (False, "jax"):
        random.seed(1337)
        model = nn.MLP(2, [16, 16, 1])
        runs.append(nn.fit(model, X, y, nn.HingeLoss(), optim.SGD(model.parameters(), lr=0.01, weight_decay=2e-4),
                           epochs=8, progress=False, compile=compile))  # one batch: epochs 3-8 on XLA
    assert runs[1].loss == pytest.approx(runs[0].loss, rel=1e-9)
    assert runs[1].max_change == pytest.approx(runs[0].max_change, rel=1e-9)


def test_a_learning_rate_set_between_fits_reaches_the_jitted_steps():
    random.seed(1)
    X = [[random.uniform(-1, 1), random.uniform(-1, 1)] for _ in range(40)]
    y = [1 if a * b > 0 else -1 for a, b in X]
    runs = []
    for compile in (False, "jax"):
        random.seed(2)
        model = nn.MLP(2, [6, 1])
        opt = optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for lr in (0.1, 0.02):
            opt.lr = lr
            losses += nn.fit(model, X, y, nn.HingeLoss(), opt, epochs=3, batch_size=8, progress=False,
                             compile=compile).loss
        runs.append(losses)
    assert runs[1] == pytest.approx(runs[0], rel=1e-9)


def test_bce_on_xla_refuses_an_output_that_is_not_a_probability_before_any_update():
    random.seed(3)
    model = nn.MLP(1, [2, 1], activation="tanh")  # a linear last layer: outputs outside [0, 1]
    before = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match="BCELoss: output .* not a probability"):
        nn.fit(model, [[0.5], [2.0], [-1.0]], [1.0, 0.0, 1.0], nn.BCELoss(), optim.SGD(model.parameters(), lr=0.1),
               epochs=3, progress=False, compile="jax")
    assert [p.data for p in model.parameters()] == before


def test_bce_on_xla_trains_as_eager_does_on_probabilities():
    random.seed(4)
    X = [[random.uniform(-2, 2)] for _ in range(50)]
    y = [1.0 if x[0] > 0.3 else 0.0 for x in X]
    runs = []
    for compile in (False, "jax"):
        random.seed(5)
        model = nn.Sequential(nn.MLP(1, [4, 1]), nn.Sigmoid())
        runs.append(nn.fit(model, X, y, nn.BCELoss(), optim.Adam(model.parameters(), lr=0.05), epochs=4,
                           batch_size=16, progress=False, compile=compile))
    assert runs[1].loss == pytest.approx(runs[0].loss, rel=1e-9)
    assert runs[1].accuracy == runs[0].accuracy


def test_the_gpt_compiled_step_on_xla_gives_the_numpy_steps_losses():
    losses = {}
    for backend in ("numpy", "jax"):
        random.seed(0)
        model = nn.GPT(vocab_size=5, block_size=6, n_embd=8, n_head=2)
        with model.compiled_step(optim.Adam(model.parameters(), lr=0.01), backend=backend) as step:
            losses[backend] = [step([4, 1, 2, 3, 1, 4]) for _ in range(5)]
    assert losses["jax"] == pytest.approx(losses["numpy"], rel=1e-9)


def test_without_jax_the_backend_says_how_to_install_it_and_numpy_still_works():
    code = textwrap.dedent("""
        import sys
        sys.modules["jax"] = None  # as if JAX were not installed
        import autograd
        from autograd import Parameter
        w = Parameter(2.0)
        print(autograd.compile(lambda x: w * x, [w])(3.0).grads)
        try:
            autograd.compile(lambda x: w * x, [w], backend="jax")
        except ModuleNotFoundError as error:
            print(error)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == "[3.0]"
    assert "pip install 'jax[cpu]'" in out and "NumPy backend" in out


def test_the_docs_example_of_the_jax_backend_runs_and_trains():
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "compile.md").read_text()
    blocks = [b.split("```", 1)[0] for b in page.split("```python\n")[1:]]
    (example,) = [b for b in blocks if 'compile="jax"' in b]
    namespace: dict = {}
    exec(example, namespace)
    assert namespace["history"].accuracy[-1] > 0.9
