// Refreshes the latest-reads table every data-refresh seconds, without reloading the page.
// A separate file because the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";
  var table = document.getElementById("reads");
  if (!table || !table.dataset.refresh) { return; }
  var seconds = Math.max(2, parseInt(table.dataset.refresh, 10) || 5);
  function refresh() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        // Signed out or the session ended: show the sign-in page instead of a stale table.
        if (response.redirected || !response.ok) { window.location.reload(); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("#reads tbody");
        var count = doc.querySelector("main p.muted");
        if (fresh) { table.tBodies[0].replaceWith(fresh); }
        var here = document.querySelector("main p.muted");
        if (count && here) { here.textContent = count.textContent; }
      })
      .catch(function () { /* the appliance may be restarting; try again next time */ });
  }
  window.setInterval(refresh, seconds * 1000);
}());
