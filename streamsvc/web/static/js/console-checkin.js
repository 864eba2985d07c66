// The door's camera: read a seat ticket's QR code with jsQR (vendored) and send the
// code through the page's own form, as if it had been typed. The typed form works
// without this script; the scanner appears only where a camera can be asked for.
(function () {
  "use strict";
  var me = document.currentScript;
  var section = document.getElementById("scanner");
  var form = document.getElementById("admit-form");
  if (!section || !form || !window.jsQR || !navigator.mediaDevices ||
      !navigator.mediaDevices.getUserMedia) {
    return;
  }
  var start = document.getElementById("scan-start");
  var status = document.getElementById("scan-status");
  var video = document.getElementById("scan-video");
  var canvas = document.getElementById("scan-canvas");
  var input = document.getElementById("code");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null;
  section.hidden = false;

  function stop() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    video.hidden = true;
  }

  function look() {
    if (!stream) {
      return;
    }
    if (video.readyState >= video.HAVE_ENOUGH_DATA && video.videoWidth > 0) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = context.getImageData(0, 0, canvas.width, canvas.height);
      var found = window.jsQR(image.data, image.width, image.height, {
        inversionAttempts: "dontInvert"
      });
      if (found && found.data) {
        stop();
        input.value = found.data.trim().slice(0, 40);
        form.requestSubmit ? form.requestSubmit() : form.submit();
        return;
      }
    }
    window.requestAnimationFrame(look);
  }

  start.addEventListener("click", function () {
    start.disabled = true;
    status.textContent = me.dataset.scanning;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        return video.play();
      })
      .then(function () { window.requestAnimationFrame(look); })
      .catch(function () {
        stop();
        start.disabled = false;
        status.textContent = me.dataset.noCamera;
        input.focus();
      });
  });
})();
