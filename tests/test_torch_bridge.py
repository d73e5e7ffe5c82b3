"""nn.to_torch / nn.from_torch: the same numbers in PyTorch float64, both ways, and clear errors."""

from __future__ import annotations

import builtins
import random

import pytest
from conftest import needs_torch, same, torch

import nn
from autograd import no_grad


def numbers(out):
    """A chainrule output (Value, list, list of lists) as a flat list of floats."""
    if hasattr(out, "data"):
        return [out.data]
    return [x for item in out for x in numbers(item)]


def close(ours, theirs, tol=1e-12):
    a, b = numbers(ours), theirs.detach().reshape(-1).tolist()
    return len(a) == len(b) and all(same(x, y, rel=tol, abs_=tol) for x, y in zip(a, b))


def vector(n, seed=0):
    rng = random.Random(seed)
    return [rng.gauss(0, 1) for _ in range(n)]


def sequence(t, n, seed=0):
    return [vector(n, seed + i) for i in range(t)]


def cases():
    """(name, module builder, chainrule input) for every convertible kind."""
    return [
        ("Neuron", lambda: nn.Neuron(3), vector(3)),
        ("Neuron tanh", lambda: nn.Neuron(3, activation="tanh"), vector(3)),
        ("Layer", lambda: nn.Layer(3, 4), vector(3)),
        ("Layer sigmoid", lambda: nn.Layer(3, 4, activation="sigmoid"), vector(3)),
        ("Layer relu", lambda: nn.Layer(3, 4, activation="relu"), vector(3)),
        ("Sigmoid", lambda: nn.Sigmoid(), vector(5)),
        ("Tanh", lambda: nn.Tanh(), vector(5)),
        ("ReLU", lambda: nn.ReLU(), vector(5)),
        ("Sequential", lambda: nn.Sequential(nn.Layer(3, 4), nn.Sigmoid(), nn.Layer(4, 2)), vector(3)),
        ("nested Sequential", lambda: nn.Sequential(nn.Layer(3, 4, activation="tanh"), nn.MLP(4, [5, 2])), vector(3)),
        ("MLP", lambda: nn.MLP(3, [8, 8, 2], activation="tanh"), vector(3)),
        ("RMSNorm", lambda: nn.RMSNorm(6), vector(6)),
        ("AttentionHead", lambda: nn.AttentionHead(6, 3), sequence(4, 6)),
        ("CausalSelfAttention", lambda: nn.CausalSelfAttention(8, 2), sequence(5, 8)),
        ("Block", lambda: nn.Block(8, 4), sequence(5, 8)),
    ]


def torch_input(x):
    return torch.tensor(x, dtype=torch.float64)


@needs_torch
@pytest.mark.parametrize("name,build,x", cases(), ids=[c[0] for c in cases()])
def test_to_torch_gives_the_same_outputs(name, build, x):
    random.seed(0)
    ours = build()
    twin = nn.to_torch(ours)
    assert isinstance(twin, torch.nn.Module)
    assert all(p.dtype == torch.float64 for p in twin.parameters())
    assert sum(p.numel() for p in twin.parameters()) == len(ours.parameters())
    assert close(ours(x), twin(torch_input(x)))


@needs_torch
@pytest.mark.parametrize("name,build,x", cases(), ids=[c[0] for c in cases()])
def test_from_torch_of_to_torch_gives_the_same_outputs(name, build, x):
    random.seed(0)
    ours = build()
    back = nn.from_torch(nn.to_torch(ours))
    assert sorted(p.data for p in back.parameters()) == sorted(p.data for p in ours.parameters())
    with no_grad():
        assert numbers(back(x)) == pytest.approx(numbers(ours(x)), rel=1e-15, abs=1e-15)


@needs_torch
def test_embedding_and_gpt_both_ways():
    random.seed(0)
    emb = nn.Embedding(7, 3)
    assert close(emb(5), nn.to_torch(emb)(torch.tensor(5)))
    model = nn.GPT(vocab_size=27, block_size=16, n_embd=16, n_head=4, n_layer=2)
    tokens = [26, 4, 12, 12, 0]
    twin = nn.to_torch(model)
    assert close(model(tokens), twin(torch.tensor(tokens)))
    back = nn.from_torch(twin)
    assert type(back) is nn.GPT and back.config() == model.config()
    assert back.state_dict() == model.state_dict()      # bit for bit: float64 both ways


