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

import random
from collections.abc import Iterator
from typing import Any

from autograd import Value

from .gpt import GPT, AttentionHead, Block, CausalSelfAttention, Embedding, RMSNorm
from .layers import MLP, Layer, Neuron, ReLU, Sequential, Sigmoid, Tanh
from .module import Module

INSTALL = "pip install torch==2.13.0"
ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}
SUPPORTED = "Neuron, Layer, Sigmoid, Tanh, ReLU, Sequential, MLP, Embedding, RMSNorm, AttentionHead, " \
            "CausalSelfAttention, Block and GPT"


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(f"nn.to_torch and nn.from_torch need PyTorch, which is not installed: {INSTALL}") from None
    return torch


def to_torch(module: Module) -> Any:
    """The equivalent ``torch.nn.Module``, in float64, with ``module``'s weights (copied: the
    two train independently). Raises ``TypeError`` for a module it has no equivalent for,
    and ``ImportError`` saying how to install PyTorch when it is missing.

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
        twin = _twin(module, "model").double()
    with torch.no_grad():
        for params, tensor, _ in _pairs(module, twin, "model"):
            tensor.copy_(torch.tensor(_numbers(params), dtype=torch.float64).reshape(tensor.shape))
    return twin


def from_torch(module: Any) -> Module:
    """The ``nn`` module that computes what the PyTorch ``module`` computes, with its weights as
    Parameters, for the structures ``to_torch`` makes (see the table above). Anything else is a
    ``TypeError`` naming the part it cannot read.

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
        ours = _from_twin(module, "model")
    finally:
        random.setstate(state)
    for params, tensor, where in _pairs(ours, module, "model"):
        numbers = tensor.detach().to("cpu", torch.float64).reshape(-1).tolist()
        flat = list(_flatten(params))
        if len(flat) != len(numbers):
            raise ValueError(f"from_torch: {where} has {len(numbers)} numbers where {len(flat)} were expected")
        for p, x in zip(flat, numbers):
            p.data = x
    return ours


# --- structure: chainrule -> PyTorch --------------------------------------------------------

def _twin(m: Any, where: str) -> Any:
    """An empty PyTorch module shaped like ``m`` (weights are copied afterwards)."""
    torch = _torch()
    from . import torch_modules as tm

    kind = type(m)
    if kind is Neuron or kind is Layer:
        nout = 1 if kind is Neuron else m.nout
        linear = torch.nn.Linear(m.nin, nout)
        return linear if m.activation == "linear" else torch.nn.Sequential(linear, _torch_activation(m.activation))
    if kind in (Sigmoid, Tanh, ReLU):
        return _torch_activation(m.activation)
    if kind is Sequential:
        return torch.nn.Sequential(*(_twin(part, f"{where}.{i}") for i, part in enumerate(m)))
    if kind is MLP:
        parts: list[Any] = []
        for layer in m.layers:
            parts.append(torch.nn.Linear(layer.nin, layer.nout))
            if layer.activation != "linear":
                parts.append(_torch_activation(layer.activation))
        return torch.nn.Sequential(*parts)
    if kind is Embedding:
        return torch.nn.Embedding(m.num, m.dim)
    if kind is RMSNorm:
        return torch.nn.RMSNorm(m.dim, eps=m.eps, elementwise_affine=False)
    if kind is AttentionHead:
        return tm.AttentionHead(m.n_embd, m.head_size)
    if kind is CausalSelfAttention:
        return tm.CausalSelfAttention(m.n_embd, m.n_head)
    if kind is Block:
        return tm.Block(m.n_embd, m.n_head, eps=m.norm1.eps)
    if kind is GPT:
        return tm.GPT(**m.config(), eps=m.norm.eps)
    raise TypeError(f"to_torch: {where} is a {kind.__name__}, which has no PyTorch equivalent here; "
                    f"to_torch converts {SUPPORTED} (exactly these classes, not subclasses)")


