// Shows the service's JSON error shape {"error": {"code", "message", "fields"}} in a
// form: each field's words in its element #error-<field> (a role="alert" region the
// input names in aria-describedby), the message in #form-errors. Pages whose script
// calls a JSON route use window.streamsvcErrors.show(form, body).
(function () {
  "use strict";
  function idFor(name) {
    return "error-" + name.replace(/\[/g, "-").replace(/\]/g, "").replace(/\./g, "-");
  }
  function clear(form) {
    form.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
    });
    var summary = form.querySelector("#form-errors");
    if (summary) { summary.textContent = ""; }
  }
  function show(form, body) {
    clear(form);
    var error = (body && body.error) || { message: String(body) };
    var fields = error.fields || {};
    Object.keys(fields).forEach(function (name) {
      var target = document.getElementById(idFor(name));
      if (!target) { return; }
      target.textContent = fields[name];
      var input = form.querySelector('[aria-describedby~="' + target.id + '"]');
      if (input) { input.setAttribute("aria-invalid", "true"); }
    });
    var summary = form.querySelector("#form-errors");
    if (summary && error.message) {
      var p = document.createElement("p");
      p.textContent = error.message;
      summary.appendChild(p);
    }
  }
  window.streamsvcErrors = { show: show, clear: clear, idFor: idFor };
})();
