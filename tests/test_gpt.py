"""The capstone GPT: its data, its blocks against hand-derived formulas and finite differences,
and the whole model's training run against an independently written PyTorch model."""

from __future__ import annotations

import hashlib
import math
import random

import pytest
from conftest import central_difference, needs_torch, same, torch

import autograd
import nn
from autograd import no_grad
from nn import data, optim

# SHA-256 of the source list (names.txt, one name per line, no final newline): see nn/data/README.md
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"


def tiny_gpt(seed=0, **sizes):
    random.seed(seed)
    return nn.GPT(**{"vocab_size": 5, "block_size": 4, "n_embd": 4, "n_head": 2, "n_layer": 1, **sizes})


TOKENIZER = data.CharTokenizer()


def framed(name):
    return [TOKENIZER.boundary_id, *TOKENIZER.encode(name), TOKENIZER.boundary_id]


# --- data ------------------------------------------------------------------------------------

def test_names_are_the_shipped_list_in_file_order():
    names = data.names()
    assert len(names) == 32_033
    assert hashlib.sha256("\n".join(names).encode("ascii")).hexdigest() == NAMES_SHA256
    assert names[:3] == ["emma", "olivia", "ava"] and names[-1] == "zzyzx"
    assert all(n.isalpha() and n.islower() and n.isascii() for n in names)


def test_names_split_is_a_seeded_partition():
    train, val = data.names_split(val_fraction=0.1, seed=0)
    assert len(val) == round(32_033 * 0.1) and len(train) + len(val) == 32_033
    assert sorted(train + val) == sorted(data.names())        # every name once, none invented
    assert (train, val) == data.names_split(val_fraction=0.1, seed=0)
    assert val != data.names_split(val_fraction=0.1, seed=1)[1]
    assert val != data.names()[-len(val):]                    # shuffled, not the file's tail
    for bad in (0, 1, 1.5, "0.1", True):
        with pytest.raises(ValueError, match="val_fraction"):
            data.names_split(val_fraction=bad)


def test_tokenizer_letters_and_one_boundary_token():
    tok = data.CharTokenizer()
    assert tok.vocab_size == 27 and tok.boundary_id == 26
    assert tok.encode("abz") == [0, 1, 25]
    assert tok.decode([26, 0, 1, 25, 26]) == ".abz."
    for name in data.names()[:500]:
        assert tok.decode(tok.encode(name)) == name
    with pytest.raises(ValueError, match="'A'.*not in the alphabet"):
        tok.encode("Ava")
    with pytest.raises(TypeError, match="string"):
        tok.encode(["a"])
    with pytest.raises(ValueError, match="not a token id"):
        tok.decode([27])
    with pytest.raises(ValueError, match="boundary"):
        data.CharTokenizer(boundary="a")


# --- blocks ----------------------------------------------------------------------------------

def test_rmsnorm_is_x_over_root_mean_square():
    x = [0.5, -2.0, 3.0, 0.25]
    rms = math.sqrt(sum(v * v for v in x) / len(x) + 1e-5)
    assert [v.data for v in nn.RMSNorm(4)(x)] == pytest.approx([v / rms for v in x], rel=1e-14)
    for i in range(4):  # each output against central differences of the formula
        assert autograd.gradcheck(lambda *xs, i=i: nn.RMSNorm(4)(list(xs))[i], x)
    with pytest.raises(ValueError, match="n_embd=4"):
        nn.RMSNorm(4)([1.0, 2.0])


def test_embedding_rows_are_parameters_named_like_pytorch():
    random.seed(0)
    emb = nn.Embedding(3, 2)
    assert [v.data for v in emb(2)] == [p.data for p in emb.weight[2]]
    assert all(v.is_parameter for v in emb(1))
    assert [n for n, _ in emb.named_parameters()] == [f"weight.{i}.{j}" for i in range(3) for j in range(2)]
    with pytest.raises(IndexError, match="0 to 2"):
        emb(3)
    with pytest.raises(TypeError, match="whole-number index"):
        emb(1.0)


