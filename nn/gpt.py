"""A tiny GPT made of the same scalar Values as a neuron: embeddings, RMSNorm, causal
self-attention, the transformer block and the model.

Nothing here writes a derivative: every block is a handful of ``autograd`` operations (one
``dot`` node per weighted sum), and ``loss.backward()`` finds every gradient with the chain
rule. The design is that of the well-known one-file GPT trained on names (microgpt): token and
position embeddings, an RMSNorm, then per layer an attention block and an MLP block, each with a
residual connection, then a linear layer to one score per token. Its linear layers are
``nn.Layer`` (so they have biases, as GPT-2's do) and its MLP block is ``nn.MLP``.

A sequence is a list of token ids; inside, each position is a list of ``n_embd`` Values.

>>> import random, nn
>>> random.seed(0)
>>> model = nn.GPT(vocab_size=27, block_size=16, n_embd=16, n_head=4, n_layer=1)
>>> logits = model([26, 4, 12])                 # ".em": a score for each next token, per position
>>> len(logits), len(logits[0]), len(model.parameters())
(3, 27, 4363)
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence
from typing import Any

import autograd
from autograd import Parameter, Value, no_grad
from autograd.check import whole_number
from autograd.compiled import CHECK_EVERY

from .compiled import CompiledTraining
from .layers import MLP, Layer, _check_parameters, _check_size, softmax
from .losses import CrossEntropyLoss, Loss
from .module import Module
from .optim import Optimizer, _check_number


def _check_vector(x: Any, n: int, who: str) -> list[Value]:
    if isinstance(x, (str, bytes, Value)) or not hasattr(x, "__len__"):
        raise TypeError(f"{who}: expected a list of {n} Values (one position), got {type(x).__name__}")
    if len(x) != n:
        raise ValueError(f"{who}: expected a vector of {n} Values, got {len(x)}; it must match n_embd={n}")
    return [v if isinstance(v, Value) else autograd.constant(v, who) for v in x]


def _check_sequence(xs: Any, n: int, who: str) -> list[list[Value]]:
    if isinstance(xs, (str, bytes, Value)) or not hasattr(xs, "__len__") or not len(xs):
        raise TypeError(f"{who}: expected a non-empty list of positions, each a list of {n} Values")
    return [_check_vector(x, n, who) for x in xs]


def _as_list(out: Value | list[Value]) -> list[Value]:
    """An MLP's output as a vector: with ``n_embd=1`` the MLP returns its one Value itself."""
    return [out] if isinstance(out, Value) else out


def add(u: Sequence[Value], v: Sequence[Value]) -> list[Value]:
    """Elementwise sum of two vectors: the residual connection ``x + block(x)``."""
    return [a + b for a, b in zip(u, v)]


class Embedding(Module):
    """A table of ``num`` learned vectors of ``dim`` numbers: ``emb(i)`` is row ``i``.

    ``weight[i][j]`` is a Parameter; the entries start as Gaussian noise of deviation ``std``
    (PyTorch's ``nn.Embedding`` uses 1; the GPT uses 0.08, as microgpt does).

    With an int index the row's own Parameters are returned. The index may also be a Value
    holding a whole number (a token that is a traced input in compile mode): then each entry is
    an ``autograd.pick`` node choosing from its column, so the graph is the same whatever the
    index, and the numbers are the same as with the int.

    >>> import random, nn
    >>> random.seed(0)
    >>> emb = nn.Embedding(27, 4)
    >>> row = emb(3)
    >>> len(row), row[0] is emb.weight[3][0], len(emb.parameters())
    (4, True, 108)
    """

    def __init__(self, num: int, dim: int, std: float = 1.0):
        _check_parameters(Embedding.parameter_count(num, dim), f"Embedding({num}, {dim})")
        self.num = _check_size(num, "Embedding(num)")
        self.dim = _check_size(dim, "Embedding(dim)")
        self.std = float(std)
        self.weight = [[Parameter(random.gauss(0.0, std), label=f"e{i}.{j}") for j in range(dim)] for i in range(num)]

    def forward(self, index: Any) -> list[Value]:
        if isinstance(index, Value):  # a traced input (compile mode): the same graph for every index
            return [autograd.pick(column, index) for column in zip(*self.weight)]
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Embedding: expected a whole-number index or a Value holding one, got {type(index).__name__}")
        if not 0 <= int(index) < self.num:
            raise IndexError(f"Embedding: index {index} is outside the table (0 to {self.num - 1})")
        return list(self.weight[int(index)])

    def config(self) -> dict[str, Any]:
        return {"num": self.num, "dim": self.dim, "std": self.std}

    @staticmethod
    def parameter_count(num: int, dim: int, **settings: Any) -> int:
        """How many parameters ``Embedding(num, dim, ...)`` has, worked out without building it."""
        return _check_size(num, "Embedding(num)", capped=False) * _check_size(dim, "Embedding(dim)", capped=False)

    def extra_repr(self) -> str:
        return f"{self.num}, {self.dim}"


