// The orientation basemap of every map page when no tile basemap is configured
// (GRIDMAP_TILES=none): the district's streets and landmarks from GET /api/orientation (or
// given inline by a generated page), drawn light under the data with their names as
// permanent Leaflet tooltips. No tile, no request beyond the service.
//
//   gmStreets.load(map)            fetch /api/orientation and draw it
//   gmStreets.draw(map, data)      draw {streets: FeatureCollection, landmarks: ...}
//
// Names come from imported files: they are set as text (DOM nodes), never as HTML.
(function () {
  "use strict";

  var EN = (document.documentElement.lang || "").slice(0, 2) === "en";

  function name(p) {
    return (EN && p.name_en) ? p.name_en : (p.name_zh || p.name_en || "");
  }
  function label(text, cls) {
    var span = document.createElement("span");
    span.textContent = text;
    span.className = cls;
    return span;
  }

  function pane(map, id, z) {
    // lines under the overlays (400), above tiles (200); names just above the overlays, so
    // a filled choropleth does not hide them; clicks go through both to the data
    if (!map.getPane(id)) {
      var p = map.createPane(id);
      p.style.zIndex = z;
      p.style.pointerEvents = "none";
    }
    return id;
  }

  function zoomClasses(map) {
    var c = map.getContainer().classList;
    function mark() { c.toggle("gm-streets-far", map.getZoom() < 14); }  // arterial names only
    map.on("zoomend", mark);
    mark();
  }

  function draw(map, data) {
    var where = pane(map, "gmStreets", 250);
    var names = pane(map, "gmStreetNames", 450);
    var group = L.layerGroup();
    var streets = (data && data.streets && data.streets.features) || [];
    streets.forEach(function (f) {
      var p = f.properties || {};
      var casing = L.geoJSON(f, {
        pane: where, interactive: false,
        style: { color: "#ffffff", weight: p.arterial ? 9 : 6, opacity: 0.9, lineCap: "round" },
      });
      var line = L.geoJSON(f, {
        pane: where, interactive: false,
        style: { color: p.arterial ? "#c9b98f" : "#cfd4da", weight: p.arterial ? 5 : 3, opacity: 1 },
      });
      group.addLayer(casing);
      group.addLayer(line);
      var text = name(p);
      if (!text) return;
      line.eachLayer(function (layer) {
        layer.bindTooltip(label(text, "gm-street-name"), {
          permanent: true, direction: "center", pane: names, interactive: false,
          className: "gm-street" + (p.arterial ? " gm-street-arterial" : ""),
        });
      });
    });
    var landmarks = (data && data.landmarks && data.landmarks.features) || [];
    landmarks.forEach(function (f) {
      var ll = L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]);
      var dot = L.circleMarker(ll, {
        pane: where, interactive: false, radius: 4, color: "#7a6a4f", weight: 1,
        fillColor: "#f3e3bf", fillOpacity: 1,
      });
      dot.bindTooltip(label(name(f.properties || {}), "gm-landmark-name"), {
        permanent: true, direction: "right", offset: [4, 0], pane: names, interactive: false,
        className: "gm-street gm-landmark",
      });
      group.addLayer(dot);
    });
    group.addTo(map);
    zoomClasses(map);
    map.getContainer().classList.add("gm-has-streets");
    window.gmStreetLayer = group;
    return group;
  }

  function load(map) {
    return fetch("/api/orientation", {
      headers: { Accept: "application/json" }, credentials: "same-origin",
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { return data ? draw(map, data) : null; })
      .catch(function () { return null; });
  }

  window.gmStreets = { draw: draw, load: load };
})();
