/* DMS Sync Console: "Are you sure?" before actions that cannot be undone.
 *
 * A form (or its submit button) with data-confirm="question" asks the question when it is
 * submitted; Cancel in the dialog stops the submit, so nothing is sent. htmx-driven forms and
 * buttons use htmx's own hx-confirm instead. Loaded from our own origin: the strict
 * Content-Security-Policy needs no inline script. Without JavaScript the form submits as is.
 */
(function () {
  "use strict";

  function question(evt) {
    var submitter = evt.submitter;
    if (submitter && submitter.hasAttribute && submitter.hasAttribute("data-confirm")) {
      return submitter.getAttribute("data-confirm");
    }
    var form = evt.target;
    if (form && form.hasAttribute && form.hasAttribute("data-confirm")) {
      return form.getAttribute("data-confirm");
    }
    return null;
  }

  // Capture phase on the document: runs before htmx's (boosted) submit handler on the form.
  document.addEventListener("submit", function (evt) {
    var text = question(evt);
    if (text === null) { return; }
    if (!window.confirm(text)) {
      evt.preventDefault();
      evt.stopImmediatePropagation();
    }
  }, true);
})();
