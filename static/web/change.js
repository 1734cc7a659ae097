// The map of a committed boundary change (/maps/boundaries/changes/{id}): old sectors
// dashed red, new ones blue, on the district's streets (static/web/streets.js). Names are
// set as text only.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("change-data").textContent);
  var EN = (document.documentElement.lang || "").slice(0, 2) === "en";
  var el = document.getElementById("change-map");
  var map = L.map(el, { zoomControl: true });
  el.gridmapMap = map;  // for the browser tests
  if (window.gmStreets) gmStreets.load(map);

  function name(p) {
    return (EN && p.name_en) ? p.name_en : (p.name_zh || p.code || "");
  }
  function tooltip(f, layer) {
    var span = document.createElement("span");
    span.textContent = name(f.properties || {}) + " · " + (f.id || "");
    layer.bindTooltip(span, { sticky: true });
  }
  var after = L.geoJSON(data.after, {
    style: { color: "#1d4ed8", weight: 2, fillColor: "#3b82f6", fillOpacity: 0.2 },
    onEachFeature: tooltip,
  }).addTo(map);
  var before = L.geoJSON(data.before, {
    style: { color: "#dc2626", weight: 2, dashArray: "6 4", fill: false }, interactive: false,
  }).addTo(map);
  var bounds = after.getBounds();
  if (before.getBounds().isValid()) bounds = bounds.isValid() ? bounds.extend(before.getBounds()) : before.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12] });
  else map.setView([39.76, 98.48], 13);

  // the time of the change in Beijing time, in the page's language
  document.querySelectorAll("time.beijing-time").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) {
      t.textContent = d.toLocaleString(EN ? "en-GB" : "zh-CN", {
        timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit",
      });
    }
  });
})();
