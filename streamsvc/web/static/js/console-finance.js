// The finance console's jobs (an export prepared in the background, a reconciliation
// run): polls the job's JSON under /console (the session cookie; a GET needs no CSRF
// header) until it is done, updating the progress bar and its words, then reveals the
// element named by data-reveal (the download link, the findings link). The words come
// from the page (data-*-text), already in the page's language.
(function () {
  "use strict";

  var job = document.getElementById("job");
  if (!job) { return; }
  var bar = document.getElementById("job-progress");
  var text = document.getElementById("job-text");
  var reveal = document.getElementById(job.getAttribute("data-reveal") || "");
  var delay = 1000;

  function words(done, total) {
    return job.getAttribute("data-progress-text")
      .replace("{done}", String(done)).replace("{total}", String(total));
  }

  function show(body) {
    var done = body.progress.done;
    var total = body.progress.total;
    bar.max = Math.max(total, 1);
    bar.value = done;
    if (body.status === "succeeded") {
      text.textContent = words(done, total) + " " + job.getAttribute("data-done-text");
      if (reveal) { reveal.hidden = false; }
      return true;
    }
    if (body.status === "failed") {
      text.textContent = words(done, total) + " " + job.getAttribute("data-failed-text");
      return true;
    }
    text.textContent = words(done, total);
    return false;
  }

  function poll() {
    fetch(job.getAttribute("data-job"), {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error("status " + response.status); }
      return response.json();
    }).then(function (body) {
      delay = 1000;
      if (!show(body)) { window.setTimeout(poll, delay); }
    }).catch(function () {
      // A moment without the server (a deploy, a network blip): try again, less often.
      delay = Math.min(delay * 2, 30000);
      window.setTimeout(poll, delay);
    });
  }

  poll();
})();
