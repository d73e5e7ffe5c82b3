"""The explorer in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

The page is opened from a file, stepped with the keys, and what it shows is compared with
``backward()`` run in Python on the same graph (the oracle). Any console error, page error or
network request fails the test. Without a browser the tests skip (in CI they fail instead:
``scripts/setup.sh dev`` installs Playwright's Python package and Debian's chromium).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from conftest import needs_dot

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
        assert all(f" × {order[i].grad:.4g} = " in line for line in lines)
        assert page.page.locator(".cr-note").count() == len(order[i].children)
    page.press("End")
    check_final(page, order)
    page.press("ArrowLeft")
    page.press("End")
    check_final(page, order)


def check_final(page: Page, order, within: str = "") -> None:
    """After End: every gradient as draw() prints it, and exactly backward()'s as a double."""
    records = page.records(within)
    for i, v in enumerate(order):
        record = records[f"v{i}"]
        if v.is_constant:
            assert not any(t.startswith("grad") for t in record["texts"])
            continue
        assert f"grad {v.grad:.4g}" in record["texts"], (i, record)
        assert float(record["grad"]) == v.grad


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
