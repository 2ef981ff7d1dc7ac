/* Sidan dashboard: draws the charts from the page's embedded figures; in wall mode reloads
   the panels by itself. No network beyond this server. */
(function () {
  "use strict";
  var charts = [];
  var palette = ["#c23531", "#2f4554", "#61a0a8", "#d48265", "#91c7ae", "#749f83", "#ca8622",
    "#bda29a", "#6e7074", "#546570", "#c4ccd3", "#e98f6f", "#3fb1e3", "#6be6c1", "#626c91"];

  function drill(params) {
    var base = location.pathname.replace(/\/$/, "") + "/tickets?";
    return base + new URLSearchParams(params).toString();
  }

  function chart(id, option, onClick) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return;
    var c = echarts.init(el, null, { renderer: "canvas" });
    c.setOption(Object.assign({ color: palette, animation: false }, option));
    if (onClick) c.on("click", onClick);
    charts.push(c);
  }

  function draw() {
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
    var node = document.getElementById("chart-data");
    if (!node) return;
    var data = JSON.parse(node.textContent);
    var daily = data.daily;
    chart("chart-daily", {
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 40, right: 16, top: 40, bottom: 30 },
      xAxis: { type: "category", data: daily.days.map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: daily.series.map(function (s) {
        return { name: s.name, type: "bar", stack: "all", data: s.data, code: s.code };
      })
    }, function (p) {
      var s = daily.series[p.seriesIndex];
      location.href = drill({ metric: "new", period: "30d", category: s.code });
    });
    var spots = data.hotspots.filter(function (h) { return h.lat !== null && h.lng !== null; });
    var maxN = Math.max.apply(null, [1].concat(spots.map(function (h) { return h.tickets; })));
    chart("chart-map", {
      tooltip: { formatter: function (p) { return echarts.format.encodeHTML(p.data.name) + "：近30天 " + p.data.value[2] + " 件，未办结 " + p.data.value[3] + " 件"; } },
      grid: { left: 60, right: 20, top: 20, bottom: 40 },
      xAxis: { type: "value", scale: true, name: "经度", axisLabel: { formatter: function (v) { return v.toFixed(3); } } },
      yAxis: { type: "value", scale: true, name: "纬度", axisLabel: { formatter: function (v) { return v.toFixed(3); } } },
      series: [{
        type: "scatter",
        data: spots.map(function (h) { return { name: h.name, id: h.id, value: [h.lng, h.lat, h.tickets, h.open] }; }),
        symbolSize: function (v) { return 8 + 40 * Math.sqrt(v[2] / maxN); },
        label: { show: true, position: "right", formatter: function (p) { return p.data.name; } },
        itemStyle: { color: "#c23531", opacity: 0.75 }
      }]
    }, function (p) { location.href = drill({ metric: "new", period: "30d", compound: p.data.id }); });
    var rank = data.ranking;
    if (rank.length) {
      var pctOf = function (k) { return rank.map(function (r) { return r[k] === null ? null : +(r[k] * 100).toFixed(1); }); };
      chart("chart-ranking", {
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 40, right: 16, top: 40, bottom: 30 },
        xAxis: { type: "category", data: rank.map(function (r) { return r.name; }) },
        yAxis: { type: "value", max: 100, name: "%" },
        series: [
          { name: "响应率", type: "bar", data: pctOf("response_rate") },
          { name: "解决率", type: "bar", data: pctOf("resolve_rate") },
          { name: "满意率", type: "bar", data: pctOf("satisfaction_rate") }
        ]
      }, function (p) { location.href = location.pathname.replace(/\/u\/\d+\/$/, "/u/" + rank[p.dataIndex].id + "/"); });
    }
    var vols = data.volunteers.slice().reverse();
    chart("chart-volunteers", {
      grid: { left: 60, right: 20, top: 10, bottom: 20 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: vols.map(function (v) { return v.name; }) },
      series: [{ type: "bar", data: vols.map(function (v) { return v.points; }), itemStyle: { color: "#ca8622" } }]
    });
  }

  function refresh() {
    fetch(location.href, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById("panels");
      var data = doc.getElementById("chart-data");
      var count = +(document.getElementById("refresh-count") || { textContent: 0 }).textContent + 1;
      document.getElementById("panels").replaceWith(fresh);
      document.getElementById("chart-data").textContent = data.textContent;
      var counter = document.getElementById("refresh-count");
      if (counter) counter.textContent = count;
      draw();
    }).catch(function () {
      var stamp = document.getElementById("stamp");
      if (stamp) stamp.textContent += "（刷新失败，稍后重试）";
    });
  }

  draw();
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  var panels = document.getElementById("panels");
  var every = panels ? +panels.dataset.refresh : 0;
  if (every > 0) {
    setInterval(refresh, every * 1000);
    if (document.documentElement.requestFullscreen) {
      document.addEventListener("click", function once() {
        document.documentElement.requestFullscreen().catch(function () {});
        document.removeEventListener("click", once);
      });
    }
  }
  window.sidanCharts = function () { return charts; };
})();
