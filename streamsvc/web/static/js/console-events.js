// The console's event pages. (1) The split form's preview: the typed rule and a
// sample revenue go to POST /console/events/{id}/split-preview (X-CSRF-Token header);
// the server computes the waterfall and answers the lines to show, already in the
// page's language. Nothing of the split is computed here. (2) A cancellation's
// progress: polls the job's JSON under /console until it is done.
(function () {
  "use strict";

  function errorId(name) {
    return name === "sample" ? "error-sample" : "error-split-" + name.replace(/\./g, "-");
  }

  function showErrors(form, body) {
    form.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
    var error = (body && body.error) || {};
    var fields = error.fields || {};
    var shown = false;
    Object.keys(fields).forEach(function (name) {
      var target = document.getElementById(errorId(name));
      if (target) { target.textContent = fields[name]; shown = true; }
    });
    var summary = document.getElementById("form-errors-split");
    if (summary) { summary.textContent = shown ? "" : (error.message || ""); }
  }

  function showLines(result, lines) {
    result.textContent = "";
    var list = document.createElement("dl");
    lines.forEach(function (line) {
      var term = document.createElement("dt");
      term.textContent = line.label;
      var value = document.createElement("dd");
      value.textContent = line.text;
      list.appendChild(term);
      list.appendChild(value);
    });
    result.appendChild(list);
  }

  var form = document.getElementById("split-form");
  var button = document.getElementById("split-preview-button");
  if (form && button) {
    button.addEventListener("click", function () {
      var fields = {};
      new FormData(form).forEach(function (value, name) {
        if (name !== "csrf_token" && typeof value === "string") { fields[name] = value; }
      });
      var result = document.getElementById("split-preview-result");
      fetch(form.getAttribute("data-preview"), {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "X-CSRF-Token": form.getAttribute("data-csrf")
        },
        body: JSON.stringify({ fields: fields })
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (answer) {
        if (answer.ok) {
          showErrors(form, {});
          showLines(result, answer.body.lines);
        } else {
          result.textContent = "";
          showErrors(form, answer.body);
        }
      });
    });
  }

  var job = document.getElementById("job");
  if (job) {
    var bar = document.getElementById("job-progress");
    var text = document.getElementById("job-text");
    var poll = function () {
      fetch(job.getAttribute("data-job"), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) { return response.json(); }).then(function (body) {
        var done = body.progress.done;
        var total = body.progress.total;
        bar.max = Math.max(total, 1);
        bar.value = done;
        var words = job.getAttribute("data-progress-text")
          .replace("{done}", String(done)).replace("{total}", String(total));
        if (body.status === "succeeded") {
          text.textContent = words + " " + job.getAttribute("data-done-text");
        } else if (body.status === "failed") {
          text.textContent = words + " " + job.getAttribute("data-failed-text");
        } else {
          text.textContent = words;
          window.setTimeout(poll, 1000);
        }
      });
    };
    poll();
  }
})();
