// wildwatch console: a little progressive enhancement. Every page works
// without it; with it, live parts refresh themselves, filters apply on
// change, risky buttons ask first, links copy to the clipboard, and
// elements with data-key answer to a key press.
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf") || "";

  // data-poll="URL" data-every="seconds": replace the element's content
  // with the fragment at URL until the answer says X-Poll-Stop.
  function poll(el) {
    var every = (parseFloat(el.getAttribute("data-every")) || 3) * 1000;
    var timer = setInterval(function () {
      if (document.hidden) return;
      fetch(el.getAttribute("data-poll"), { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (res) {
          if (res.headers.get("X-Poll-Stop")) clearInterval(timer);
          if (!res.ok) { clearInterval(timer); return null; }
          return res.text();
        })
        .then(function (html) { if (html !== null && html !== undefined) el.innerHTML = html; })
        .catch(function () {});
    }, every);
  }

  // data-post="URL" on a button: POST with the CSRF token, then follow
  // data-then (or reload).
  function post(btn) {
    btn.disabled = true;
    fetch(btn.getAttribute("data-post"), {
      method: "POST", credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf }
    }).then(function (res) {
      return res.text().then(function (t) {
        if (!res.ok) { alert(t); btn.disabled = false; return; }
        var then = btn.getAttribute("data-then");
        if (then) location.href = then; else location.reload();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), poll);
    Array.prototype.forEach.call(document.querySelectorAll("[data-autosubmit]"), function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
  });

  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    if (msg && !confirm(msg)) e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    var el = e.target.closest("[data-copy],[data-post],[data-help]");
    if (!el) return;
    if (el.hasAttribute("data-copy")) {
      e.preventDefault();
      var text = el.getAttribute("data-copy");
      var done = function () { var old = el.textContent; el.textContent = el.getAttribute("data-copied") || "✓"; setTimeout(function () { el.textContent = old; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done);
      else { var ta = document.createElement("textarea"); ta.value = text; document.body.appendChild(ta); ta.select(); document.execCommand("copy"); ta.remove(); done(); }
    } else if (el.hasAttribute("data-post")) {
      e.preventDefault();
      var msg = el.getAttribute("data-confirm");
      if (!msg || confirm(msg)) post(el);
    } else if (el.hasAttribute("data-help")) {
      e.preventDefault();
      showHelp();
    }
  });

  // Shortcuts: an element with data-key="c" is clicked (or focused, for
  // inputs) when c is pressed outside a text field; "?" lists them.
  function showHelp() {
    var d = document.getElementById("ww-help");
    if (!d) { d = document.createElement("dialog"); d.id = "ww-help"; d.className = "help"; document.body.appendChild(d); }
    d.textContent = "";
    var h = document.createElement("h2");
    h.textContent = document.body.getAttribute("data-help-title") || "Keyboard shortcuts";
    var table = document.createElement("table");
    Array.prototype.forEach.call(document.querySelectorAll("[data-key]"), function (k) {
      var tr = table.insertRow(), kbd = document.createElement("kbd");
      kbd.textContent = k.getAttribute("data-key");
      tr.insertCell().appendChild(kbd);
      tr.insertCell().textContent = (k.getAttribute("data-key-label") || k.getAttribute("title") || k.textContent).trim();
    });
    var form = document.createElement("form"), ok = document.createElement("button");
    form.method = "dialog"; ok.textContent = "OK"; form.appendChild(ok);
    d.append(h, table, form);
    if (d.showModal) d.showModal();
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
      if (e.key === "Escape") t.blur();
      return;
    }
    if (e.key === "?") { e.preventDefault(); showHelp(); return; }
    var el = document.querySelector('[data-key="' + (e.key.length === 1 ? e.key : "") + '"]');
    if (!el) return;
    e.preventDefault();
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) el.focus(); else el.click();
  });
})();
