// /me/sign-in/complete: the mailed link's secret is in the URL fragment (#token=...),
// which the browser never sends. Put it in the form's hidden field, to be POSTed once
// when the person presses the button (a mail scanner that opens links does not sign
// anyone in), and take it out of the address bar and history at once.
(function () {
  "use strict";
  var field = document.getElementById("link-token");
  var missing = document.getElementById("link-missing");
  var match = /(?:^#|&)token=([A-Za-z0-9_-]{1,100})/.exec(window.location.hash);
  if (!field) {
    return;
  }
  if (match) {
    field.value = match[1];
    window.history.replaceState(null, "", window.location.pathname);
  } else if (missing && !field.value) {
    missing.hidden = false;
  }
})();
