// Host page charts: uPlot over the server-downsampled history, appending pushed reports.
//
// The x axis always spans the chosen range ending now (or the zoom in the URL), never the
// data's own extent: a new host, a gap or a restart shows for what it is. Gaps come from the
// server as nulls (metrics/history.py) and are not spanned; a point with no neighbour is drawn
// as a dot. The figures beside each chart are recomputed from the same data on every report.
(function () {
  "use strict";
  var PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#64748b", "#f97316"];

  function rate(v) {
    if (v == null) return "–";
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i] + "/s";
  }
  // Same wording as dashboard/charts.py.
  var FORMAT = {
    percent: function (v) { return v == null ? "–" : v.toFixed(1) + "%"; },
    load: function (v) { return v == null ? "–" : v.toFixed(2); },
    rate: rate
  };

  // Each chart: its lines as [label, values] from a history object (same keys and labels as dashboard/charts.py).
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
  var RANGE_SECONDS = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };

  var history = null;
  var plots = {};
  var skew = 0;        // the server's clock minus ours, seconds
  var view = null;     // a zoom {from, to} (seconds), or null: the whole range ending now
  var hovered = null;  // a hovered time from the URL, shown once the charts are drawn
  var applying = false;

  function now() { return Date.now() / 1000 + skew; }
  function span() {
    if (view) return [view.from, view.to];
    var end = Math.max(now(), history.end);
    return [end - RANGE_SECONDS[history.range], end];
  }

  function setParams(params) {
    var url = new URL(window.location.href);
    Object.keys(params).forEach(function (k) {
      if (params[k] == null) url.searchParams.delete(k); else url.searchParams.set(k, params[k]);
    });
    window.history.replaceState(window.history.state, "", url);
  }

  // Indices of points with no neighbour on either side: a line of one point draws nothing.
  function isolated(u, si) {
    var v = u.data[si], out = [];
    for (var i = 0; i < v.length; i++) {
      if (v[i] != null && (i === 0 || v[i - 1] == null) && (i === v.length - 1 || v[i + 1] == null)) out.push(i);
    }
    return out.length ? out : null;
  }

  function applySpan(only) {
    var s = span();
    applying = true;
    Object.keys(plots).forEach(function (id) {
      if (only && only !== id) return;
      plots[id].setScale("x", { min: s[0], max: s[1] });
      var el = document.getElementById("chart-" + id);
      // What is drawn, for tests and readers of the DOM: the axis' ends in seconds.
      el.dataset.xMin = Math.round(s[0]);
      el.dataset.xMax = Math.round(s[1]);
    });
    applying = false;
  }

  // A drag across a chart zooms every chart to that span (uPlot's own zoom is off: it would zoom one).
  function zoomed(u) {
    if (u.select.width < 2) return;
    var min = u.posToVal(u.select.left, "x"), max = u.posToVal(u.select.left + u.select.width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    view = { from: Math.round(min), to: Math.round(max) };
    setParams({ from: view.from, to: view.to });
    applySpan();
  }

  function resetZoom() {
    view = null;
    setParams({ from: null, to: null });
    applySpan();
  }

  var hoverTimer = null;
  function hoveredAt(u) {
    if (applying || u.cursor.idx == null || u.cursor.left < 0) return;
    var t = Math.round(u.posToVal(u.cursor.left, "x"));
    clearTimeout(hoverTimer);
    // The last time hovered stays in the URL when the pointer leaves: copy the link, get this view.
    hoverTimer = setTimeout(function () { setParams({ t: t }); }, 200);
  }

  function showHovered() {
    if (hovered == null) return;
    Object.keys(plots).forEach(function (id) {
      var u = plots[id];
      applying = true;
      u.setCursor({ left: u.valToPos(hovered, "x"), top: u.bbox.height / (2 * devicePixelRatio) });
      applying = false;
    });
  }

  function idleLabels(el) {
    var labels = {};
    el.closest("figure").querySelectorAll(".chart-idle tr[data-series]").forEach(function (tr) {
      labels[tr.dataset.series] = true;
    });
    return labels;
  }

  function size(el) { return { width: Math.max(260, el.clientWidth), height: 180 }; }

  // The figures beside a chart: now is the newest report (as in the summary), avg and max over the range.
  function fillTable(el, lines, fmt) {
    var nowByLabel = {};
    if (history.latest) {
      CHARTS[el.dataset.chart](history.latest).forEach(function (l) { nowByLabel[l[0]] = l[1][0]; });
    }
    var byLabel = {};
    lines.forEach(function (l) { byLabel[l[0]] = l[1]; });
    el.closest("figure").querySelectorAll("tr[data-series]").forEach(function (tr) {
      var values = (byLabel[tr.dataset.series] || []).filter(function (v) { return v != null; });
      var sum = values.reduce(function (a, b) { return a + b; }, 0);
      var cells = {
        now: fmt(nowByLabel[tr.dataset.series]),
        avg: values.length ? fmt(sum / values.length) : "–",
        max: values.length ? fmt(Math.max.apply(null, values)) : "–"
      };
      tr.querySelectorAll("td[data-stat]").forEach(function (td) { td.textContent = cells[td.dataset.stat]; });
    });
  }

  function draw() {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var id = el.dataset.chart, unit = el.dataset.unit, lines = CHARTS[id](history), fmt = FORMAT[unit];
      var data = [history.timestamps].concat(lines.map(function (l) { return l[1]; }));
      var present = history.timestamps.filter(function (t, i) { return data.slice(1).some(function (d) { return d[i] != null; }); });
      // What is drawn, for tests: the number of points and the newest one's time.
      el.dataset.points = present.length;
      el.dataset.last = present.length ? present[present.length - 1] : "";
      fillTable(el, lines, fmt);
      if (plots[id] && plots[id].series.length === data.length) {
        plots[id].setData(data, false);
        applySpan(id);
        return;
      }
      if (plots[id]) plots[id].destroy();
      el.textContent = "";
      var idle = idleLabels(el);
      var opts = {
        ...size(el),
        series: [{}].concat(lines.map(function (l, i) {
          // On the CPU chart the total leads; peak is dashed and the cores stay thin.
          var cpuDetail = id === "cpu" && i > 0;
          return { label: l[0], stroke: PALETTE[i % PALETTE.length], width: cpuDetail ? 1 : 2,
                   dash: id === "cpu" && i === 1 ? [4, 3] : undefined, value: function (u, v) { return fmt(v); },
                   // Interfaces and mounts that carried nothing start hidden (the legend shows them again).
                   show: !idle[l[0]], spanGaps: false, points: { show: false, filter: isolated, size: 7, fill: PALETTE[i % PALETTE.length] } };
        })),
        scales: Object.assign({ x: { time: true, auto: false } }, unit === "percent" ? { y: { range: [0, 100] } } : {}),
        axes: [
          { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.15)" } },
          { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.15)" }, size: 84,
            values: function (u, vals) { return vals.map(fmt); } }
        ],
        cursor: {
          sync: { key: "host-charts" },
          drag: { x: true, y: false, setScale: false },
          // Double click: back to the whole range (uPlot's own would zoom to the data's extent).
          bind: { dblclick: function () { return function () { resetZoom(); return null; }; } }
        },
        hooks: { setSelect: [zoomed], setCursor: [hoveredAt] },
        legend: { live: true }
      };
      plots[id] = new uPlot(opts, data, el);
      applySpan(id);
      el.setAttribute("role", "img");
      el.setAttribute("aria-label", el.closest("figure").querySelector("figcaption").textContent + " chart; figures in the table below");
    });
  }

  // A pushed report has every mount and interface; a range read from rollups charts totals only.
  function shaped(point) {
    if (!history.rollup) return point;
    var s = point.series;
    return Object.assign({}, point, { detail: { cores: [], disks: { "fullest mount": s.disk_percent },
      network: { all: { rx: s.net_rx_bps, tx: s.net_tx_bps } } } });
  }

  function append(point) {
    point = shaped(point);
    var t = point.timestamps[0], ts = history.timestamps, n = ts.length, last = n ? ts[n - 1] : -Infinity;
    if (history.latest == null || t >= history.latest.timestamps[0]) history.latest = point;
    if (t < last) return;  // older than the newest point: a replayed report, already in a step
    var step = history.step_seconds;
    if (n && Math.floor(t / step) === Math.floor(last / step)) {
      merge(n - 1, point);  // the newest step is still open: the report joins it, as on the server
    } else {
      // A silence longer than a host may keep online is a gap: nulls at the missing steps, as the server sends.
      if (n && t - last > history.gap_seconds) {
        for (var g = last + step; g < t; g += step) push(g, null);
      }
      push(t, point);
      var horizon = span()[0], drop = 0;
      while (drop < ts.length && ts[drop] < horizon) drop++;
      if (drop) trim(drop);
    }
    draw();
  }

  function each(target, source, fn) {
    Object.keys(target).forEach(function (k) {
      var v = source && source[k];
      if (Array.isArray(target[k])) fn(target[k], v, k); else each(target[k], v, fn);
    });
  }
  function first(v) { return v && v[0] != null ? v[0] : null; }
  function push(t, point) {
    history.timestamps.push(t);
    history.counts.push(point ? 1 : null);
    function add(arr, v) { arr.push(first(v)); }
    each(history.series, point && point.series, add);
    history.detail.cores.forEach(function (arr, i) { add(arr, point && point.detail.cores[i]); });
    each(history.detail.disks, point && point.detail.disks, add);
    each(history.detail.network, point && point.detail.network, add);
  }
  // Into step i: averages weighted by the reports behind them, the peak as a maximum, and
  // per-core/mount/interface values replaced (a step shows its newest report's detail).
  function merge(i, point) {
    var count = history.counts[i] || 0;
    each(history.series, point.series, function (arr, v, key) {
      var x = first(v);
      if (x == null) return;
      if (arr[i] == null) arr[i] = x;
      else arr[i] = key === "cpu_max" ? Math.max(arr[i], x) : (arr[i] * count + x) / (count + 1);
    });
    function replace(arr, v) { if (first(v) != null) arr[i] = first(v); }
    history.detail.cores.forEach(function (arr, c) { replace(arr, point.detail.cores[c]); });
    each(history.detail.disks, point.detail.disks, replace);
    each(history.detail.network, point.detail.network, replace);
    history.counts[i] = count + 1;
  }
  function trim(n) {
    history.timestamps.splice(0, n);
    history.counts.splice(0, n);
    function cut(arr) { arr.splice(0, n); }
    each(history.series, null, cut);
    history.detail.cores.forEach(cut);
    each(history.detail.disks, null, cut);
    each(history.detail.network, null, cut);
  }

  function readUrl() {
    var params = new URLSearchParams(window.location.search);
    var from = parseInt(params.get("from"), 10), to = parseInt(params.get("to"), 10), t = parseInt(params.get("t"), 10);
    view = from < to ? { from: from, to: to } : null;
    hovered = isNaN(t) ? null : t;
  }

  function load() {
    var source = document.getElementById("history-data");
    if (!source || !window.uPlot) return;
    history = JSON.parse(source.textContent);
    skew = history.end - Date.now() / 1000;
    readUrl();
    draw();
    requestAnimationFrame(showHovered);
    // The axis keeps ending now while nothing arrives (a host that went quiet drifts left).
    setInterval(function () { if (!view) applySpan(); }, 5000);
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
      .then(function (fresh) { if (fresh) { history = fresh; skew = fresh.end - Date.now() / 1000; draw(); } });
  });
})();
