// What lies under the pen in the grid editor (/maps/planner), beside editor.js:
// - the streets and landmarks (static/web/streets.js) when no tile basemap is configured;
// - the courtyards by kind with their names, and the households of each (toggled in the
//   layer control); the courtyard a preview would split highlighted and named;
// - balance bars for every sector and level-2 grid (households per worker against the band,
//   cases per worker beside it) from GET /api/planning/balance, updated from each preview
//   (the "gridmap:preview" event editor.js sends); sectors out of the band coloured;
// - each touched sector's compactness (Polsby–Popper) from the preview, with its warning.
// Names come from imported files: everything is set with textContent, never as HTML.
(function () {
  "use strict";

  var editor = window.gridEditor;
  if (!editor || !editor.map) return;
  var map = editor.map;
  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var M = config.messages;
  var EN = config.lang === "en";
  var locale = EN ? "en-GB" : "zh-CN";

  function msg(key, values) {
    var text = M[key] !== undefined ? M[key] : key;
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined && values[name] !== null ? String(values[name]) : all;
    });
  }
  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function clear(node) { node.textContent = ""; }
  function number(v, digits) {
    if (v === null || v === undefined) return "–";
    return Number(v).toLocaleString(locale, { maximumFractionDigits: digits || 0 });
  }
  function nameOf(p) { return (EN && p.name_en) ? p.name_en : (p.name_zh || p.code || ""); }
  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); });
  }
  function pane(id, z) {
    if (!map.getPane(id)) {
      var p = map.createPane(id);
      p.style.zIndex = z;
      p.style.pointerEvents = "none";  // clicks and drags go to the sectors below
    }
    return id;
  }

  // ------------------------------------------------------------ layers under the pen
  var YARD_COLOUR = { managed: "#2e7d32", scattered: "#ef6c00", rental: "#6a1b9a" };
  var layers = {
    streets: L.layerGroup(),
    courtyards: L.layerGroup().addTo(map),
    households: L.layerGroup(),
    band: L.layerGroup().addTo(map),
  };
  var split = L.layerGroup().addTo(map);
  var yards = {};      // code -> {feature, layer}
  var households = {}; // courtyard code -> households
  window.gridEditorLayers = { layers: layers, yards: yards, households: households };

  if (!config.basemap) {
    layers.streets.addTo(map);
    if (window.gmStreets) {
      gmStreets.load(map).then(function (group) {
        if (!group) return;
        map.removeLayer(group);
        layers.streets.addLayer(group);
      });
    }
  }
  var overlays = {};
  overlays[msg("editor.layers.streets")] = layers.streets;
  overlays[msg("editor.layers.courtyards")] = layers.courtyards;
  overlays[msg("editor.layers.households")] = layers.households;
  overlays[msg("editor.layers.band")] = layers.band;
  L.control.layers(null, overlays, { collapsed: true, position: "topright" }).addTo(map);

  function zoomMark() {
    map.getContainer().classList.toggle("gm-yards-far", map.getZoom() < 16);
  }
  map.on("zoomend", zoomMark);
  zoomMark();

  function kindLabel(kind) { return M["term." + kind] || kind; }

  function drawYards(fc) {
    layers.courtyards.clearLayers();
    Object.keys(yards).forEach(function (k) { delete yards[k]; });
    L.geoJSON(fc, {
      pane: pane("gmYards", 410), interactive: false, pmIgnore: true,
      style: function (f) {
        var c = YARD_COLOUR[f.properties.kind] || "#555";
        return { color: c, weight: 1, fillColor: c, fillOpacity: 0.35 };
      },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(el("span", nameOf(f.properties)), {
          permanent: true, direction: "center", className: "gm-yard", pane: pane("gmYardNames", 460),
        });
        yards[f.id] = { feature: f, layer: layer };
      },
    }).addTo(layers.courtyards);
    drawHouseholds();
  }

  function drawHouseholds() {
    layers.households.clearLayers();
    Object.keys(yards).forEach(function (code) {
      var n = households[code];
      if (!n) return;
      var centre = yards[code].layer.getBounds().getCenter();
      var dot = L.circleMarker(centre, {
        pane: pane("gmYards", 410), interactive: false, pmIgnore: true,
        radius: Math.max(4, Math.sqrt(n) / 1.6), color: "#263238", weight: 1,
        fillColor: "#ffca28", fillOpacity: 0.8,
      });
      dot.bindTooltip(el("span", msg("editor.yard_households", { count: number(n) })), {
        permanent: true, direction: "right", className: "gm-yard", pane: pane("gmYardNames", 460),
      });
      layers.households.addLayer(dot);
    });
  }

  // ------------------------------------------------------------ balance bars
  var base = null;    // the balance in force: {target, band, sectors: [...], grids: [...]}
  var shown = null;   // the balance shown: base, or base with the preview applied

  function stateOf(row) {
    if (row.households_per_worker === null || row.households_per_worker === undefined) return "none";
    if (row.households_per_worker > base.band[1]) return "over";
    if (row.households_per_worker < base.band[0]) return "under";
    return "in";
  }

  function figures(row) {
    row.households_per_worker = row.workers ? Math.round(row.households / row.workers * 10) / 10 : null;
    row.cases_per_worker = row.workers ? Math.round(row.cases / row.workers * 10) / 10 : null;
    return row;
  }

  function bars(list, rows, scale) {
    clear(list);
    rows.forEach(function (row) {
      var li = el("li");
      var st = stateOf(row);
      li.dataset.code = row.code;
      li.dataset.state = st;
      if (row.changed) li.dataset.changed = "1";
      if (row.retired) li.dataset.retired = "1";
      var who = el("span", nameOf(row) + " · " + row.code.slice(-4), "who");
      who.title = nameOf(row) + " · " + row.code;
      li.appendChild(who);
      var bar = el("span", null, "balance-bar");
      var band = el("span", null, "band");
      band.style.left = (100 * base.band[0] / scale) + "%";
      band.style.width = (100 * (base.band[1] - base.band[0]) / scale) + "%";
      bar.appendChild(band);
      var fill = el("span", null, "fill");
      var value = row.households_per_worker === null ? 0 : row.households_per_worker;
      fill.style.width = Math.min(100, 100 * value / scale) + "%";
      bar.appendChild(fill);
      bar.setAttribute("role", "img");
      bar.setAttribute("aria-label", String(value));
      li.appendChild(bar);
      var fig = row.workers
        ? msg("editor.balance_value", { households: number(row.households_per_worker), cases: number(row.cases_per_worker, 1) })
        : msg("editor.balance_no_worker");
      var figure = el("span", fig, "fig");
      figure.dataset.householdsPerWorker = row.households_per_worker === null ? "" : row.households_per_worker;
      figure.dataset.casesPerWorker = row.cases_per_worker === null ? "" : row.cases_per_worker;
      li.appendChild(figure);
      li.addEventListener("click", function () {
        var layer = editor.layers[row.code];
        if (layer) map.fitBounds(layer.getBounds(), { maxZoom: 16, padding: [30, 30] });
      });
      list.appendChild(li);
    });
  }

  function drawBalance() {
    if (!shown) return;
    var all = shown.sectors.concat(shown.grids);
    var top = Math.max.apply(null, all.map(function (r) { return r.households_per_worker || 0; }).concat([base.band[1] * 1.5]));
    $("balance-hint").textContent = msg("editor.balance_hint", { low: number(base.band[0]), high: number(base.band[1]) });
    bars($("balance-sectors"), shown.sectors.filter(function (r) { return !r.retired; }), top);
    bars($("balance-grids"), shown.grids, top);
    var out = shown.sectors.filter(function (r) { return !r.retired && stateOf(r) !== "in"; });
    $("balance-out").textContent = msg("editor.balance_out", { count: out.length });
    $("balance").dataset.sectors = shown.sectors.filter(function (r) { return !r.retired; }).length;
    drawBand(out);
  }

  function drawBand(out) {
    layers.band.clearLayers();
    var where = pane("gmBand", 405);
    out.forEach(function (row) {
      var f = row.feature || editor.sectors[row.code];
      if (!f) return;
      var st = stateOf(row);
      L.geoJSON(f, {
        pane: where, interactive: false, pmIgnore: true,
        style: {
          color: st === "under" ? "#1565c0" : "#c62828", weight: 2, dashArray: "2 4",
          fillColor: st === "under" ? "#1565c0" : "#c62828", fillOpacity: 0.22,
        },
      }).addTo(layers.band);
    });
  }

  function copyRows(rows) {
    return rows.map(function (r) { var c = {}; for (var k in r) c[k] = r[k]; return c; });
  }

  // the preview's households and workers after the edit, and its incident flows, on top of
  // the balance in force: the bars of every unit as the edit would leave them
  function withPreview(report) {
    var out = { sectors: copyRows(base.sectors), grids: copyRows(base.grids) };
    var index = { sectors: {}, grids: {} };
    ["sectors", "grids"].forEach(function (part) {
      out[part].forEach(function (r) { index[part][r.code] = r; });
    });
    var load = report.load || {};
    var retired = {};  // sectors the edit retires (merged away, re-coded by a reassignment)
    (report.units || []).forEach(function (u) {
      if (u.level === "sector" && u.action === "retired") retired[u.code] = true;
    });
    var newSectors = {};
    ((report.map && report.map.after && report.map.after.features) || []).forEach(function (f) {
      newSectors[f.id] = f;
    });
    ["sectors", "grids"].forEach(function (part) {
      (load[part] || []).forEach(function (l) {
        var row = index[part][l.code];
        if (!row) {
          row = { code: l.code, name_zh: l.name_zh, name_en: null, households: 0, workers: 0, cases: 0, feature: newSectors[l.code] };
          out[part].push(row);
          index[part][l.code] = row;
        }
        if (newSectors[l.code]) row.feature = newSectors[l.code];  // its shape after the edit
        row.households = l.households_after;
        row.workers = l.workers_after;
        row.changed = true;
        if (part === "sectors" && retired[l.code]) row.retired = true;
      });
    });
    var flows = (report.moves && report.moves.incidents && report.moves.incidents.flows) || [];
    flows.forEach(function (f) {
      [[f.from, -1], [f.to, 1]].forEach(function (end) {
        if (!end[0]) return;
        var sector = index.sectors[end[0]];
        if (sector) sector.cases += end[1] * f.count;
        var grid = index.grids[end[0].slice(0, -2)];  // a sector's code extends its grid's
        if (grid) grid.cases += end[1] * f.count;
      });
    });
    out.sectors.forEach(figures);
    out.grids.forEach(figures);
    out.sectors.sort(function (a, b) { return a.code < b.code ? -1 : 1; });
    out.grids.sort(function (a, b) { return a.code < b.code ? -1 : 1; });
    return out;
  }

  // ------------------------------------------------------------ split warning, compactness
  function showSplit(report) {
    split.clearLayers();
    var box = $("split-warning");
    clear(box);
    Object.keys(yards).forEach(function (code) {
      var t = yards[code].layer.getTooltip();
      if (t && t.getElement()) t.getElement().classList.remove("gm-yard-split");
    });
    var named = [];
    ((report && report.problems) || []).forEach(function (p) {
      if (p.rule !== "courtyard_split" || !p.units || !p.units.length) return;
      var code = p.units[0];
      var yard = yards[code];
      var props = yard ? yard.feature.properties : { code: code, name_zh: code };
      if (named.indexOf(code) >= 0) return;
      named.push(code);
      box.appendChild(el("p", msg("editor.split_warning", {
        name: nameOf(props), kind: kindLabel(props.kind), code: code,
      })));
      if (yard) {
        L.geoJSON(yard.feature, {
          pane: pane("gmSplit", 470), interactive: false, pmIgnore: true,
          style: { color: "#b71c1c", weight: 4, fillColor: "#ff5252", fillOpacity: 0.45 },
        }).addTo(split);
        var t = yard.layer.getTooltip();
        if (t && t.getElement()) t.getElement().classList.add("gm-yard-split");
      }
    });
    box.hidden = !named.length;
    box.dataset.courtyards = named.join(",");
  }

  function showShape(report) {
    var c = report && report.compactness;
    $("shape-box").hidden = !c || !c.sectors || !c.sectors.length;
    var list = $("shape-list");
    var warnings = $("shape-warnings");
    clear(list);
    clear(warnings);
    if (!c) return;
    var names = {};
    ((report.map && report.map.after && report.map.after.features) || []).forEach(function (f) {
      names[f.id] = f.properties;
    });
    function label(code) {
      var p = editor.sectors[code] ? editor.sectors[code].properties : (names[code] || { code: code });
      return nameOf(p) + " · " + code.slice(-4);
    }
    c.sectors.forEach(function (s) {
      var li = el("li", msg("editor.compactness_row", { name: label(s.code), score: number(s.polsby_popper, 2) }));
      li.dataset.code = s.code;
      li.dataset.score = s.polsby_popper;
      list.appendChild(li);
    });
    (c.warnings || []).forEach(function (w) {
      var p = el("p", msg("editor.compactness_warning", {
        name: label(w.units[0]), score: number(w.polsby_popper, 2), min: c.min,
      }), "shape-warning small");
      p.dataset.code = w.units[0];
      warnings.appendChild(p);
    });
  }

  document.addEventListener("gridmap:preview", function (e) {
    var report = e.detail;
    showSplit(report);
    showShape(report);
    if (!base) return;
    shown = report && report.valid && report.load ? withPreview(report) : base;
    drawBalance();
  });

  // ------------------------------------------------------------ loading (and after apply)
  function loadAll() {
    getJSON("/api/boundaries?level=courtyard").then(drawYards).catch(function () {});
    getJSON("/api/planning/balance").then(function (b) {
      base = b;
      shown = b;
      households = {};
      (b.courtyards || []).forEach(function (c) { households[c.code] = c.households; });
      window.gridEditorLayers.households = households;
      window.gridEditorLayers.balance = b;
      drawHouseholds();
      drawBalance();
      document.body.dataset.layersReady = "1";
    }).catch(function () {});
  }
  // editor.js marks the body ready after every load (the first, and after an apply)
  new MutationObserver(function () {
    if (document.body.dataset.ready === "1") loadAll();
  }).observe(document.body, { attributes: true, attributeFilter: ["data-ready"] });
  if (document.body.dataset.ready === "1") loadAll();
})();
