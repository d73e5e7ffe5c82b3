"""The way out to PyTorch, and back: ``nn.to_torch(module)`` and ``nn.from_torch(module)``.

``to_torch`` builds the equivalent ``torch.nn.Module`` in float64 with the same weights, so a
model trained (or just understood) here can go on training with tensors; ``from_torch`` reads
such a module back into Values, to draw it or step through its backward pass.

========================  =================================================================
chainrule                 PyTorch
========================  =================================================================
``Layer(nin, nout, a)``   ``Linear(nin, nout)``, followed by the activation if ``a`` is not linear
                          (``Sequential(Linear, Tanh)``)
``Neuron(nin, a)``        as ``Layer(nin, 1, a)`` (its output is a tensor of one number)
``Sigmoid/Tanh/ReLU``     ``torch.nn.Sigmoid/Tanh/ReLU``
``Sequential(...)``       ``torch.nn.Sequential(...)`` of the converted parts
``MLP(nin, nouts, a)``    ``Sequential(Linear, act, Linear, ..., Linear)``
``Embedding(num, dim)``   ``torch.nn.Embedding(num, dim)``
``RMSNorm(dim, eps)``     ``torch.nn.RMSNorm(dim, eps, elementwise_affine=False)``
GPT blocks                ``nn.torch_modules.AttentionHead``, ``CausalSelfAttention``, ``Block``, ``GPT``
========================  =================================================================

``from_torch`` reverses each row; ``Neuron`` and ``MLP`` come back as the ``Layer`` and
``Sequential`` they became, which compute the same numbers. A list of n Values is a tensor of
shape ``(n,)`` and a sequence of T positions one of shape ``(T, n)``; outputs agree to 1e-12.

>>> import pytest; torch = pytest.importorskip("torch")  # PyTorch is optional: skipped without it
>>> import random, nn
>>> random.seed(0)
>>> net = nn.Sequential(nn.Layer(2, 3), nn.Tanh(), nn.Layer(3, 1))
>>> twin = nn.to_torch(net)
>>> twin
Sequential(
  (0): Linear(in_features=2, out_features=3, bias=True)
  (1): Tanh()
  (2): Linear(in_features=3, out_features=1, bias=True)
)
>>> abs(twin(torch.tensor([0.5, -1.0], dtype=torch.float64)).item() - net([0.5, -1.0])[0].data) < 1e-12
True
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from typing import Any

from autograd import Value

from .files import MAX_DEPTH
from .gpt import GPT, AttentionHead, Block, CausalSelfAttention, Embedding, RMSNorm
from .layers import MLP, Layer, Neuron, ReLU, Sequential, Sigmoid, Tanh
from .module import Module

INSTALL = "pip install torch==2.13.0"
ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}
SUPPORTED = "Neuron, Layer, Sigmoid, Tanh, ReLU, Sequential, MLP, Embedding, RMSNorm, AttentionHead, " \
            "CausalSelfAttention, Block and GPT"
READABLE = "Linear (with bias), Sigmoid, Tanh, ReLU, Sequential, Embedding, RMSNorm without gain, and " \
           "nn.torch_modules' GPT blocks: the structures nn.to_torch makes"
# the sizes nn.torch_modules' classes hold (an AttentionHead's forward reads its head_size)
SIZES = ("vocab_size", "block_size", "n_embd", "n_head", "n_layer", "head_size")


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(f"nn.to_torch and nn.from_torch need PyTorch, which is not installed: {INSTALL}") from None
    return torch


def to_torch(module: Module) -> Any:
    """The equivalent ``torch.nn.Module``, in float64, with ``module``'s weights (copied: the
    two train independently); each norm keeps its own ``eps``. Raises ``TypeError`` for a
    module it has no equivalent for, ``ValueError`` for Sequentials nested more than
    ``nn.files.MAX_DEPTH`` deep, and ``ImportError`` saying how to install PyTorch when it is missing.

    >>> import pytest; torch = pytest.importorskip("torch")  # PyTorch is optional: skipped without it
    >>> import random, nn
    >>> random.seed(0)
    >>> layer = nn.Layer(3, 2, activation="relu")
    >>> nn.to_torch(layer)[0].weight.dtype
    torch.float64
    """
    torch = _torch()
    if not isinstance(module, Module):
        raise TypeError(f"to_torch: expected an nn module, got {type(module).__name__}")
    with torch.random.fork_rng(devices=[]):  # building draws PyTorch's initial weights: not from the user's stream
        twin = _twin(module, "model", 0).double()
    with torch.no_grad():
        for params, tensor, _ in _pairs(module, twin, "model"):
            tensor.copy_(torch.tensor(_numbers(params), dtype=torch.float64).reshape(tensor.shape))
    return twin


def from_torch(module: Any) -> Module:
    """The ``nn`` module that computes what the PyTorch ``module`` computes, with its weights as
    Parameters, for the structures ``to_torch`` makes (see the table above). Anything else is a
    ``TypeError`` naming the part it cannot read; an ``nn.torch_modules`` model whose parts are
    not exactly those ``to_torch`` builds for its sizes (another activation or norm, a learned
    gain, an extra block, a replaced ``forward`` or a forward hook), complex or ``meta``-device
    weights, and Sequentials nested more than ``nn.files.MAX_DEPTH`` deep are a ``ValueError``
    naming the part.

    >>> import pytest; torch = pytest.importorskip("torch")  # PyTorch is optional: skipped without it
    >>> import nn
    >>> torch.manual_seed(0) and None
    >>> back = nn.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid()))
    >>> back
    Sequential(
      (0): Layer(2, 2, activation='linear')
      (1): Sigmoid()
    )
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    state = random.getstate()  # building draws initial weights: not from the user's stream
    try:
        ours = _from_twin(module, "model", 0)
    finally:
        random.setstate(state)
    for params, tensor, where in _pairs(ours, module, "model"):
        numbers = _readable(tensor, where).detach().to("cpu", torch.float64).reshape(-1).tolist()
        flat = list(_flatten(params))
        if len(flat) != len(numbers):
            raise ValueError(f"from_torch: {where} has {len(numbers)} numbers where {len(flat)} were expected")
        for p, x in zip(flat, numbers):
            p.data = x
    return ours


