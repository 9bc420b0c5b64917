// nnbook site: let the ipywidgets embed manager typeset widget labels with MathJax 3.
// embed.js (html-manager 1.x) calls the MathJax 2 API `MathJax.Hub.Queue(["Typeset", MathJax.Hub, el])`
// when `window.MathJax` exists; MathJax 3 has no `Hub`, so without this every labeled widget
// raises "Cannot read properties of undefined (reading 'Queue')". Widgets render on window
// `load`, after MathJax 3 (a deferred script) has replaced its config object, so installing the
// shim at DOMContentLoaded is early enough.
document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub) return;
  mj.Hub = {
    Queue: function (cmd) {
      var el = Array.isArray(cmd) ? cmd[2] : null;
      if (!el || typeof mj.typesetPromise !== "function") return;
      (mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve())
        .then(function () { return mj.typesetPromise([el]); })
        .catch(function (err) { console.warn("MathJax could not typeset a widget label", err); });
    }
  };
});

// nnbook site: live widgets without a kernel. site/live_widgets.py rendered a picture for every
// setting a widget declares (nnbook.widgets._base.site_states); each <div class="nnbook-live">
// carries them as JSON. Here each control gets an HTML input that can take only those values;
// moving one shows the picture of the rendered setting that has the new value and keeps as many
// of the other controls as possible (the others move to that setting, visibly).
(function () {
  "use strict";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function LiveWidget(root, serial) {
    var data = JSON.parse(root.querySelector("script.nnbook-live-data").textContent);
    var base = (root.getAttribute("data-root") || "") + data.base;
    var controls = data.controls, states = data.states;
    var cur = controls.map(function (c) { return c.default; });
    var box = root.querySelector(".nnbook-live-controls");
    var picture = root.querySelector(".nnbook-live-picture");
    var views = [];

    function find(ci, v) {
      // the rendered state with control ci at v that keeps most other controls where they are,
      // then most at their defaults, then the first listed
      var best = -1, bestKey = null;
      states.forEach(function (s, k) {
        if (s[ci] !== v) return;
        var same = 0, dflt = 0;
        for (var j = 0; j < s.length; j++) {
          if (j !== ci && s[j] === cur[j]) same++;
          if (s[j] === controls[j].default) dflt++;
        }
        if (best < 0 || same > bestKey[0] || (same === bestKey[0] && dflt > bestKey[1])) {
          best = k; bestKey = [same, dflt];
        }
      });
      return best;
    }

    function show(k) {
      var parts = data.pictures[k];
      var alt = controls.map(function (c, j) { return c.name + " " + c.labels[states[k][j]]; }).join("; ");
      var imgs = picture.querySelectorAll("img");
      if (parts.length === 1 && parts[0].image && imgs.length === 1 && picture.children.length === 1) {
        var img = imgs[0];
        img.src = base + parts[0].image;
        if (parts[0].width) { img.width = parts[0].width; img.height = parts[0].height; }
        img.alt = alt;
      } else {
        picture.textContent = "";
        parts.forEach(function (p) {
          if (p.image) {
            var i = el("img", {src: base + p.image, alt: alt});
            if (p.width) { i.width = p.width; i.height = p.height; }
            picture.appendChild(i);
          } else if (p.html !== undefined) {
            var d = el("div");
            d.innerHTML = p.html;
            picture.appendChild(d);
          } else {
            picture.appendChild(el("pre", {}, p.text));
          }
        });
      }
      root.setAttribute("data-state", String(k));
    }

    function move(ci, v) {
      var k = find(ci, v);
      if (k < 0) return;
      cur = states[k].slice();
      views.forEach(function (view, j) { view(cur[j]); });
      show(k);
    }

    controls.forEach(function (c, ci) {
      var id = "nnbook-live-" + serial + "-" + ci;
      var wrap = el("div", {"class": "nnbook-live-control", "data-control": c.name, "data-kind": c.kind});
      var n = c.labels.length;
      if (c.kind === "slider") {
        wrap.appendChild(el("label", {"for": id}, c.name));
        var range = el("input", {type: "range", id: id, min: "0", max: String(n - 1), step: "1"});
        range.value = String(c.default);
        var readout = el("output", {"for": id}, c.labels[c.default]);
        range.addEventListener("input", function () { move(ci, parseInt(range.value, 10)); });
        wrap.appendChild(range);
        wrap.appendChild(readout);
        views.push(function (v) { range.value = String(v); readout.textContent = c.labels[v]; });
      } else if (c.kind === "buttons") {
        var group = el("div", {role: "group", "aria-label": c.name});
        wrap.appendChild(el("span", {"class": "nnbook-live-name"}, c.name));
        var buttons = c.labels.map(function (label, v) {
          var b = el("button", {type: "button"}, label);
          b.addEventListener("click", function () { move(ci, v); });
          group.appendChild(b);
          return b;
        });
        wrap.appendChild(group);
        views.push(function (v) { buttons.forEach(function (b, j) { b.setAttribute("aria-pressed", String(j === v)); }); });
      } else if (c.kind === "checkbox" && n === 2 && c.labels.indexOf("on") >= 0 && c.labels.indexOf("off") >= 0) {
        var on = c.labels.indexOf("on"), off = c.labels.indexOf("off");
        var box2 = el("input", {type: "checkbox", id: id});
        box2.addEventListener("change", function () { move(ci, box2.checked ? on : off); });
        wrap.appendChild(box2);
        wrap.appendChild(el("label", {"for": id}, c.name));
        views.push(function (v) { box2.checked = (v === on); });
      } else {
        wrap.setAttribute("data-kind", "select");
        wrap.appendChild(el("label", {"for": id}, c.name));
        var select = el("select", {id: id});
        c.labels.forEach(function (label, v) { select.appendChild(el("option", {value: String(v)}, label)); });
        select.addEventListener("change", function () { move(ci, parseInt(select.value, 10)); });
        wrap.appendChild(select);
        views.push(function (v) { select.value = String(v); });
      }
      if (n < 2) wrap.querySelectorAll("input, select, button").forEach(function (e) { e.disabled = true; });
      box.appendChild(wrap);
    });
    views.forEach(function (view, j) { view(cur[j]); });
    var first = states.findIndex(function (s) { return s.every(function (v, j) { return v === cur[j]; }); });
    root.setAttribute("data-state", String(first));
    root.classList.add("nnbook-live-ready");
  }

  function init() {
    document.querySelectorAll(".nnbook-live").forEach(function (root, i) {
      try { new LiveWidget(root, i); } catch (err) { console.error("nnbook live widget", err); }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

// nnbook site: search results without raw LaTeX. Sphinx's search page shows, under each result, a
// piece of the page's text; in the page's HTML a formula is still its TeX source (MathJax typesets
// it in the browser), so the piece would read "\(\frac{\partial L}{\partial W}\)". Here formulas
// become plain text ("∂L/∂W") before Sphinx cuts its summary.
(function () {
  "use strict";
  var SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", eta: "η", theta: "θ",
    lambda: "λ", mu: "μ", nu: "ν", pi: "π", rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", varphi: "φ",
    chi: "χ", psi: "ψ", omega: "ω", Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Sigma: "Σ",
    Phi: "Φ", Omega: "Ω", partial: "∂", nabla: "∇", ell: "ℓ", infty: "∞", sum: "Σ", prod: "Π",
    cdot: "·", times: "×", div: "÷", pm: "±", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠",
    approx: "≈", sim: "~", propto: "∝", to: "→", rightarrow: "→", leftarrow: "←", mapsto: "↦",
    in: "∈", top: "⊤", odot: "⊙", otimes: "⊗", ldots: "…", cdots: "…", dots: "…", max: "max",
    min: "min", log: "log", exp: "exp", sqrt: "√", int: "∫", circ: "∘", lfloor: "⌊", rfloor: "⌋",
    lceil: "⌈", rceil: "⌉", langle: "⟨", rangle: "⟩", mid: "|", quad: " ", qquad: " "
  };

  function texToText(tex) {
    var s = tex.replace(/^\s*(\\\(|\\\[|\$\$?)/, "").replace(/(\\\)|\\\]|\$\$?)\s*$/, "");
    s = s.replace(/\\(?:begin|end)\{[a-z*]+\}/g, " ").replace(/\\\\|&/g, " ");
    for (var k = 0; k < 5; k++) {   // innermost \frac{a}{b} first
      s = s.replace(/\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}/g, "($1)/($2)");
    }
    s = s.replace(/\\(?:left|right|big|Big|bigg|Bigg)\b/g, "");
    s = s.replace(/\\(?:mathbf|mathrm|mathit|mathcal|mathbb|boldsymbol|text|textrm|operatorname|hat|bar|tilde|vec|overline)\s*\{([^{}]*)\}/g, "$1");
    s = s.replace(/\\([A-Za-z]+)/g, function (m, name) { return SYMBOLS.hasOwnProperty(name) ? (/^(sum|prod|int)$/.test(name) ? " " + SYMBOLS[name] : SYMBOLS[name]) : name; });
    s = s.replace(/\\[,;:! ]/g, " ").replace(/\\([{}%$#_])/g, "$1").replace(/[{}]/g, "");
    s = s.replace(/∂\s+/g, "∂").replace(/\s+/g, " ");
    s = s.replace(/\(([^\s()+\-*\/=<>,]+)\)\//g, "$1/").replace(/\/\(([^\s()+\-*\/=<>,]+)\)/g, "/$1");
    return s.replace(/\s+/g, " ").trim();
  }

  function patch() {
    if (typeof Search === "undefined" || !Search.htmlToText || Search._nnbookMath) return;
    var original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      var doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math, mjx-container").forEach(function (m) {
        m.replaceWith(doc.createTextNode(" " + texToText(m.textContent) + " "));
      });
      doc.querySelectorAll(".nnbook-live-data").forEach(function (e) { e.remove(); });
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search._nnbookMath = true;
  }
  window.nnbookTexToText = texToText;
  patch();
  document.addEventListener("DOMContentLoaded", patch);
})();
