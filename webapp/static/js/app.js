/* DMS Sync Console: the few behaviours htmx does not provide.
 * Loaded from our own origin so the Content-Security-Policy needs no 'unsafe-inline'. */
(function () {
  "use strict";

  function showToast(message, level) {
    var box = document.getElementById("toasts");
    if (!box) { return; }
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (level || "info");
    toast.textContent = message;  // text, never HTML
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { toast.remove(); });
    toast.appendChild(close);
    box.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 8000);
  }

  // Server-sent notices (HX-Trigger: {"showToast": {...}}).
  document.body.addEventListener("showToast", function (evt) {
    var detail = evt.detail || {};
    showToast(detail.message || "Done.", detail.level);
  });

  // Errors htmx did not swap: say something rather than failing silently.
  document.body.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    if (xhr && xhr.getResponseHeader("HX-Trigger")) { return; }  // the server already explained
    showToast("The request failed (" + (xhr ? xhr.status : "?") + "). Please try again.", "error");
  });
  document.body.addEventListener("htmx:sendError", function () {
    showToast("Cannot reach the console. Check the network connection and try again.", "error");
  });
  document.body.addEventListener("htmx:timeout", function () {
    showToast("The console took too long to answer. Please try again.", "error");
  });

  // Auto-submitting selects (data-autosubmit) without inline handlers.
  document.body.addEventListener("change", function (evt) {
    var el = evt.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) { el.form.requestSubmit(); }
  });
})();
