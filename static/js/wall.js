// The wall screen: a clock, "updated N s ago" counted from when the board last arrived (not
// from the server's clock, which may differ from the screen's), and a banner when nothing
// has arrived for a while although the socket looks open (the server redraws every 10 s).
(function () {
  "use strict";
  var LATE_AFTER_S = 35;
  var arrived = Date.now();

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function since(seconds) {
    if (seconds < 60) return seconds + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    return Math.floor(seconds / 3600) + " h ago";
  }

  function tick() {
    var now = new Date();
    var clock = document.getElementById("wall-clock");
    if (clock) clock.textContent = pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" + pad(now.getSeconds());
    var seconds = Math.max(0, Math.floor((now.getTime() - arrived) / 1000));
    var updated = document.getElementById("wall-updated");
    if (updated) updated.textContent = since(seconds);
    var late = seconds >= LATE_AFTER_S;
    document.documentElement.classList.toggle("wall-late", late);
    var banner = document.getElementById("wall-late");
    if (banner) {
      // The socket's own banner (#live-state) says "reconnecting" when it knows it dropped.
      var reconnecting = !document.getElementById("live-state").hidden;
      banner.hidden = !late || reconnecting;
      banner.textContent = "No update for " + since(seconds).replace(" ago", "") + ": the figures may be out of date";
    }
  }

  function boardArrived(event) {
    if (event.target && event.target.id === "wall-board") arrived = Date.now();
  }
  document.addEventListener("htmx:oobAfterSwap", boardArrived);  // a push
  document.addEventListener("htmx:afterSwap", function () { arrived = Date.now(); });  // a catch-up after a reconnect
  document.addEventListener("DOMContentLoaded", tick);
  setInterval(tick, 1000);
})();
