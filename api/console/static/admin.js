// wildwatch console, admin pages: in a YAML editor (textarea[data-tabs])
// Tab indents by two spaces and Shift+Tab takes them back; Escape leaves
// the editor so that Tab moves on. An editor with data-line scrolls to
// that line and selects it. Without this script the editor is a plain
// text area.
(function () {
  "use strict";
  function lineStart(v, i) { return v.lastIndexOf("\n", i - 1) + 1; }
  function onKey(e) {
    if (e.key !== "Tab" || e.ctrlKey || e.metaKey || e.altKey) return;
    var ta = e.target, v = ta.value, s = ta.selectionStart, end = ta.selectionEnd;
    e.preventDefault();
    var from = lineStart(v, s);
    if (!e.shiftKey && s === end) {
      ta.setRangeText("  ", s, end, "end");
      return;
    }
    var block = v.slice(from, end), lines = block.split("\n"), out;
    if (e.shiftKey) out = lines.map(function (l) { return l.replace(/^ {1,2}/, ""); });
    else out = lines.map(function (l) { return "  " + l; });
    ta.setRangeText(out.join("\n"), from, end, "select");
  }
  function showLine(ta, n) {
    var lines = ta.value.split("\n");
    if (n < 1 || n > lines.length) return;
    var start = 0;
    for (var i = 0; i < n - 1; i++) start += lines[i].length + 1;
    ta.focus();
    ta.setSelectionRange(start, start + lines[n - 1].length);
    var lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
    ta.scrollTop = Math.max(0, (n - 5) * lh);
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-tabs]"), function (ta) {
      ta.addEventListener("keydown", onKey);
      var n = parseInt(ta.getAttribute("data-line"), 10);
      if (n > 0) showLine(ta, n);
    });
  });
})();
