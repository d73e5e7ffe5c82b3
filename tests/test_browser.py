"""The explorer in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

The page is opened from a file, stepped with the keys, and what it shows is compared with
``backward()`` run in Python on the same graph (the oracle). Any console error, page error or
network request fails the test. Without a browser the tests skip (in CI they fail instead:
``scripts/setup.sh dev`` installs Playwright's Python package and Debian's chromium).
"""

from __future__ import annotations

import math
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from conftest import needs_dot, same

import autograd
import nn
from autograd import Value, explore

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHROMIUM = os.environ.get("CHAINRULE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = needs_dot


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {why}")
    pytest.skip(f"no browser for the explorer tests: {why}")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (scripts/setup.sh dev installs it)")
    if CHROMIUM is None:
        _unavailable("no chromium on PATH (apt-get install chromium, or set CHAINRULE_CHROMIUM)")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True, viewport={"width": 1200, "height": 760})
        yield context
        context.close()


class Page:
    """A page of the explorer with its console errors and network requests recorded."""

    def __init__(self, browser, path: Path):
        self.url = path.resolve().as_uri()
        self.page = browser.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("request", lambda r: r.url != self.url and self.problems.append(f"request: {r.url}"))
        start = time.perf_counter()
        self.page.goto(self.url)
        self.page.wait_for_selector(".cr-explorer[data-ready]")
        self.load_seconds = time.perf_counter() - start

    def press(self, key: str, times: int = 1) -> None:
        for _ in range(times):
            self.page.keyboard.press(key)

    def current(self, within: str = "") -> list[str]:
        return self.page.eval_on_selector_all(f"{within} g.cr-current[data-node^=v]",
                                              "gs => gs.map(g => g.getAttribute('data-node'))")

    def records(self, within: str = "") -> dict[str, dict]:
        """Each drawn Value's texts and its exact gradient as the page holds them."""
        return self.page.eval_on_selector_all(f"{within} g.node[data-node^=v]", """gs => Object.fromEntries(gs.map(g =>
            [g.getAttribute('data-node'), {texts: Array.from(g.querySelectorAll('text')).map(t => t.textContent),
             grad: g.getAttribute('data-grad')}]))""")

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    def close(self) -> None:
        self.page.close()
        assert not self.problems, self.problems


def seed_loss():
    random.seed(0)
    net = nn.Sequential(nn.Layer(2, 2), nn.Sigmoid(), nn.Layer(2, 2))
    return nn.CrossEntropyLoss()([net([0.5, -1.0])], [0])


def step_through(page: Page, root: Value) -> None:
    """Home, then → through both passes, checking each step against backward()'s numbers."""
    order = autograd.topological_order(root)
    operations = [i for i, v in enumerate(order) if v.children]
    root.backward()  # the oracle: every .grad is d root / d node
    page.press("Home")
    records = page.records()
    assert page.current() == [] and records
    for i in operations:  # before the forward pass, results are unknown
        if f"v{i}" in records:
            assert "data ?" in records[f"v{i}"]["texts"]
    for k, i in enumerate(operations, start=1):  # forward: one operation per step, data filled in
        page.press("ArrowRight")
        assert page.current() == [f"v{i}"]
        assert page.text(".cr-status").startswith(f"forward {k}/{len(operations)}")
        assert f"data {order[i].data:.4g}" in page.records()[f"v{i}"]["texts"]
    page.press("ArrowRight")  # the backward pass starts at the root with gradient 1
    root_id = f"v{len(order) - 1}"
    assert page.current() == [root_id] and "grad 1" in page.records()[root_id]["texts"]
    unknown = [n for n, r in page.records().items() if "grad ?" in r["texts"]]
    assert len(unknown) == sum(1 for v in order if not v.is_constant) - 1
    for k, i in enumerate(reversed(operations), start=1):  # backward: reverse topological order
        page.press("ArrowRight")
        assert page.current() == [f"v{i}"], k
        assert page.text(".cr-status").startswith(f"backward {k}/{len(operations)}")
        # the node passing its gradient on holds its complete gradient: backward()'s
        assert f"grad {order[i].grad:.4g}" in page.records()[f"v{i}"]["texts"]
        # one "local × incoming = contribution" per operand, on its edge and in the side panel
        lines = [line for line in page.text(".cr-step").splitlines() if line.startswith("→ ")]
        assert len(lines) == len(order[i].children)
        assert all(f" × {paren(order[i].grad)} = " in line for line in lines)
        assert page.page.locator(".cr-note").count() == len(order[i].children)
    page.press("End")
    check_final(page, order)
    page.press("ArrowLeft")
    page.press("End")
    check_final(page, order)


