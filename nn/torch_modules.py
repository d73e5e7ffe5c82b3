"""PyTorch twins of ``nn``'s GPT blocks: what ``nn.to_torch`` builds for them (and
``nn.from_torch`` reads back). PyTorch has no ready-made module for these, so here they are,
written with tensors as one would in PyTorch, computing what the Value versions compute.

The standard parts map to PyTorch's own modules (``nn.Layer`` → ``torch.nn.Linear``,
``nn.Embedding`` → ``torch.nn.Embedding``, ``nn.RMSNorm`` → ``torch.nn.RMSNorm`` without a
gain, ``nn.MLP`` → ``torch.nn.Sequential``). This module is imported only by the bridge, so
``import nn`` never loads PyTorch; without PyTorch it imports but its classes cannot be built.

>>> import pytest; torch = pytest.importorskip("torch")  # PyTorch is optional: skipped without it
>>> from nn import torch_modules
>>> model = torch_modules.GPT(vocab_size=27, block_size=16, n_embd=16, n_head=4, n_layer=1).double()
>>> model(torch.tensor([26, 4, 12])).shape                     # a score per token, per position
torch.Size([3, 27])
"""

from __future__ import annotations

import math
from typing import Any

torch: Any
_Module: Any
try:
    import torch as _torch

    torch, _Module = _torch, _torch.nn.Module
except ImportError:  # nn.to_torch says how to install it before anything here is built
    torch, _Module = None, object


class AttentionHead(_Module):
    """One causal attention head: ``softmax(q kᵀ / √head_size, masked to s ≤ t) v``."""

    def __init__(self, n_embd: int, head_size: int):
        super().__init__()
        self.n_embd, self.head_size = n_embd, head_size
        self.query = torch.nn.Linear(n_embd, head_size)
        self.key = torch.nn.Linear(n_embd, head_size)
        self.value = torch.nn.Linear(n_embd, head_size)

    def weights(self, x: Any) -> Any:
        """The attention weights, ``(..., T, T)``: row t is how much position t reads from each s."""
        q, k = self.query(x), self.key(x)
        scores = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(self.head_size))
        T = x.shape[-2]
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)

    def forward(self, x: Any) -> Any:
        return self.weights(x) @ self.value(x)


class CausalSelfAttention(_Module):
    """``n_head`` heads side by side, joined and mixed by ``proj``."""

    def __init__(self, n_embd: int, n_head: int):
        super().__init__()
        self.n_embd, self.n_head = n_embd, n_head
        self.heads = torch.nn.ModuleList(AttentionHead(n_embd, n_embd // n_head) for _ in range(n_head))
        self.proj = torch.nn.Linear(n_embd, n_embd)

    def forward(self, x: Any) -> Any:
        return self.proj(torch.cat([head(x) for head in self.heads], dim=-1))


class Block(_Module):
    """``x + attention(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, n_embd: int, n_head: int, eps: float = 1e-5):
        super().__init__()
        self.n_embd, self.n_head = n_embd, n_head
        self.norm1 = torch.nn.RMSNorm(n_embd, eps=eps, elementwise_affine=False)
        self.attention = CausalSelfAttention(n_embd, n_head)
        self.norm2 = torch.nn.RMSNorm(n_embd, eps=eps, elementwise_affine=False)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(n_embd, 4 * n_embd), torch.nn.ReLU(),
                                       torch.nn.Linear(4 * n_embd, n_embd))

    def forward(self, x: Any) -> Any:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class GPT(_Module):
    """Token ids ``(..., T)`` → next-token scores ``(..., T, vocab_size)``, as ``nn.GPT``."""

    def __init__(self, vocab_size: int = 27, block_size: int = 16, n_embd: int = 16, n_head: int = 4,
                 n_layer: int = 1, eps: float = 1e-5):
        super().__init__()
        self.vocab_size, self.block_size, self.n_embd, self.n_head, self.n_layer = (
            vocab_size, block_size, n_embd, n_head, n_layer)
        self.token_embedding = torch.nn.Embedding(vocab_size, n_embd)
        self.position_embedding = torch.nn.Embedding(block_size, n_embd)
        self.norm = torch.nn.RMSNorm(n_embd, eps=eps, elementwise_affine=False)
        self.blocks = torch.nn.ModuleList(Block(n_embd, n_head, eps) for _ in range(n_layer))
        self.lm_head = torch.nn.Linear(n_embd, vocab_size)

    def forward(self, tokens: Any) -> Any:
        positions = torch.arange(tokens.shape[-1], device=tokens.device)
        x = self.norm(self.token_embedding(tokens) + self.position_embedding(positions))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(x)
