// The checkout page: pays the order with Stripe.js (real mode: Payment Element and
// confirmPayment, returning to the order page) or, in simulated mode, with a card
// token from localstripe's Stripe.js stand-in, which our server confirms. A declined
// card shows its reason beside the card field; the buyer can try again at once.
// Also hands a mail link's #token= over to the server once (it sets the order cookie).
(function () {
  "use strict";

  function handOver() {
    var box = document.getElementById("token-handover");
    var match = /^#token=([^&]+)/.exec(window.location.hash);
    if (!box || !match) { return false; }
    var token = decodeURIComponent(match[1]);
    // Out of the address bar and the history before anything else happens.
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

  var form = document.getElementById("checkout-form");
  if (handOver() || !form) { return; }
  var words = JSON.parse(document.getElementById("checkout-words").textContent);
  var button = document.getElementById("pay-button");
  var state = document.getElementById("payment-state");
  var cardError = document.getElementById("error-card");
  var data = form.dataset;
  var busy = false;

  function say(text) { state.textContent = text || ""; }
  function fail(text) {
    cardError.textContent = text;
    say("");
    busy = false;
    button.disabled = false;
  }
  function showError(body) {
    window.streamsvcErrors.show(form, body);
    var message = body && body.error && ((body.error.fields || {}).card || body.error.message);
    fail(message || words.unavailable);
  }
  function goToOrder() {
    say(words.paid);
    window.location.assign(data.orderUrl);
  }
  function post(url, payload) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": data.csrf },
      body: JSON.stringify(payload)
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    });
  }
  if (typeof window.Stripe !== "function") { fail(words.unavailable); button.disabled = true; return; }

  // -- simulated mode: localstripe's createToken, then our server confirms ----------
  function simulated() {
    var stripe = window.Stripe(data.publishableKey);
    var card = stripe.elements().create("card");
    card.mount("#card-element");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) { return; }
      busy = true;
      button.disabled = true;
      window.streamsvcErrors.clear(form);
      say(words.paying);
      if (!card.value) { fail(words.card_invalid); return; }
      stripe.createToken(card).then(function (result) {
        if (result.error || !result.token) { fail(words.card_invalid); return null; }
        return post(data.cardUrl, { card_token: result.token.id });
      }).then(function (answer) {
        if (!answer) { return; }
        if (!answer.ok) { showError(answer.body); return; }
        if (answer.body.status === "requires_action") {
          say(words.confirming);
          // localstripe's 3-D Secure dialog: "Complete" or "Fail" authentication.
          return stripe.confirmCardPayment(answer.body.client_secret).then(function (result) {
            var intent = result && result.paymentIntent;
            if (result.error || !intent || intent.status === "requires_payment_method") {
              fail(words.not_authenticated);
            } else {
              goToOrder();
            }
          });
        }
        goToOrder();
      }).catch(function () { fail(words.unavailable); });
    });
  }

  // -- real mode: the Payment Element, confirmed by Stripe.js itself ---------------
  function real() {
    if (!data.publishableKey) { fail(words.not_configured); button.disabled = true; return; }
    fetch(data.paymentUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) { showError(answer.body); button.disabled = true; return; }
        if (answer.body.status !== "pending" || !answer.body.client_secret) { goToOrder(); return; }
        var stripe = window.Stripe(data.publishableKey, { locale: data.locale });
        var elements = stripe.elements({ clientSecret: answer.body.client_secret });
        elements.create("payment").mount("#payment-element");
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          if (busy) { return; }
          busy = true;
          button.disabled = true;
          window.streamsvcErrors.clear(form);
          say(words.paying);
          var returnUrl = new URL(data.orderUrl, window.location.href).href;
          stripe.confirmPayment({ elements: elements, confirmParams: { return_url: returnUrl } })
            .then(function (result) {
              // Only reached on an error: on success Stripe.js goes to return_url.
              var error = result && result.error;
              if (error) {
                fail(error.type === "card_error" || error.type === "validation_error"
                  ? error.message : words.unavailable);
              }
            });
        });
      })
      .catch(function () { fail(words.unavailable); });
  }

  if (data.mode === "simulated") { simulated(); } else { real(); }
})();
