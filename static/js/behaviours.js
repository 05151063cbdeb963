// What would otherwise be inline event handlers, which the Content-Security-Policy forbids
// (script-src 'self', no 'unsafe-inline', htmx allowEval off). Templates declare the behaviour
// with data- attributes; these listeners on the document also cover content htmx swaps in.
(function () {
  "use strict";

  function closest(event, selector) {
    const el = event.target;
    return el && el.closest ? el.closest(selector) : null;
  }

  // post_button(confirm=...): a plain (non-htmx) form asks first; htmx forms use hx-confirm.
  document.addEventListener("submit", function (event) {
    const form = closest(event, "form[data-confirm]");
    if (form && !form.hasAttribute("hx-post") && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

  document.addEventListener("click", function (event) {
    if (closest(event, "[data-print]")) window.print();
  });

  // One-time secrets (invitation links, API tokens): select the whole value to copy it.
  function selectAll(event) {
    const field = closest(event, "[data-select-all]");
    if (field && field.select) field.select();
  }
  document.addEventListener("focusin", selectAll);
  document.addEventListener("click", selectAll);

  // Benchmark uploads: show the progress bar of the form being sent.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const form = closest(event, "[data-upload-progress]");
    const bar = form && form.querySelector("progress");
    if (bar) { bar.hidden = false; bar.value = 0; }
  });
  document.addEventListener("htmx:xhr:progress", function (event) {
    const form = closest(event, "[data-upload-progress]");
    const bar = form && form.querySelector("progress");
    if (bar && event.detail.lengthComputable) {
      bar.value = Math.round(100 * event.detail.loaded / event.detail.total);
    }
  });
})();
