"""nn: modules, losses, optimizers and the seed network, against PyTorch and finite differences."""

from __future__ import annotations

import copy
import gc
import math
import random
import time

import pytest
from conftest import central_difference, needs_torch, same, torch

import autograd
import nn
from autograd import Value, grad, no_grad
from nn import optim


def seed_network(n_in=3, n_hidden=4, n_out=2, seed=0):
    random.seed(seed)
    return nn.Sequential(nn.Layer(n_in, n_hidden), nn.Sigmoid(), nn.Layer(n_hidden, n_out))


def test_parameters_names_and_order():
    net = seed_network()
    names = [n for n, _ in net.named_parameters()]
    assert len(names) == len(set(names)) == 3 * 4 + 4 + 4 * 2 + 2
    assert names[:4] == ["0.neurons.0.w.0", "0.neurons.0.w.1", "0.neurons.0.w.2", "0.neurons.0.b"]
    assert names[-1] == "2.neurons.1.b"
    assert net.parameters() == [p for _, p in net.named_parameters()]
    mlp = nn.MLP(2, [3, 1])
    assert [n for n, _ in mlp.named_parameters()][0] == "layers.0.neurons.0.w.0"
    assert len(net) == 3 and isinstance(net[1], nn.Sigmoid)
    assert [layer.activation for layer in nn.MLP(2, [4, 4, 1]).layers] == ["relu", "relu", "linear"]


def test_initialisation_is_uniform_in_pytorch_bound_and_seeded():
    a, b = seed_network(n_in=16, seed=3), seed_network(n_in=16, seed=3)
    assert a.state_dict() == b.state_dict()
    first_layer = [p.data for p in a[0].parameters()]
    assert all(abs(w) <= 1 / math.sqrt(16) for w in first_layer)
    assert max(first_layer) - min(first_layer) > 0.2  # spread over the range, not constant


def test_neuron_is_one_dot_node_plus_activation():
    random.seed(0)
    y = nn.Neuron(3, activation="tanh")([1.0, 2.0, 3.0])
    assert y.op == "tanh" and y.children[0].op == "dot"


def _by_hand(neuron, xs):
    """A neuron's output from its weights with plain float arithmetic (no engine)."""
    total = sum(w.data * x for w, x in zip(neuron.w, xs)) + neuron.b.data
    return max(total, 0.0) if neuron.activation == "relu" else total


def test_layer_neurons_and_modes_agree_with_arithmetic_by_hand():
    random.seed(4)
    layer = nn.Layer(3, 4, activation="relu")
    xs = [0.5, -1.5, 2.0]
    expected = [_by_hand(n, xs) for n in layer.neurons]
    assert [v.data for v in layer(xs)] == pytest.approx(expected, rel=1e-15)
    direct = layer.neurons[2](xs)  # a neuron called by itself checks and labels its inputs
    assert direct.data == pytest.approx(expected[2], rel=1e-15)
    assert [c.label for c in direct.children[0].children[3:6]] == ["x0", "x1", "x2"]
    with no_grad():  # the layer's fast path still honours the modes
        out = layer(xs)
    assert [v.data for v in out] == pytest.approx(expected, rel=1e-15) and all(v.is_leaf for v in out)
    for w in layer.neurons[0].w:
        w.data = 1.0
    with pytest.raises(FloatingPointError, match="dot produced inf"), autograd.detect_anomaly():
        layer([1e308, 1e308, 0.0])
    with pytest.raises(TypeError, match="Layer"):
        layer(["a", 1.0, 2.0])
    layer.neurons[1].w[0] = 0.5  # a plain number where a weight Value belongs
    with pytest.raises(TypeError, match=r"\.w must stay a list of nin Values and \.b a Value"):
        layer(xs)


def test_a_deep_copy_is_an_independent_model_with_the_same_parameters():
    net = seed_network()
    twin = copy.deepcopy(net)
    assert twin.state_dict() == net.state_dict() and len(twin.parameters()) == len(net.parameters())
    assert all(p.is_parameter for p in twin.parameters())
    autograd.sum(twin([0.1, 0.2, 0.3])).backward()
    assert any(p.grad != 0 for p in twin.parameters()) and all(p.grad == 0 for p in net.parameters())


def test_zero_grad_and_state_dict_round_trip():
    net = seed_network()
    out = net([0.1, 0.2, 0.3])
    autograd.sum(out).backward()
    assert any(p.grad != 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad == 0 for p in net.parameters())
    other = seed_network(seed=9)
    other.load_state_dict(net.state_dict())
    assert other.state_dict() == net.state_dict()