def _check_depth(depth: int, where: str, who: str) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"{who}: Sequentials nested more than {MAX_DEPTH} deep (at {where[:60]}...) cannot be "
                         "converted; a model that deep exceeds Python's recursion limit when it runs")


def _readable(tensor: Any, where: str) -> Any:
    """``tensor`` if its numbers can become weights: real, and held somewhere (not on ``meta``)."""
    if tensor.is_complex():
        raise ValueError(f"from_torch: {where} is {str(tensor.dtype).removeprefix('torch.')}; chainrule's weights "
                         "are real numbers (take .real yourself if the imaginary parts do not matter)")
    if tensor.is_meta:
        raise ValueError(f"from_torch: {where} is on the meta device, which holds shapes but no numbers; "
                         "give the module its weights first (module.to_empty(device='cpu'), then load_state_dict)")
    return tensor


# --- structure: chainrule -> PyTorch --------------------------------------------------------

def _twin(m: Any, where: str, depth: int) -> Any:
    """An empty PyTorch module shaped like ``m`` (weights are copied afterwards)."""
    _check_depth(depth, where, "to_torch")
    make = _TWINS.get(type(m))
    if make is None:
        raise TypeError(f"to_torch: {where} is a {type(m).__name__}, which has no PyTorch equivalent here; "
                        f"to_torch converts {SUPPORTED} (exactly these classes, not subclasses)")
    return make(m, where, depth)


