// The pass page: hands a mail link's #code= over to the server once (it sets the pass
// cookie), clears it from the address bar, and reloads.
(function () {
  "use strict";
  var box = document.getElementById("code-handover");
  var match = /^#code=([^&]+)/.exec(window.location.hash);
  if (!box || !match) { return; }
  var code = decodeURIComponent(match[1]);
  history.replaceState(null, "", window.location.pathname);
  fetch(box.dataset.codeUrl, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept": "application/json",
               "X-CSRF-Token": box.dataset.csrf },
    body: JSON.stringify({ code: code })
  }).then(function (response) {
    if (response.ok) { window.location.reload(); return; }
    return response.json().then(function (body) {
      document.getElementById("handover-state").textContent =
        (body && body.error && body.error.message) || "";
    });
  });
})();