class RMSNorm(Module):
    """Rescales a vector to root-mean-square 1: ``x / sqrt(mean(x²) + eps)`` (no learned gain,
    as in microgpt; ``torch.nn.RMSNorm(dim, eps, elementwise_affine=False)`` in PyTorch).

    >>> import nn
    >>> [round(v.data, 4) for v in nn.RMSNorm(2)([3.0, 4.0])]    # rms of (3, 4) is √12.5
    [0.8485, 1.1314]
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        self.dim = _check_size(dim, "RMSNorm(dim)")
        self.eps = _check_number(eps, "RMSNorm(eps)")

    def forward(self, x: Sequence[Any]) -> list[Value]:
        x = _check_vector(x, self.dim, "RMSNorm")
        mean_square = autograd.dot(x, x) * (1.0 / self.dim)
        scale = (mean_square + self.eps) ** -0.5
        return [xi * scale for xi in x]

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, "eps": self.eps}

    @staticmethod
    def parameter_count(**settings: Any) -> int:
        return 0

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


class AttentionHead(Module):
    """One head of causal self-attention over a sequence of vectors.

    Each position ``t`` asks a question (its query ``q_t``), every position ``s ≤ t`` offers an
    answer key ``k_s`` and a value ``v_s``. The scores ``q_t · k_s / √head_size`` become weights
    by a softmax, and the output at ``t`` is the weighted sum of the values: position ``t`` reads
    from the past only (causal). ``pattern`` keeps the last call's weights (row ``t``: the
    weights over ``s = 0..t``, as floats) for pictures.

    >>> import random, nn
    >>> random.seed(0)
    >>> head = nn.AttentionHead(n_embd=2, head_size=2)
    >>> out = head([[1.0, 0.0], [0.0, 1.0]])
    >>> len(out), len(out[0]), head.pattern[0], round(sum(head.pattern[1]), 12)
    (2, 2, [1.0], 1.0)
    """

    def __init__(self, n_embd: int, head_size: int):
        _check_parameters(AttentionHead.parameter_count(n_embd, head_size), f"AttentionHead({n_embd}, {head_size})")
        self.n_embd = _check_size(n_embd, "AttentionHead(n_embd)")
        self.head_size = _check_size(head_size, "AttentionHead(head_size)")
        self.query = Layer(n_embd, head_size)
        self.key = Layer(n_embd, head_size)
        self.value = Layer(n_embd, head_size)
        self.query.name, self.key.name, self.value.name = "Query", "Key", "Value"
        self.scale = 1.0 / math.sqrt(head_size)
        self.pattern: list[list[float]] = []

    def forward(self, xs: Sequence[Sequence[Any]]) -> list[list[Value]]:
        xs = _check_sequence(xs, self.n_embd, "AttentionHead")
        qs = [self.query(x) for x in xs]
        ks = [self.key(x) for x in xs]
        vs = [self.value(x) for x in xs]
        value_columns = list(zip(*vs))  # value_columns[j][s] is entry j of position s's value
        outputs, pattern = [], []
        for t, q in enumerate(qs):
            scores = [autograd.dot(q, k) * self.scale for k in ks[: t + 1]]
            weights = softmax(scores)
            outputs.append([autograd.dot(weights, column[: t + 1]) for column in value_columns])
            pattern.append([w.data for w in weights])
        self.pattern = pattern
        return outputs

    def config(self) -> dict[str, Any]:
        return {"n_embd": self.n_embd, "head_size": self.head_size}

    @staticmethod
    def parameter_count(n_embd: int, head_size: int, **settings: Any) -> int:
        """How many parameters ``AttentionHead(n_embd, head_size)`` has (query, key and value layers)."""
        n_embd = _check_size(n_embd, "AttentionHead(n_embd)", capped=False)
        return 3 * Layer.parameter_count(n_embd, _check_size(head_size, "AttentionHead(head_size)", capped=False))


class CausalSelfAttention(Module):
    """``n_head`` attention heads side by side, each of size ``n_embd // n_head``; their outputs
    are joined into one vector per position and mixed by a linear layer (``proj``).

    >>> import random, nn
    >>> random.seed(0)
    >>> attention = nn.CausalSelfAttention(n_embd=4, n_head=2)
    >>> [len(v) for v in attention([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])]
    [4, 4]
    """

    def __init__(self, n_embd: int, n_head: int):
        _check_parameters(CausalSelfAttention.parameter_count(n_embd, n_head), f"CausalSelfAttention({n_embd}, {n_head})")
        self.n_embd = _check_size(n_embd, "CausalSelfAttention(n_embd)")
        self.n_head = _check_size(n_head, "CausalSelfAttention(n_head)")
        _check_heads(self.n_embd, self.n_head)
        self.heads = [AttentionHead(n_embd, n_embd // n_head) for _ in range(n_head)]
        for i, head in enumerate(self.heads):
            head.name = f"Head {i + 1}"
        self.proj = Layer(n_embd, n_embd)
        self.proj.name = "Projection"

    def forward(self, xs: Sequence[Sequence[Any]]) -> list[list[Value]]:
        xs = _check_sequence(xs, self.n_embd, "CausalSelfAttention")
        per_head = [head(xs) for head in self.heads]
        return [self.proj([v for out in per_head for v in out[t]]) for t in range(len(xs))]

    def config(self) -> dict[str, Any]:
        return {"n_embd": self.n_embd, "n_head": self.n_head}

    @staticmethod
    def parameter_count(n_embd: int, n_head: int, **settings: Any) -> int:
        """How many parameters ``CausalSelfAttention(n_embd, n_head)`` has (its heads and ``proj``)."""
        n_embd = _check_size(n_embd, "CausalSelfAttention(n_embd)", capped=False)
        n_head = _check_heads(n_embd, _check_size(n_head, "CausalSelfAttention(n_head)", capped=False))
        return n_head * AttentionHead.parameter_count(n_embd, n_embd // n_head) + Layer.parameter_count(n_embd, n_embd)


def _check_heads(n_embd: int, n_head: int) -> int:
    if n_embd % n_head:
        raise ValueError(f"CausalSelfAttention: n_embd={n_embd} must be a multiple of n_head={n_head}")
    return n_head


class Block(Module):
    """One transformer layer: attention, then an MLP, each on the RMS-normalised input and
    added back to it (residual connections, which give gradients a short path to every layer).

    ``x = x + attention(norm1(x))`` across positions, then ``x = x + mlp(norm2(x))`` at each
    position; the MLP is ``nn.MLP(n_embd, [4 * n_embd, n_embd])`` (ReLU in its hidden layer).
    Both norms are ``RMSNorm(n_embd, eps)``.
    """

    def __init__(self, n_embd: int, n_head: int, eps: float = 1e-5):
        _check_parameters(Block.parameter_count(n_embd, n_head), f"Block({n_embd}, {n_head})")
        self.n_embd = _check_size(n_embd, "Block(n_embd)")
        self.n_head = _check_size(n_head, "Block(n_head)")
        self.norm1 = RMSNorm(n_embd, eps)
        self.attention = CausalSelfAttention(n_embd, n_head)
        self.norm2 = RMSNorm(n_embd, eps)
        self.mlp = MLP(n_embd, [4 * n_embd, n_embd], activation="relu")
        self.norm1.name, self.attention.name, self.norm2.name = "RMSNorm 1", "Attention", "RMSNorm 2"

    def forward(self, xs: Sequence[Sequence[Any]]) -> list[list[Value]]:
        xs = _check_sequence(xs, self.n_embd, "Block")
        xs = [add(x, a) for x, a in zip(xs, self.attention([self.norm1(x) for x in xs]))]
        return [add(x, _as_list(self.mlp(self.norm2(x)))) for x in xs]

    def config(self) -> dict[str, Any]:
        return {"n_embd": self.n_embd, "n_head": self.n_head, "eps": _shared_eps(self)}

    def named_norms(self) -> list[tuple[str, RMSNorm]]:
        """``(name, RMSNorm)`` for each norm, named as in ``named_parameters``."""
        return [("norm1", self.norm1), ("norm2", self.norm2)]

    @staticmethod
    def parameter_count(n_embd: int, n_head: int, **settings: Any) -> int:
        """How many parameters ``Block(n_embd, n_head, ...)`` has (attention and MLP; the norms have none)."""
        n_embd = _check_size(n_embd, "Block(n_embd)", capped=False)
        return CausalSelfAttention.parameter_count(n_embd, n_head) + MLP.parameter_count(n_embd, [4 * n_embd, n_embd])


def _shared_eps(module: Block | GPT) -> float:
    """The eps all of ``module``'s norms use; a file holds one, so norms set apart cannot be saved whole."""
    norms = module.named_norms()
    if len({norm.eps for _, norm in norms}) > 1:
        raise ValueError(f"{type(module).__name__}: its norms have different eps "
                         f"({', '.join(f'{name}: {norm.eps}' for name, norm in norms)}), and a model file holds one; "
                         "set them equal, or save the state_dict() and set each eps in code")
    return norms[0][1].eps


