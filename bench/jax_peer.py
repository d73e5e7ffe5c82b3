"""Hand-written JAX peers of chainrule's compiled workloads, float64 on one thread: what a user who
writes the same step in JAX by hand gets, for ``bench/run.py``'s JAX rows.

- the micrograd demo step (MLP 2-16-16-1, ReLU, 100 moons, hinge loss + 1e-4 L2, SGD 0.01), as
  one ``jax.jit`` step with the update inside;
- notebook 5's digits epoch (64 -> 32 -> tanh -> 10, cross-entropy, SGD with momentum 0.9,
  batches of 32), either as a Python loop of jitted steps or as one jitted function that shuffles
  and runs every batch with ``lax.scan``.

XLA runs on one thread (``XLA_FLAGS`` below, set before JAX loads), as NumPy's BLAS and PyTorch
do in the other rows; float64 is switched on only inside these functions (``jax.enable_x64``).

chainrule's side (``rows``, rows 7a-7d of ``bench/run.py``) is ``fit(compile="jax")``'s steps
(``nn.xla.JaxSteps``), timed per epoch as ``fit`` runs one (the shuffle, the epoch, the largest
weight change), the steps made once per fit so their one-off compile is reported apart.

    python bench/jax_peer.py     # the peers alone: their step times and one-off compile times
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

Weights = list[tuple[list[list[float]], list[float]]]  # per layer: (rows of w, b), from chainrule's model


def layer_weights(layers: Sequence[Any]) -> Weights:
    """The (weights, biases) of each ``nn.Layer`` in ``layers``, as floats: the peers start where
    chainrule's model starts, so their first losses can be compared."""
    return [([[w.data for w in neuron.w] for neuron in layer.neurons], [neuron.b.data for neuron in layer.neurons])
            for layer in layers]


def _arrays(jnp: Any, weights: Weights) -> list[tuple[Any, Any]]:
    return [(jnp.array(w, dtype=jnp.float64).T, jnp.array(b, dtype=jnp.float64)) for w, b in weights]


def demo_step(weights: Weights, X: list[list[float]], y: list[float]) -> tuple[Callable[[], float], float]:
    """The demo step as one jitted function of (parameters, data) -> (new parameters, loss).
    Returns the step (it keeps the parameters between calls) and its first call's seconds (the
    compile)."""
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        params = _arrays(jnp, weights)
        tX, ty = jnp.array(X, dtype=jnp.float64), jnp.array(y, dtype=jnp.float64)

        def loss(params: list[tuple[Any, Any]], X: Any, y: Any) -> Any:
            h = X
            for i, (w, b) in enumerate(params):
                h = h @ w + b
                if i < len(params) - 1:
                    h = jax.nn.relu(h)
            penalty = sum(jnp.sum(w * w) + jnp.sum(b * b) for w, b in params)
            return jnp.mean(jax.nn.relu(1 - y * h[:, 0])) + 1e-4 * penalty

        @jax.jit
        def step(params: list[tuple[Any, Any]], X: Any, y: Any) -> tuple[Any, Any]:
            value, grads = jax.value_and_grad(loss)(params, X, y)
            return jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads), value

    def run() -> float:
        nonlocal params
        with jax.enable_x64(True):
            params, value = step(params, tX, ty)
            return float(value)

    start = time.perf_counter()
    run()
    return run, time.perf_counter() - start


def digits_epoch(weights: Weights, X: list[list[float]], y: list[int], *, scan: bool,
                 batch_size: int = 32) -> tuple[Callable[[], float], float]:
    """One epoch of notebook 5's training per call: shuffled batches, SGD with momentum 0.9 as
    PyTorch defines it (v = 0.9 v + g; p -= 0.1 v). With ``scan``, the shuffle and every batch
    run inside one jitted function; without, a Python loop calls a jitted step per batch. Returns
    the epoch and its first call's seconds (the compile)."""
    import jax
    import jax.numpy as jnp

    n = len(X)
    full = n // batch_size * batch_size
    with jax.enable_x64(True):
        params = _arrays(jnp, weights)
        velocity = jax.tree_util.tree_map(jnp.zeros_like, params)
        tX, ty = jnp.array(X, dtype=jnp.float64), jnp.array(y)
        key = jax.random.PRNGKey(0)

        def loss(params: list[tuple[Any, Any]], X: Any, y: Any) -> Any:
            (w1, b1), (w2, b2) = params
            scores = jnp.tanh(X @ w1 + b1) @ w2 + b2
            logp = jax.nn.log_softmax(scores)
            return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

        def update(state: tuple[Any, Any], batch: Any) -> tuple[tuple[Any, Any], Any]:
            params, velocity = state
            value, grads = jax.value_and_grad(loss)(params, tX[batch], ty[batch])
            velocity = jax.tree_util.tree_map(lambda v, g: 0.9 * v + g, velocity, grads)
            params = jax.tree_util.tree_map(lambda p, v: p - 0.1 * v, params, velocity)
            return (params, velocity), value * batch.shape[0]

        @jax.jit
        def epoch(params: Any, velocity: Any, key: Any) -> tuple[Any, Any, Any, Any]:
            key, sub = jax.random.split(key)
            order = jax.random.permutation(sub, n)
            state, totals = jax.lax.scan(update, (params, velocity), order[:full].reshape(-1, batch_size))
            total = jnp.sum(totals)
            if full < n:
                state, last = update(state, order[full:])
                total = total + last
            return state[0], state[1], key, total / n

        step = jax.jit(update)

    def run() -> float:
        nonlocal params, velocity, key
        with jax.enable_x64(True):
            if scan:
                params, velocity, key, value = epoch(params, velocity, key)
                return float(value)
            key, sub = jax.random.split(key)
            order = jax.random.permutation(sub, n)
            state, total = (params, velocity), 0.0
            for start in range(0, n, batch_size):
                state, value = step(state, order[start:start + batch_size])
                total += float(value)
            params, velocity = state
            return total / n

    start = time.perf_counter()
    run()
    return run, time.perf_counter() - start


