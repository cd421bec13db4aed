// Small behaviours shared by every page. No inline scripts: the CSP forbids them.
(function () {
  "use strict";
  function applyWidths(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = el.dataset.width + "%";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { applyWidths(document); });
  document.addEventListener("htmx:afterSwap", function (e) { applyWidths(e.target); });
})();
