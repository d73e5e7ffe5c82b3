"""chainrule's benchmarks, each against a peer measured in the same run (``make bench``).

Each workload runs chainrule and its peer alternately, several rounds, and reports the median
time of each and the median of the round-by-round ratios. Each timed run starts after a
``gc.collect()``, so neither side pays for the other's garbage; in workload 1 the clock also
covers collecting the garbage the step left (micrograd's reference cycles; see ``timed``).
Results go to bench/RESULTS.md with the machine's Python and CPU. These are measurements, not tests: nothing here passes or fails.

    python bench/run.py [--rounds N] [--quick] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import autograd  # noqa: E402
import bench.compiled as compiled_rows  # noqa: E402  (first: it pins NumPy's BLAS to one thread before NumPy loads)
import bench.fit_bench as fit_rows  # noqa: E402
import nn  # noqa: E402
from autograd import Value  # noqa: E402
from nn import optim  # noqa: E402

try:
    from micrograd import nn as mg_nn
    from micrograd.engine import Value as MgValue
except ImportError:  # the peer is a dev dependency; without it the rows say so
    mg_nn = MgValue = None
torch = None  # imported in main(): the memory rows' child processes must not load it


def _import_torch() -> None:
    global torch
    try:
        import torch as _torch

        torch = _torch
    except ImportError:
        pass


def timed(fn: Callable[[], object], reclaim: bool = False) -> float:
    """Seconds for ``fn()``. Leftover garbage is collected before the clock starts, so neither
    side pays for the other's. With ``reclaim``, the clock also runs over collecting the garbage
    ``fn`` left: micrograd's graphs are reference cycles that only the cyclic collector frees,
    which a training loop pays for every step (chainrule's graphs are freed as they go). Workloads
    1 and 4 run under ``frozen_heap``, so that collections scan the workload's own objects and
    not every module the process has imported."""
    gc.collect()
    start = time.perf_counter()
    fn()
    if reclaim:
        gc.collect()
    return time.perf_counter() - start


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Move every object that exists now out of the collector's sight (``gc.freeze``), and back
    afterwards: collections inside then scan what the workload makes, not the modules loaded."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def alternate(ours: Callable[[], object], peer: Callable[[], object], rounds: int,
              reclaim: bool = False) -> tuple[float, float, float]:
    """Median seconds of ours and of the peer, and the median of the per-round ratios peer/ours."""
    mine, theirs, ratios = [], [], []
    for _ in range(rounds):
        a = timed(ours, reclaim)
        b = timed(peer, reclaim)
        mine.append(a)
        theirs.append(b)
        ratios.append(b / a)
    return statistics.median(mine), statistics.median(theirs), statistics.median(ratios)


# --- 1. micrograd's demo step ----------------------------------------------------------------

def demo_data() -> tuple[list[list[float]], list[float]]:
    X, y = nn.data.moons(n=100, noise=0.1, seed=1)
    return X, [2.0 * t - 1.0 for t in y]


def chainrule_demo_step() -> Callable[[], float]:
    X, y = demo_data()
    random.seed(1337)
    model = nn.MLP(2, [16, 16, 1])
    params = model.parameters()
    loss_fn = nn.HingeLoss()

    def step() -> float:
        scores = [model(x) for x in X]
        loss = loss_fn(scores, y) + 1e-4 * autograd.sum([p * p for p in params])
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= 0.01 * p.grad
        return loss.data

    return step


def micrograd_demo_step() -> Callable[[], float]:
    X, y = demo_data()
    random.seed(1337)
    model = mg_nn.MLP(2, [16, 16, 1])

    def step() -> float:  # micrograd's demo.ipynb loss(), then its update
        inputs = [list(map(MgValue, row)) for row in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        total = data_loss + reg_loss
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= 0.01 * p.grad
        return total.data

    return step


# --- 2. op throughput --------------------------------------------------------------------------

def chain(make_leaf: Callable[[float], object], n: int) -> Callable[[], object]:
    """A chain of n nodes alternating * and + with constants, forward then backward."""

    def run() -> object:
        x = make_leaf(1.0)
        y = x
        for _ in range(n // 2):
            y = y * 1.0000001 + 0.5e-7
        y.backward()  # type: ignore[attr-defined]
        return x.grad  # type: ignore[attr-defined]

    return run


def torch_leaf(value: float) -> object:
    return torch.tensor(value, dtype=torch.float64, requires_grad=True)


class BareNode:
    """Not chainrule: the least a pure-Python node can be, to measure the floor under row 2b.

    Four slots like chainrule's Value, the arithmetic and the one local derivative written
    inline, the plain number kept as a number (no constant node), and nothing else: no operation
    table, no type checks, no modes, no tags. ``backward`` is the same iterative topological
    sort and chain-rule loop, for one-operand nodes only, and without restoring anything.
    """

    __slots__ = ("data", "grad", "_edges", "_info")

    def __init__(self, data: float, edges: tuple = ()):
        self.data = data
        self.grad = 0.0
        self._edges = edges
        self._info = None

    def __mul__(self, c: float) -> "BareNode":
        return BareNode(self.data * c, (self, c))

    def __add__(self, c: float) -> "BareNode":
        return BareNode(self.data + c, (self, 1.0))

    def backward(self) -> None:
        order, seen, stack = [], set(), [self]
        while stack:
            node = stack.pop()
            if node is None:
                order.append(stack.pop())
            elif node not in seen:
                seen.add(node)
                if node._edges:
                    stack += [node, None, node._edges[0]]
                else:
                    order.append(node)
        self.grad = 1.0
        for node in reversed(order):
            if node._edges:
                child, local = node._edges
                child.grad += local * node.grad


# --- 3. memory ---------------------------------------------------------------------------------

def bytes_per_binary_node(value_type: Callable[[float], object], n: int = 100_000) -> float:
    """Traced bytes per node of a chain of n multiplications between existing Values."""
    gc.collect()
    a = value_type(1.0000001)
    keep = [value_type(1.0)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    y = keep[0]
    for _ in range(n):
        y = y * a
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del y
    return (after - before) / n


def peak_rss_of(script: str) -> float:
    """Peak resident memory (MiB) of a fresh Python running ``script``."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n{script}\n" \
           "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1]) / 1024


# --- 4. depth ----------------------------------------------------------------------------------

def deep_chain(n: int, paused: bool = False) -> float:
    """Seconds for a chain of n operation nodes (y = y * a + b, a and b leaves: depth, not
    constants, is measured), forward and backward. With ``paused`` the loop that builds it runs
    inside ``autograd.gc_paused()``, the scoped policy docs/performance.md suggests for big graphs built
    by hand (the collector would otherwise rescan the growing graph; it holds no cycles)."""

    def build() -> Value:
        a, b = Value(1.0000001), Value(1e-7)
        y = Value(1.0)
        for _ in range(n // 2):
            y = y * a + b
        return y

    def run() -> None:
        if paused:
            with autograd.gc_paused():
                y = build()
        else:
            y = build()
        y.backward()

    return timed(run)


def micrograd_depth() -> str:
    """What micrograd does with a mere 10,000-node chain."""
    if MgValue is None:
        return "not installed"
    try:
        chain(MgValue, 10_000)()
        return "10,000 nodes ran"
    except RecursionError:
        return "RecursionError at 10,000 nodes"


# --- 5. digits epoch ---------------------------------------------------------------------------

def digits_epoch(batches: int | None) -> tuple[Callable[[], object], Callable[[], object] | None]:
    X, y = nn.data.digits()
    X, y = X[:1344], y[:1344]
    if batches is not None:
        X, y = X[: 32 * batches], y[: 32 * batches]
    random.seed(0)
    model = nn.MLP(64, [32, 10])
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()

    def ours() -> object:
        for start in range(0, len(X), 32):
            loss = loss_fn([model(x) for x in X[start : start + 32]], y[start : start + 32])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.data

    if torch is None:
        return ours, None
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).double()
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    tX, ty = torch.tensor(X, dtype=torch.float64), torch.tensor(y)

    def theirs() -> object:
        for start in range(0, len(X), 32):
            loss = torch.nn.functional.cross_entropy(tmodel(tX[start : start + 32]), ty[start : start + 32])
            topt.zero_grad()
            loss.backward()
            topt.step()
        return loss.item()

    return ours, theirs


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


DEFAULT_OUT = Path(__file__).with_name("RESULTS.md")
PERFORMANCE_PAGE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def update_performance_page(text: str) -> None:
    """Put the results between the bench markers of the documentation's performance page."""
    page = PERFORMANCE_PAGE.read_text()
    if START in page and END in page:
        head, rest = page.split(START, 1)
        PERFORMANCE_PAGE.write_text(head + START + "\n" + text + END + rest.split(END, 1)[1])
        print(f"updated {PERFORMANCE_PAGE.relative_to(PERFORMANCE_PAGE.parent.parent)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per workload (default 7)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller workloads (a smoke run)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file (default bench/RESULTS.md)")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, mine: str, peer: str, ratio: str) -> None:
        rows.append((name, mine, peer, ratio))
        print(f"{name:<58} {mine:>16} {peer:>26} {ratio:>10}", flush=True)

    print(f"{'workload':<58} {'chainrule':>16} {'peer':>26} {'ratio':>10}")
    if mg_nn is not None:
        ours, peer = chainrule_demo_step(), micrograd_demo_step()
        with frozen_heap():
            a, b, r = alternate(ours, peer, rounds, reclaim=True)
        add("1. micrograd demo step (MLP 2-16-16-1, 100 moons)", f"{a * 1e3:.1f} ms", f"micrograd {b * 1e3:.0f} ms",
            f"{r:.1f}× faster")
    else:
        add("1. micrograd demo step", "-", "micrograd not installed", "-")

    _import_torch()  # after workload 1, whose collections should traverse only this small process
    compiled_rows.rows(rounds, alternate, add, torch, chainrule_demo_step,
                       micrograd_demo_step if mg_nn is not None else None, frozen_heap)
    n = 2_000 if args.quick else 20_000
    if mg_nn is not None:
        a, b, r = alternate(chain(Value, 600), chain(MgValue, 600), rounds * 3)
        add("2a. op chain, 600 nodes, forward+backward per node", f"{a / 600 * 1e9:.0f} ns",
            f"micrograd {b / 600 * 1e9:.0f} ns", f"{r:.1f}× faster")
    if torch is not None:
        a, b, r = alternate(chain(Value, n), chain(torch_leaf, n), rounds)
        add(f"2b. op chain, {n:,} nodes, forward+backward per node", f"{a / n * 1e9:.0f} ns",
            f"PyTorch 0-d {b / n * 1e9:.0f} ns", f"{r:.1f}× faster")
    else:
        add("2b. op chain vs PyTorch", "-", "PyTorch not installed", "-")
    if torch is not None:  # the floor under row 2b: no pure-Python engine can beat this node
        a, b, r = alternate(chain(BareNode, n), chain(torch_leaf, n), rounds)
        add("2c. the same chain of bare Python nodes (`BareNode`: the floor)", f"{a / n * 1e9:.0f} ns",
            f"PyTorch 0-d {b / n * 1e9:.0f} ns", f"{r:.1f}× faster")

    mine = bytes_per_binary_node(Value)
    theirs = bytes_per_binary_node(MgValue) if MgValue is not None else float("nan")
    add("3a. memory per binary node (tracemalloc)", f"{mine:.0f} B", f"micrograd {theirs:.0f} B",
        f"{theirs / mine:.1f}× smaller")
    if mg_nn is not None:
        steps = 3
        ours_rss = peak_rss_of(f"import bench.run as b\ns = b.chainrule_demo_step()\nfor _ in range({steps}): s()")
        peer_rss = peak_rss_of(f"import bench.run as b\ns = b.micrograd_demo_step()\nfor _ in range({steps}): s()")
        add(f"3b. peak RSS of workload 1 ({steps} steps, whole process)", f"{ours_rss:.0f} MiB",
            f"micrograd {peer_rss:.0f} MiB", f"{peer_rss / ours_rss:.1f}× smaller")

    depth = 200_000 if args.quick else 2_000_000
    note = micrograd_depth()
    with frozen_heap():  # PyTorch is loaded now: its objects are not what a user's collections scan
        add(f"4a. depth: {depth:,}-node chain forward+backward", f"{deep_chain(depth):.2f} s", f"micrograd: {note}", "-")
        add("4b. the same, built inside `autograd.gc_paused()`", f"{deep_chain(depth, paused=True):.2f} s", "as 4a", "-")

    ours, theirs = digits_epoch(4 if args.quick else None)
    if theirs is not None:
        a, b, r = alternate(ours, theirs, max(rounds // 2, 1) if not args.quick else 1)
        add("5. digits epoch, MLP 64-32-10, batch 32", f"{a:.2f} s", f"PyTorch {b * 1e3:.0f} ms", f"{1 / r:.0f}× slower")
    else:
        add("5. digits epoch", "-", "PyTorch not installed", "-")
    fit_rows.rows(max(rounds // 2, 1) if not args.quick else 1, add, torch)  # 5b-5d: fit(compile=True)

    from bench.gpt_bench import gpt_rows  # the capstone GPT against its pure-Python peer

    for row in gpt_rows(max(rounds // 2, 1) if not args.quick else 1, args.quick):
        add(*row)

    import bench.jax_peer as xla_rows  # 7a-7d: compile mode on XLA against hand-written JAX

    xla_rows.rows(3 if args.quick else rounds, alternate, add)

    header = (f"# Benchmark results\n\nMeasured by `make bench` (`bench/run.py`, {rounds} alternating rounds, medians) "
              f"on {cpu_name()}, Python {platform.python_version()}"
              f"{', PyTorch ' + torch.__version__ if torch is not None else ''}. Ratios are medians of round-by-round "
              "ratios; machines are noisy, so read them as orders of magnitude.\n\n")
    table = "| workload | chainrule | peer | ratio |\n| --- | --- | --- | --- |\n"
    table += "".join(f"| {w} | {m} | {p} | {r} |\n" for w, m, p, r in rows)
    args.out.write_text(header + table)
    print(f"wrote {args.out}")
    if args.out.resolve() == DEFAULT_OUT.resolve():
        update_performance_page(header.split("\n\n", 1)[1] + table)


if __name__ == "__main__":
    main()