def fit_epoch(steps_class: Any, model: Any, loss_fn: Any, optimizer: Any, X: Any, y: Any,
              batch_size: int) -> tuple[Callable[[], object], float]:
    """An epoch as ``fit`` runs it, on ``steps_class`` (``JaxSteps`` or ``CompiledSteps``), and the
    seconds the first ``WARM_UP`` took (with the trace, the guard's checks and the compile)."""
    import random

    steps = steps_class(model, loss_fn, optimizer, X, y)
    order, rng = list(range(len(X))), random.Random(0)

    def run() -> float:
        before = steps.weights()
        rng.shuffle(order)
        loss, _ = steps.epoch(order, batch_size)
        steps.max_change(before)
        return loss

    start = time.perf_counter()
    for _ in range(WARM_UP):
        run()
    return run, time.perf_counter() - start


# fit's first epochs are run by the NumPy replay (the guard's first two checks); the jitted epoch
# is compiled by the first epoch after them, the third at the latest
WARM_UP = 3


def rows(rounds: int, alternate: Callable, add: Callable) -> None:
    """Rows 7a-7d: compile mode on XLA against the hand-written JAX peers (``alternate`` and
    ``add`` are run.py's)."""
    import importlib.util
    import random

    if importlib.util.find_spec("jax") is None:
        add("7. compile mode on XLA (`fit(compile=\"jax\")`)", "-", "JAX not installed", "-")
        return
    import nn
    from bench.compiled import demo_data
    from bench.fit_bench import _digits
    from nn import optim
    from nn.compiled import CompiledSteps
    from nn.xla import JaxSteps

    def ratio(r: float) -> str:
        return f"{1 / r:.2f}× slower" if r < 1 else f"{r:.2f}× faster"

    X, y = demo_data()
    random.seed(1337)
    model = nn.MLP(2, [16, 16, 1])
    peer, peer_first = demo_step(layer_weights(model.layers), X, y)
    ours, first = fit_epoch(JaxSteps, model, nn.HingeLoss(), optim.SGD(model.parameters(), lr=0.01,
                            weight_decay=2e-4), X, y, len(X))  # (2e-4 * p: the gradient of the peer's 1e-4 L2)
    a, b, r = alternate(ours, peer, rounds * 5)
    first -= WARM_UP * a
    add("7a. micrograd demo step, `fit(compile=\"jax\")` (one batch per epoch)", f"{a * 1e3:.3f} ms",
        f"hand-written JAX {b * 1e3:.3f} ms", ratio(r))
    Xd, yd = _digits()
    made = {}
    for name, cls in (("jax", JaxSteps), ("numpy", CompiledSteps)):
        random.seed(0)
        net = nn.Sequential(nn.Layer(64, 32), nn.Tanh(), nn.Layer(32, 10))
        made[name] = fit_epoch(cls, net, nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.1, momentum=0.9),
                               Xd, yd, 32)
        weights = layer_weights([net[0], net[2]])
    scan, scan_first = digits_epoch(weights, Xd, yd, scan=True)
    loop, _ = digits_epoch(weights, Xd, yd, scan=False)
    a, b, r = alternate(made["jax"][0], scan, rounds * 3)
    add("7b. digits epoch, `fit(compile=\"jax\")` (MLP 64-32-10, batch 32)", f"{a * 1e3:.2f} ms",
        f"hand-written JAX, lax.scan {b * 1e3:.2f} ms", ratio(r))
    _, c, r = alternate(made["jax"][0], loop, rounds * 3)
    add("7c. the same epoch", f"{a * 1e3:.2f} ms", f"hand-written JAX, loop of jitted steps {c * 1e3:.1f} ms", ratio(r))
    numpy_epoch, _, _ = alternate(made["numpy"][0], made["numpy"][0], rounds)
    once_jax, once_numpy = made["jax"][1] - WARM_UP * a, made["numpy"][1] - WARM_UP * numpy_epoch
    even = (once_jax - once_numpy) / (numpy_epoch - a) if numpy_epoch > a else float("inf")
    add("7d. once per fit on XLA (trace, guard, jit compile): digits, demo", f"{once_jax:.2f} s, {first:.2f} s",
        f"hand-written JAX {scan_first:.2f} s, {peer_first:.2f} s",
        f"pays off after {even:.0f} digits epochs vs `compile=True`")


def _median_seconds(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    import random

    import nn
    from bench.compiled import demo_data
    from bench.fit_bench import _digits

    X, y = demo_data()
    random.seed(1337)
    step, first = demo_step(layer_weights(nn.MLP(2, [16, 16, 1]).layers), X, y)
    print(f"demo step: {_median_seconds(step, 200) * 1e3:.3f} ms (compile {first:.2f} s)")
    Xd, yd = _digits()
    for scan in (False, True):
        random.seed(0)
        model = nn.Sequential(nn.Layer(64, 32), nn.Tanh(), nn.Layer(32, 10))
        epoch, first = digits_epoch(layer_weights([model[0], model[2]]), Xd, yd, scan=scan)
        print(f"digits epoch ({'lax.scan' if scan else 'loop of jitted steps'}): "
              f"{_median_seconds(epoch, 20) * 1e3:.2f} ms (compile {first:.2f} s)")
