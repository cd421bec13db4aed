// The upload wizard: drag-and-drop file input with a size check, and buttons that
// submit once. No inline scripts: the CSP forbids them.
(function () {
  "use strict";

  function formatSize(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function setupDropzone(zone) {
    var input = zone.querySelector("input[type=file]");
    var label = zone.querySelector("[data-dropzone-name]");
    var error = zone.parentElement.querySelector("[data-dropzone-error]");
    var form = zone.closest("form");
    var submit = form && form.querySelector("[type=submit]");
    var limit = parseInt(zone.dataset.maxBytes, 10) || 0;

    function show() {
      var file = input.files && input.files[0];
      var tooBig = !!(file && limit && file.size > limit);
      label.textContent = file ? file.name + " · " + formatSize(file.size) : "";
      label.classList.toggle("d-none", !file);
      zone.classList.toggle("has-file", !!file);
      zone.classList.toggle("border-danger", tooBig);
      if (tooBig) {
        error.textContent = zone.dataset.tooBig;
        error.classList.remove("d-none");
      } else if (file) {
        error.classList.add("d-none");
      }
      if (submit) { submit.disabled = tooBig; }
    }

    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("is-dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.remove("is-dragging");
      });
    });
    zone.addEventListener("drop", function (event) {
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        show();
      }
    });
    input.addEventListener("change", show);
  }

  function setupSubmitOnce(form) {
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !button.hasAttribute("data-submit-once")) { return; }
      if (form.dataset.submitted) { event.preventDefault(); return; }
      form.dataset.submitted = "1";
      // Disabled after the event so the button's own name/value is still sent.
      window.setTimeout(function () {
        button.disabled = true;
        button.insertAdjacentHTML(
          "afterbegin",
          '<span class="spinner-border spinner-border-sm me-2" aria-hidden="true"></span>'
        );
      }, 0);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-dropzone]").forEach(setupDropzone);
    document.querySelectorAll("form").forEach(setupSubmitOnce);
  });
})();
