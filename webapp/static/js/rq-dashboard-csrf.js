/* Give rq-dashboard's jQuery POSTs (delete, requeue, empty) the console's CSRF token. */
(function () {
  "use strict";
  var token = document.currentScript && document.currentScript.getAttribute("data-csrf-token");
  if (token && window.jQuery) {
    window.jQuery.ajaxSetup({ headers: { "X-CSRFToken": token } });
  }
})();
