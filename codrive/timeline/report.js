(function () {
  "use strict";
  var pinned = FIRST, shown = null;
  var shots = document.getElementById("detail-shots");
  var title = document.getElementById("detail-title");
  var when = document.getElementById("detail-when");
  var rows = document.getElementById("detail-rows");
  var cursor = document.getElementById("cursor");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function show(key) {
    var d = DATA.details[key];
    if (!d || key === shown) return;
    shown = key;
    title.textContent = d.title;
    when.textContent = d.when;
    rows.textContent = "";
    d.rows.forEach(function (r) {
      rows.appendChild(el("dt", "", r.k));
      rows.appendChild(el("dd", "", r.v));
    });
    shots.textContent = "";
    shots.className = "shots" + (d.figs.length > 1 ? " two" : "");
    d.figs.forEach(function (f) {
      var fig = el("figure");
      var src = f.shot && DATA.image[f.shot] && document.getElementById(DATA.image[f.shot]);
      if (src) {
        var img = el("img");
        img.src = src.src;
        img.alt = "Screenshot of the page: " + d.title;
        fig.appendChild(img);
      } else {
        fig.appendChild(el("div", "noshot", "No screenshot of this moment"));
      }
      fig.appendChild(el("figcaption", "", f.caption));
      shots.appendChild(fig);
    });
    if (cursor) {
      var pct = DATA.durationMs > 0 ? Math.min(100, Math.max(0, d.atMs / DATA.durationMs * 100)) : 0;
      cursor.style.left = pct + "%";
      cursor.hidden = false;
    }
    document.querySelectorAll(".sel").forEach(function (e) { e.classList.remove("sel"); });
    document.querySelectorAll('[data-d="' + key + '"]').forEach(function (e) {
      e.classList.add("sel");
      if (e.tagName === "BUTTON") e.setAttribute("aria-pressed", "true");
    });
    document.querySelectorAll('button[aria-pressed="true"]').forEach(function (e) {
      if (e.getAttribute("data-d") !== key) e.removeAttribute("aria-pressed");
    });
  }

  function keyOf(e) {
    var t = e.target.closest && e.target.closest("[data-d]");
    return t ? t.getAttribute("data-d") : null;
  }

  document.addEventListener("click", function (e) {
    var k = keyOf(e);
    if (k) { pinned = k; shown = null; show(k); }
  });
  document.addEventListener("mouseover", function (e) {
    var k = keyOf(e);
    if (k && e.target.closest(".tl, .film")) show(k);
  });
  document.addEventListener("mouseout", function (e) {
    var to = e.relatedTarget;
    if (!to || !to.closest || !to.closest(".tl [data-d], .film [data-d]")) {
      if (pinned) show(pinned);
    }
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (!t.getAttribute || !t.getAttribute("data-d")) return;
    if (e.key === "Enter" && t.tagName === "TR") { pinned = t.getAttribute("data-d"); shown = null; show(pinned); return; }
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    var group = t.parentElement.querySelectorAll(":scope > [data-d]");
    var i = Array.prototype.indexOf.call(group, t) + (e.key === "ArrowRight" ? 1 : -1);
    if (i >= 0 && i < group.length) {
      e.preventDefault();
      group[i].focus();
      pinned = group[i].getAttribute("data-d");
      show(pinned);
    }
  });
  document.addEventListener("focusin", function (e) {
    var k = keyOf(e);
    if (k && e.target.closest(".tl, .film")) show(k);
  });
  if (FIRST) show(FIRST);
})();