def paren(x: float) -> str:
    """``x`` as an operand in a product: negative numbers in parentheses, ``2 × (-3)``."""
    text = f"{x:.4g}"
    return f"({text})" if text.startswith("-") else text


def check_final(page: Page, order, within: str = "") -> None:
    """After End: every gradient as draw() prints it, and backward()'s as a double (to rounding:
    the browser's exp, log and tanh may differ from C's in the last bit)."""
    records = page.records(within)
    for i, v in enumerate(order):
        record = records[f"v{i}"]
        if v.is_constant:
            assert not any(t.startswith("grad") for t in record["texts"])
            continue
        assert f"grad {v.grad:.4g}" in record["texts"], (i, record)
        assert same(float(record["grad"]), v.grad, rel=1e-12, abs_=0.0), (i, record, v.grad)


def test_stepping_the_seed_network_shows_backwards_numbers(browser, tmp_path):
    loss = seed_loss()
    page = Page(browser, explore(loss).save(tmp_path / "seed.html"))
    print(f"seed network page: {(tmp_path / 'seed.html').stat().st_size} bytes, loaded in {page.load_seconds:.2f} s")
    step_through(page, loss)
    page.close()


def test_a_300_node_graph_steps_to_backwards_gradients(browser, tmp_path):
    random.seed(1)
    xs = [Value(random.uniform(-1, 1), label=f"x{i}") for i in range(8)]
    values = list(xs)
    while len(autograd.topological_order(values[-1])) < 298:
        a, b = random.choice(values[-12:]), random.choice(values)  # nodes reused: sums build up
        values.append((a * b).tanh() if random.random() < 0.5 else a + b * 0.5)
    root = values[-1]
    order = autograd.topological_order(root)
    page = Page(browser, explore(root).save(tmp_path / "big.html"))
    print(f"{len(order)}-node page: {(tmp_path / 'big.html').stat().st_size} bytes, loaded in {page.load_seconds:.2f} s")
    root.backward()
    page.press("End")
    check_final(page, order)
    page.close()


def test_hover_shows_the_rule_with_numbers_and_controls_work(browser, tmp_path):
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    y = (x * w + b).tanh()
    page = Page(browser, explore(y).save(tmp_path / "neuron.html"))
    page.page.hover(".cr-view g.node[data-node=op2]")  # x*w's operation: d(x·w)/dx = w = -3 by hand
    info = page.text(".cr-info")
    assert "d(a·b)/da = b = -3" in info and "d(a·b)/db = a = 2" in info and "data ?" in info
    page.page.click(".cr-next")
    assert page.current() == ["v2"]
    page.page.click(".cr-last")
    assert page.text(".cr-status").startswith("backward 3/3")
    page.page.click(".cr-prev")
    assert page.current() == ["v4"]
    page.page.fill(".cr-slider", "0")
    assert page.current() == []
    page.page.click(".cr-backward")
    assert page.current() == ["v5"] and page.text(".cr-status").startswith("backward starts")
    page.close()


def test_two_explorers_on_one_page_step_independently(browser, tmp_path):
    a, b = Value(1.5, label="a"), Value(-2.0, label="b")
    y = (a * b + a).tanh()
    first, second = explore(y), explore(y)
    path = tmp_path / "two.html"
    path.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                    + first._repr_html_() + second._repr_html_() + "</body></html>", encoding="utf-8")
    page = Page(browser, path)
    ids = page.page.eval_on_selector_all(".cr-explorer", "es => es.map(e => e.id)")
    assert len(ids) == 2 and ids[0] != ids[1]
    page.page.focus(f"#{ids[1]}")
    page.press("End")
    y.backward()
    check_final(page, autograd.topological_order(y), within=f"#{ids[1]}")
    assert page.current(f"#{ids[0]}") == []  # the first explorer did not move
    assert "grad ?" in [t for r in page.records(f"#{ids[0]}").values() for t in r["texts"]]
    page.close()


def test_a_constant_labelled_like_a_row_keeps_its_caption(browser, tmp_path):
    x = Value(2.0, label="grad x")
    c = autograd.constant(3.0)
    c.label = "grad c"
    y = x * c
    page = Page(browser, explore(y).save(tmp_path / "captions.html"))
    page.press("End")
    records = page.records()
    assert records["v1"]["texts"][0] == "grad c" and records["v1"]["texts"][-1] == "data 3"
    assert records["v0"]["texts"] == ["grad x (input)", "data 2", "grad 3"]
    page.close()


EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, -2.5, 1e-300, 1e300, 710.0, -745.0, 20.0,
         math.inf, -math.inf, math.nan]


def operations(rng: random.Random, leaves: list[Value]) -> Value:
    """A graph that uses every operation of the table (twice, in a random order) on ``leaves``;
    its structure depends on ``rng`` only, never on the leaves' values."""
    pool: list[Value] = list(leaves)

    def some(k: int) -> list[Value]:
        return [rng.choice(pool) for _ in range(k)]

    make = {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "pow": lambda a, b: a ** b,
        "pow_const": lambda a, b: a ** rng.choice([2, 3, -1, -2, 0.5, -0.5, 1.5, 0]),
        "neg": lambda a, b: -a, "abs": lambda a, b: abs(a), "exp": lambda a, b: a.exp(),
        "log": lambda a, b: a.log(), "log1p": lambda a, b: a.log1p(), "sqrt": lambda a, b: a.sqrt(),
        "tanh": lambda a, b: a.tanh(), "sigmoid": lambda a, b: a.sigmoid(), "relu": lambda a, b: a.relu(),
        "sum": lambda a, b: autograd.sum(some(3)),
        "dot": lambda a, b: autograd.dot(some(2), some(2), rng.choice([None, b])),
        "pick": lambda a, b: autograd.pick(some(3), rng.randrange(3)),
        "detached_max": lambda a, b: autograd.detached_max(some(3)),
        "bce": lambda a, b: autograd.binary_cross_entropy(a.sigmoid(), b.sigmoid()),
        "nll": lambda a, b: autograd.nll([x.exp() for x in some(2)], some(2), rng.randrange(2)),
    }
    assert set(make) == set(autograd.ops.TABLE)  # a new operation gets a line here
    kinds = sorted(make) * 2
    rng.shuffle(kinds)
    for kind in kinds:
        a, b = rng.choice(pool[-6:]), rng.choice(pool)
        if kind == "pow" and b.is_constant:
            b = leaves[0]
        pool.append(make[kind](a, b))
    return autograd.sum(pool[len(leaves):])


def build(seed: int, values: list[float]) -> Value:
    """The graph of ``seed`` on leaves (inputs, parameters, constants) holding ``values``."""
    kinds = [lambda x, k: Value(x, label=f"x{k}"), lambda x, k: autograd.Parameter(x, label=f"w{k}"),
             lambda x, k: autograd.constant(x)]
    return operations(random.Random(seed), [kinds[k % 3](x, k) for k, x in enumerate(values)])


def relative_error(got: float, want: float) -> float:
    if math.isnan(want) or math.isnan(got) or math.isinf(want) or math.isinf(got):
        return 0.0 if same(got, want) else math.inf
    return 0.0 if got == want else abs(got - want) / max(abs(want), 1e-300)


def test_changed_leaves_give_pythons_numbers_for_every_operation(browser, tmp_path):
    """After each set() on each leaf in turn, every node's data and grad as Python computes
    them for the same leaf values (each number within 1e-12 relative, or the same inf/nan)."""
    worst = 0.0
    for seed in range(3):
        rng = random.Random(100 + seed)
        values = [rng.uniform(-2, 2) for _ in range(9)]
        root = build(seed, values)
        order = autograd.topological_order(root)
        leaves = [v for v in order if v.is_leaf]
        indices = {id(v.children[-1]) for v in order if v.op in ("pick", "nll")}  # whole numbers: kept
        page = Page(browser, explore(root, max_nodes=None).save(tmp_path / f"ops{seed}.html"))
        for leaf in leaves:
            if id(leaf) in indices:
                continue
            x = rng.choice(EDGES) if rng.random() < 0.3 else rng.uniform(-3, 3)
            page.page.evaluate(f"window.chainrule.explorers[0].set('v{order.index(leaf)}', {x!r})"
                               .replace("inf", "Infinity").replace("nan", "NaN"))
            leaf.data = x  # the same graph, with this leaf changed, computed again by the engine: the oracle
            want = replay(order)
            want[-1].backward()
            got = page.page.evaluate("window.chainrule.explorers[0].nodes()")
            assert [g["id"] for g in got] == [f"v{i}" for i in range(len(want))]
            for g, v in zip(got, want):
                assert g["op"] == v.op
                for field, number in (("data", v.data), ("grad", v.grad)):
                    error = relative_error(g[field], number)
                    assert error <= 1e-12, (seed, g, field, number)
                    worst = max(worst, error)
        page.close()
    print(f"largest relative difference from Python: {worst:.3g}")