class GPT(Module):
    """A generative pre-trained transformer: token ids in, next-token scores out.

    ``model(tokens)`` takes up to ``block_size`` token ids and returns, for each position, a
    list of ``vocab_size`` scores (logits) for the token that comes next; trained with
    ``nn.CrossEntropyLoss`` against the sequence shifted by one. Read ``forward`` top to bottom:

    1. each token's vector is its token embedding plus its position's embedding, normalised;
    2. each ``Block`` lets positions read from earlier ones (attention), then thinks per position (MLP);
    3. ``lm_head``, a linear layer, turns each position's vector into one score per token.

    Every norm is ``RMSNorm(n_embd, eps)``. A model of more than ``nn.layers.MAX_PARAMETERS``
    parameters (``GPT.parameter_count``) is refused before anything is built, with the estimate
    and how to raise the limit.

    Tokens may also be Values holding token ids (traced inputs): see ``compiled_step``, which
    trains the model one sequence per step with each length of sequence compiled once.

    >>> import random, nn
    >>> random.seed(0)
    >>> model = nn.GPT(vocab_size=3, block_size=4, n_embd=4, n_head=2)
    >>> loss = nn.CrossEntropyLoss()(model([2, 0, 1]), [0, 1, 2])   # predict each next token
    >>> loss.backward()
    >>> all(p.grad != 0.0 for p in model.lm_head.parameters())
    True
    """

    def __init__(self, vocab_size: int = 27, block_size: int = 16, n_embd: int = 16, n_head: int = 4, n_layer: int = 1,
                 eps: float = 1e-5):
        _check_parameters(GPT.parameter_count(vocab_size, block_size, n_embd, n_head, n_layer),
                          f"GPT(vocab_size={vocab_size}, block_size={block_size}, n_embd={n_embd}, n_head={n_head}, "
                          f"n_layer={n_layer})")
        self.vocab_size = _check_size(vocab_size, "GPT(vocab_size)")
        self.block_size = _check_size(block_size, "GPT(block_size)")
        self.n_embd = _check_size(n_embd, "GPT(n_embd)")
        self.n_head = _check_size(n_head, "GPT(n_head)")
        self.n_layer = _check_size(n_layer, "GPT(n_layer)")
        self.token_embedding = Embedding(vocab_size, n_embd, std=0.08)
        self.position_embedding = Embedding(block_size, n_embd, std=0.08)
        self.norm = RMSNorm(n_embd, eps)
        self.blocks = [Block(n_embd, n_head, eps) for _ in range(n_layer)]
        self.lm_head = Layer(n_embd, vocab_size)
        self.token_embedding.name, self.position_embedding.name = "Token embedding", "Position embedding"
        for i, block in enumerate(self.blocks):
            block.name = f"Block {i + 1}"
        self.lm_head.name = "LM head"

    def forward(self, tokens: Sequence[Any]) -> list[list[Value]]:
        tokens = self._check_tokens(tokens)
        xs = [self.norm(add(self.token_embedding(token), self.position_embedding(t))) for t, token in enumerate(tokens)]
        for block in self.blocks:
            xs = block(xs)
        return [self.lm_head(x) for x in xs]

    def _check_tokens(self, tokens: Any) -> list[Any]:
        if isinstance(tokens, (str, bytes)) or not hasattr(tokens, "__len__") or not len(tokens):
            raise TypeError(f"GPT: expected a non-empty list of token ids, got {tokens!r:.60}")
        if len(tokens) > self.block_size:
            raise ValueError(f"GPT: {len(tokens)} tokens, but the model sees at most block_size={self.block_size}; "
                             f"pass the last {self.block_size}")
        for t in tokens:
            if isinstance(t, Value):
                continue  # a traced token (compile mode): autograd.pick checks its number
            if isinstance(t, bool) or not isinstance(t, numbers.Integral) or not 0 <= int(t) < self.vocab_size:
                raise ValueError(f"GPT: {t!r} is not a token id (0 to {self.vocab_size - 1})")
        return [t if isinstance(t, Value) else int(t) for t in tokens]

    def generate(self, start: int, *, stop: int | None = None, temperature: float = 1.0,
                 rng: random.Random | None = None) -> list[int]:
        """Sample a sequence after the token ``start``, one token at a time, until ``stop``
        (default: ``start``, the boundary token) or ``block_size`` tokens; returns them without
        ``start`` and ``stop``. Lower ``temperature`` picks likely tokens more often (any positive
        finite number: near 0, the likeliest token every time). Builds no graph. A ``ValueError``
        says so when ``start`` or ``stop`` is not a token id, or the model's scores are not finite
        (its weights have diverged).

        >>> import random, nn
        >>> random.seed(0)
        >>> ids = nn.GPT(vocab_size=5, block_size=6, n_embd=4, n_head=1).generate(4, rng=random.Random(1))
        >>> len(ids) <= 6 and all(0 <= i < 4 for i in ids)
        True
        """
        temperature = _check_number(temperature, "GPT.generate: temperature", low_open=True)
        start = whole_number(start, "GPT.generate: start (a token id)", 0, self.vocab_size - 1)
        stop = start if stop is None else whole_number(stop, "GPT.generate: stop (a token id)", 0, self.vocab_size - 1)
        rng = rng if rng is not None else random.Random()
        tokens = [start]
        with no_grad():
            while len(tokens) <= self.block_size:
                weights = _sampling_weights([s.data for s in self(tokens)[-1]], temperature, tokens)
                token = rng.choices(range(self.vocab_size), weights=weights)[0]
                if token == stop:
                    break
                tokens.append(token)
        return tokens[1:]

    def config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "block_size": self.block_size, "n_embd": self.n_embd,
                "n_head": self.n_head, "n_layer": self.n_layer, "eps": _shared_eps(self)}

    def named_norms(self) -> list[tuple[str, RMSNorm]]:
        """``(name, RMSNorm)`` for each norm, named as in ``named_parameters``: ``norm``, ``blocks.0.norm1``, ..."""
        return [("norm", self.norm), *((f"blocks.{i}.{name}", norm) for i, block in enumerate(self.blocks)
                                       for name, norm in block.named_norms())]

    @staticmethod
    def parameter_count(vocab_size: int, block_size: int, n_embd: int, n_head: int, n_layer: int,
                        **settings: Any) -> int:
        """How many parameters ``GPT(vocab_size, block_size, n_embd, n_head, n_layer)`` has,
        worked out without building it (the embeddings, the blocks and ``lm_head``)."""
        vocab, block, n, heads, layers = (_check_size(size, f"GPT({name})", capped=False) for name, size in (
            ("vocab_size", vocab_size), ("block_size", block_size), ("n_embd", n_embd), ("n_head", n_head),
            ("n_layer", n_layer)))
        return (Embedding.parameter_count(vocab, n) + Embedding.parameter_count(block, n)
                + layers * Block.parameter_count(n, heads) + Layer.parameter_count(n, vocab))

    def compiled_step(self, optimizer: Optimizer, *, loss_fn: Loss | None = None,
                      check_every: int = CHECK_EVERY, backend: str = "numpy") -> CompiledStep:
        """A training step on one sequence, compiled: ``step(tokens)`` trains and returns the loss.
        ``backend="jax"`` runs each length's program jitted by XLA (see ``autograd.compile``).
        See ``CompiledStep``.

        >>> import random, nn
        >>> from nn import optim
        >>> random.seed(0)
        >>> model = nn.GPT(vocab_size=27, block_size=8, n_embd=8, n_head=2)
        >>> optimizer = optim.Adam(model.parameters(), lr=0.01)
        >>> with model.compiled_step(optimizer) as step:       # .data is written back at the end
        ...     losses = [step([26, 4, 12, 12, 0, 26]) for _ in range(30)]    # ".emma."
        >>> losses[-1] < losses[0] / 2, step.lengths     # one program: sequences of length 6
        (True, [6])
        """
        return CompiledStep(self, optimizer, loss_fn=loss_fn, check_every=check_every, backend=backend)


