"""Not chainrule: the benchmark peer for the GPT rows, a pure-Python GPT engine written after the
published design of the one-file GPT (microgpt, A. Karpathy, 2026), reimplemented here.

Its ``Value`` has ``__slots__`` and stores, for each operand, the local derivative computed in
the forward pass; ``backward`` sorts the graph (recursively) and runs one generic loop
``child.grad += local * node.grad``. The model is a function of matrices (lists of rows of
Values) and every sum is a chain of binary ``+``. Where chainrule's ``nn.GPT`` differs from
that design, this peer follows chainrule, so that both do the same arithmetic: linear layers
have biases, and the initial weights are chainrule's (``load``), so both runs give the same
losses. Used only by ``bench/gpt_bench.py``; nothing imports it otherwise.
"""

from __future__ import annotations

import math
from typing import Any


class Value:
    __slots__ = ("data", "grad", "_children", "_local_grads")

    def __init__(self, data: float, children: tuple = (), local_grads: tuple = ()):
        self.data = data
        self.grad = 0.0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, k: float) -> Value:
        return Value(self.data**k, (self,), (k * self.data ** (k - 1),))

    def log(self) -> Value:
        return Value(math.log(self.data), (self,), (1.0 / self.data,))

    def exp(self) -> Value:
        e = math.exp(self.data)
        return Value(e, (self,), (e,))

    def relu(self) -> Value:
        return Value(max(0.0, self.data), (self,), (float(self.data > 0),))

    def __neg__(self) -> Value:
        return self * -1.0

    def __radd__(self, other: Any) -> Value:
        return self + other

    def __sub__(self, other: Any) -> Value:
        return self + (-other)

    def __rmul__(self, other: Any) -> Value:
        return self * other

    def __truediv__(self, other: Any) -> Value:
        return self * other**-1

    def backward(self) -> None:
        topo: list[Value] = []
        visited: set[Value] = set()

        def build(v: Value) -> None:
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            for child, local in zip(v._children, v._local_grads):
                child.grad += local * v.grad


# --- the model: a function of a dict of matrices ----------------------------------------------

def linear(x: list[Value], w: list[list[Value]], b: list[Value]) -> list[Value]:
    return [sum((wi * xi for wi, xi in zip(row, x)), bias) for row, bias in zip(w, b)]


def softmax(logits: list[Value]) -> list[Value]:
    top = max(v.data for v in logits)
    exps = [(v - top).exp() for v in logits]
    total = sum(exps[1:], exps[0])
    return [e / total for e in exps]


def rmsnorm(x: list[Value]) -> list[Value]:
    ms = sum((xi * xi for xi in x[1:]), x[0] * x[0]) / len(x)
    scale = (ms + 1e-5) ** -0.5
    return [xi * scale for xi in x]


def gpt(sd: dict[str, Any], token: int, pos: int, keys: list, values: list, n_head: int) -> list[Value]:
    """The next-token scores at one position; ``keys`` and ``values`` hold the earlier ones."""
    x = rmsnorm([t + p for t, p in zip(sd["wte"][token], sd["wpe"][pos])])
    head_dim = len(x) // n_head
    for li in range(len(keys)):
        x_residual = x
        x = rmsnorm(x)
        q, k, v = (linear(x, *sd[f"layer{li}.{n}"]) for n in ("wq", "wk", "wv"))
        keys[li].append(k)
        values[li].append(v)
        x_attn: list[Value] = []
        for h in range(n_head):
            hs = h * head_dim
            q_h = q[hs:hs + head_dim]
            k_h = [ki[hs:hs + head_dim] for ki in keys[li]]
            v_h = [vi[hs:hs + head_dim] for vi in values[li]]
            scores = [sum((q_h[j] * k_t[j] for j in range(1, head_dim)), q_h[0] * k_t[0]) * (1 / head_dim**0.5)
                      for k_t in k_h]
            weights = softmax(scores)
            x_attn.extend(sum((weights[t] * v_h[t][j] for t in range(1, len(v_h))), weights[0] * v_h[0][j])
                          for j in range(head_dim))
        x = [a + b for a, b in zip(linear(x_attn, *sd[f"layer{li}.wo"]), x_residual)]
        x_residual = x
        hidden = [h.relu() for h in linear(rmsnorm(x), *sd[f"layer{li}.fc1"])]
        x = [a + b for a, b in zip(linear(hidden, *sd[f"layer{li}.fc2"]), x_residual)]
    return linear(x, *sd["lm_head"])


def load(model: Any) -> dict[str, Any]:
    """The peer's matrices holding a chainrule ``nn.GPT``'s weights (the heads' query, key and
    value rows stacked, as in the published design)."""

    def matrix(layers: list[Any]) -> tuple[list[list[Value]], list[Value]]:
        neurons = [n for layer in layers for n in layer.neurons]
        return [[Value(w.data) for w in n.w] for n in neurons], [Value(n.b.data) for n in neurons]

    sd: dict[str, Any] = {
        "wte": [[Value(p.data) for p in row] for row in model.token_embedding.weight],
        "wpe": [[Value(p.data) for p in row] for row in model.position_embedding.weight],
        "lm_head": matrix([model.lm_head]),
    }
    for li, block in enumerate(model.blocks):
        heads = block.attention.heads
        for name, part in (("wq", "query"), ("wk", "key"), ("wv", "value")):
            sd[f"layer{li}.{name}"] = matrix([getattr(h, part) for h in heads])
        sd[f"layer{li}.wo"] = matrix([block.attention.proj])
        sd[f"layer{li}.fc1"] = matrix([block.mlp.layers[0]])
        sd[f"layer{li}.fc2"] = matrix([block.mlp.layers[1]])
    return sd


def parameters(sd: dict[str, Any]) -> list[Value]:
    out: list[Value] = []
    for value in sd.values():
        for part in value if isinstance(value, tuple) else (value,):
            for row in part:
                out.extend(row if isinstance(row, list) else [row])
    return out


class Trainer:
    """One training step on one name: forward over its positions, mean cross-entropy, backward,
    Adam with a linearly decaying learning rate (the published loop)."""

    def __init__(self, sd: dict[str, Any], n_layer: int, n_head: int, lr: float = 0.01,
                 betas: tuple[float, float] = (0.85, 0.99), eps: float = 1e-8, steps: int = 1000):
        self.sd, self.n_layer, self.n_head = sd, n_layer, n_head
        self.params = parameters(sd)
        self.lr, self.betas, self.eps, self.steps = lr, betas, eps, steps
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)
        self.step_count = 0

    def step(self, tokens: list[int]) -> float:
        keys: list[list] = [[] for _ in range(self.n_layer)]
        values: list[list] = [[] for _ in range(self.n_layer)]
        losses = []
        for pos in range(len(tokens) - 1):
            probs = softmax(gpt(self.sd, tokens[pos], pos, keys, values, self.n_head))
            losses.append(-probs[tokens[pos + 1]].log())
        loss = sum(losses[1:], losses[0]) * (1 / len(losses))
        loss.backward()
        beta1, beta2 = self.betas
        lr = self.lr * (1 - self.step_count / self.steps)
        self.step_count += 1
        for i, p in enumerate(self.params):
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * p.grad
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * p.grad**2
            m_hat = self.m[i] / (1 - beta1**self.step_count)
            v_hat = self.v[i] / (1 - beta2**self.step_count)
            p.data -= lr * m_hat / (v_hat**0.5 + self.eps)
            p.grad = 0.0
        return loss.data
