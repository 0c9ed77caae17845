/* Customer Info Update Request: refuse an over-size screenshot before uploading it.
 * The server checks everything again; this only saves a long upload that would be refused. */
(function () {
  "use strict";

  document.body.addEventListener("change", function (evt) {
    var input = evt.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) { return; }
    var limit = parseInt(input.getAttribute("data-max-bytes"), 10);
    var file = input.files && input.files[0];
    if (file && limit && file.size > limit) {
      input.setCustomValidity(input.getAttribute("data-too-large") || "The file is too large.");
      input.reportValidity();
      input.value = "";
    } else {
      input.setCustomValidity("");
    }
  });
})();
