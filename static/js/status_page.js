// The public status page keeps itself current without a reload: every so often it fetches
// its own URL (public and cached, so this costs the hub one cache read) and swaps in the
// live part. Without JavaScript the page is the same, only as fresh as its last load.
(function () {
  "use strict";
  function poll() {
    var live = document.getElementById("status-live");
    if (!live) return;
    var seconds = Math.max(2, parseInt(live.dataset.pollSeconds, 10) || 30);
    setTimeout(function () {
      if (document.hidden) { poll(); return; }  // a background tab need not ask
      fetch(window.location.href, { cache: "no-cache", credentials: "omit" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var part = fresh.getElementById("status-live");
          if (part) {
            live.replaceWith(part);
            document.title = fresh.title;
          }
        })
        .catch(function () { /* the hub is away: keep what is shown, try again */ })
        .then(poll);
    }, seconds * 1000);
  }
  poll();
})();