@needs_torch
def test_gpt_gradients_agree_with_its_torch_twin():
    random.seed(1)
    model = nn.GPT(vocab_size=27, block_size=16, n_embd=16, n_head=4)
    twin = nn.to_torch(model)
    tokens, targets = [26, 1, 14, 1], [1, 14, 1, 26]
    nn.CrossEntropyLoss()(model(tokens), targets).backward()
    torch.nn.functional.cross_entropy(twin(torch.tensor(tokens)), torch.tensor(targets)).backward()
    ours = [p.grad for row in model.token_embedding.weight for p in row]
    assert all(same(a, b, rel=1e-10, abs_=1e-13) for a, b in zip(ours, twin.token_embedding.weight.grad.reshape(-1).tolist()))
    q = model.blocks[0].attention.heads[2].query
    theirs = twin.blocks[0].attention.heads[2].query.weight.grad
    assert all(same(n.w[i].grad, theirs[j, i].item(), rel=1e-10, abs_=1e-13) for j, n in enumerate(q.neurons) for i in range(16))


@needs_torch
def test_from_torch_reads_modules_built_in_pytorch():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3), torch.nn.Tanh())
    x = vector(4, seed=3)
    ours = nn.from_torch(net)   # a float32 network: its numbers are read exactly, then computed in float64
    assert close(ours(x), net.double()(torch_input(x)))
    norm = torch.nn.RMSNorm(5, eps=1e-6, elementwise_affine=False)
    assert close(nn.from_torch(norm)(vector(5)), norm(torch_input(vector(5))))


@needs_torch
def test_the_two_copies_train_independently_and_nothing_draws_from_the_users_random_streams():
    random.seed(0)
    layer = nn.Layer(2, 2)
    python_state, torch_state = random.getstate(), torch.random.get_rng_state()
    twin = nn.to_torch(layer)
    back = nn.from_torch(twin)
    assert random.getstate() == python_state and torch.equal(torch.random.get_rng_state(), torch_state)
    with torch.no_grad():
        twin.weight.add_(1.0)
    assert back.state_dict() == layer.state_dict() and layer.neurons[0].w[0].data != twin.weight[0, 0].item()


class Doubler(nn.Module):
    def forward(self, x):
        return [2 * v for v in x]


@needs_torch
def test_unsupported_modules_are_clear_errors():
    with pytest.raises(TypeError, match="Doubler.*no PyTorch equivalent"):
        nn.to_torch(nn.Sequential(nn.Layer(2, 2), Doubler()))
    with pytest.raises(TypeError, match="model.1 is a Doubler"):
        nn.to_torch(nn.Sequential(nn.Layer(2, 2), Doubler()))

    class MyLayer(nn.Layer):
        pass

    with pytest.raises(TypeError, match="not subclasses"):
        nn.to_torch(MyLayer(2, 2))
    with pytest.raises(TypeError, match="expected an nn module"):
        nn.to_torch(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="Conv1d, which chainrule cannot read"):
        nn.from_torch(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 3)))
    with pytest.raises(TypeError, match="without bias"):
        nn.from_torch(torch.nn.Linear(2, 2, bias=False))
    with pytest.raises(TypeError, match="learned gain"):
        nn.from_torch(torch.nn.RMSNorm(4))
    with pytest.raises(TypeError, match="padding_idx"):
        nn.from_torch(torch.nn.Embedding(4, 2, padding_idx=0))
    with pytest.raises(TypeError, match="expected a torch.nn.Module"):
        nn.from_torch(nn.Layer(2, 2))


def test_without_pytorch_both_say_how_to_install_it(monkeypatch):
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        nn.to_torch(nn.Layer(2, 2))
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        nn.from_torch(object())


# --- what would silently change the numbers -------------------------------------------------

def gpt_with_norms_apart():
    random.seed(0)
    model = nn.GPT(vocab_size=11, block_size=8, n_embd=8, n_head=2, n_layer=2)
    model.norm.eps, model.blocks[0].norm1.eps, model.blocks[1].norm2.eps = 0.25, 0.5, 1e-3
    return model


@needs_torch
def test_each_norm_keeps_its_own_eps_both_ways():
    model = gpt_with_norms_apart()
    tokens = [3, 1, 4, 1, 5]
    twin = nn.to_torch(model)
    assert [twin.get_submodule(name).eps for name, _ in model.named_norms()] == [0.25, 0.5, 1e-5, 1e-5, 1e-3]
    assert close(model(tokens), twin(torch.tensor(tokens)))
    back = nn.from_torch(twin)
    assert [norm.eps for _, norm in back.named_norms()] == [0.25, 0.5, 1e-5, 1e-5, 1e-3]
    with no_grad():
        assert close(back(tokens), twin(torch.tensor(tokens)))
    block = nn.Block(8, 2)
    block.norm1.eps = 0.5
    x = sequence(4, 8)
    assert close(block(x), nn.to_torch(block)(torch_input(x)))


