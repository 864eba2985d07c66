// The watch page: hands the ticket code over once, counts down to doors-open, redeems
// on this device, plays with hls.js (the token on every playlist and segment request),
// renews the token before it is due and after any 401, and stops within seconds when
// access ends. Every state is said in words (the page's messages), with what to do.
(function () {
  "use strict";
  var root = document.getElementById("watch");
  if (!root) { return; }
  var M = JSON.parse(document.getElementById("watch-messages").textContent);
  var base = root.dataset.base;
  var csrf = root.dataset.csrf;
  var lang = document.documentElement.lang || "en";
  var el = {
    message: document.getElementById("watch-message"),
    countdown: document.getElementById("watch-countdown"),
    retry: document.getElementById("watch-retry"),
    proceed: document.getElementById("watch-continue"),
    play: document.getElementById("watch-play"),
    player: document.getElementById("player"),
    video: document.getElementById("video"),
    quality: document.getElementById("watch-quality"),
    subtitles: document.getElementById("watch-subtitles")
  };
  // The server's clock, not the device's, says when doors open and tokens are due.
  var skew = Date.parse(root.dataset.now) - Date.now();
  function now() { return Date.now() + skew; }

  var session = null;   // {token, session_id, refresh_after, playlist, renditions, qualities}
  var hls = null;
  var renewTimer = null;
  var retryTimer = null;
  var countdownTimer = null;
  var renewing = null;  // the renewal in flight, shared by everyone who asks
  var stopped = false;  // access ended here: nothing may restart the player by itself
  var fellBack = false; // the master playlist was missing: the best rendition's instead
  var restarts = 0;     // player restarts since media last arrived (a bound on retrying)

  function fill(text, vars) {
    return String(text).replace(/\{(\w+)\}/g, function (all, name) {
      return vars && name in vars ? String(vars[name]) : all;
    });
  }

  // One state at a time: its words, and the one action that helps, if any.
  function say(text, action) {
    var buttons = { retry: el.retry, "continue": el.proceed, play: el.play };
    el.message.textContent = text;
    Object.keys(buttons).forEach(function (name) { buttons[name].hidden = action !== name; });
    if (action) { buttons[action].focus(); }
  }

  // The browser may refuse to start sound without a click: then the viewer presses Play.
  function begin() {
    var started = el.video.play();
    if (started && started.then) {
      started.then(function () { say(M.playing); }, function () { say(M.press_play, "play"); });
    } else {
      say(M.playing);
    }
  }

  function deviceId() {
    var key = "streamsvc.device";
    var id = null;
    try { id = window.localStorage.getItem(key); } catch (e) { id = null; }
    if (!id) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      id = "dev-" + Array.prototype.map.call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("");
      try { window.localStorage.setItem(key, id); } catch (e) { /* private mode: per visit */ }
    }
    return id;
  }

  function post(path, body, token, keepalive) {
    var headers = { "Accept": "application/json", "Content-Type": "application/json",
                    "X-CSRF-Token": csrf };
    if (token) { headers["X-Viewing-Token"] = token; }
    return fetch(base + path, {
      method: "POST", headers: headers, body: JSON.stringify(body || {}),
      credentials: "same-origin", cache: "no-store", keepalive: !!keepalive
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: response.status, body: data,
                 retryAfter: Number(response.headers.get("Retry-After")) || 0 };
      });
    }, function () { return { status: 0, body: null, retryAfter: 0 }; });
  }

  function codeOf(answer) {
    return answer.body && answer.body.error ? answer.body.error.code : "";
  }

  function when(iso) {
    var options = { dateStyle: "full", timeStyle: "short" };
    if (root.dataset.timezone) { options.timeZone = root.dataset.timezone; }
    try { return new Intl.DateTimeFormat(lang, options).format(new Date(iso)); }
    catch (e) { return new Date(iso).toLocaleString(lang); }
  }

  // --- Stopping and trying again --------------------------------------------------

  function clearTimers() {
    [renewTimer, retryTimer, countdownTimer].forEach(function (t) {
      if (t) { clearTimeout(t); }
    });
    renewTimer = retryTimer = countdownTimer = null;
  }

  function destroyPlayer() {
    if (hls) { hls.destroy(); hls = null; }
    el.video.pause();
    el.video.removeAttribute("src");
    el.video.load();
    el.player.hidden = true;
  }

  function stop(text, action) {
    stopped = true;
    clearTimers();
    destroyPlayer();
    session = null;
    say(text, action);
  }

  function later(fn, seconds) {
    if (retryTimer) { clearTimeout(retryTimer); }
    retryTimer = setTimeout(function () { retryTimer = null; fn(); }, seconds * 1000);
  }

  // What an error answer of the service means here, in words; false if not final.
  function refused(answer) {
    var code = codeOf(answer);
    var error = (answer.body && answer.body.error) || {};
    if (code === "revoked") { stop(M.revoked); }
    else if (code === "session_replaced") { stop(M.replaced, "continue"); }
    else if (code === "device_limit") { stop(fill(M.device_limit, { max: error.max_devices }), "retry"); }
    else if (code === "country_not_allowed") { stop(M.country); }
    else if (code === "no_ticket_code") { stop(M.no_code); }
    else if (code === "not_found") { stop(M.not_found); }
    else if (code === "outside_window") {
      if (error.opens_at && Date.parse(error.opens_at) > now()) {
        stop(fill(M.before, { opens: when(error.opens_at) }));
        countdown(Date.parse(error.opens_at), Date.parse(root.dataset.startsAt || error.opens_at));
      } else { stop(M.over); }
    } else if (M.refusals && M.refusals[code]) {
      stop(M.refusals[code]);  // a recording's own refusals (rental over, withdrawn, ...)
    } else { return false; }
    return true;
  }

  // --- Redeeming and renewing -------------------------------------------------------

  function redeem() {
    return post("/session", { device_id: deviceId() }).then(function (answer) {
      if (answer.status === 201) { return answer.body; }
      throw answer;
    });
  }

  function scheduleRenewal() {
    if (renewTimer) { clearTimeout(renewTimer); }
    var due = Date.parse(session.refresh_after) - now();
    renewTimer = setTimeout(function () { renew(); }, Math.max(5000, due));
  }

  // A fresh token: the heartbeat, or a new redemption when the session was lost (401).
  // Resolves true while access lasts; a refusal stops the player and says why.
  function renew() {
    if (renewing) { return renewing; }
    if (!session || stopped) { return Promise.resolve(false); }
    renewing = post("/heartbeat", {}, session.token).then(function (answer) {
      if (answer.status === 200) {
        session.token = answer.body.token;
        session.refresh_after = answer.body.refresh_after;
        return true;
      }
      if (answer.status === 401) {  // expired, or Redis forgot the session: redeem again
        return redeem().then(function (fresh) {
          session.token = fresh.token;
          session.refresh_after = fresh.refresh_after;
          return true;
        });
      }
      throw answer;
    }).then(function (ok) {
      scheduleRenewal();
      return ok;
    }, function (answer) {
      if (answer && refused(answer)) { return false; }
      // Unreachable for now: the current token may still hold; ask again soon.
      if (renewTimer) { clearTimeout(renewTimer); }
      renewTimer = setTimeout(function () { renew(); }, 5000);
      return true;
    }).then(function (ok) {
      renewing = null;
      return ok;
    });
    return renewing;
  }

  // --- The player ----------------------------------------------------------------------

  function withToken(url) {
    if (!session) { return url; }
    var target = new URL(url, window.location.href);
    target.searchParams.set("token", session.token);
    return target.toString();
  }

  // hls.js does not retry a 4xx by itself. A 401 (the token expired, say after the
  // laptop slept) is retried after the renewal this starts; a 403 asks the heartbeat
  // whether access ended (revoked, replaced), which stops the player if so.
  function shouldRetry(config, count, isTimeout, response, retry) {
    var status = response && response.code;
    if (status === 401) { renew(); return count < config.maxNumRetry; }
    if (status === 403) { renew(); return false; }
    return retry;
  }

  function policy(maxLoadTimeMs) {
    return { default: {
      maxTimeToFirstByteMs: 10000, maxLoadTimeMs: maxLoadTimeMs,
      timeoutRetry: { maxNumRetry: 4, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: 6, retryDelayMs: 1000, maxRetryDelayMs: 8000,
                    shouldRetry: shouldRetry }
    } };
  }

  function renditionOf(level) {
    var url = String(Array.isArray(level.url) ? level.url[0] : level.url).split("?")[0];
    var parts = url.split("/");
    return parts.length > 1 ? parts[parts.length - 2] : "";
  }

  function option(value, text) {
    var item = document.createElement("option");
    item.value = String(value);
    item.textContent = text;
    return item;
  }

  // Only the tier's qualities are offered (and loaded); the best one by default.
  function buildMenus() {
    var allowed = session.qualities;
    for (var i = hls.levels.length - 1; i >= 0; i -= 1) {
      var name = renditionOf(hls.levels[i]);
      if (allowed.indexOf(name) < 0 && hls.levels.length > 1) { hls.removeLevel(i); }
    }
    while (el.quality.options.length > 1) { el.quality.remove(1); }
    hls.levels.forEach(function (level, index) {
      var rendition = renditionOf(level);
      var label = M.quality_names[rendition] || (level.height ? level.height + "p" : rendition);
      el.quality.appendChild(option(index, label));
    });
    el.quality.value = "-1";
    buildSubtitles();
  }

  function buildSubtitles() {
    while (el.subtitles.options.length > 1) { el.subtitles.remove(1); }
    hls.subtitleTracks.forEach(function (track, index) {
      var label = track.name || fill(M.subtitle_fallback, { language: track.lang || index + 1 });
      var item = option(index, label);
      if (track.lang) { item.lang = track.lang; }
      el.subtitles.appendChild(item);
    });
    el.subtitles.value = String(hls.subtitleTrack);
  }

  el.quality.addEventListener("change", function () {
    if (hls) { hls.currentLevel = Number(el.quality.value); }
  });
  el.subtitles.addEventListener("change", function () {
    if (!hls) { return; }
    hls.subtitleDisplay = true;
    hls.subtitleTrack = Number(el.subtitles.value);
  });

  function notStarted() {
    destroyPlayer();
    fellBack = false;  // next time the master playlist first again
    say(M.not_started);
    later(play, 10);  // quietly, until the stream is there
  }

  function onHlsError(event, data) {
    if (stopped || !data.fatal) { return; }
    var status = data.response && data.response.code;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
    if (data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR && status === 404) {
      if (!fellBack) { fellBack = true; destroyPlayer(); play(); return; }
      notStarted();
      return;
    }
    if ((status === 401 || status === 403) && restarts < 3) {
      // Access may have ended: renew says so and stops; if it did not, start over.
      restarts += 1;
      renew().then(function (ok) { if (ok && !stopped) { destroyPlayer(); play(); } });
      return;
    }
    if (status === 401 || status === 403) { stop(M.failed, "retry"); return; }
    destroyPlayer();
    say(M.unavailable);
    later(play, 5);
  }

  function source() {
    if (!fellBack) { return session.playlist; }
    var best = session.qualities[session.qualities.length - 1];
    return session.renditions[best];
  }

  function play() {
    if (stopped || !session) { return; }
    var video = el.video;
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({
        maxBufferLength: 10,  // a revoked ticket finds out at the next request
        maxMaxBufferLength: 20,
        xhrSetup: function (xhr, url) { xhr.open("GET", withToken(url), true); },
        fetchSetup: function (context, init) { return new Request(withToken(context.url), init); },
        manifestLoadPolicy: policy(20000),
        playlistLoadPolicy: policy(20000),
        fragLoadPolicy: policy(60000)
      });
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
        buildMenus();
        el.player.hidden = false;
        begin();
      });
      hls.on(window.Hls.Events.FRAG_BUFFERED, function () { restarts = 0; });
      hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, function () { buildSubtitles(); });
      hls.on(window.Hls.Events.ERROR, onHlsError);
      hls.loadSource(source());
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      // Native HLS (Safari): the token rides in the URL the origin hands on.
      video.src = withToken(source());
      el.player.hidden = false;
      begin();
    } else {
      stop(M.unsupported);
    }
  }

  // Native HLS cannot be told of a new token: on an error, renew and reload in place
  // (a few times: an origin that does not pass the token on to segments never plays).
  el.video.addEventListener("playing", function () { if (!hls) { restarts = 0; } });
  el.video.addEventListener("error", function () {
    if (hls || stopped || !session || !el.video.getAttribute("src")) { return; }
    if (restarts >= 3) { stop(M.failed, "retry"); return; }
    restarts += 1;
    var position = el.video.currentTime;
    renew().then(function (ok) {
      if (!ok || stopped) { return; }
      el.video.src = withToken(source());
      el.video.currentTime = position;
      begin();
    });
  });

  function start() {
    stopped = false;
    fellBack = false;
    restarts = 0;
    clearTimers();
    say(M.starting);
    redeem().then(function (started) {
      session = started;
      if (factsStale) { factsStale = false; refreshFacts(); }
      scheduleRenewal();
      play();
    }, function (answer) {
      if (refused(answer)) { return; }
      say(answer.status === 0 || answer.status >= 500 ? M.unavailable : M.failed,
          answer.status === 0 || answer.status >= 500 ? null : "retry");
      if (answer.status === 0 || answer.status >= 500) { later(start, answer.retryAfter || 5); }
    });
  }

  // Once a rental's window is open, its facts ("Start by …") are out of date: the page
  // itself, read again (it never opens anything), says until when it plays, in the
  // page's language and the venue's timezone, as a reload would.
  var factsStale = false;  // a rental's window was just opened by Start watching
  function refreshFacts() {
    var facts = document.querySelector("#watch dl.facts");
    if (!facts || !window.fetch || !window.DOMParser) { return; }
    fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("#watch dl.facts");
        if (fresh) { facts.innerHTML = fresh.innerHTML; }
      }, function () {});
  }

  // A rental's page: pressing Start starts its window, never just looking at the page.
  var beginButton = document.getElementById("watch-begin");
  if (beginButton) {
    beginButton.addEventListener("click", function () {
      beginButton.hidden = true;
      factsStale = true;
      start();
    });
  }
  el.retry.addEventListener("click", start);
  el.proceed.addEventListener("click", start);
  el.play.addEventListener("click", begin);
  // Started with the video's own controls instead: say so too.
  el.video.addEventListener("playing", function () {
    if (!stopped && !el.play.hidden) { say(M.playing); }
  });

  // Leaving the page frees this device's slot at once.
  window.addEventListener("pagehide", function () {
    if (session && !stopped) { post("/end", {}, session.token, true); }
  });

  // --- Before doors-open ---------------------------------------------------------------

  function duration(ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var days = Math.floor(total / 86400);
    var clock = [Math.floor(total % 86400 / 3600), Math.floor(total % 3600 / 60), total % 60]
      .map(function (n, i) { return i === 0 ? String(n) : ("0" + n).slice(-2); }).join(":");
    if (days === 0) { return clock; }
    return (days === 1 ? M.day : fill(M.days, { num: days })) + " " + clock;
  }

  function countdown(opensAt, startsAt) {
    el.countdown.hidden = false;
    (function tick() {
      var left = opensAt - now();
      if (left <= 0) {
        el.countdown.hidden = true;
        start();
        return;
      }
      el.countdown.textContent = fill(M.countdown, { time: duration(startsAt - now()) });
      countdownTimer = setTimeout(tick, 1000);
    })();
  }

  // --- Start ----------------------------------------------------------------------------

  function handOver(code) {
    // The secret leaves the address bar (and the history) before anything else.
    window.history.replaceState(null, "", window.location.pathname);
    say(M.opening);
    post("/access", { code: code }).then(function (answer) {
      if (answer.status === 204) { window.location.replace(window.location.pathname); }
      else if (!refused(answer)) { say(M.failed, "retry"); }
    });
  }

  var fragment = new URLSearchParams(window.location.hash.slice(1));
  var phase = root.dataset.phase;
  if (fragment.get("code")) {
    handOver(fragment.get("code"));
  } else if (phase === "before") {
    countdown(Date.parse(root.dataset.opensAt), Date.parse(root.dataset.startsAt));
  } else if (phase === "open") {
    start();
  }
})();