def _sampling_weights(scores: list[float], temperature: float, tokens: list[int]) -> list[float]:
    """``exp((score - max) / temperature)`` per token: the softmax of ``scores / temperature``
    but for its sum, finite for any positive temperature (the likeliest token has weight 1)."""
    top = max(scores)
    if not all(map(math.isfinite, scores)):
        raise ValueError(f"GPT.generate: the model's scores after the tokens {tokens!r:.60} are not all finite "
                         f"(the largest is {top!r}): its weights have diverged; retrain or reload them")
    return [math.exp((s - top) / temperature) for s in scores]


class CompiledStep(CompiledTraining):
    """Training steps of a GPT, one sequence per step, replayed with NumPy (compile mode): the
    same compiled training as ``fit(compile=True)``'s (``nn.compiled.CompiledTraining``).

    ``step(tokens)`` takes one whole sequence, boundary tokens included (``[26, 4, 12, 12, 0,
    26]`` for ".emma."), and does what the eager loop does, with the same numbers (to
    rounding)::

        loss = loss_fn(model(tokens[:-1]), tokens[1:])   # predict each next token
        optimizer.zero_grad(); loss.backward(); optimizer.step()

    It returns the loss as a float. The tokens and the targets are the compiled function's
    *inputs* (the embedding looks a token up with ``autograd.pick``, the loss reads the
    target's class with one ``autograd.nll`` node), so the graph depends on the sequence's
    length only: each length is traced and compiled once (``autograd.compile``, keyed by the
    arguments' shape), and every sequence of that length replays its program. ``check_every``
    is compile's guard: the second call of a length, and every ``check_every``-th after it,
    traces the step again, which must build the same graph (the default is ``fit``'s).

    While training, the parameters live in one float64 array; the optimizer's own update rule
    (``optimizer.rule``, the one ``optimizer.step()`` runs) moves all of it at once, reading
    ``optimizer.lr`` at each step: set it for a schedule, as in the eager loop. ``sync()``
    writes the array back to every parameter's ``.data`` (the last gradients to ``.grad``, the
    optimizer's running state back to it, so eager steps may follow); leaving a ``with`` block
    does it, also when the block is interrupted. ``loss(tokens)`` is the loss at the current
    weights, without training (for validation). Needs NumPy.
    """

    def __init__(self, model: GPT, optimizer: Optimizer, *, loss_fn: Loss | None = None,
                 check_every: int = CHECK_EVERY, backend: str = "numpy"):
        super().__init__(model, CrossEntropyLoss() if loss_fn is None else loss_fn, optimizer, self._sequence_loss,
                         batch=False, who="GPT.compiled_step", otherwise="train eagerly", check_every=check_every,
                         backend=backend)
        self.model: GPT = model

    def _sequence_loss(self, inputs: list[Value], targets: list[Value]) -> Value:
        return self.loss_fn(self.model(inputs), targets)  # traced: inputs and targets are Values

    def __call__(self, tokens: Sequence[int]) -> float:
        loss, grads, _ = self.replay(self._arguments(tokens))
        self.update(grads)
        return loss

    def loss(self, tokens: Sequence[int]) -> float:
        """The loss of one sequence at the current weights (the array), training nothing."""
        return self.replay(self._arguments(tokens))[0]

    def _arguments(self, tokens: Sequence[int]) -> tuple[list[Any], list[int]]:
        if isinstance(tokens, (str, bytes)) or not hasattr(tokens, "__len__") or len(tokens) < 2:
            raise TypeError(f"GPT.compiled_step: expected a list of two or more token ids, got {tokens!r:.60}")
        self.model._check_tokens(tokens[1:])
        return self.model._check_tokens(tokens[:-1]), [int(t) for t in tokens[1:]]

    @property
    def lengths(self) -> list[int]:
        """The lengths of sequence (boundaries included) compiled so far: one program each."""
        return sorted(len(inputs) + 1 for inputs, _ in self.compiled.programs)

    def __enter__(self) -> CompiledStep:
        self.read()  # start from the parameters (and the optimizer's state) as they are now
        return self

    def __exit__(self, *exc: object) -> None:
        self.sync()

    def __repr__(self) -> str:
        return f"CompiledStep({type(self.model).__name__}, {len(self.params):,} parameters, lengths compiled: {self.lengths})"