def test_attention_head_is_causal_and_its_weights_sum_to_one():
    random.seed(0)
    head = nn.AttentionHead(n_embd=3, head_size=2)
    xs = [[random.gauss(0, 1) for _ in range(3)] for _ in range(4)]
    out = head(xs)
    pattern = head.pattern
    assert pattern[0] == [1.0] and [len(row) for row in pattern] == [1, 2, 3, 4]
    assert all(math.isclose(sum(row), 1.0, rel_tol=1e-14) for row in pattern)
    # a later position changes nothing before it
    changed = [row[:] for row in xs]
    changed[3] = [5.0, -5.0, 5.0]
    again = head(changed)
    assert [[v.data for v in row] for row in again[:3]] == [[v.data for v in row] for row in out[:3]]
    assert [v.data for v in again[3]] != [v.data for v in out[3]]


def test_attention_output_is_the_softmax_weighted_sum_of_values():
    random.seed(1)
    head = nn.AttentionHead(n_embd=2, head_size=2)
    xs = [[0.3, -1.2], [0.8, 0.5]]
    out = head(xs)

    def linear(layer, x):
        return [sum(w.data * xi for w, xi in zip(n.w, x)) + n.b.data for n in layer.neurons]

    q, ks, vs = linear(head.query, xs[1]), [linear(head.key, x) for x in xs], [linear(head.value, x) for x in xs]
    scores = [sum(a * b for a, b in zip(q, k)) / math.sqrt(2) for k in ks]
    weights = [math.exp(s) / sum(math.exp(t) for t in scores) for s in scores]
    expected = [sum(w * v[j] for w, v in zip(weights, vs)) for j in range(2)]
    assert [v.data for v in out[1]] == pytest.approx(expected, rel=1e-13)
    assert head.pattern[1] == pytest.approx(weights, rel=1e-13)


def test_gpt_gradients_match_central_differences():
    model = tiny_gpt()
    tokens, targets = [4, 0, 2, 1], [0, 2, 1, 4]
    loss_fn = nn.CrossEntropyLoss()
    model.zero_grad()
    loss_fn(model(tokens), targets).backward()
    params = model.parameters()
    start = [p.data for p in params]

    def loss_at(point):
        for p, x in zip(params, point):
            p.data = x
        with no_grad():
            return loss_fn(model(tokens), targets).data

    for i in range(len(params)):
        numeric = central_difference(loss_at, start, i)
        assert same(params[i].grad, numeric, rel=1e-5, abs_=1e-8), (model.named_parameters()[i][0], params[i].grad, numeric)