def replay(order: list[Value]) -> list[Value]:
    """The graph ``order`` computed again by the engine from its leaves' current numbers: new
    leaves of the same kinds, and each operation recorded anew from its row of the table."""
    new: dict[Value, Value] = {}
    for v in order:
        if v.is_leaf:
            new[v] = (autograd.constant if v.is_constant else autograd.Parameter if v.is_parameter else Value)(v.data)
        else:
            new[v] = autograd.engine.record(v._info.op, *(new[c] for c in v.children))
    return [new[v] for v in order]


def test_steps_and_rules_show_their_numbers_negatives_in_parentheses(browser, tmp_path):
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    y = (x * w + b).tanh()
    page = Page(browser, explore(y).save(tmp_path / "neuron.html"))
    page.press("ArrowRight")  # x*w, an unlabelled node: called n1 in the drawing and in the step
    assert page.text(".cr-status") == "forward 1/3: n1 = x × w = 2 × (-3) = -6"
    assert "n1" in page.records()["v2"]["texts"]
    page.page.hover(".cr-view g.node[data-node=op5]")
    t = 0.88  # tanh(x*w + b) = tanh(0.88); its derivative by hand: 1 - tanh(0.88)**2
    assert f"d tanh(a)/da = 1 − tanh²(a) = {1 - math.tanh(t) ** 2:.4g}" in page.text(".cr-info")
    page.close()

    scores = [Value(2.0, label="s0"), Value(1.0, label="s1")]
    shifted = [v - autograd.detached_max(scores) for v in scores]
    loss = autograd.nll([d.exp() for d in shifted], shifted, Value(0.0, label="y"))
    order = autograd.topological_order(loss)
    page = Page(browser, explore(loss).save(tmp_path / "nll.html"))
    page.press("End")
    page.page.hover(f".cr-view g.node[data-node=op{len(order) - 1}]")
    s = math.exp(-1.0)  # (e_0 - 1) + e_1 with e_0 = exp(0), e_1 = exp(1 - 2)
    info = page.text(".cr-info").splitlines()
    for rule in (f"d nll/de0 = 1/(1 + (e_y − 1) + Σ_{{j≠y}} e_j) = {1 / (1 + s):.4g}",
                 f"d nll/de1 = 1/(1 + (e_y − 1) + Σ_{{j≠y}} e_j) = {1 / (1 + s):.4g}",
                 "d nll/dd0 = -1", "d nll/dd1 = 0", "d nll/dy = 0 (a class index)"):
        assert any(line.startswith(rule + "   (operand ") for line in info), (rule, info)
    biggest = next(i for i, v in enumerate(order) if v.op == "max")
    page.page.hover(f".cr-view g.node[data-node=op{biggest}]")
    assert page.text(".cr-info").count("d max/da") == 2 and "detached: passes no gradient" in page.text(".cr-info")
    page.close()


def test_typing_a_value_and_a_gradient_step_recompute_the_page(browser, tmp_path):
    w, x = autograd.Parameter(0.5, label="w"), Value(2.0, label="x")
    loss = (w * x - 3.0) ** 2
    page = Page(browser, explore(loss).save(tmp_path / "train.html"))
    page.page.click(".cr-view g.node[data-node=v1]")  # x: a leaf, so the panel offers its value
    page.page.fill(".cr-value", "-4")
    page.page.press(".cr-value", "Enter")
    page.press("End")  # typed into the field, not a step
    assert page.current() == []
    page.page.click(".cr-last")
    assert "data -4" in page.records()["v1"]["texts"]
    # (0.5·(-4) - 3)² = 25; d/dw = 2·(w·x - 3)·x = 2·(-5)·(-4) = 40 by hand
    assert "data 25" in page.records()["v6"]["texts"] and "grad 40" in page.records()["v0"]["texts"]
    page.page.fill(".cr-lr", "0.01")
    page.page.click(".cr-descend")  # w: 0.5 - 0.01·40 = 0.1; loss (0.1·(-4) - 3)² = 11.56
    assert "data 0.1" in page.records()["v0"]["texts"] and "data 11.56" in page.records()["v6"]["texts"]
    assert "25 → 11.56" in page.text(".cr-step")
    page.page.fill(".cr-value", "two")
    page.page.press(".cr-value", "Enter")
    assert "not a number" in page.text(".cr-info") and "data -4" in page.records()["v1"]["texts"]
    page.close()