def _torch_activation(name: str) -> Any:
    torch = _torch()
    return {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[name]()


# --- structure: PyTorch -> chainrule --------------------------------------------------------

def _from_twin(t: Any, where: str) -> Module:
    torch = _torch()
    from . import torch_modules as tm

    kind = type(t)
    if kind is torch.nn.Linear:
        if t.bias is None:
            raise TypeError(f"from_torch: {where} is a Linear without bias; chainrule's Layer always has one "
                            "(build it with bias=True)")
        return Layer(t.in_features, t.out_features)
    for activation in ACTIVATIONS.values():
        if kind is getattr(torch.nn, activation.__name__):
            return activation()
    if kind is torch.nn.Sequential:
        return Sequential(*(_from_twin(part, f"{where}.{i}") for i, part in enumerate(t)))
    if kind is torch.nn.Embedding:
        if t.padding_idx is not None or t.max_norm is not None or t.scale_grad_by_freq or t.sparse:
            raise TypeError(f"from_torch: {where} is an Embedding with padding_idx, max_norm, scale_grad_by_freq "
                            "or sparse set; only a plain table converts")
        return Embedding(t.num_embeddings, t.embedding_dim)
    if kind is torch.nn.RMSNorm:
        if t.elementwise_affine or len(t.normalized_shape) != 1 or t.eps is None:
            raise TypeError(f"from_torch: {where} is an RMSNorm with a learned gain, several dimensions or eps=None; "
                            "chainrule's RMSNorm(dim, eps) has no gain (elementwise_affine=False)")
        return RMSNorm(t.normalized_shape[0], eps=t.eps)
    if kind is tm.AttentionHead:
        return AttentionHead(t.n_embd, t.head_size)
    if kind is tm.CausalSelfAttention:
        return CausalSelfAttention(t.n_embd, t.n_head)
    if kind is tm.Block:
        block = Block(t.n_embd, t.n_head)
        block.norm1.eps, block.norm2.eps = t.norm1.eps, t.norm2.eps
        return block
    if kind is tm.GPT:
        gpt = GPT(t.vocab_size, t.block_size, t.n_embd, t.n_head, t.n_layer)
        gpt.norm.eps = t.norm.eps
        for block, twin in zip(gpt.blocks, t.blocks):
            block.norm1.eps, block.norm2.eps = twin.norm1.eps, twin.norm2.eps
        return gpt
    raise TypeError(f"from_torch: {where} is a {kind.__module__}.{kind.__name__}, which chainrule cannot read; "
                    "from_torch reads Linear (with bias), Sigmoid, Tanh, ReLU, Sequential, Embedding, RMSNorm "
                    "without gain, and nn.torch_modules' GPT blocks: the structures nn.to_torch makes")


# --- weights: which Parameters are which tensor ---------------------------------------------

def _pairs(m: Any, t: Any, where: str) -> Iterator[tuple[Any, Any, str]]:
    """``(Parameters as a (nested) list, the tensor holding them, where)`` for every weight of
    ``m`` and its twin ``t``, walking both structures side by side."""
    torch = _torch()
    kind = type(m)
    if kind is Neuron or kind is Layer:
        linear = t if isinstance(t, torch.nn.Linear) else t[0]
        neurons = [m] if kind is Neuron else m.neurons
        yield [n.w for n in neurons], linear.weight, f"{where}.weight"
        yield [n.b for n in neurons], linear.bias, f"{where}.bias"
    elif kind is Sequential:
        for i, (part, twin) in enumerate(zip(m, t)):
            yield from _pairs(part, twin, f"{where}.{i}")
    elif kind is MLP:
        linears = [part for part in t if isinstance(part, torch.nn.Linear)]
        for i, (layer, linear) in enumerate(zip(m.layers, linears)):
            yield from _pairs(layer, linear, f"{where}.layers.{i}")
    elif kind is Embedding:
        yield m.weight, t.weight, f"{where}.weight"
    elif kind is AttentionHead:
        for name in ("query", "key", "value"):
            yield from _pairs(getattr(m, name), getattr(t, name), f"{where}.{name}")
    elif kind is CausalSelfAttention:
        for i, (head, twin) in enumerate(zip(m.heads, t.heads)):
            yield from _pairs(head, twin, f"{where}.heads.{i}")
        yield from _pairs(m.proj, t.proj, f"{where}.proj")
    elif kind is Block:
        yield from _pairs(m.attention, t.attention, f"{where}.attention")
        yield from _pairs(m.mlp, t.mlp, f"{where}.mlp")
    elif kind is GPT:
        yield from _pairs(m.token_embedding, t.token_embedding, f"{where}.token_embedding")
        yield from _pairs(m.position_embedding, t.position_embedding, f"{where}.position_embedding")
        for i, (block, twin) in enumerate(zip(m.blocks, t.blocks)):
            yield from _pairs(block, twin, f"{where}.blocks.{i}")
        yield from _pairs(m.lm_head, t.lm_head, f"{where}.lm_head")


def _flatten(params: Any) -> Iterator[Value]:
    if isinstance(params, Value):
        yield params
    else:
        for p in params:
            yield from _flatten(p)


def _numbers(params: Any) -> list[float]:
    return [p.data for p in _flatten(params)]