def test_load_state_dict_refuses_what_does_not_fit_and_changes_nothing():
    net = seed_network()
    before = net.state_dict()
    state = dict(before)
    state.pop("0.neurons.0.b")
    state["extra"] = 1.0
    with pytest.raises(ValueError, match=r"missing '0.neurons.0.b'.*unexpected 'extra'"):
        net.load_state_dict(state)
    with pytest.raises(ValueError, match="not a number"):
        net.load_state_dict({**before, "0.neurons.0.b": "x"})
    assert net.state_dict() == before


@pytest.mark.parametrize("bad", [[1.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
def test_wrong_input_size_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="expected 3 inputs, got"):
        seed_network()(bad)
    with pytest.raises(TypeError, match="expected a list of 3 numbers"):
        seed_network()("abc")


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.Layer(2, 2, activation="swish")
    with pytest.raises(ValueError, match="whole number from 1 to"):
        nn.Layer(0, 2)
    with pytest.raises(TypeError, match="not an nn module"):
        nn.Sequential(nn.Layer(2, 2), "relu")


def _linear(nin, nout):  # a weight per input and a bias, per neuron: counted by hand
    return nout * (nin + 1)


@pytest.fixture
def nothing_built(monkeypatch):
    """Fails the test if any parameter is made (modules make theirs with the Parameter their file imports)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a parameter was made past the parameter limit")
    monkeypatch.setattr(nn.layers, "Parameter", refuse)
    monkeypatch.setattr(nn.gpt, "Parameter", refuse)


@pytest.mark.parametrize("make, count", [
    (lambda: nn.GPT(vocab_size=10**6), 10**6 * 16 + 16 * 16 + 4 * 3 * _linear(16, 4) + _linear(16, 16)
     + _linear(16, 64) + _linear(64, 16) + _linear(16, 10**6)),
    (lambda: nn.GPT(n_embd=4096), 27 * 4096 * 2 + 16 * 4096 + 4 * _linear(4096, 4096) + _linear(4096, 4 * 4096)
     + _linear(4 * 4096, 4096) + 27),
    (lambda: nn.GPT(n_embd=10**5), None),
    (lambda: nn.MLP(2, [10**5, 10**5]), _linear(2, 10**5) + _linear(10**5, 10**5)),
    (lambda: nn.Layer(10**6, 10**6), _linear(10**6, 10**6)),
    (lambda: nn.Embedding(10**6, 10**6), 10**12),
    (lambda: nn.Block(1000, 10), 4 * _linear(1000, 1000) + _linear(1000, 4000) + _linear(4000, 1000)),
])
def test_a_module_too_big_to_build_is_refused_at_once_with_its_estimate(make, count, nothing_built):
    start = time.perf_counter()
    with pytest.raises(ValueError, match="parameters .*GB of memory.*more than nn.layers.MAX_PARAMETERS = 2,000,000.*"
                                         "raise the limit first: nn.layers.MAX_PARAMETERS = ") as refused:
        make()
    assert time.perf_counter() - start < 0.1
    if count is not None:
        assert f"would have {count:,} parameters" in str(refused.value)


def test_the_parameter_limit_can_be_raised(monkeypatch, tmp_path):
    random.seed(0)
    nn.save(nn.MLP(3, [4, 2]), tmp_path / "mlp.json")  # 16 + 10 parameters
    monkeypatch.setattr(nn.layers, "MAX_PARAMETERS", 25)
    with pytest.raises(ValueError, match=r"MLP\(3, \[4, 2\]\) would have 26 parameters.*MAX_PARAMETERS = 26"):
        nn.MLP(3, [4, 2])
    with pytest.raises(ValueError, match="would have 26 parameters"):
        nn.load(tmp_path / "mlp.json")
    monkeypatch.setattr(nn.layers, "MAX_PARAMETERS", 26)
    assert len(nn.MLP(3, [4, 2]).parameters()) == 26 and len(nn.load(tmp_path / "mlp.json").parameters()) == 26


def test_softmax_is_stable_and_sums_to_one():
    probs = nn.softmax([Value(1000.0), Value(-1000.0), Value(999.0)])
    assert math.isclose(sum(p.data for p in probs), 1.0)
    assert math.isclose(probs[0].data, 1 / (1 + math.exp(-1)))


# --- losses: finite differences (always) and PyTorch (when installed) --------------------

LOSS_CASES = {
    "mse": (nn.MSELoss(), [[0.3, -1.2], [2.0, 0.5]], [[1.0, 0.0], [0.0, 1.0]]),
    "mse_half": (nn.MSELoss(half=True), [[0.3], [2.0], [-0.7]], [1.0, 0.0, 0.5]),
    "bce": (nn.BCELoss(), [[0.2], [0.9], [0.6]], [0.0, 1.0, 1.0]),
    "cross_entropy": (nn.CrossEntropyLoss(), [[0.3, -1.2, 2.0], [1.5, 0.5, -0.5]], [2, 0]),
    "hinge": (nn.HingeLoss(), [[0.3], [-2.0], [0.8]], [1.0, -1.0, -1.0]),
}


def _loss_value(loss_fn, flat, shape, targets):
    it = iter(flat)
    return loss_fn([[next(it) for _ in row] for row in shape], targets)


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_gradients_match_finite_differences(name):
    loss_fn, outputs, targets = LOSS_CASES[name]
    flat = [v for row in outputs for v in row]
    values = [Value(v) for v in flat]
    grads = grad(_loss_value(loss_fn, values, outputs, targets), values)
    for i in range(len(flat)):
        numerical = central_difference(
            lambda p: _loss_value(loss_fn, [Value(v) for v in p], outputs, targets).data, flat, i)
        assert math.isclose(grads[i], numerical, rel_tol=1e-6, abs_tol=1e-9), (i, grads[i], numerical)


def torch_loss(name, outputs, targets):
    F = torch.nn.functional
    if name == "mse":
        return F.mse_loss(outputs, torch.tensor(targets))
    if name == "mse_half":
        return F.mse_loss(outputs.flatten(), torch.tensor(targets)) / 2
    if name == "bce":
        return F.binary_cross_entropy(outputs.flatten(), torch.tensor(targets))
    if name == "cross_entropy":
        return F.cross_entropy(outputs, torch.tensor(targets))
    return torch.clamp(1 - torch.tensor(targets) * outputs.flatten(), min=0).mean()


@needs_torch
@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_values_and_gradients_match_pytorch(name):
    loss_fn, outputs, targets = LOSS_CASES[name]
    values = [[Value(v) for v in row] for row in outputs]
    loss = loss_fn(values, targets)
    loss.backward()
    t = torch.tensor(outputs, requires_grad=True)
    tl = torch_loss(name, t, targets)
    tl.backward()
    assert same(loss.data, tl.item(), rel=1e-12)
    for row, trow in zip(values, t.grad.tolist()):
        for v, tg in zip(row, trow):
            assert same(v.grad, tg, rel=1e-12, abs_=1e-15)


@needs_torch
def test_cross_entropy_is_finite_at_scores_of_a_thousand():
    scores = [[Value(1000.0), Value(-1000.0), Value(0.0)], [Value(-1000.0), Value(1000.0), Value(999.0)]]
    loss = nn.CrossEntropyLoss()(scores, [1, 2])
    loss.backward()
    t = torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], requires_grad=True)
    tl = torch.nn.functional.cross_entropy(t, torch.tensor([1, 2]))
    tl.backward()
    assert math.isfinite(loss.data) and same(loss.data, tl.item())
    for row, trow in zip(scores, t.grad.tolist()):
        assert all(math.isfinite(v.grad) and same(v.grad, g, abs_=1e-12) for v, g in zip(row, trow))


@needs_torch
def test_bce_clamps_log_like_pytorch():
    ps = [Value(0.0), Value(1.0)]
    loss = nn.BCELoss()([[p] for p in ps], [1.0, 0.0])
    tl = torch.nn.functional.binary_cross_entropy(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]))
    assert loss.data == tl.item() == 100.0


def test_loss_input_errors():
    with pytest.raises(ValueError, match="2 outputs but 3 targets"):
        nn.MSELoss()([[Value(1.0)], [Value(2.0)]], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="class index from 0 to 2"):
        nn.CrossEntropyLoss()([[Value(1.0)] * 3], [3])
    with pytest.raises(ValueError, match="labels are -1 or \\+1"):
        nn.HingeLoss()([Value(1.0)], [0])
    with pytest.raises(TypeError, match="one entry per sample"):
        nn.MSELoss()(Value(1.0), [1.0])


# --- the seed network against PyTorch ---------------------------------------------------

def torch_seed_network(net):
    layers = []
    for module in net:
        if isinstance(module, nn.Layer):
            linear = torch.nn.Linear(module.nin, module.nout)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor([[w.data for w in n.w] for n in module.neurons]))
                linear.bias.copy_(torch.tensor([n.b.data for n in module.neurons]))
            layers.append(linear)
        else:
            layers.append({"Sigmoid": torch.nn.Sigmoid, "Tanh": torch.nn.Tanh, "ReLU": torch.nn.ReLU}[type(module).__name__]())
    return torch.nn.Sequential(*layers)


def torch_params_in_our_order(tnet):
    out = []
    for layer in tnet:
        if isinstance(layer, torch.nn.Linear):
            for j in range(layer.out_features):
                out += [(layer.weight, (j, i)) for i in range(layer.in_features)] + [(layer.bias, (j,))]
    return out


@needs_torch
@pytest.mark.parametrize("name", ["mse", "bce", "cross_entropy", "hinge"])
def test_seed_network_forward_and_every_gradient_match_pytorch(name):
    X = [[0.5, -1.2, 2.0], [1.5, 0.3, -0.7], [-0.4, 0.9, 0.1]]
    n_out = 2 if name in ("mse", "cross_entropy") else 1
    net = seed_network(n_out=n_out)
    if name == "bce":
        net = nn.Sequential(*net, nn.Sigmoid())
    targets = {"mse": [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], "bce": [1.0, 0.0, 1.0], "cross_entropy": [1, 0, 1],
               "hinge": [1.0, -1.0, 1.0]}[name]
    loss_fn = {"mse": nn.MSELoss(), "bce": nn.BCELoss(), "cross_entropy": nn.CrossEntropyLoss(), "hinge": nn.HingeLoss()}[name]
    outputs = [net(x) for x in X]
    loss = loss_fn(outputs, targets)
    loss.backward()

    tnet = torch_seed_network(net)
    tout = tnet(torch.tensor(X))
    tloss = torch_loss(name, tout, targets)
    tloss.backward()
    assert all(same(o.data, t, rel=1e-12) for row, trow in zip(outputs, tout.tolist()) for o, t in zip(row, trow))
    assert same(loss.data, tloss.item(), rel=1e-12)
    for p, (tensor, index) in zip(net.parameters(), torch_params_in_our_order(tnet)):
        assert same(p.grad, tensor.grad[index].item(), rel=1e-9, abs_=1e-14)


# --- optimizers against torch.optim --------------------------------------------------------

def _run_ours(make, steps=6):
    params = [Value(v) for v in (0.5, -1.5, 2.0)]
    opt = make(params)
    for _ in range(steps):
        opt.zero_grad()
        loss = autograd.sum([(p - c) ** 2 * k + p.tanh() for p, c, k in zip(params, (1.0, 2.0, -0.5), (1.0, 3.0, 0.5))])
        loss.backward()
        opt.step()
    return [p.data for p in params]


def _run_torch(make, steps=6):
    params = [torch.tensor(v, requires_grad=True) for v in (0.5, -1.5, 2.0)]
    opt = make(params)
    for _ in range(steps):
        opt.zero_grad()
        loss = sum((p - c) ** 2 * k + p.tanh() for p, c, k in zip(params, (1.0, 2.0, -0.5), (1.0, 3.0, 0.5)))
        loss.backward()
        opt.step()
    return [p.item() for p in params]


OPTIMIZERS = {
    "sgd": (lambda ps: optim.SGD(ps, lr=0.05), lambda ps: torch.optim.SGD(ps, lr=0.05)),
    "sgd_momentum_wd": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01),
                        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01)),
    "adam": (lambda ps: optim.Adam(ps, lr=0.1), lambda ps: torch.optim.Adam(ps, lr=0.1)),
    "adam_wd_betas": (lambda ps: optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
                      lambda ps: torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_trajectories_match_torch_optim(name):
    ours, theirs = OPTIMIZERS[name]
    for a, b in zip(_run_ours(ours), _run_torch(theirs)):
        assert same(a, b, rel=1e-12, abs_=1e-14), (a, b)


def test_sgd_step_by_hand():
    w = Value(2.0)
    opt = optim.SGD([w], lr=0.1, momentum=0.5)
    for _ in range(2):
        opt.zero_grad()
        (w * w).backward()
        opt.step()
    # step 1: g=4, buf=4, w=1.6; step 2: g=3.2, buf=0.5*4+3.2=5.2, w=1.6-0.52
    assert math.isclose(w.data, 1.08)


def test_optimizer_argument_errors():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        optim.SGD([Value(1.0)], lr=-1)
    with pytest.raises(TypeError, match="pass model.parameters"):
        optim.Adam(seed_network())
    with pytest.raises(TypeError, match="expected a Value"):
        optim.SGD([1.0], lr=0.1)


# --- training -----------------------------------------------------------------------------

def test_micrograd_demo_reaches_full_training_accuracy_in_100_steps():
    X, y = nn.data.moons(n=100, noise=0.1, seed=1)
    y = [2 * t - 1 for t in y]
    random.seed(1337)
    model = nn.MLP(2, [16, 16, 1])
    params = model.parameters()
    for p in params:  # the demo's initialisation: micrograd draws every weight from U(-1, 1)
        p.data = random.uniform(-1, 1)
    loss_fn = nn.HingeLoss()
    for k in range(100):
        outputs = [model(x) for x in X]
        loss = loss_fn(outputs, y) + 1e-4 * autograd.sum([p * p for p in params])
        model.zero_grad()
        loss.backward()
        lr = 1.0 - 0.9 * k / 100  # micrograd's schedule
        for p in params:
            p.data -= lr * p.grad
    with no_grad():
        correct = sum((model(x).data > 0) == (t > 0) for x, t in zip(X, y))
    assert correct == 100


@pytest.mark.slow
def test_digits_reach_95_percent_test_accuracy():
    X, y = nn.data.digits()
    X_train, X_test, y_train, y_test = nn.data.train_test_split(X, y, test_size=0.25, seed=0)
    random.seed(0)
    model = nn.Sequential(nn.Layer(64, 32), nn.Tanh(), nn.Layer(32, 10))
    history = nn.fit(model, X_train, y_train, nn.CrossEntropyLoss(),
                     optim.SGD(model.parameters(), lr=0.1, momentum=0.9), epochs=8, batch_size=32, progress=False)
    with no_grad():
        accuracy = nn.CrossEntropyLoss().count_correct([model(x) for x in X_test], y_test) / len(X_test)
    assert history.loss[-1] < history.loss[0]
    assert accuracy >= 0.95, accuracy


def _small_problem(seed=0):
    random.seed(seed)
    X, y = nn.data.xor(n=40, seed=seed)
    model = nn.MLP(2, [6, 2], activation="tanh")
    return model, X, y


def test_fit_is_reproducible_and_reports_accuracy():
    runs = []
    for _ in range(2):
        model, X, y = _small_problem()
        h = nn.fit(model, X, y, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.2), epochs=5,
                   batch_size=8, seed=3, progress=False)
        runs.append((h.loss, model.state_dict()))
    assert runs[0] == runs[1]
    assert h.epochs == 5 and h.stopped == "epochs" and all(0 <= a <= 1 for a in h.accuracy)
    assert gc.isenabled()  # fit pauses the collector during each step, then restores it


def test_fit_stops_when_the_weights_stop_changing():
    model, X, y = _small_problem()
    h = nn.fit(model, X, y, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1e-4), epochs=50,
               tol=1e-3, progress=False)
    assert h.stopped == "tol" and h.epochs == 1 and h.max_change[0] <= 1e-3
    model, X, y = _small_problem()
    h = nn.fit(model, X, y, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=500,
               min_delta=2e-3, progress=False)
    assert h.stopped == "min_delta" and abs(h.loss[-1] - h.loss[-2]) < 2e-3 and h.epochs < 500


def test_fit_returns_history_on_keyboard_interrupt():
    model, X, y = _small_problem()

    class Interrupting(nn.CrossEntropyLoss):
        calls = 0

        def forward(self, outputs, targets):
            self.calls += 1
            if self.calls == 7:
                raise KeyboardInterrupt
            return super().forward(outputs, targets)

    h = nn.fit(model, X, y, Interrupting(), optim.SGD(model.parameters(), lr=0.1), epochs=10, batch_size=10,
               progress=False)
    assert h.stopped == "interrupted" and h.epochs == 1
    assert all(math.isfinite(p.data) and p.grad == 0 for p in model.parameters())


def test_fit_is_quiet_without_progress(capsys):
    model, X, y = _small_problem()
    nn.fit(model, X, y, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2, progress=False)
    assert capsys.readouterr() == ("", "")


def test_fit_argument_errors():
    model, X, y = _small_problem()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="40 samples but 39 targets"):
        nn.fit(model, X, y[:-1], nn.CrossEntropyLoss(), opt, epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive"):
        nn.fit(model, X, y, nn.CrossEntropyLoss(), opt, epochs=0)
    with pytest.raises(TypeError, match="nn loss"):
        nn.fit(model, X, y, lambda o, t: o, opt, epochs=1)
