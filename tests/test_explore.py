"""The explorer page without a browser: what it contains, its size, its ids, the command that
writes it. (tests/test_browser.py steps through it in headless Chromium.)"""

from __future__ import annotations

import json
import random
import re
import time

import pytest
from conftest import needs_dot

import autograd
import nn
from autograd import Value, explore
from autograd.drawing import graphviz_program, static
from chainrule_cli.main import main

pytestmark = needs_dot  # the layout comes from Graphviz


def neuron():
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    return (x * w + b).tanh()


def seed_loss():
    random.seed(0)
    net = nn.Sequential(nn.Layer(2, 2), nn.Sigmoid(), nn.Layer(2, 2))
    return nn.CrossEntropyLoss()([net([0.5, -1.0])], [0])


def graph_of(n_nodes):
    """A graph of about ``n_nodes`` Values that reuses nodes (sums build up)."""
    random.seed(1)
    xs = [Value(random.uniform(-1, 1), label=f"x{i}") for i in range(8)]
    values = list(xs)
    while len(autograd.topological_order(values[-1])) < n_nodes - 2:
        a, b = random.choice(values[-12:]), random.choice(values)
        values.append((a * b).tanh() if random.random() < 0.5 else a + b * 0.5)
    return values[-1]


def payload(page):
    found = re.search(r'<script type="application/json" class="cr-data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def test_the_page_is_self_contained_and_makes_no_request(tmp_path):
    page = explore(seed_loss()).save(tmp_path / "page.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    addresses = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert addresses <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, addresses
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", page)
    assert "ipywidgets" not in page and "require(" not in page
    assert list(tmp_path.iterdir()) == [tmp_path / "page.html"]  # written whole: no partial file left


def test_the_page_carries_each_leafs_exact_number_and_the_tables_formulas():
    loss = seed_loss()
    page = explore(loss)._repr_html_()
    data = payload(page)
    order = autograd.topological_order(loss)
    assert [n["id"] for n in data["nodes"]] == [f"v{i}" for i in range(len(order))]
    for n, v in zip(data["nodes"], order):
        assert n["operands"] == [f"v{order.index(c)}" for c in v.children]
        if v.is_leaf:
            assert float(n["value"]) == v.data and n["op"] == ""  # exactly, as a double
        else:
            assert n["value"] is None and n["op"] == v.op
    used = {v._info.op for v in order if not v.is_leaf}
    assert set(data["rules"]) == {op.key for op in used}
    for op in used:  # the browser's formulas are the table's rows, written out once each
        assert page.count(f"return {op.js}; }}") == 1 and f"return {op.js_derivative}; }}" in page
        assert data["rules"][op.key]["explain"] == list(op.explain)


def test_every_operation_of_the_table_says_how_it_is_drawn_explained_and_run_in_the_browser():
    from autograd import ops

    rules_for = {"each": None, "halves": 3, "last": 2}
    for op in ops.TABLE.values():
        assert op.symbol_of(2) and op.js and op.js_derivative.strip(), op
        assert op.operands in rules_for and op.explain, op
        assert rules_for[op.operands] in (None, len(op.explain)), op


def test_two_explorers_in_one_notebook_do_not_share_ids():
    y = neuron()
    first, second = explore(y)._repr_html_(), explore(y)._repr_html_()
    ids = re.findall(r'\bid="([^"]+)"', first + second)
    assert len(ids) == len(set(ids)) >= 2  # the two explorers (and anything Graphviz names), each once
    assert re.search(r'class="cr-explorer" id="([^"]+)"', first).group(1) != re.search(
        r'class="cr-explorer" id="([^"]+)"', second).group(1)


def test_page_sizes_stay_under_a_megabyte(tmp_path):
    graph = graph_of(300)
    assert len(autograd.topological_order(graph)) >= 298
    for name, root in (("seed", seed_loss()), ("300", graph)):
        size = explore(root).save(tmp_path / f"{name}.html").stat().st_size
        assert size < 1_000_000, (name, size)


def test_depth_collapses_modules_into_boxes():
    loss = seed_loss()
    data = payload(explore(loss, depth=1)._repr_html_())
    hidden = [n for n in data["nodes"] if n["shown"] and n["shown"] != n["id"]]
    assert hidden and all(n["shown"].endswith("_box") for n in hidden)
    collapsed = payload(explore(loss, depth=0)._repr_html_())["nodes"]  # every operation computed all the same
    assert [(n["id"], n["op"]) for n in collapsed if n["op"]] == [(n["id"], n["op"]) for n in data["nodes"] if n["op"]]
    assert len(collapsed) == len(autograd.topological_order(loss))


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="expected a Value"):
        explore(3.0)
    with pytest.raises(ValueError, match="depth"):
        explore(neuron(), depth=-1)
    with pytest.raises(autograd.GraphTooLarge, match="max_nodes=5"):
        explore(neuron(), max_nodes=5)


def test_a_graph_no_layout_finishes_is_refused_at_once_even_with_no_max_nodes(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the layout program was started")

    monkeypatch.setattr(graphviz_program, "run", never)
    y = x = Value(1.0, label="x")
    for _ in range(50_000):
        y = y * 1.0001 + 0.5  # 200,001 values to draw (the constants too): hours of layout
    start = time.perf_counter()
    with pytest.raises(autograd.GraphTooLarge, match="200,001 nodes to draw, more than a layout program finishes "
                                                     "within 300 s.*MAX_LAYOUT_NODES = 25,000"):
        explore(y, max_nodes=None)
    assert time.perf_counter() - start < 5 and x.data == 1.0
    monkeypatch.setattr(static, "MAX_LAYOUT_NODES", 5)  # the limit is a setting: below it, pages are laid out
    with pytest.raises(autograd.GraphTooLarge, match="MAX_LAYOUT_NODES = 5"):
        explore(neuron(), max_nodes=None)


def test_chainrule_graph_writes_the_page(tmp_path, capsys):
    target = tmp_path / "page.html"
    code = main(["graph", "tanh(x*w + b)", "x=2", "w=-3", "b=6.88", "-o", str(target)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines()[-1] == f"wrote {target}"
    page = target.read_text(encoding="utf-8")
    names = {n["name"] for n in payload(page)["nodes"]}
    assert {"x (input)", "w (input)", "b (input)"} <= names
    assert page.startswith("<!DOCTYPE html>")


def test_labels_cannot_break_out_of_the_page(tmp_path):
    x = Value(1.0, label='</script><img src=x onerror=alert(1)> & "q"')
    y = (x * 2).exp()
    y.label = "<b>bold</b>"
    page = explore(y).save(tmp_path / "p.html").read_text(encoding="utf-8")
    assert "<img" not in page and "<b>" not in page
    names = {n["name"] for n in payload(page)["nodes"]}
    assert '</script><img src=x onerror=alert(1)> & "q" (input)' in names  # kept as text
    assert draw_source_ok(y)


def draw_source_ok(y):
    source = autograd.draw(y).source
    return "&lt;b&gt;bold&lt;/b&gt;" in source and "<img" not in source
