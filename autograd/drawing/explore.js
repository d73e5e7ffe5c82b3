// chainrule's explorer: steps through a graph's forward and backward passes on Graphviz's SVG.
// Every number shown was formatted in Python (see explore.py); this script only chooses which
// texts to show at each step, highlights, and pans and zooms. It loads nothing.
function chainruleExplorer(uid) {
  "use strict";
  var root = document.getElementById(uid);
  if (!root || root.getAttribute("data-ready")) return;
  root.setAttribute("data-ready", "1");
  var data = JSON.parse(root.querySelector("script.cr-data").textContent);
  var view = root.querySelector(".cr-view"), svg = view.querySelector("svg");
  var $ = function (cls) { return root.querySelector("." + cls); };
  var NS = "http://www.w3.org/2000/svg";
  var F = data.forward.length, B = data.backward.length, T = F + 1 + B;
  var byId = {}, shapes = {}, edges = {};
  data.nodes.forEach(function (n) { byId[n.id] = n; });

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
  data.nodes.forEach(function (n) {
    var g = n.shown === n.id ? shapes[n.id] : null;
    if (g) { var box = g.getBBox(); middles[n.id] = box.x + box.width / 2; }
  });
  data.nodes.forEach(function (n) {
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

  var cur = 0, known = {}, grads = {}, picked = null, timer = null;

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
    data.nodes.forEach(function (n) { if (n.leaf) known[n.id] = true; });
    for (var k = 0; k < Math.min(cur, F); k++) known[data.forward[k]] = true;
    var fresh = {}, done = cur - F - 1;  // backward steps applied
    if (cur > F) grads[data.root] = {grad: "1", gradFull: "1.0"};
    for (k = 0; k < done; k++) {
      data.backward[k].contributions.forEach(function (c) { grads[c.to] = c; });
    }
    clear("cr-current"); clear("cr-operand"); clear("cr-flow");
    root.querySelectorAll(".cr-note").forEach(function (e) { e.parentNode.removeChild(e); });
    var status, lines = [];
    if (cur === 0) {
      status = "start: the graph as built, inputs and parameters known; → runs the forward pass";
      lines.push("Forward pass: " + F + " operations, one per step.\nBackward pass: " + B + " steps.");
    } else if (cur <= F) {
      var n = byId[data.forward[cur - 1]];
      fresh[n.id] = "data";
      mark(n.id, "cr-current");
      status = "forward " + cur + "/" + F + ": " + n.name + " = " + n.forward;
      lines.push(n.name + " = " + n.forward);
      n.operands.forEach(function (o) { mark(o, "cr-operand"); });
    } else if (done === 0) {
      var r = byId[data.root];
      fresh[r.id] = "grad";
      mark(r.id, "cr-current");
      status = "backward starts: d " + r.name + " / d " + r.name + " = 1";
      lines.push("The gradient of the output with respect to itself is 1.\n→ passes it back, one node per step.");
    } else {
      var step = data.backward[done - 1], node = byId[step.node];
      mark(node.id, "cr-current");
      status = "backward " + done + "/" + B + ": " + node.name + " (grad " + step.grad + ") passes its gradient on";
      lines.push(node.name + ": grad " + step.grad + " is complete; for each operand,\nlocal × incoming = contribution:");
      step.contributions.forEach(function (c, k) {
        var o = byId[c.to];
        fresh[c.to] = "grad";
        mark(c.to, "cr-operand");
        var tail = o.shown || "", edge = edges[tail + "->op" + node.id.slice(1)] || edges[tail + "->" + (node.shown || "")];
        if (edge) edge.classList.add("cr-flow");
        note(edge, c.sum ? [c.text, "Σ " + c.sum] : [c.text]);
        lines.push("→ " + o.name + ": " + c.text + (c.sum ? "\n   grad adds up: " + c.sum : "") + "\n   " + node.rules[k]);
      });
    }
    data.nodes.forEach(function (n) {
      setText(n.dataEl, "data " + (known[n.id] ? n.data : "?"), !known[n.id], fresh[n.id] === "data");
      var g = grads[n.id];
      setText(n.gradEl, "grad " + (g ? g.grad : "?"), !g, fresh[n.id] === "grad");
      if (n.gradEl) {
        var s = shapes[n.id];
        if (g) s.setAttribute("data-grad", g.gradFull); else s.removeAttribute("data-grad");
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

  function info(name) {  // a shape's node: operation, rule with numbers, data, grad
    var id = /^op\d+$/.test(name) ? "v" + name.slice(2) : name, n = byId[id];
    if (!n) {
      var inside = data.nodes.filter(function (m) { return m.shown === name; }).length;
      $("cr-info").textContent = "a collapsed module: " + inside + " nodes inside.\nPass a larger depth= to open it.";
      return;
    }
    var g = grads[id];
    var text = n.name + "\n" + (n.leaf ? "a leaf: " + n.kind : "operation " + n.op + ":  " + n.forward) +
      "\ndata " + (known[id] ? n.data : "?") + (n.constant ? "" : "\ngrad " + (g ? g.grad : "?"));
    if (n.rules.length) text += "\n\nlocal derivatives:\n" + n.rules.map(function (r, k) {
      return r + "   (operand " + byId[n.operands[k]].name + ")";
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
  });

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
    var keys = {ArrowRight: cur + 1, ArrowLeft: cur - 1, Home: 0, End: T};
    if (ev.key in keys) { ev.preventDefault(); show(keys[ev.key]); }
    else if (ev.key === "+" || ev.key === "=") zoom(1 / 1.25, vb.x + vb.w / 2, vb.y + vb.h / 2);
    else if (ev.key === "-") zoom(1.25, vb.x + vb.w / 2, vb.y + vb.h / 2);
  });
  fit(true);
  show(0);
}
