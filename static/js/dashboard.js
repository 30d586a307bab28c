// statusdash: small behaviours on top of server-rendered pages (all optional: pages work without them).
(function () {
  "use strict";

  // "last seen 7 s ago" keeps counting between pushes. Same wording as the `ago` template filter.
  function ago(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds >= 86400) return Math.floor(seconds / 86400) + " d ago";
    if (seconds >= 3600) return Math.floor(seconds / 3600) + " h ago";
    if (seconds >= 60) return Math.floor(seconds / 60) + " min ago";
    return seconds + " s ago";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-ago]").forEach(function (el) {
      var when = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(when)) el.textContent = ago((now - when) / 1000);
    });
  }
  setInterval(tick, 1000);

  function liveRoot() { return document.querySelector("[data-live]"); }

  // Reconnect within a few seconds of the hub coming back. htmx's default backoff grows to
  // 64 s: a wall screen would stay stale for a minute after a restart. Half to all of the
  // step, so many open dashboards do not all reconnect in the same instant.
  var RECONNECT_CAP_MS = 5000;
  if (window.htmx) {
    htmx.config.wsReconnectDelay = function (retryCount) {
      var step = Math.min(1000 * Math.pow(2, retryCount), RECONNECT_CAP_MS);
      return step / 2 + Math.random() * step / 2;
    };
  }

  // Re-render the live parts through the page's own URL (htmx request: fragment only).
  function refresh() {
    var root = liveRoot();
    if (!root || !window.htmx) return;
    // A host page's fragment is all out-of-band parts: nothing to swap into the target itself.
    htmx.ajax("GET", window.location.href, { target: root.dataset.refresh, swap: root.dataset.refreshSwap || "outerHTML" });
    document.dispatchEvent(new CustomEvent("statusdash:refresh"));
  }

  function setState(text) {
    var el = document.getElementById("live-state");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  var opened = false;
  document.addEventListener("htmx:wsOpen", function () {
    // After a server restart the ws extension reconnects by itself; pushes sent while
    // we were away are lost, so catch up by re-rendering once.
    if (opened) refresh();
    opened = true;
    setState("");
  });
  document.addEventListener("htmx:wsClose", function () {
    if (opened) setState("Live updates paused: reconnecting…");
  });

  // The server says "this page's list changed" (the alerts page): re-fetch it with its filter.
  var refreshing = null;
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (event.target.id !== "live-refresh" || refreshing) return;
    refreshing = setTimeout(function () { refreshing = null; refresh(); }, 300);
  });

  // A host pushed that is on the page neither as a card nor as a table row is a new host
  // (or one filtered out): redraw the unfiltered grid, at most every few seconds. With more
  // than one page it is most likely a host on another page: ignored, so a push costs only
  // the hosts on screen (a new host shows on its page when that page is opened).
  var pending = null;
  document.addEventListener("htmx:oobErrorNoTarget", function (event) {
    var root = liveRoot();
    var id = event.detail && event.detail.content && event.detail.content.id || "";
    var match = /^host-(?:row-)?(\d+)$/.exec(id);
    if (!root || root.dataset.refresh !== "#host-grid" || !match) return;
    var grid = document.getElementById("host-grid");
    if (grid && grid.hasAttribute("data-paged")) return;
    if (document.getElementById("host-" + match[1]) || document.getElementById("host-row-" + match[1])) return;
    var query = new URLSearchParams(window.location.search);
    if (query.get("q") || query.get("status") || query.get("tag") || pending) return;
    pending = setTimeout(function () { pending = null; refresh(); }, 2000);
  });
})();
