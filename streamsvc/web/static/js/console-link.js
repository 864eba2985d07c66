// Invitation and password-reset pages: the link's secret is in the URL fragment
// (#token=...), which the browser never sends. Put it in the form's hidden field, to be
// handed over once by the form's POST, and take it out of the address bar and history.
(function () {
  "use strict";
  var field = document.getElementById("link-token");
  var match = /(?:^#|&)token=([A-Za-z0-9_-]{1,100})/.exec(window.location.hash);
  if (field && match) {
    field.value = match[1];
    window.history.replaceState(null, "", window.location.pathname);
  }
})();
