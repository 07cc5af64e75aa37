/**
 * The console's only script, served as /static/console.js (the Content-Security-Policy allows
 * scripts from the console itself and nothing inline). It is progressive: every page works
 * without it. With it, the DataFlow list and a DataFlow's status follow a Server-Sent Events
 * stream (the server's watch of DataFlows: no polling), ages tick locally, the filters apply on
 * change, and arrow keys move between the rows of the list.
 *
 * Markup it inserts comes from the server, rendered by the same escaping templates as the page;
 * it never builds markup from data itself (text goes through textContent).
 */
export const CONSOLE_JS = `"use strict";
(function () {
  var body = document.body;

  function fromHtml(markup) {
    var t = document.createElement("template");
    t.innerHTML = markup;
    return t.content.firstElementChild;
  }

  function setLive(state, text) {
    var el = document.getElementById("live");
    if (!el) return;
    el.dataset.state = state;
    el.textContent = text;
  }

  function rows() {
    return document.getElementById("rows");
  }

  function showEmpty() {
    var tbody = rows();
    if (!tbody || tbody.querySelector("tr[data-sort]")) return;
    if (document.getElementById("empty-row")) return;
    var tr = document.createElement("tr");
    tr.id = "empty-row";
    var td = document.createElement("td");
    td.colSpan = 6;
    td.textContent = tbody.dataset.empty || "No DataFlows.";
    tr.appendChild(td);
    tbody.appendChild(tr);
  }

  function flash(el) {
    el.classList.remove("changed");
    void el.offsetWidth;
    el.classList.add("changed");
  }

  function upsert(msg) {
    var tbody = rows();
    if (!tbody) return;
    var row = fromHtml(msg.html);
    if (!row) return;
    var old = document.getElementById(msg.id);
    var hadFocus = old && old.contains(document.activeElement);
    if (old) {
      old.replaceWith(row);
    } else {
      var empty = document.getElementById("empty-row");
      if (empty) empty.remove();
      var before = null;
      var all = tbody.querySelectorAll("tr[data-sort]");
      for (var i = 0; i < all.length; i++) {
        if (all[i].dataset.sort > msg.sort) { before = all[i]; break; }
      }
      tbody.insertBefore(row, before);
    }
    if (hadFocus) {
      var link = row.querySelector("a.row-link");
      if (link) link.focus();
    }
    ages(row);
    if (!msg.initial) flash(row);
  }

  function remove(msg) {
    var old = document.getElementById(msg.id);
    if (old) old.remove();
    showEmpty();
  }

  function sync(msg) {
    var keep = {};
    for (var i = 0; i < msg.ids.length; i++) keep[msg.ids[i]] = true;
    var tbody = rows();
    if (!tbody) return;
    var all = tbody.querySelectorAll("tr[data-sort]");
    for (var j = 0; j < all.length; j++) if (!keep[all[j].id]) all[j].remove();
    showEmpty();
  }

  function replace(msg) {
    var old = document.getElementById(msg.id);
    var el = fromHtml(msg.html);
    if (!old || !el) return;
    old.replaceWith(el);
    ages(el);
    flash(el);
  }

  function gone(msg) {
    var banner = document.getElementById("gone");
    if (!banner) return;
    banner.hidden = false;
    banner.textContent = msg.message;
  }

  function listen(url) {
    if (!("EventSource" in window)) return;
    var es = new EventSource(url);
    setLive("connecting", "connecting\\u2026");
    es.onopen = function () { setLive("live", "live"); };
    es.onerror = function () { setLive("reconnecting", "reconnecting\\u2026"); };
    var handlers = { upsert: upsert, remove: remove, sync: sync, replace: replace, gone: gone };
    Object.keys(handlers).forEach(function (name) {
      es.addEventListener(name, function (e) { handlers[name](JSON.parse(e.data)); });
    });
    window.addEventListener("pagehide", function () { es.close(); });
  }

  function human(seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds < 120) return Math.floor(seconds) + "s";
    if (seconds < 7200) return Math.floor(seconds / 60) + "m";
    if (seconds < 172800) return Math.floor(seconds / 3600) + "h";
    return Math.floor(seconds / 86400) + "d";
  }

  function ages(root) {
    var els = (root || document).querySelectorAll("time[data-age]");
    var now = Date.now();
    for (var i = 0; i < els.length; i++) {
      var t = Date.parse(els[i].getAttribute("datetime"));
      if (!isNaN(t)) els[i].textContent = human((now - t) / 1000);
    }
  }

  function rowLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("#rows a.row-link"));
  }

  document.addEventListener("keydown", function (e) {
    var a = document.activeElement;
    if (!a || !a.classList || !a.classList.contains("row-link")) return;
    var links = rowLinks();
    var i = links.indexOf(a);
    var next = -1;
    if (e.key === "ArrowDown") next = Math.min(i + 1, links.length - 1);
    else if (e.key === "ArrowUp") next = Math.max(i - 1, 0);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = links.length - 1;
    if (next < 0 || i < 0) return;
    e.preventDefault();
    links[next].focus();
  });

  var selects = document.querySelectorAll("select[data-autosubmit]");
  for (var i = 0; i < selects.length; i++) {
    selects[i].addEventListener("change", function (e) {
      var form = e.target.form;
      if (form && form.requestSubmit) form.requestSubmit();
      else if (form) form.submit();
    });
  }

  ages(document);
  setInterval(function () { ages(document); }, 15000);
  if (body.dataset.stream) listen(body.dataset.stream);
})();
`;