def test_gpt_parameter_count_names_and_model_files(tmp_path):
    model = tiny_gpt()
    names = [n for n, _ in model.named_parameters()]
    v, b, c, h = 5, 4, 4, 2  # every weight of the design counted by hand: embeddings, 3 per head, proj, MLP, head
    assert len(names) == len(set(names)) == v * c + b * c + h * 3 * (c * (c // h) + c // h) + (c * c + c) \
        + (c * 4 * c + 4 * c) + (4 * c * c + c) + (c * v + v)
    assert names[0] == "token_embedding.weight.0.0"
    assert "blocks.0.attention.heads.1.query.neurons.0.w.3" in names
    nn.save(model, tmp_path / "gpt.json")
    loaded = nn.load(tmp_path / "gpt.json")
    assert type(loaded) is nn.GPT and loaded.state_dict() == model.state_dict()
    assert [v.data for v in loaded([4, 1])[1]] == [v.data for v in model([4, 1])[1]]


@pytest.mark.parametrize("eps", [1e-3, 0.5])
@pytest.mark.parametrize("make", [lambda: tiny_gpt(n_layer=2), lambda: nn.Block(4, 2)])
def test_a_models_norm_eps_comes_back_from_its_file(tmp_path, make, eps):
    model = make()
    for _, norm in model.named_norms():
        norm.eps = eps  # set on each norm after building, as one would on a model already made
    x = [4, 1] if isinstance(model, nn.GPT) else [[0.5, -1.0, 2.0, 0.25], [1.0, 0.0, -0.5, 3.0]]
    before = [v.data for v in model(x)[1]]
    nn.save(model, tmp_path / "model.json")
    loaded = nn.load(tmp_path / "model.json")
    assert [norm.eps for _, norm in loaded.named_norms()] == [eps] * len(model.named_norms())
    assert [v.data for v in loaded(x)[1]] == before
    for _, norm in loaded.named_norms():
        norm.eps = 1e-5
    assert [v.data for v in loaded(x)[1]] != before  # eps changes the outputs: the check above has teeth


def test_a_gpt_whose_norms_differ_in_eps_is_not_saved_with_one(tmp_path):
    model = tiny_gpt(n_layer=2)
    model.blocks[1].norm2.eps = 0.5
    with pytest.raises(ValueError, match="different eps .*blocks.1.norm2: 0.5.*save the state_dict"):
        nn.save(model, tmp_path / "gpt.json")
    assert list(tmp_path.iterdir()) == []
    assert nn.GPT(n_layer=2, eps=0.5).config()["eps"] == 0.5 and nn.Block(4, 2, eps=0.25).norm2.eps == 0.25


@pytest.mark.parametrize("eps", [-1e-5, math.nan, math.inf, "1e-5", None])
def test_a_norm_eps_must_be_a_finite_number_at_least_0(eps):
    with pytest.raises(ValueError, match="eps"):
        nn.RMSNorm(4, eps=eps)


@needs_torch
def test_a_gpt_of_one_embedding_number_runs_and_agrees_with_its_torch_twin():
    model = tiny_gpt(n_embd=1, n_head=1)  # its MLP has one output, which an nn.MLP returns as a Value
    tokens, targets = [4, 1, 2], [1, 2, 4]
    logits = model(tokens)
    assert [len(row) for row in logits] == [5, 5, 5]
    twin = nn.to_torch(model)
    theirs = twin(torch.tensor(tokens))
    assert all(same(v.data, t, rel=1e-12, abs_=1e-12) for row, trow in zip(logits, theirs.tolist()) for v, t in zip(row, trow))
    nn.CrossEntropyLoss()(logits, targets).backward()
    torch.nn.functional.cross_entropy(theirs, torch.tensor(targets)).backward()
    ours = [n.w[0].grad for n in model.blocks[0].mlp.layers[0].neurons]
    assert all(same(a, b, rel=1e-10, abs_=1e-13) for a, b in zip(ours, twin.blocks[0].mlp[0].weight.grad.reshape(-1).tolist()))


def test_gpt_rejects_bad_sequences_with_clear_errors():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="block_size=4"):
        model([0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="not a token id"):
        model([0, 5])
    with pytest.raises(TypeError, match="list of token ids"):
        model([])
    with pytest.raises(ValueError, match="multiple of n_head"):
        nn.GPT(n_embd=6, n_head=4)


def test_generate_samples_from_the_softmax_and_stops_at_the_boundary():
    model = tiny_gpt()
    lm = model.lm_head
    for neuron in lm.neurons:  # make token 1 overwhelmingly likely everywhere, then the boundary 4
        for w in neuron.w:
            w.data = 0.0
    lm.neurons[1].b.data = 50.0
    assert model.generate(4, rng=random.Random(0)) == [1, 1, 1, 1]   # stops at block_size
    lm.neurons[4].b.data = 100.0
    assert model.generate(4, rng=random.Random(0)) == []             # the boundary first: an empty name
    lm.neurons[4].b.data = lm.neurons[1].b.data = 0.0                # uniform: a seeded rng decides
    assert model.generate(4, rng=random.Random(3)) == model.generate(4, rng=random.Random(3))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(4, temperature=0)


@pytest.mark.parametrize("settings, message", [
    ({"stop": 5}, "stop \\(a token id\\) must be a whole number from 0 to 4, got 5"),
    ({"stop": -1}, "stop .* from 0 to 4"),
    ({"stop": 1.0}, "stop .* got 1.0"),
    ({"temperature": 10**400}, "temperature must be a finite number"),
    ({"temperature": math.inf}, "temperature must be a finite number"),
    ({"temperature": math.nan}, "temperature must be a finite number"),
    ({"temperature": -1.0}, "temperature must be > 0"),
    ({"temperature": "1"}, "temperature must be a number"),
])
def test_generate_refuses_what_it_cannot_sample_with(settings, message):
    with pytest.raises(ValueError, match=message):
        tiny_gpt().generate(4, rng=random.Random(0), **settings)
    with pytest.raises(ValueError, match="start \\(a token id\\) must be a whole number from 0 to 4, got 7"):
        tiny_gpt().generate(7)


@pytest.mark.parametrize("temperature", [1e-310, 5e-324, 1e-200])
def test_a_tiny_temperature_picks_the_likeliest_token_every_time(temperature):
    model = tiny_gpt()
    with no_grad():
        expected, tokens = [], [4]
        while len(tokens) <= model.block_size:  # the argmax of the scores, token after token
            scores = [v.data for v in model(tokens)[-1]]
            best = scores.index(max(scores))
            if best == 4:
                break
            expected.append(best)
            tokens.append(best)
    assert model.generate(4, temperature=temperature, rng=random.Random(0)) == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_generate_says_when_the_models_scores_are_not_finite(bad):
    model = tiny_gpt()
    model.lm_head.neurons[2].b.data = bad
    with pytest.raises(ValueError, match="scores after the tokens \\[4\\] are not all finite.*diverged"):
        model.generate(4, rng=random.Random(0))


def test_one_attention_head_draws_collapsed_to_modules():
    pytest.importorskip("graphviz")
    model = tiny_gpt()
    head = model.blocks[0].attention.heads[0]
    with no_grad():
        xs = [[v.data for v in x] for x in [model.token_embedding(4), model.token_embedding(0)]]
    root = head(xs)[-1][0]
    source = autograd.draw(root, depth=1).source
    assert 'label="Head 1"' in source
    for box in ("Query", "Key", "Value"):
        assert box in source
    assert "Neuron" not in source   # the layers' neurons are collapsed into the layer boxes


# --- the oracle: the same training run in PyTorch -------------------------------------------

def torch_gpt_from(model):
    """The model's weights as PyTorch tensors for an independently written forward pass:
    the heads' query, key and value weights stacked into one matrix each (as GPT-2 stores them)."""

    def matrix(layer):
        return (torch.tensor([[w.data for w in n.w] for n in layer.neurons], requires_grad=True),
                torch.tensor([n.b.data for n in layer.neurons], requires_grad=True))

    def stacked(heads, part):
        ws, bs = zip(*(matrix(getattr(h, part)) for h in heads))
        return torch.cat(ws).detach().requires_grad_(), torch.cat(bs).detach().requires_grad_()

    block = model.blocks[0]
    heads = block.attention.heads
    return {
        "wte": torch.tensor([[p.data for p in row] for row in model.token_embedding.weight], requires_grad=True),
        "wpe": torch.tensor([[p.data for p in row] for row in model.position_embedding.weight], requires_grad=True),
        "q": stacked(heads, "query"), "k": stacked(heads, "key"), "v": stacked(heads, "value"),
        "proj": matrix(block.attention.proj), "fc1": matrix(block.mlp.layers[0]), "fc2": matrix(block.mlp.layers[1]),
        "head": matrix(model.lm_head),
    }


def torch_gpt_loss(w, tokens, targets, n_head):
    F = torch.nn.functional

    def rmsnorm(x):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5)

    def linear(x, wb):
        return x @ wb[0].T + wb[1]

    T, C = len(tokens), w["wte"].shape[1]
    hs = C // n_head
    x = rmsnorm(w["wte"][torch.tensor(tokens)] + w["wpe"][:T])
    h = rmsnorm(x)
    q, k, v = (linear(h, w[n]).view(T, n_head, hs).transpose(0, 1) for n in ("q", "k", "v"))
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
    scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    y = (F.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, C)
    x = x + linear(y, w["proj"])
    x = x + linear(F.relu(linear(rmsnorm(x), w["fc1"])), w["fc2"])
    return F.cross_entropy(linear(x, w["head"]), torch.tensor(targets))


def eager_trainer(model, opt):
    """Notebook 6's eager step: forward, loss, backward, optimizer step; returns the loss."""
    loss_fn = nn.CrossEntropyLoss()

    def step(tokens):
        loss = loss_fn(model(tokens[:-1]), tokens[1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.data

    return step


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_fifty_training_steps_give_pytorchs_losses(mode):
    """The reference run's model and optimiser, 50 names in order: each step's loss (and the
    first step's gradients) equal an independent PyTorch float64 implementation's, eagerly and
    with the compiled step (whose weights are in its array until it syncs them)."""
    random.seed(0)
    model = nn.GPT(vocab_size=27, block_size=16, n_embd=16, n_head=4, n_layer=1)
    weights = torch_gpt_from(model)
    tensors = [t for value in weights.values() for t in (value if isinstance(value, tuple) else (value,))]
    betas, steps = (0.85, 0.99), 50
    opt = optim.Adam(model.parameters(), lr=0.01, betas=betas, eps=1e-8)
    topt = torch.optim.Adam(tensors, lr=0.01, betas=betas, eps=1e-8)
    compiled = model.compiled_step(opt) if mode == "compiled" else None
    train_step = compiled or eager_trainer(model, opt)
    train, _ = data.names_split(seed=0)
    for step, name in enumerate(train[:steps]):
        tokens = framed(name)
        lr = 0.01 * (1 - step / steps)  # linear decay, set on both each step
        opt.lr = lr
        for group in topt.param_groups:
            group["lr"] = lr
        loss = train_step(tokens)
        tloss = torch_gpt_loss(weights, tokens[:-1], tokens[1:], n_head=4)
        topt.zero_grad()
        tloss.backward()
        topt.step()
        assert same(loss, tloss.item(), rel=1e-9), (step, name, loss, tloss.item())
        if step == 0:
            if compiled:
                compiled.sync()  # the gradients of the last step into .grad
            lm = model.lm_head.neurons
            assert all(same(n.w[i].grad, weights["head"][0].grad[j, i].item(), rel=1e-9, abs_=1e-12)
                       for j, n in enumerate(lm) for i in range(16))
            row = model.token_embedding.weight[tokens[0]]
            assert all(same(p.grad, weights["wte"].grad[tokens[0], i].item(), rel=1e-9, abs_=1e-12)
                       for i, p in enumerate(row))
    if compiled:
        compiled.sync()
    trained = model.token_embedding.weight  # after 50 steps, the weights too (the compiled ones synced)
    assert all(same(p.data, weights["wte"][i, j].item(), rel=1e-9, abs_=1e-12)
               for i, row in enumerate(trained) for j, p in enumerate(row))


# --- compiled training: one program per length, the same steps as eager --------------------

def test_embedding_with_a_value_index_picks_that_row_and_passes_it_the_gradient():
    random.seed(0)
    emb = nn.Embedding(4, 3)
    row = emb(autograd.Value(2.0))           # a traced token: pick nodes, the same numbers
    assert [v.op for v in row] == ["pick"] * 3
    assert [v.data for v in row] == [p.data for p in emb.weight[2]]
    autograd.sum(row).backward()            # d(sum of row 2) / d weight: 1 on row 2, 0 elsewhere
    assert [[p.grad for p in r] for r in emb.weight] == [[0.0] * 3, [0.0] * 3, [1.0] * 3, [0.0] * 3]
    with pytest.raises(IndexError):
        emb(autograd.Value(4.0))


def test_compiled_steps_give_the_eager_steps_losses_and_weights():
    """Two copies of a model, one trained eagerly, one by the compiled step (no PyTorch): the
    same losses step by step, the same weights after syncing, one program per length."""
    train, _ = data.names_split(seed=0)
    names = train[:12]
    models = [tiny_gpt(seed=3, vocab_size=27, block_size=16) for _ in range(2)]
    opts = [optim.Adam(m.parameters(), lr=0.02, betas=(0.85, 0.99)) for m in models]
    eager = eager_trainer(models[0], opts[0])
    with models[1].compiled_step(opts[1]) as compiled:
        for i, name in enumerate(names):
            for opt in opts:
                opt.lr = 0.02 * (1 - i / len(names))
            a, b = eager(framed(name)), compiled(framed(name))
            assert same(a, b, rel=1e-12), (i, name, a, b)
    assert compiled.lengths == sorted({len(n) + 2 for n in names})   # one program per length
    # synced (weights and Adam's averages): an eager step on each model now gives the same loss
    after = eager_trainer(models[1], opts[1])
    assert same(eager(framed(train[12])), after(framed(train[12])), rel=1e-12)
    # the key layers' biases have a gradient of 0 up to rounding (adding one number to every score
    # leaves a softmax unchanged), which Adam turns into steps of any sign: they are left out
    for (name, p), q in zip(models[0].named_parameters(), models[1].parameters()):
        if ".key." not in name or not name.endswith(".b"):
            assert same(p.data, q.data, rel=1e-11, abs_=1e-14) and same(p.grad, q.grad, rel=1e-9, abs_=1e-14), name


def test_compiled_step_loss_is_the_eager_loss_at_its_weights():
    model = tiny_gpt(vocab_size=27, block_size=16)
    step = model.compiled_step(optim.Adam(model.parameters(), lr=0.05))
    for name in ["emma", "ava", "emma"]:
        step(framed(name))
    before = [p.data for p in model.parameters()]
    value = step.loss(framed("olivia"))
    assert [p.data for p in model.parameters()] == before   # not synced yet: .data untouched
    step.sync()
    with no_grad():
        eager = nn.CrossEntropyLoss()(model(framed("olivia")[:-1]), framed("olivia")[1:]).data
    assert same(value, eager, rel=1e-12)


def test_compiled_step_writes_the_weights_back_when_interrupted():
    model = tiny_gpt(vocab_size=27, block_size=16)
    start = [p.data for p in model.parameters()]
    with pytest.raises(KeyboardInterrupt):
        with model.compiled_step(optim.SGD(model.parameters(), lr=0.1)) as step:
            step(framed("ava"))
            raise KeyboardInterrupt
    moved = [p.data - s for p, s in zip(model.parameters(), start)]
    assert step.theta.tolist() == [p.data for p in model.parameters()] and any(moved)
    assert all(same(m, -0.1 * p.grad, rel=1e-9, abs_=1e-15) for m, p in zip(moved, model.parameters()))


def test_compiled_step_guard_catches_a_graph_that_depends_on_the_numbers():
    class ScaledByData(nn.CrossEntropyLoss):  # a number read from .data: a constant that changes
        def forward(self, outputs, targets):
            return super().forward(outputs, targets) * abs(outputs[-1][0].data)

    model = tiny_gpt(vocab_size=27, block_size=16)
    step = model.compiled_step(optim.SGD(model.parameters(), lr=0.1), loss_fn=ScaledByData())
    step(framed("ava"))
    with pytest.raises(autograd.CompileError, match="different graph"):
        step(framed("eve"))     # the second sequence of a length is traced again and compared


def test_compiled_step_rejects_bad_input_with_clear_errors():
    model = tiny_gpt(vocab_size=27, block_size=4)
    other = tiny_gpt(vocab_size=27, block_size=4)
    with pytest.raises(ValueError, match="exactly model.parameters"):
        model.compiled_step(optim.SGD(other.parameters(), lr=0.1))
    step = model.compiled_step(optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="two or more token ids"):
        step([26])
    with pytest.raises(ValueError, match="block_size=4"):
        step([26, 0, 1, 2, 3, 26])
    with pytest.raises(ValueError, match="not a token id"):
        step([26, 0, 27])
    with pytest.raises(TypeError, match="two or more token ids"):
        step("emma")
