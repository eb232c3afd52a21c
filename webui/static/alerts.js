// The open-alerts banner on every page, with a short beep when a new alert arrives.
// A separate file because the Content-Security-Policy forbids inline scripts; the beep is
// made with WebAudio (no audio files). Polls /alerts/summary.json, which carries no plate
// text and does not count as activity, so idle sessions still end.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.dataset.summary;
  var page = script && script.dataset.alerts;
  if (!url) { return; }
  var seconds = Math.max(3, parseInt(script.dataset.interval, 10) || 5);
  var lastId = null;
  var audio = null;
  var banner = null;

  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      audio = audio || new Ctx();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.6);
    } catch (e) { /* a browser that blocks audio until a click still shows the banner */ }
  }

  function show(data) {
    if (!banner) {
      banner = document.createElement("div");
      banner.id = "alert-banner";
      banner.className = "alert-banner";
      banner.setAttribute("role", "alert");
      document.body.insertBefore(banner, document.body.firstChild);
    }
    var n = data.newest;
    var text = data.open + " open alert" + (data.open === 1 ? "" : "s") + ": newest on " + n.list +
      (n.retrospective ? " (retrospective, seen " + n.seen_ago + " ago)" : " (" + n.kind + ", " + n.seen_ago + " ago)") +
      ". Verify visually and through CLETS before enforcement. ";
    banner.textContent = text;
    var link = document.createElement("a");
    link.href = page;
    link.textContent = "Open alerts";
    banner.appendChild(link);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.redirected || !response.ok) { return null; }  // signed out or not allowed: stay quiet
        return response.json();
      })
      .then(function (data) {
        if (!data) { return; }
        if (!data.open || !data.newest) {
          if (banner) { banner.remove(); banner = null; }
          lastId = null;
          return;
        }
        if (data.newest.id !== lastId) {
          if (lastId !== null || !sessionStorage.getItem("alpr-alert-" + data.newest.id)) { beep(); }
          lastId = data.newest.id;
          sessionStorage.setItem("alpr-alert-" + lastId, "1");
        }
        show(data);
      })
      .catch(function () { /* the appliance may be restarting; try again next time */ });
  }
  poll();
  window.setInterval(poll, seconds * 1000);
}());