def _torch_activation(name: str) -> Any:
    torch = _torch()
    return {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[name]()


def _linear_twin(m: Neuron | Layer, where: str, depth: int) -> Any:
    torch = _torch()
    linear = torch.nn.Linear(m.nin, m.nout if isinstance(m, Layer) else 1)
    return linear if m.activation == "linear" else torch.nn.Sequential(linear, _torch_activation(m.activation))


def _mlp_twin(m: MLP, where: str, depth: int) -> Any:
    torch = _torch()
    parts: list[Any] = []
    for layer in m.layers:
        parts.append(torch.nn.Linear(layer.nin, layer.nout))
        if layer.activation != "linear":
            parts.append(_torch_activation(layer.activation))
    return torch.nn.Sequential(*parts)


def _with_norms(twin: Any, m: Block | GPT) -> Any:
    """``twin`` with each of its norms given the ``eps`` of ``m``'s norm of the same name."""
    for name, norm in m.named_norms():
        twin.get_submodule(name).eps = norm.eps
    return twin


def _tm() -> Any:
    from . import torch_modules

    return torch_modules


_TWINS: dict[type, Callable[[Any, str, int], Any]] = {
    Neuron: _linear_twin,
    Layer: _linear_twin,
    **{kind: lambda m, where, depth: _torch_activation(m.activation) for kind in ACTIVATIONS.values()},
    Sequential: lambda m, where, depth: _torch().nn.Sequential(
        *(_twin(part, f"{where}.{i}", depth + 1) for i, part in enumerate(m))),
    MLP: _mlp_twin,
    Embedding: lambda m, where, depth: _torch().nn.Embedding(m.num, m.dim),
    RMSNorm: lambda m, where, depth: _torch().nn.RMSNorm(m.dim, eps=m.eps, elementwise_affine=False),
    AttentionHead: lambda m, where, depth: _tm().AttentionHead(m.n_embd, m.head_size),
    CausalSelfAttention: lambda m, where, depth: _tm().CausalSelfAttention(m.n_embd, m.n_head),
    Block: lambda m, where, depth: _with_norms(_tm().Block(m.n_embd, m.n_head), m),
    GPT: lambda m, where, depth: _with_norms(_tm().GPT(m.vocab_size, m.block_size, m.n_embd, m.n_head, m.n_layer), m),
}


# --- structure: PyTorch -> chainrule --------------------------------------------------------

def _from_twin(t: Any, where: str, depth: int) -> Module:
    _check_depth(depth, where, "from_torch")
    _plain(t, where)
    read = _readers().get(type(t))
    if read is None:
        kind = type(t)
        raise TypeError(f"from_torch: {where} is a {kind.__module__}.{kind.__name__}, which chainrule cannot read; "
                        f"from_torch reads {READABLE}")
    return read(t, where, depth)


@functools.cache
def _readers() -> dict[type, Callable[[Any, str, int], Module]]:
    """For each PyTorch class from_torch reads, how (PyTorch is imported only when first needed)."""
    nn, tm = _torch().nn, _tm()
    return {
        nn.Linear: _read_linear,
        **{getattr(nn, kind.__name__): lambda t, where, depth: ACTIVATIONS[type(t).__name__.lower()]()
           for kind in ACTIVATIONS.values()},
        nn.Sequential: lambda t, where, depth: Sequential(
            *(_from_twin(part, f"{where}.{i}", depth + 1) for i, part in enumerate(t))),
        nn.Embedding: _read_embedding,
        nn.RMSNorm: _read_norm,
        tm.AttentionHead: lambda t, where, depth: _read_whole(t, where, AttentionHead, "n_embd", "head_size"),
        tm.CausalSelfAttention: lambda t, where, depth: _read_whole(t, where, CausalSelfAttention, "n_embd", "n_head"),
        tm.Block: lambda t, where, depth: _read_whole(t, where, Block, "n_embd", "n_head"),
        tm.GPT: lambda t, where, depth: _read_whole(t, where, GPT, *SIZES[:5]),
    }


def _read_linear(t: Any, where: str, depth: int) -> Layer:
    if t.bias is None:
        raise TypeError(f"from_torch: {where} is a Linear without bias; chainrule's Layer always has one "
                        "(build it with bias=True)")
    return Layer(t.in_features, t.out_features)


def _read_embedding(t: Any, where: str, depth: int) -> Embedding:
    if t.padding_idx is not None or t.max_norm is not None or t.scale_grad_by_freq or t.sparse:
        raise TypeError(f"from_torch: {where} is an Embedding with padding_idx, max_norm, scale_grad_by_freq "
                        "or sparse set; only a plain table converts")
    return Embedding(t.num_embeddings, t.embedding_dim)


def _read_norm(t: Any, where: str, depth: int) -> RMSNorm:
    if t.elementwise_affine or len(t.normalized_shape) != 1 or t.eps is None:
        raise TypeError(f"from_torch: {where} is an RMSNorm with a learned gain, several dimensions or eps=None; "
                        "chainrule's RMSNorm(dim, eps) has no gain (elementwise_affine=False)")
    return RMSNorm(t.normalized_shape[0], eps=t.eps)


def _read_whole(t: Any, where: str, kind: type[Module], *sizes: str) -> Module:
    """A ``kind`` built from the ``sizes`` the ``nn.torch_modules`` model ``t`` holds, once every
    part of ``t`` is what ``to_torch`` builds for it (each norm's ``eps`` is read from ``t``)."""
    torch = _torch()
    try:
        ours = kind(*(getattr(t, name, None) for name in sizes))
    except (TypeError, ValueError) as error:
        raise ValueError(f"from_torch: {where} holds sizes a {kind.__name__} cannot have: {error}") from None
    with torch.device("meta"):  # shapes only: nothing is allocated or drawn
        expected = _twin(ours, where, 0)
    _same_structure(t, expected, where)
    if isinstance(ours, (Block, GPT)):
        for name, norm in ours.named_norms():
            norm.eps = t.get_submodule(name).eps
    return ours


def _same_structure(t: Any, expected: Any, where: str) -> None:
    """A ValueError naming the first part of ``t`` that differs from ``expected``'s."""
    _plain(t, where)
    if type(t) is not type(expected) or _settings(t) != _settings(expected):
        raise ValueError(f"from_torch: {where} is {_show(t)} where nn.to_torch puts {_show(expected)}; chainrule's "
                         f"model computes only that, so this one cannot be converted without changing its numbers")
    theirs, wanted = dict(t.named_children()), dict(expected.named_children())
    if list(theirs) != list(wanted):
        raise ValueError(f"from_torch: {where} holds the parts ({', '.join(theirs)}) where nn.to_torch puts "
                         f"({', '.join(wanted)}); a twin must have exactly the parts its sizes say")
    for name, part in wanted.items():
        _same_structure(theirs[name], part, f"{where}.{name}")


def _settings(t: Any) -> tuple[Any, ...]:
    """What decides the numbers a part computes, besides its type and its weights' values (a
    norm's eps is read, not compared)."""
    nn = _torch().nn
    shapes = tuple((name, tuple(p.shape)) for name, p in t.named_parameters(recurse=False))
    sizes = tuple(getattr(t, name, None) for name in SIZES)
    if isinstance(t, nn.Embedding):
        return shapes, sizes, t.padding_idx, t.max_norm, t.norm_type, t.scale_grad_by_freq, t.sparse
    if isinstance(t, nn.RMSNorm):
        return shapes, sizes, tuple(t.normalized_shape), t.elementwise_affine, t.eps is None
    return shapes, sizes


def _show(t: Any) -> str:
    kind = type(t)
    name = kind.__name__ if kind.__module__.startswith(("torch.nn.", "nn.torch_modules")) else \
        f"{kind.__module__}.{kind.__qualname__}"
    return f"{name}({t.extra_repr()})"


def _plain(t: Any, where: str) -> None:
    """A ValueError if ``t`` does not compute what its class does: its forward replaced, or hooks."""
    if "forward" in vars(t) or getattr(t, "_forward_hooks", None) or getattr(t, "_forward_pre_hooks", None):
        raise ValueError(f"from_torch: {where} has forward hooks or its own forward, which change what it "
                         "computes; remove them (from_torch reads what the module's class computes)")


# --- weights: which Parameters are which tensor ---------------------------------------------

Pairs = Iterator[tuple[Any, Any, str]]


def _pairs(m: Any, t: Any, where: str) -> Pairs:
    """``(Parameters as a (nested) list, the tensor holding them, where)`` for every weight of
    ``m`` and its twin ``t``, walking both structures side by side."""
    walk = _WEIGHTS.get(type(m))
    return iter(()) if walk is None else walk(m, t, where)


def _linear_pairs(m: Neuron | Layer, t: Any, where: str) -> Pairs:
    linear = t if isinstance(t, _torch().nn.Linear) else t[0]
    neurons = m.neurons if isinstance(m, Layer) else [m]
    yield [n.w for n in neurons], linear.weight, f"{where}.weight"
    yield [n.b for n in neurons], linear.bias, f"{where}.bias"


def _sequential_pairs(m: Sequential, t: Any, where: str) -> Pairs:
    for i, (part, twin) in enumerate(zip(m, t)):
        yield from _pairs(part, twin, f"{where}.{i}")


def _mlp_pairs(m: MLP, t: Any, where: str) -> Pairs:
    linears = [part for part in t if isinstance(part, _torch().nn.Linear)]
    for i, (layer, linear) in enumerate(zip(m.layers, linears)):
        yield from _pairs(layer, linear, f"{where}.layers.{i}")


def _parts_pairs(*names: str) -> Callable[[Any, Any, str], Pairs]:
    """The weights of the parts ``names`` (a list part, such as ``heads``, item by item)."""
    def walk(m: Any, t: Any, where: str) -> Pairs:
        for name in names:
            ours, theirs = getattr(m, name), getattr(t, name)
            if isinstance(ours, list):
                for i, (part, twin) in enumerate(zip(ours, theirs)):
                    yield from _pairs(part, twin, f"{where}.{name}.{i}")
            else:
                yield from _pairs(ours, theirs, f"{where}.{name}")
    return walk


def _embedding_pairs(m: Embedding, t: Any, where: str) -> Pairs:
    yield m.weight, t.weight, f"{where}.weight"


_WEIGHTS: dict[type, Callable[[Any, Any, str], Pairs]] = {
    Neuron: _linear_pairs,
    Layer: _linear_pairs,
    Sequential: _sequential_pairs,
    MLP: _mlp_pairs,
    Embedding: _embedding_pairs,
    AttentionHead: _parts_pairs("query", "key", "value"),
    CausalSelfAttention: _parts_pairs("heads", "proj"),
    Block: _parts_pairs("attention", "mlp"),
    GPT: _parts_pairs("token_embedding", "position_embedding", "blocks", "lm_head"),
}


def _flatten(params: Any) -> Iterator[Value]:
    if isinstance(params, Value):
        yield params
    else:
        for p in params:
            yield from _flatten(p)


def _numbers(params: Any) -> list[float]:
    return [p.data for p in _flatten(params)]
