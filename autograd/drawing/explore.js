// chainrule's explorer: steps through a graph's forward and backward passes on Graphviz's SVG.
// Every number shown was formatted in Python (see explore.py); this script only chooses which
// texts to show at each step, highlights, and pans and zooms. It loads nothing.
// The numbers are computed here, from each leaf's exact value, by the forward passes and local
// derivatives of the operation table (explore.py writes them out as chainruleOperations from
// each row's `js` and `js_derivative`), so a leaf changed in the page changes everything after
// it. The helpers below are the ones the table's JavaScript forms call: IEEE-754 versions of
// ops.py's float functions, giving the same doubles (C's pow, PyTorch's conventions).
var chainruleHelpers = (function () {
  "use strict";
  var Z = {masked: true};  // a derivative of 0 that stays 0 times any gradient (ops.MASKED_ZERO)
  function indexOf(index, n, name) {
    if (!(index >= 0 && index < n && index === Math.floor(index))) {
      throw new Error(name + ": index " + index + " is not a whole number from 0 to " + (n - 1) +
                      "; set it to a number in that range");
    }
    return index;
  }
  function sum(xs) { var t = 0; for (var i = 0; i < xs.length; i++) t = t + xs[i]; return t; }
  function log(a) { return a > 0 ? Math.log(a) : a === 0 ? -Infinity : NaN; }
  function atLeast(x, floor) { return floor > x ? floor : x; }  // Python's max(x, floor): nan stays
  function onehot(index, n, value) {
    var out = [];
    for (var k = 0; k < n; k++) out.push(k === index ? value : Z);
    return out;
  }
  function nllSum(index, exps) {
    var y = indexOf(index, exps.length, "nll");
    return (exps[y] - 1) + sum(exps.slice(0, y).concat(exps.slice(y + 1)));
  }
  var F = {
    pow: function (a, b) {  // C's pow: 1 ** anything and (-1) ** ±inf are 1 (JavaScript says nan)
      if (b === 0 || a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
      return Math.pow(a, b);
    },
    powConst: function (a, b) {  // PyTorch's special exponents (ops.power_const)
      switch (b) {
        case 2: return a * a;
        case 3: return a * a * a;
        case -1: return 1 / a;
        case -2: return 1 / (a * a);
        case 0.5: return Math.sqrt(a);
        case -0.5: return 1 / Math.sqrt(a);
      }
      return F.pow(a, b);
    },
    sign: function (a) { return a > 0 ? 1 : a < 0 ? -1 : 0; },
    sigmoid: function (a) { var e = Math.exp(-Math.abs(a)); return a >= 0 ? 1 / (1 + e) : e / (1 + e); },
    step: function (y) { return y <= 0 ? Z : 1; },
    sum: sum,
    dot: function (x) {
      var n = x.length >> 1, t = 0;
      for (var i = 0; i < n; i++) t = t + x[i] * x[n + i];
      return x.length % 2 ? t + x[x.length - 1] : t;
    },
    dDot: function (x) {
      var n = x.length >> 1;
      return x.slice(n, 2 * n).concat(x.slice(0, n), x.length % 2 ? [1] : []);
    },
    pick: function (x) { return x[indexOf(x[x.length - 1], x.length - 1, "pick")]; },
    onehot: onehot,
    largest: function (x) {
      for (var i = 0; i < x.length; i++) if (x[i] !== x[i]) return NaN;
      return x.reduce(function (a, b) { return a > b ? a : b; });
    },
    bce: function (p, y) {
      var floor = chainruleConstants.bceLogFloor;
      return (y - 1) * atLeast(Math.log1p(-p), floor) - y * atLeast(log(p), floor);
    },
    dBce: function (p, y) {
      var q = (1 - p) * p, eps = chainruleConstants.bceEpsilon;
      return [(p - y) / (q < eps ? eps : q), -log(p / (1 - p))];
    },
    nll: function (x) {
      var n = x.length >> 1, y = x[x.length - 1];
      return Math.log1p(nllSum(y, x.slice(0, n))) - x[n + indexOf(y, n, "nll")];
    },
    dNll: function (x) {
      var n = x.length >> 1, y = x[x.length - 1], d = 1 / (nllSum(y, x.slice(0, n)) + 1), out = [];
      for (var k = 0; k < n; k++) out.push(d);
      return out.concat(onehot(y, n, -1), [Z]);
    }
  };
  // A number as Python's format(x, ".4g") writes it (ties to even, as Python rounds)
  function format(x) {
    if (x !== x) return "nan";
    if (x === Infinity || x === -Infinity) return x > 0 ? "inf" : "-inf";
    if (x === 0) return 1 / x < 0 ? "-0" : "0";
    var sign = x < 0 ? "-" : "", e = Math.abs(x).toExponential(3), exact = Math.abs(x).toExponential(40);
    if (/^\d\.\d\d[02468]50*e/.test(exact)) e = exact.slice(0, 5) + exact.slice(exact.indexOf("e"));
    var digits = e.charAt(0) + e.slice(2, 5), power = +e.slice(e.indexOf("e") + 1);
    function point(whole, fraction) { fraction = fraction.replace(/0+$/, ""); return fraction ? whole + "." + fraction : whole; }
    var text;
    if (power < -4 || power >= 4) {
      text = point(digits.charAt(0), digits.slice(1)) + "e" + (power < 0 ? "-" : "+") +
        (Math.abs(power) < 10 ? "0" : "") + Math.abs(power);
    } else if (power >= 0) {
      text = point(digits.slice(0, power + 1), digits.slice(power + 1));
    } else {
      text = point("0", "0000".slice(0, -power - 1) + digits);
    }
    return sign + text;
  }
  return {F: F, Z: Z, format: format};
}());

function chainruleExplorer(uid) {
  "use strict";
  var root = document.getElementById(uid);
  if (!root || root.getAttribute("data-ready")) return;
  root.setAttribute("data-ready", "1");
  var data = JSON.parse(root.querySelector("script.cr-data").textContent);
  var view = root.querySelector(".cr-view"), svg = view.querySelector("svg");
  var $ = function (cls) { return root.querySelector("." + cls); };
  var NS = "http://www.w3.org/2000/svg";
  var H = chainruleHelpers, Z = H.Z, fmt = H.format, OPS = chainruleOperations(H.F, Z);
  var order = data.nodes, byId = {}, shapes = {}, edges = {};
  order.forEach(function (n) {
    byId[n.id] = n;
    if (n.leaf) n.data = n.value === "inf" ? Infinity : n.value === "-inf" ? -Infinity : n.value === "nan" ? NaN : +n.value;
  });
  var forward = order.filter(function (n) { return !n.leaf; }).map(function (n) { return n.id; });
  var F = forward.length, B = forward.length, T = F + 1 + B;
  var steps = [];  // the backward pass, computed: steps[k] is the k-th node to pass its gradient on

  function paren(x) { var s = fmt(x); return s.charAt(0) === "-" ? "(" + s + ")" : s; }  // 2 × (-3)
  function nameOf(n) { return n.name || paren(n.data); }  // an unlabelled constant is its number
  function term(n) { return n.label || nameOf(n); }  // in an expression: x × w, not x (input) × w (input)

  function compute() {  // forward, then backward: every data, local derivative, contribution and grad
    order.forEach(function (n) {
      if (n.leaf) return;
      var x = n.operands.map(function (o) { return byId[o].data; }), op = OPS[n.key];
      n.data = op.f(x, x[0], x[1]);
      n.locals = op.d(x, x[0], x[1], n.data);
    });
    var grads = {};
    grads[data.root] = 1;
    steps = [];
    for (var i = order.length - 1; i >= 0; i--) {
      var n = order[i];
      if (n.leaf) continue;
      var g = grads[n.id];
      steps.push({node: n.id, grad: g, contributions: n.operands.map(function (o, k) {
        var local = n.locals[k], c = local === Z ? 0 : local * g, before = grads[o];
        var after = before === undefined ? c : before + c;
        grads[o] = after;
        return {to: o, local: local === Z ? 0 : local, contribution: c, before: before, after: after};
      })});
    }
    order.forEach(function (n) { n.grad = grads[n.id]; });
  }

  function forwardText(n) {  // e.g. "x × w = 2 × (-3) = -6"
    var ops = n.operands.map(function (o) { return byId[o]; }), sym = n.symbol;
    function body(texts) {
      if (texts.length === 2 && ["+", "-", "*", "/", "**"].indexOf(n.op) >= 0) {
        return texts[0] + " " + (n.op === "**" ? "^" : sym) + " " + texts[1];
      }
      if (n.op === "dot") {
        var h = texts.length >> 1, terms = [];
        for (var k = 0; k < h; k++) terms.push(texts[k] + "·" + texts[h + k]);
        if (texts.length % 2) terms.push(texts[texts.length - 1]);
        return terms.join(" + ");
      }
      if (n.op === "sum") return texts.join(" + ");
      return sym + "(" + texts.join(", ") + ")";
    }
    var numbers = body(ops.map(function (o) { return paren(o.data); }));
    var names = ops.length <= 2 ? body(ops.map(term)) : null;
    return (names && names !== numbers ? names + " = " : "") + numbers + " = " + fmt(n.data);
  }

  function place(layout, k, count) {  // which rule of the row's explain, and k's place in its group
    if (layout === "halves") {
      var half = count >> 1;
      return k < half ? [0, k] : k < 2 * half ? [1, k - half] : [2, 0];
    }
    if (layout === "last") return k < count - 1 ? [0, k] : [1, 0];
    return [k, k];
  }
  function rule(n, k) {  // d n / d (operand k), the row's explanation with the numbers put in
    var row = data.rules[n.key], count = n.operands.length, local = n.locals[k] === Z ? 0 : n.locals[k];
    if (!row || !row.explain.length) return "d " + n.op + "/d operand " + (k + 1) + " = " + fmt(local);
    var where = place(row.operands, k, count), half = count >> 1;
    var text = row.explain[Math.min(where[0], row.explain.length - 1)].split("{k}").join(String(where[1]));
    if (text.indexOf("{partner}") >= 0) {
      var other = count === 2 ? 1 - k : k < half ? k + half : k - half;
      text = text.split("{partner}").join(fmt(byId[n.operands[other]].data));
    }
    return text.split("{local}").join(fmt(local));
  }

  // Graphviz names each shape and edge in a <title>: index them, then drop the titles
  // (the browser would show them as tooltips).
  svg.querySelectorAll("g.node, g.edge").forEach(function (g) {
    var title = g.querySelector("title");
    if (!title) return;
    var name = title.textContent;
    title.parentNode.removeChild(title);
    if (g.getAttribute("class") === "node") { shapes[name] = g; g.setAttribute("data-node", name); }
    else edges[name] = g;
  });
  var middles = {};  // measure every shape first: changing the SVG between measures re-lays it out
  order.forEach(function (n) {
    var g = n.shown === n.id ? shapes[n.id] : null;
    if (g) { var box = g.getBBox(); middles[n.id] = box.x + box.width / 2; }
  });
  order.forEach(function (n) {
    var g = n.shown === n.id ? shapes[n.id] : null;
    if (!g) return;
    var middle = middles[n.id];
    // a record's rows are its caption (any text, even "grad x"), then data, then grad (none for a constant)
    var texts = g.querySelectorAll("text"), last = texts.length - 1;
    n.dataEl = texts[n.constant ? last : last - 1];
    n.gradEl = n.constant ? null : texts[last];
    [n.dataEl, n.gradEl].forEach(function (t) {
      if (!t) return;
      t.setAttribute("text-anchor", "middle");  // texts change length: keep them centred in their cells
      t.setAttribute("x", middle);
    });
  });
  var svgTop = svg.querySelector("g");

  var cur = 0, known = {}, grads = {}, picked = null, timer = null, trained = "";

  function clear(cls) {
    root.querySelectorAll("." + cls).forEach(function (e) { e.classList.remove(cls); });
  }
  function setText(el, text, unknown, fresh) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("cr-unknown", unknown);
    el.classList.toggle("cr-fresh", fresh);
  }
  function mark(id, cls) {  // a node's record and its operation circle (or the box hiding it)
    var n = byId[id];
    if (!n || !n.shown) return;
    if (shapes[n.shown]) shapes[n.shown].classList.add(cls);
    if (n.shown === n.id && shapes["op" + id.slice(1)]) shapes["op" + id.slice(1)].classList.add(cls);
  }
  function note(edge, lines) {  // a label where an edge leaves its operand: local × incoming = contribution
    var path = edge && edge.querySelector("path");
    if (!path) return;
    // operands sit one above the other, so labels at their edges' tails do not overlap
    var p = path.getPointAtLength(Math.min(4, path.getTotalLength() / 4));
    var g = document.createElementNS(NS, "g");
    g.setAttribute("class", "cr-note");
    var rect = document.createElementNS(NS, "rect");
    g.appendChild(rect);
    lines.forEach(function (line, k) {
      var t = document.createElementNS(NS, "text");
      t.setAttribute("x", p.x + 3);
      t.setAttribute("y", p.y + 3 + 12 * k - 6 * (lines.length - 1));
      t.textContent = line;
      g.appendChild(t);
    });
    svgTop.appendChild(g);
    var box = g.getBBox();
    rect.setAttribute("x", box.x - 3); rect.setAttribute("y", box.y - 2);
    rect.setAttribute("width", box.width + 6); rect.setAttribute("height", box.height + 4);
    rect.setAttribute("rx", 3);
  }

  function show(t) {
    cur = Math.max(0, Math.min(T, t));
    known = {}; grads = {};
    order.forEach(function (n) { if (n.leaf) known[n.id] = true; });
    for (var k = 0; k < Math.min(cur, F); k++) known[forward[k]] = true;
    var fresh = {}, done = cur - F - 1;  // backward steps applied
    if (cur > F) grads[data.root] = 1;
    for (k = 0; k < done; k++) {
      steps[k].contributions.forEach(function (c) { grads[c.to] = c.after; });
    }
    clear("cr-current"); clear("cr-operand"); clear("cr-flow");
    root.querySelectorAll(".cr-note").forEach(function (e) { e.parentNode.removeChild(e); });
    var status, lines = [];
    if (cur === 0) {
      status = "start: the graph as built, inputs and parameters known; → runs the forward pass";
      lines.push("Forward pass: " + F + " operations, one per step.\nBackward pass: " + B + " steps.");
    } else if (cur <= F) {
      var n = byId[forward[cur - 1]];
      fresh[n.id] = "data";
      mark(n.id, "cr-current");
      status = "forward " + cur + "/" + F + ": " + n.name + " = " + forwardText(n);
      lines.push(n.name + " = " + forwardText(n));
      n.operands.forEach(function (o) { mark(o, "cr-operand"); });
    } else if (done === 0) {
      var r = byId[data.root];
      fresh[r.id] = "grad";
      mark(r.id, "cr-current");
      status = "backward starts: d " + r.name + " / d " + r.name + " = 1";
      lines.push("The gradient of the output with respect to itself is 1.\n→ passes it back, one node per step.");
    } else {
      var step = steps[done - 1], node = byId[step.node];
      mark(node.id, "cr-current");
      status = "backward " + done + "/" + B + ": " + node.name + " (grad " + fmt(step.grad) + ") passes its gradient on";
      lines.push(node.name + ": grad " + fmt(step.grad) + " is complete; for each operand,\nlocal × incoming = contribution:");
      step.contributions.forEach(function (c, k) {
        var o = byId[c.to];
        var text = paren(c.local) + " × " + paren(step.grad) + " = " + fmt(c.contribution);
        var sum = c.before === undefined ? "" : paren(c.before) + " + " + paren(c.contribution) + " = " + fmt(c.after);
        fresh[c.to] = "grad";
        mark(c.to, "cr-operand");
        var tail = o.shown || "", edge = edges[tail + "->op" + node.id.slice(1)] || edges[tail + "->" + (node.shown || "")];
        if (edge) edge.classList.add("cr-flow");
        note(edge, sum ? [text, "Σ " + sum] : [text]);
        lines.push("→ " + nameOf(o) + ": " + text + (sum ? "\n   grad adds up: " + sum : "") + "\n   " + rule(node, k));
      });
    }
    if (trained) lines.push(trained);
    order.forEach(function (n) {
      setText(n.dataEl, "data " + (known[n.id] ? fmt(n.data) : "?"), !known[n.id], fresh[n.id] === "data");
      var g = grads[n.id];
      setText(n.gradEl, "grad " + (g !== undefined ? fmt(g) : "?"), g === undefined, fresh[n.id] === "grad");
      if (n.gradEl) {
        var s = shapes[n.id];
        if (g !== undefined) s.setAttribute("data-grad", String(g)); else s.removeAttribute("data-grad");
      }
    });
    follow(root.querySelector("g.cr-current"));
    $("cr-status").textContent = status;
    $("cr-step").textContent = lines.join("\n");
    $("cr-slider").value = String(cur);
    $("cr-forward").classList.toggle("cr-on", cur >= 1 && cur <= F);
    $("cr-backward").classList.toggle("cr-on", cur > F);
    if (picked) info(picked);
  }

  function parse(text) {  // a number as typed: 2, -0.5, 1e-3, inf, -inf, nan
    var t = String(text).trim().toLowerCase(), special = {"inf": Infinity, "+inf": Infinity, "-inf": -Infinity,
      "infinity": Infinity, "-infinity": -Infinity, "nan": NaN};
    if (t in special) return special[t];
    var x = t === "" ? NaN : Number(t);
    if (x !== x) throw new Error("not a number: " + JSON.stringify(String(text)) + "; type one such as 2, -0.5, 1e-3, inf");
    return x;
  }
  function set(id, value) {  // change a leaf, recompute everything, show it at the current step
    var n = byId[id];
    if (!n) throw new Error("set: no node " + JSON.stringify(id) + "; ids are those of nodes()");
    if (!n.leaf) throw new Error("set: " + id + " (" + n.name + ") is computed by " + n.op + "; set a leaf");
    var x = typeof value === "number" ? value : parse(value), old = n.data;
    n.data = x;
    try { compute(); } catch (error) { n.data = old; compute(); throw error; }
    show(cur);
  }
  function descend() {  // one step of gradient descent: every parameter moves by -lr × grad
    var lr = parse($("cr-lr").value), learned = order.filter(function (n) { return n.parameter; });
    if (!learned.length) learned = order.filter(function (n) { return n.leaf && !n.constant; });
    var before = byId[data.root].data, old = learned.map(function (n) { return n.data; });
    learned.forEach(function (n) { n.data = n.data - lr * n.grad; });
    try { compute(); } catch (error) {
      learned.forEach(function (n, k) { n.data = old[k]; });
      compute();
      throw error;
    }
    var after = byId[data.root].data;
    trained = "gradient step (lr " + fmt(lr) + ", " + learned.length + " values moved by −lr × grad):\n" +
      byId[data.root].name + " " + fmt(before) + " → " + fmt(after) + " (change " + fmt(after - before) + ")";
    show(T);
  }

  function info(name) {  // a shape's node: operation, rule with numbers, data, grad
    var id = /^op\d+$/.test(name) ? "v" + name.slice(2) : name, n = byId[id];
    if (!n) {
      var inside = data.nodes.filter(function (m) { return m.shown === name; }).length;
      $("cr-info").textContent = "a collapsed module: " + inside + " nodes inside.\nPass a larger depth= to open it.";
      return;
    }
    var g = grads[id];
    var text = nameOf(n) + "\n" + (n.leaf ? "a leaf: " + n.kind : "operation " + n.op + ":  " + forwardText(n)) +
      "\ndata " + (known[id] ? fmt(n.data) : "?") + (n.constant ? "" : "\ngrad " + (g !== undefined ? fmt(g) : "?"));
    if (n.operands.length) text += "\n\nlocal derivatives:\n" + n.operands.map(function (o, k) {
      return rule(n, k) + "   (operand " + nameOf(byId[o]) + ")";
    }).join("\n");
    $("cr-info").textContent = text;
  }

  // pan and zoom by moving the SVG's viewBox
  svg.removeAttribute("width"); svg.removeAttribute("height");
  var vb0 = svg.viewBox.baseVal, full = {x: vb0.x, y: vb0.y, w: vb0.width, h: vb0.height}, vb = null;
  function setBox(b) { vb = b; svg.setAttribute("viewBox", [b.x, b.y, b.w, b.h].join(" ")); }
  function fit(readable) {  // the whole graph, or (readable) no smaller than 3/4 size, from the left
    var cw = view.clientWidth || 800;
    var scale = Math.min(cw / full.w, 1.6);
    if (readable) scale = Math.max(scale, 0.75);
    view.style.height = Math.max(160, Math.min(520, full.h * scale + 8)) + "px";
    var ch = view.clientHeight || 520;
    scale = Math.min(scale, Math.max(ch / full.h, readable ? 0.75 : 0));
    var w = cw / scale, h = ch / scale;
    setBox({x: full.x - Math.max(0, (w - full.w) / 2), y: full.y - Math.max(0, (h - full.h) / 2), w: w, h: h});
  }
  function follow(el) {  // pan so that a highlighted shape is in view
    if (!el || !el.getScreenCTM || !vb) return;
    var b = el.getBBox(), m = svg.getScreenCTM().inverse().multiply(el.getScreenCTM());
    var p = svg.createSVGPoint();
    p.x = b.x + b.width / 2; p.y = b.y + b.height / 2;
    p = p.matrixTransform(m);
    var mx = vb.w * 0.15, my = vb.h * 0.15;
    if (p.x < vb.x + mx || p.x > vb.x + vb.w - mx || p.y < vb.y + my || p.y > vb.y + vb.h - my) {
      setBox({x: p.x - vb.w / 2, y: p.y - vb.h / 2, w: vb.w, h: vb.h});
    }
  }
  function zoom(factor, cx, cy) {
    var w = vb.w * factor, h = vb.h * factor;
    setBox({x: cx - (cx - vb.x) * factor, y: cy - (cy - vb.y) * factor, w: w, h: h});
  }
  function toGraph(ev) {
    var r = svg.getBoundingClientRect();
    return {x: vb.x + (ev.clientX - r.left) / r.width * vb.w, y: vb.y + (ev.clientY - r.top) / r.height * vb.h};
  }
  var drag = null;
  view.addEventListener("pointerdown", function (ev) {
    drag = {x: ev.clientX, y: ev.clientY, box: vb, moved: false};
  });
  view.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (!drag.moved) return;
    var r = svg.getBoundingClientRect();
    setBox({x: drag.box.x - dx * drag.box.w / r.width, y: drag.box.y - dy * drag.box.h / r.height,
            w: drag.box.w, h: drag.box.h});
  });
  window.addEventListener("pointerup", function () { setTimeout(function () { drag = null; }, 0); });
  view.addEventListener("wheel", function (ev) {
    if (document.activeElement !== root && !ev.ctrlKey) return;  // never steal a notebook's scrolling
    ev.preventDefault();
    var p = toGraph(ev);
    zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, p.x, p.y);
  }, {passive: false});

  svg.addEventListener("mouseover", function (ev) {
    var g = ev.target.closest && ev.target.closest("g.node");
    if (g && !picked) info(g.getAttribute("data-node"));
  });
  svg.addEventListener("click", function (ev) {
    if (drag && drag.moved) return;
    var g = ev.target.closest && ev.target.closest("g.node");
    clear("cr-picked");
    picked = g ? g.getAttribute("data-node") : null;
    if (g) { g.classList.add("cr-picked"); info(picked); }
    edit(picked && byId[picked] && byId[picked].leaf ? byId[picked] : null);
  });

  var editing = null;  // the leaf whose value the side panel's field changes
  function edit(n) {
    editing = n;
    $("cr-edit").hidden = !n;
    if (!n) return;
    $("cr-edit-name").textContent = nameOf(n);
    $("cr-value").value = String(n.data);
    $("cr-value").focus();
    $("cr-value").select();
  }
  function problem(error) { $("cr-info").textContent = String(error.message || error); }
  $("cr-value").addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" || !editing) return;
    try { set(editing.id, ev.target.value); } catch (error) { problem(error); }
  });
  $("cr-value").addEventListener("change", function (ev) {
    if (!editing) return;
    try { set(editing.id, ev.target.value); } catch (error) { problem(error); }
  });
  $("cr-descend").onclick = function () { try { descend(); } catch (error) { problem(error); } };

  function play() {
    if (timer) { clearInterval(timer); timer = null; $("cr-play").textContent = "▶ play"; return; }
    if (cur >= T) show(0);
    $("cr-play").textContent = "⏸ pause";
    timer = setInterval(function () { if (cur >= T) play(); else show(cur + 1); }, 900);
  }
  $("cr-slider").max = String(T);
  $("cr-slider").addEventListener("input", function () { show(+this.value); });
  $("cr-first").onclick = function () { show(0); };
  $("cr-prev").onclick = function () { show(cur - 1); };
  $("cr-next").onclick = function () { show(cur + 1); };
  $("cr-last").onclick = function () { show(T); };
  $("cr-play").onclick = play;
  $("cr-forward").onclick = function () { show(1); };
  $("cr-backward").onclick = function () { show(F + 1); };
  $("cr-fit").onclick = function () { fit(false); };
  root.addEventListener("keydown", function (ev) {
    if (ev.target.tagName === "INPUT" && ev.target.type === "text") return;  // typing a number
    var keys = {ArrowRight: cur + 1, ArrowLeft: cur - 1, Home: 0, End: T};
    if (ev.key in keys) { ev.preventDefault(); show(keys[ev.key]); }
    else if (ev.key === "+" || ev.key === "=") zoom(1 / 1.25, vb.x + vb.w / 2, vb.y + vb.h / 2);
    else if (ev.key === "-") zoom(1.25, vb.x + vb.w / 2, vb.y + vb.h / 2);
  });
  compute();
  fit(true);
  show(0);

  // The scripting hook: window.chainrule.explorers lists the page's explorers in page order.
  var hook = {
    id: uid, element: root,
    nodes: function () {
      return order.map(function (n) {
        return {id: n.id, label: n.label, op: n.op, data: n.data, grad: n.grad};
      });
    },
    set: set
  };
  var registry = window.chainrule = window.chainrule || {};
  var list = registry.explorers = registry.explorers || [];
  var at = list.length;  // in page order, whichever script ran first
  while (at > 0 && (list[at - 1].element.compareDocumentPosition(root) & Node.DOCUMENT_POSITION_PRECEDING)) at--;
  list.splice(at, 0, hook);
}
