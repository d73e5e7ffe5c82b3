"""Compile-mode workloads for ``bench/run.py``: micrograd's demo step replayed with NumPy
(``autograd.compile``, batch axis) against the same step eager, in PyTorch float32 and in
micrograd; compile time per shape; memory per step.

Both NumPy's BLAS and PyTorch run on one thread, for a fair pair: the variables below are set
when this module is imported, which ``bench/run.py`` does before anything imports NumPy.

    python bench/compiled.py [--rounds N]     # these rows alone
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import gc  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import autograd  # noqa: E402
import nn  # noqa: E402


def demo_data() -> tuple[list[list[float]], list[float]]:
    X, y = nn.data.moons(n=100, noise=0.1, seed=1)
    return X, [2.0 * t - 1.0 for t in y]


def _demo_model() -> tuple[nn.MLP, list]:
    random.seed(1337)
    model = nn.MLP(2, [16, 16, 1])
    return model, model.parameters()


def compiled_demo_step() -> tuple[Callable[[], float], float]:
    """The same step compiled with a batch axis: the parameters live in one array meanwhile.
    Returns the step and the seconds its first call took (trace, program, one replay)."""
    import numpy as np

    X, y = demo_data()
    model, params = _demo_model()
    compiled = autograd.compile(lambda x, t: (1 - t * model(x)).relu(), params, batch=True,
                                penalty=lambda: 1e-4 * autograd.sum([p * p for p in params]))
    Xa, ya = np.array(X), np.array(y)
    theta = np.array([p.data for p in params])

    def step() -> float:
        nonlocal theta
        value, grads, _ = compiled.evaluate((Xa, ya), theta)
        theta -= 0.01 * grads
        return float(value)

    start = time.perf_counter()
    step()
    return step, time.perf_counter() - start


def torch_demo_step(torch: Any) -> Callable[[], float]:
    """The same step in PyTorch float32 on one thread."""
    torch.set_num_threads(1)
    X, y = demo_data()
    torch.manual_seed(1337)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 1))
    tX, ty = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    params = list(model.parameters())

    def step() -> float:
        scores = model(tX).squeeze(1)
        loss = torch.relu(1 - ty * scores).mean() + 1e-4 * sum((p * p).sum() for p in params)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.01 * p.grad
        return loss.item()

    return step


REPEAT = 20


def _repeated(step: Callable[[], float]) -> Callable[[], float]:
    def run() -> float:
        for _ in range(REPEAT):
            value = step()
        return value

    return run


def _collected(step: Callable[[], float]) -> Callable[[], float]:
    """``step`` then a collection of the garbage it left, on the clock (micrograd's graphs are
    reference cycles that only the collector frees: a training loop pays for it every step)."""

    def run() -> float:
        value = step()
        gc.collect()
        return value

    return run


def compile_seconds(fn: Callable[..., Any], params: list, sample: list, batch: bool, rounds: int) -> float:
    """Median seconds to trace ``fn`` on one sample and plan its program: what the first call of
    a new shape pays (without the guard's check of further samples, on the first two calls)."""
    from autograd.compiled import Program

    compiled = autograd.compile(fn, params, batch=batch)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        Program(compiled._trace(sample), params, batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def digits_sample() -> tuple[Callable[..., Any], list, list]:
    """One sample of the digits workload (MLP 64-32-10, cross-entropy) as ``compile`` traces it."""
    X, y = nn.data.digits()
    random.seed(0)
    model = nn.MLP(64, [32, 10])
    loss_fn = nn.CrossEntropyLoss()
    return (lambda x, t: loss_fn([model(x)], [t])), model.parameters(), [X[0], y[0]]  # t: a traced Value


def gpt_sample() -> tuple[Callable[..., Any], list, list]:
    """The capstone GPT (nn.GPT's defaults) on one 10-token name, as a whole graph whose tokens
    and targets are traced inputs: what ``GPT.compiled_step`` compiles for each length."""
    random.seed(0)
    model = nn.GPT()
    loss_fn = nn.CrossEntropyLoss()
    tokens = [0, 5, 12, 1, 3, 8, 20, 9, 14, 2, 0]
    return (lambda inputs, targets: loss_fn(model(inputs), targets)), model.parameters(), [tokens[:-1], tokens[1:]]


def peak_bytes(step: Callable[[], object]) -> int:
    """The most memory (tracemalloc) one call of ``step`` holds at once, after a first call
    (a compiled step's buffers are made then, and kept)."""
    step()
    gc.collect()
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def rows(rounds: int, alternate: Callable, add: Callable, torch: Any, eager_demo_step: Callable,
         micrograd_demo_step: Callable | None, frozen_heap: Callable) -> None:
    """Add the compile-mode rows to bench/run.py's table (``alternate``, ``add``, ``frozen_heap``
    and the eager and micrograd steps of workload 1 are run.py's)."""
    from autograd.compiled import Program

    try:
        compiled, seconds = compiled_demo_step()
    except ModuleNotFoundError as error:  # NumPy missing: the rows say so
        add("1c. micrograd demo step, compiled", "-", str(error).split(":")[0], "-")
        return
    a, b, r = alternate(_repeated(compiled), eager_demo_step(), rounds * 3)
    add("1c. micrograd demo step, `autograd.compile` (batch axis)", f"{a / REPEAT * 1e3:.3f} ms",
        f"eager chainrule {b * 1e3:.1f} ms", f"{r * REPEAT:.0f}× faster")
    if torch is not None:  # steps of about a millisecond: each timing runs REPEAT of them
        a, b, r = alternate(_repeated(compiled), _repeated(torch_demo_step(torch)), rounds * 3)
        add("1d. the same compiled step", f"{a / REPEAT * 1e3:.3f} ms", f"PyTorch float32 {b / REPEAT * 1e3:.3f} ms",
            f"{r:.2f}× faster" if r >= 1 else f"{1 / r:.2f}× slower")
    else:
        add("1d. the same compiled step vs PyTorch", "-", "PyTorch not installed", "-")
    if micrograd_demo_step is not None:  # as workload 1: micrograd pays for collecting its cycles
        with frozen_heap():
            a, b, r = alternate(_repeated(compiled), _collected(micrograd_demo_step()), rounds)
        add("1e. the same compiled step", f"{a / REPEAT * 1e3:.3f} ms", f"micrograd {b * 1e3:.0f} ms",
            f"{r * REPEAT:,.0f}× faster")
    else:
        add("1e. the same compiled step vs micrograd", "-", "micrograd not installed", "-")
    X, y = demo_data()
    model, params = _demo_model()
    demo = compile_seconds(lambda x, t: (1 - t * model(x)).relu(), params, [X[0], y[0]], True, rounds * 3)
    fn, params, sample = digits_sample()
    digits = compile_seconds(fn, params, sample, True, rounds * 3)
    add("1f. compile time per shape: trace + plan of one sample", f"{demo * 1e3:.1f} ms (demo MLP)",
        f"{digits * 1e3:.1f} ms (digits MLP 64-32-10)", "-")
    fn, params, sample = gpt_sample()  # against an eager step of the same graph: a yardstick any machine has
    whole = autograd.compile(fn, params)
    seconds_gpt, eager, r = alternate(lambda: Program(whole._trace(sample), params, False),
                                      lambda: fn(*sample).backward(), rounds * 2)
    nodes = len(whole._trace(sample).order)
    add(f"1g. compile time per shape: GPT step, whole graph (one 10-token name, {nodes:,} nodes)",
        f"{seconds_gpt * 1e3:.0f} ms", f"one eager step of it {eager * 1e3:.0f} ms", f"{1 / r:.1f} eager steps")
    add(f"1h. the first call of the demo step (+ guard: {autograd.compiled.CHECKED_SAMPLES} samples traced "
        "again, the L2 penalty compiled)", f"{seconds * 1e3:.0f} ms", "-", "-")
    ours, eager = peak_bytes(compiled), peak_bytes(eager_demo_step())
    add("1i. memory per demo step (tracemalloc peak)", f"{ours / 1024:.0f} KiB", f"eager chainrule {eager / 1024:.0f} KiB",
        f"{eager / ours:.0f}× less")


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import alternate as _alternate  # type: ignore[import-not-found]
    from run import chainrule_demo_step as _eager
    from run import frozen_heap as _frozen
    from run import mg_nn as _mg_nn
    from run import micrograd_demo_step as _micrograd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    try:
        import torch as _torch
    except ImportError:
        _torch = None
    rows(options.rounds, _alternate, lambda *row: print(" | ".join(row), flush=True), _torch, _eager,
         _micrograd if _mg_nn is not None else None, _frozen)