def _changed(change):
    def make():
        random.seed(0)
        twin = nn.to_torch(nn.GPT(vocab_size=11, block_size=8, n_embd=8, n_head=2, n_layer=1))
        change(twin)
        return twin.double()
    return make


def _set(path, part):
    def change(twin):
        *parents, name = path.split(".")
        setattr(twin.get_submodule(".".join(parents)), name, part)
    return change


def _head_size(twin):
    twin.blocks[0].attention.heads[0].head_size = 2


@needs_torch
@pytest.mark.parametrize("change, message", [
    (lambda: _set("blocks.0.mlp.1", torch.nn.GELU()), r"model\.blocks\.0\.mlp\.1 is GELU\(.*\) where nn.to_torch puts ReLU"),
    (lambda: _set("norm", torch.nn.RMSNorm(8)), r"model\.norm is RMSNorm\(.*elementwise_affine=True\)"),
    (lambda: _set("norm", torch.nn.LayerNorm(8)), r"model\.norm is LayerNorm"),
    (lambda: _set("blocks.0.norm2", torch.nn.RMSNorm(8, eps=None, elementwise_affine=False)), r"model\.blocks\.0\.norm2"),
    (lambda: lambda twin: twin.blocks.append(nn.to_torch(nn.Block(8, 2))), r"model\.blocks holds the parts \(0, 1\)"),
    (lambda: _set("lm_head", torch.nn.Sequential(torch.nn.Linear(8, 11))), r"model\.lm_head is Sequential"),
    (lambda: _set("blocks.0.mlp.0", torch.nn.Linear(8, 32, bias=False)), r"model\.blocks\.0\.mlp\.0 is Linear"),
    (lambda: _set("blocks.0.attention.proj", torch.nn.Identity()), r"model\.blocks\.0\.attention\.proj is Identity"),
    (lambda: lambda twin: delattr(twin.blocks[0], "mlp"), r"model\.blocks\.0 holds the parts"),
    (lambda: _head_size, r"model\.blocks\.0\.attention\.heads\.0 is AttentionHead"),
    (lambda: lambda twin: twin.blocks[0].register_forward_hook(lambda *args: None), r"model\.blocks\.0 has forward hooks"),
    (lambda: lambda twin: setattr(twin.norm, "forward", lambda x: x), r"model\.norm has forward hooks or its own forward"),
    (lambda: lambda twin: setattr(twin, "n_embd", 4), r"token_embedding is Embedding\(11, 8\) where nn.to_torch puts Embedding\(11, 4\)"),
    (lambda: lambda twin: setattr(twin, "n_head", 3), r"model holds sizes a GPT cannot have.*multiple of n_head=3"),
], ids=["GELU", "gain", "LayerNorm", "eps None", "extra block", "lm_head", "no bias", "Identity", "no MLP",
        "head_size", "hook", "forward", "n_embd", "n_head"])
def test_a_gpt_twin_whose_parts_differ_is_refused_naming_the_part(change, message):
    twin = _changed(change())()
    with pytest.raises(ValueError, match=message):
        nn.from_torch(twin)


@needs_torch
def test_the_refused_changes_do_change_the_numbers():
    """The oracle for the refusals above: the changed twins compute other numbers than the plain one."""
    tokens = torch.tensor([3, 1, 4])
    plain = _changed(lambda twin: None)()(tokens)
    for change in (_set("blocks.0.mlp.1", torch.nn.GELU()), _set("norm", torch.nn.LayerNorm(8)), _head_size):
        assert not torch.allclose(_changed(change)()(tokens), plain)


@needs_torch
def test_complex_and_meta_weights_are_refused():
    with pytest.raises(ValueError, match=r"model\.weight is complex128; chainrule's weights are real"):
        nn.from_torch(torch.nn.Linear(2, 2, dtype=torch.complex128))
    with pytest.raises(ValueError, match=r"model\.0\.weight is on the meta device.*to_empty"):
        nn.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2, device="meta")))


@needs_torch
def test_sequentials_nested_too_deep_are_a_value_error_both_ways():
    ours, theirs = nn.Sigmoid(), torch.nn.Sigmoid()
    for depth in range(3000):
        ours, theirs = nn.Sequential(ours), torch.nn.Sequential(theirs)
        if depth == 50:  # well inside the limit: converted both ways
            x = vector(3)
            assert close(ours(x), nn.to_torch(ours)(torch_input(x)))
            assert close(nn.from_torch(theirs)(x), theirs(torch_input(x)))
    with pytest.raises(ValueError, match="to_torch: Sequentials nested more than 100 deep"):
        nn.to_torch(ours)
    with pytest.raises(ValueError, match="from_torch: Sequentials nested more than 100 deep"):
        nn.from_torch(theirs)
