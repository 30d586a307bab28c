// Host page charts: uPlot over the server-downsampled history, appending pushed reports.
(function () {
  "use strict";
  var PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#64748b", "#f97316"];

  function rate(v) {
    if (v == null) return "–";
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i] + "/s";
  }
  var FORMAT = {
    percent: function (v) { return v == null ? "–" : v.toFixed(1) + "%"; },
    load: function (v) { return v == null ? "–" : v.toFixed(2); },
    rate: rate
  };

  // Each chart: its lines as [label, values] from a history object (same keys as hosts/charts.py).
  var CHARTS = {
    cpu: function (h) {
      return [["total", h.series.cpu_percent], ["peak", h.series.cpu_max]].concat(
        h.detail.cores.map(function (v, i) { return ["core " + i, v]; }));
    },
    memory: function (h) { return [["memory", h.series.memory_percent], ["swap", h.series.swap_percent]]; },
    load: function (h) { return [["1 min", h.series.load_1], ["5 min", h.series.load_5], ["15 min", h.series.load_15]]; },
    disks: function (h) {
      return Object.keys(h.detail.disks).sort().map(function (m) { return [m, h.detail.disks[m]]; });
    },
    diskio: function (h) { return [["read", h.series.disk_read_bps], ["write", h.series.disk_write_bps]]; },
    network: function (h) {
      var out = [];
      Object.keys(h.detail.network).sort().forEach(function (nic) {
        out.push([nic + " in", h.detail.network[nic].rx], [nic + " out", h.detail.network[nic].tx]);
      });
      return out;
    }
  };

  var history = null;
  var plots = {};

  function size(el) { return { width: Math.max(260, el.clientWidth), height: 180 }; }

  function draw() {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var id = el.dataset.chart, unit = el.dataset.unit, lines = CHARTS[id](history);
      var data = [history.timestamps].concat(lines.map(function (l) { return l[1]; }));
      // What is drawn, for tests: the number of points and the newest one's time.
      el.dataset.points = history.timestamps.length;
      el.dataset.last = history.timestamps[history.timestamps.length - 1] || "";
      if (plots[id] && plots[id].series.length === data.length) { plots[id].setData(data); return; }
      if (plots[id]) plots[id].destroy();
      el.textContent = "";
      var fmt = FORMAT[unit];
      var opts = {
        ...size(el),
        series: [{}].concat(lines.map(function (l, i) {
          // On the CPU chart the total leads; peak is dashed and the cores stay thin.
          var cpuDetail = id === "cpu" && i > 0;
          return { label: l[0], stroke: PALETTE[i % PALETTE.length], width: cpuDetail ? 1 : 2,
                   dash: id === "cpu" && i === 1 ? [4, 3] : undefined, value: function (u, v) { return fmt(v); },
                   spanGaps: false, points: { show: false } };
        })),
        axes: [
          { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.15)" } },
          { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.15)" }, size: 84,
            values: function (u, vals) { return vals.map(fmt); } }
        ],
        scales: unit === "percent" ? { y: { range: [0, 100] } } : {},
        legend: { live: true }
      };
      plots[id] = new uPlot(opts, data, el);
      el.setAttribute("role", "img");
      el.setAttribute("aria-label", el.closest("figure").querySelector("figcaption").textContent + " chart; figures in the table below");
    });
  }

  function append(point) {
    var t = point.timestamps[0], ts = history.timestamps, last = ts.length ? ts[ts.length - 1] : -Infinity;
    // Keep the density the range was drawn with: one point per step at most.
    if (t < last + history.step_seconds) return;
    var horizon = t - RANGE_SECONDS[history.range];
    var drop = 0;
    while (drop < ts.length && ts[drop] < horizon) drop++;
    function push(arr, v) { arr.push(v == null ? null : v); if (drop) arr.splice(0, drop); }
    function each(target, source) {
      Object.keys(target).forEach(function (k) {
        var v = source && source[k];
        if (Array.isArray(target[k])) push(target[k], v ? v[0] : null); else each(target[k], v);
      });
    }
    push(ts, t);
    each(history.series, point.series);
    history.detail.cores.forEach(function (arr, i) { push(arr, point.detail.cores[i] ? point.detail.cores[i][0] : null); });
    each(history.detail.disks, point.detail.disks);
    each(history.detail.network, point.detail.network);
    draw();
  }
  var RANGE_SECONDS = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };

  function load() {
    var source = document.getElementById("history-data");
    if (!source || !window.uPlot) return;
    history = JSON.parse(source.textContent);
    draw();
  }

  document.addEventListener("DOMContentLoaded", load);
  window.addEventListener("resize", function () {
    Object.keys(plots).forEach(function (id) {
      plots[id].setSize(size(document.getElementById("chart-" + id)));
    });
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var el = event.target;  // the swapped-in element (detail.target is the one it replaced)
    if (!history || !el || el.id !== "live-point" || !el.dataset.point) return;
    append(JSON.parse(el.dataset.point));
  });
  // After a reconnect: reload the whole range, reports may have arrived meanwhile.
  document.addEventListener("statusdash:refresh", function () {
    if (!history) return;
    var url = window.location.pathname + "history/?range=" + encodeURIComponent(history.range);
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fresh) { if (fresh) { history = fresh; draw(); } });
  });
})();
