// The order page: while the payment is under way, asks for the order's status every
// 1.5 s and reloads the page when it changes; after 10 s without news (a late webhook)
// it asks the server to check with Stripe, then every 10 s. Also hands a mail link's
// #token= over to the server once (it sets the order cookie) and clears it from the URL.
(function () {
  "use strict";
  var POLL_MS = 1500, CHECK_AFTER_MS = 10000, CHECK_EVERY_MS = 10000;

  function handOver() {
    var box = document.getElementById("token-handover");
    var match = /^#token=([^&]+)/.exec(window.location.hash);
    if (!box || !match) { return false; }
    var token = decodeURIComponent(match[1]);
    history.replaceState(null, "", window.location.pathname);
    fetch(box.dataset.tokenUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": box.dataset.csrf },
      body: JSON.stringify({ token: token })
    }).then(function (response) {
      if (response.ok) { window.location.reload(); return; }
      return response.json().then(function (body) {
        document.getElementById("handover-state").textContent =
          (body && body.error && body.error.message) || "";
      });
    });
    return true;
  }

  if (handOver()) { return; }
  // Stripe's return_url carries the intent's id and client secret in the query: they
  // have done their job, and must not stay in the address bar or the history.
  if (window.location.search) { history.replaceState(null, "", window.location.pathname); }
  var order = document.getElementById("order");
  if (!order || order.dataset.status !== "pending") { return; }
  var words = JSON.parse(document.getElementById("order-words").textContent);
  var stateWords = document.getElementById("order-state-words");
  var started = Date.now(), lastCheck = 0;

  function changed(status) {
    if (status && status !== order.dataset.status) {
      stateWords.textContent = words.updated;
      window.location.reload();
      return true;
    }
    return false;
  }
  function check() {
    lastCheck = Date.now();
    stateWords.textContent = words.checking;
    return fetch(order.dataset.checkUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": order.dataset.csrf }
    }).then(function (response) { return response.json(); })
      .then(function (body) { return changed(body && body.status); })
      .catch(function () { return false; });
  }
  function poll() {
    fetch(order.dataset.stateUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (changed(body && body.status)) { return true; }
        var now = Date.now();
        if (now - started >= CHECK_AFTER_MS && now - lastCheck >= CHECK_EVERY_MS) { return check(); }
        return false;
      })
      .catch(function () { return false; })
      .then(function (done) { if (!done) { window.setTimeout(poll, POLL_MS); } });
  }
  window.setTimeout(poll, POLL_MS);
})();
