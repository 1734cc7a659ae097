// The grid editor (/maps/planner): the sectors on a Leaflet map, vertex editing with
// Leaflet-Geoman, the boundary-planning API's dry run as a preview after every edit, apply
// with the units' ETags (If-Match), history with rollback, the grid as it was, and the
// split / merge / reassign tools.
//
// Shared borders move together: a vertex is identified by its coordinates (7 decimals, as
// the API writes them), and moving, adding or removing it in the selected sector does the
// same in every sector that has it, so no gap or overlap opens.
//
// Names come from imported files: everything is written with textContent or as DOM nodes,
// never as HTML.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var M = config.messages;
  var lang = config.lang;
  var locale = lang === "zh" ? "zh-CN" : "en-GB";

  function msg(key, values) {
    var text = M[key] !== undefined ? M[key] : key;
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined && values[name] !== null
        ? String(values[name]) : all;
    });
  }
  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function number(value, digits) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString(locale, {
      maximumFractionDigits: digits === undefined ? 0 : digits,
    });
  }
  function when(iso) {
    if (!iso) return "–";
    return new Date(iso).toLocaleString(locale, {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit",
    });
  }
  function nameOf(props) {
    if (!props) return "";
    return (lang === "en" && props.name_en) ? props.name_en : (props.name_zh || props.code);
  }
  function key(ll) { return ll.lat.toFixed(7) + "," + ll.lng.toFixed(7); }

  // ---------------------------------------------------------------- state
  var state = {
    sectors: {},        // code -> feature (current version, with etag)
    layers: {},         // code -> Leaflet polygon
    grid2s: {},         // code -> feature
    load: {},           // code -> coverage row (households, grid_workers, ...)
    selected: null,
    edited: {},         // code -> true: sectors whose geometry the planner changed
    pending: null,      // the edit waiting for Apply: {kind, ...}
    readOnly: false,    // viewing the grid as it was
    changes: [],        // the change log, oldest first (for the as-of slider)
    busy: false,
    previewSeq: 0,
    plan: null,         // the open plan's id: its layer is drawn, edits preview on it
  };
  window.gridEditor = state;  // for the browser tests and the curious

  var map = L.map("map", { zoomControl: true, preferCanvas: false });
  state.map = map;
  if (config.basemap) {
    L.tileLayer(config.basemap.url, {
      attribution: config.basemap.attribution, subdomains: config.basemap.subdomains,
      maxZoom: 19,
    }).addTo(map);
  } else if (config.basemap_skipped) {
    $("basemap-note").hidden = false;
  }
  map.pm.setLang("gridmap", {
    tooltips: {
      firstVertex: msg("editor.draw.firstVertex"),
      continueLine: msg("editor.draw.continueLine"),
      finishLine: msg("editor.draw.finishLine"),
    },
  }, "en");
  map.pm.setGlobalOptions({ snappable: true, snapDistance: 12, allowSelfIntersection: false });

  var communityLayer = L.layerGroup().addTo(map);
  var sectorLayer = L.featureGroup().addTo(map);
  var resultLayer = L.layerGroup().addTo(map);
  var problemLayer = L.layerGroup().addTo(map);
  var historyLayer = L.layerGroup().addTo(map);

  var PALETTE = ["#5b8def", "#e5a13b", "#43a36b", "#b565c9", "#d9694f", "#3aa6a6",
    "#8c8c3a", "#c9577d", "#6d78c4", "#7f9f3f", "#c48a5a", "#4f8fb3"];
  var gridColour = {};

  function sectorStyle(code) {
    var f = state.sectors[code];
    var colour = gridColour[f.properties.parent_code] || "#777";
    var selected = code === state.selected;
    return {
      color: selected ? "#b0281c" : (state.edited[code] ? "#1d4ed8" : "#555"),
      weight: selected ? 3 : (state.edited[code] ? 2.5 : 1),
      fillColor: colour, fillOpacity: selected ? 0.15 : 0.28,
    };
  }

  function status(text) { $("status").textContent = text; }

  // ---------------------------------------------------------------- HTTP
  function request(method, url, body, etags) {
    var headers = { Accept: "application/json" };
    // the session's CSRF token: every write authenticated by the sign-in cookie carries it
    var csrf = document.querySelector('meta[name="csrf-token"]');
    if (method !== "GET") headers["X-CSRF-Token"] = csrf ? csrf.getAttribute("content") : "";
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (etags && etags.length) headers["If-Match"] = etags.join(", ");
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
        return { status: response.status, ok: response.ok, data: data };
      });
    });
  }
  function getJSON(url) {
    return request("GET", url).then(function (r) {
      if (!r.ok) throw new Error((r.data && r.data.detail) || ("HTTP " + r.status));
      return r.data;
    });
  }

  // ---------------------------------------------------------------- loading
  function load(keepSelection) {
    var wanted = keepSelection || null;
    // an open plan's sectors (replayed on the server); grids and communities in force
    var of = state.plan ? "&plan=" + encodeURIComponent(state.plan) : "";
    status(msg("editor.loading"));
    return Promise.all([
      getJSON("/api/boundaries?level=sector" + of),
      getJSON("/api/boundaries?level=grid2"),
      getJSON("/api/boundaries?level=community"),
      getJSON("/api/coverage?level=sector").catch(function () { return { rows: [] }; }),
      getJSON("/api/boundaries/changes?limit=500").catch(function () { return []; }),
    ]).then(function (answers) {
      state.layerEtag = answers[0].layer_etag;
      state.sectors = {};
      answers[0].features.forEach(function (f) { state.sectors[f.id] = f; });
      state.grid2s = {};
      answers[1].features.forEach(function (f, i) {
        state.grid2s[f.id] = f;
        gridColour[f.id] = PALETTE[i % PALETTE.length];
      });
      state.load = {};
      (answers[3].rows || []).forEach(function (row) { state.load[row.code] = row; });
      state.changes = answers[4].slice().reverse();
      drawCommunities(answers[2]);
      drawSectors();
      fillSelects();
      setupSlider();
      state.edited = {};
      state.pending = null;
      state.readOnly = false;
      $("asof-banner").hidden = true;
      clearPreview();
      var code = wanted && state.sectors[wanted] ? wanted : null;
      select(code);
      status("");
      document.body.dataset.ready = "1";
    }).catch(function (error) {
      status(msg("editor.failed", { status: "", detail: error.message }));
    });
  }

  function drawCommunities(fc) {
    communityLayer.clearLayers();
    L.geoJSON(fc, {
      interactive: false, pmIgnore: true,
      style: { color: "#4a235a", weight: 3, fill: false, dashArray: null },
    }).addTo(communityLayer);
  }

  function drawSectors(features) {
    Object.keys(state.layers).forEach(function (code) {
      if (state.layers[code].pm) state.layers[code].pm.disable();
    });
    sectorLayer.clearLayers();
    state.layers = {};
    var list = features || Object.keys(state.sectors).map(function (c) { return state.sectors[c]; });
    list.forEach(function (f) {
      var layer = L.geoJSON(f, { pmIgnore: false }).getLayers()[0];
      layer.feature = f;
      layer.setStyle(features ? {
        color: "#8a6d00", weight: 1.5, fillColor: "#e0a800", fillOpacity: 0.15, dashArray: "4 3",
      } : sectorStyle(f.id));
      var label = el("span", nameOf(f.properties));
      layer.bindTooltip(label, { sticky: true, className: "sector-label" });
      layer.on("click", function () {
        if (!state.readOnly && !state.drawing) select(f.id);  // a click while drawing draws
      });
      sectorLayer.addLayer(layer);
      state.layers[f.id] = layer;
    });
    if (!state.fitted && sectorLayer.getLayers().length) {
      map.fitBounds(sectorLayer.getBounds(), { padding: [10, 10] });
      state.fitted = true;
    }
  }

  function restyle() {
    Object.keys(state.layers).forEach(function (code) {
      if (state.sectors[code]) state.layers[code].setStyle(sectorStyle(code));
    });
    if (state.selected && state.layers[state.selected]) state.layers[state.selected].bringToFront();
  }

  function option(value, text) {
    var o = el("option", text);
    o.value = value;
    return o;
  }

  function fillSelects() {
    var select = $("sector-select");
    while (select.options.length > 1) select.remove(1);
    Object.keys(state.sectors).sort().forEach(function (code) {
      select.appendChild(option(code, nameOf(state.sectors[code].properties) + " · " + code));
    });
  }

  // ---------------------------------------------------------------- selection
  function select(code) {
    if (state.selected && state.layers[state.selected]) state.layers[state.selected].pm.disable();
    state.selected = code;
    $("sector-select").value = code || "";
    $("unit").hidden = !code;
    $("history-box").hidden = !code;
    restyle();
    if (!code) { $("apply-box").hidden = true; return; }
    var f = state.sectors[code];
    var p = f.properties;
    $("unit-code").textContent = code;
    var grid = state.grid2s[p.parent_code];
    $("unit-grid2").textContent = (grid ? nameOf(grid.properties) + " · " : "") + p.parent_code;
    $("unit-version").textContent = msg("editor.version_value", {
      version: p.version, time: when(p.valid_from),
    });
    $("unit-version").dataset.version = p.version;
    var row = state.load[code] || {};
    $("unit-households").textContent = number(row.households);
    $("unit-workers").textContent = number(row.grid_workers);
    $("unit-per-worker").textContent = number(row.households_per_worker, 1);
    $("target").textContent = msg("editor.target", {
      target: config.target, band: Math.round(config.band * 100),
    });
    var mine = vertexKeys(state.layers[code]);
    var shared = 0;
    Object.keys(mine).forEach(function (k) {
      if (otherSectorsWith(k, code).length) shared += 1;
    });
    $("shared").textContent = msg("editor.shared", { shared: shared });
    fillTools(code);
    loadHistory(code);
    if (!state.readOnly) {
      var layer = state.layers[code];
      layer.pm.enable({ allowSelfIntersection: false, snappable: true, draggable: false });
      layer.bringToFront();
    }
  }

  $("sector-select").addEventListener("change", function (e) {
    if (!state.readOnly) select(e.target.value || null);
  });

  // ---------------------------------------------------------------- shared vertices
  function rings(latlngs, out) {
    // every ring (an array of LatLng) in a polygon's nested latlngs
    out = out || [];
    if (!latlngs.length) return out;
    if (latlngs[0] instanceof L.LatLng) out.push(latlngs);
    else latlngs.forEach(function (part) { rings(part, out); });
    return out;
  }
  function vertexKeys(layer) {
    var keys = {};
    rings(layer.getLatLngs()).forEach(function (ring) {
      ring.forEach(function (ll) { keys[key(ll)] = true; });
    });
    return keys;
  }
  function otherSectorsWith(k, except) {
    return Object.keys(state.layers).filter(function (code) {
      if (code === except) return false;
      return rings(state.layers[code].getLatLngs()).some(function (ring) {
        return ring.some(function (ll) { return key(ll) === k; });
      });
    });
  }
  function at(latlngs, path) {
    var node = latlngs;
    path.forEach(function (i) { node = node[i]; });
    return node;
  }
  function markEdited(code) {
    state.edited[code] = true;
  }

  function moveShared(oldKey, latlng, except) {
    otherSectorsWith(oldKey, except).forEach(function (code) {
      var layer = state.layers[code];
      var latlngs = layer.getLatLngs();
      rings(latlngs).forEach(function (ring) {
        for (var i = 0; i < ring.length; i++) {
          if (key(ring[i]) === oldKey) ring[i] = L.latLng(latlng.lat, latlng.lng);
        }
      });
      layer.setLatLngs(latlngs);
      markEdited(code);
    });
  }

  function insertShared(a, b, latlng, except) {
    // a vertex added on the edge a–b: add it to every other sector with that edge
    Object.keys(state.layers).forEach(function (code) {
      if (code === except) return;
      var layer = state.layers[code];
      var latlngs = layer.getLatLngs();
      var changed = false;
      rings(latlngs).forEach(function (ring) {
        for (var i = 0; i < ring.length; i++) {
          var j = (i + 1) % ring.length;
          var ki = key(ring[i]), kj = key(ring[j]);
          if ((ki === a && kj === b) || (ki === b && kj === a)) {
            ring.splice(i + 1, 0, L.latLng(latlng.lat, latlng.lng));
            changed = true;
            break;
          }
        }
      });
      if (changed) { layer.setLatLngs(latlngs); markEdited(code); }
    });
  }

  function removeShared(k, except) {
    otherSectorsWith(k, except).forEach(function (code) {
      var layer = state.layers[code];
      var latlngs = layer.getLatLngs();
      rings(latlngs).forEach(function (ring) {
        for (var i = ring.length - 1; i >= 0; i--) {
          if (key(ring[i]) === k && ring.length > 3) ring.splice(i, 1);
        }
      });
      layer.setLatLngs(latlngs);
      markEdited(code);
    });
  }

  var dragging = null;
  sectorLayer.on("pm:markerdragstart", function (e) {
    var layer = e.layer || e.target;
    dragging = { code: layer.feature.id, key: key(at(layer.getLatLngs(), e.indexPath)) };
  });
  sectorLayer.on("pm:markerdragend", function (e) {
    var layer = e.layer || e.target;
    if (!dragging) return;
    var code = layer.feature.id;
    var moved = at(layer.getLatLngs(), e.indexPath);
    if (key(moved) !== dragging.key) {
      moveShared(dragging.key, moved, code);
      markEdited(code);
      edited();
    }
    dragging = null;
  });
  sectorLayer.on("pm:vertexadded", function (e) {
    var layer = e.layer || e.target;
    var code = layer.feature.id;
    var path = e.indexPath.slice();
    var ring = at(layer.getLatLngs(), path.slice(0, -1));
    var i = path[path.length - 1];
    var prev = ring[(i - 1 + ring.length) % ring.length];
    var next = ring[(i + 1) % ring.length];
    insertShared(key(prev), key(next), e.latlng, code);
    markEdited(code);
    edited();
  });
  sectorLayer.on("pm:vertexremoved", function (e) {
    var layer = e.layer || e.target;
    var removed = e.marker && e.marker.getLatLng ? e.marker.getLatLng() : null;
    if (removed) removeShared(key(removed), layer.feature.id);
    markEdited(layer.feature.id);
    edited();
  });

  function editedCodes() { return Object.keys(state.edited).sort(); }

  function edited() {
    var codes = editedCodes();
    state.pending = codes.length ? { kind: "move", codes: codes } : null;
    $("edited").hidden = !codes.length;
    $("edited").textContent = msg("editor.edited", { units: codes.join(", ") });
    $("discard").hidden = !codes.length;
    restyle();
    schedulePreview();
  }

  $("discard").addEventListener("click", function () { discard(); });
  function discard() {
    var code = state.selected;
    state.edited = {};
    state.pending = null;
    $("edited").hidden = true;
    $("discard").hidden = true;
    clearPreview();
    drawSectors();
    select(code);
  }
  $("on-conflict").addEventListener("change", function () {
    if (state.pending && state.pending.kind === "move") schedulePreview();
  });

  // ---------------------------------------------------------------- tools
  function neighbours(code) {
    var mine = vertexKeys(state.layers[code]);
    return Object.keys(state.layers).filter(function (other) {
      if (other === code) return false;
      var theirs = vertexKeys(state.layers[other]);
      var common = 0;
      for (var k in theirs) if (mine[k]) common += 1;
      return common >= 2;
    });
  }

  function fillTools(code) {
    var merge = $("merge-with");
    while (merge.options.length > 1) merge.remove(1);
    neighbours(code).sort().forEach(function (other) {
      merge.appendChild(option(other, nameOf(state.sectors[other].properties) + " · " + other));
    });
    var reassign = $("reassign-to");
    while (reassign.options.length > 1) reassign.remove(1);
    var parent = state.sectors[code].properties.parent_code;
    Object.keys(state.grid2s).sort().forEach(function (g) {
      if (g !== parent) reassign.appendChild(option(g, nameOf(state.grid2s[g].properties) + " · " + g));
    });
    merge.value = "";
    reassign.value = "";
  }

  function startTool(pending) {
    if (editedCodes().length) discard();
    state.pending = pending;
    schedulePreview(0);
  }

  $("merge-with").addEventListener("change", function (e) {
    if (e.target.value) startTool({ kind: "merge", code: state.selected, other: e.target.value });
  });
  $("reassign-to").addEventListener("change", function (e) {
    if (e.target.value) startTool({ kind: "reassign", code: state.selected, grid2: e.target.value });
  });
  $("split-draw").addEventListener("click", function () {
    if (!state.selected || state.readOnly) return;
    if (editedCodes().length) discard();
    state.layers[state.selected].pm.disable();
    state.drawing = state.selected;
    map.pm.enableDraw("Line", { snappable: true, finishOn: null });
  });
  map.on("pm:drawend", function () { state.drawing = null; });
  map.on("pm:create", function (e) {
    var line = e.layer.toGeoJSON(7).geometry;
    map.removeLayer(e.layer);
    map.pm.disableDraw();
    state.drawing = null;
    if (state.selected) {
      state.layers[state.selected].pm.enable({ allowSelfIntersection: false, snappable: true });
      startTool({ kind: "split", code: state.selected, line: line, name: $("split-name").value.trim() });
    }
  });

  // ---------------------------------------------------------------- the request of an edit
  function etagOf(code) { return state.sectors[code] && state.sectors[code].properties.etag; }

  function editRequest(pending, reason, dryRun) {
    var q = dryRun ? "?dry_run=true" : "";
    var base = "/api/boundaries/sectors/";
    if (pending.kind === "move") {
      var codes = pending.codes;
      return {
        method: "PATCH", url: "/api/boundaries/sectors" + q, etags: codes.map(etagOf), units: codes,
        body: {
          features: codes.map(function (c) {
            return { id: c, geometry: state.layers[c].toGeoJSON(7).geometry };
          }),
          reason: reason, on_conflict: $("on-conflict").value,
        },
      };
    }
    if (pending.kind === "merge") {
      return {
        method: "POST", url: base + encodeURIComponent(pending.code) + "/merge" + q,
        etags: [etagOf(pending.code), etagOf(pending.other)], units: [pending.code, pending.other],
        body: { other: pending.other, reason: reason },
      };
    }
    if (pending.kind === "reassign") {
      return {
        method: "POST", url: base + encodeURIComponent(pending.code) + "/reassign" + q,
        etags: [etagOf(pending.code)], units: [pending.code],
        body: { grid2_code: pending.grid2, reason: reason },
      };
    }
    if (pending.kind === "split") {
      return {
        method: "POST", url: base + encodeURIComponent(pending.code) + "/split" + q,
        etags: [etagOf(pending.code)], units: [pending.code],
        body: { line: pending.line, reason: reason, name_zh: pending.name || null },
      };
    }
    // rollback of a unit to an old version
    return {
      method: "POST",
      url: "/api/boundaries/units/" + encodeURIComponent(pending.code) + "/rollback" + q,
      etags: [etagOf(pending.code)], units: [pending.code],
      body: { version: pending.version, reason: reason, on_conflict: $("on-conflict").value },
    };
  }

  // ---------------------------------------------------------------- preview
  var timer = null;
  function schedulePreview(delay) {
    clearTimeout(timer);
    timer = setTimeout(preview, delay === undefined ? 300 : delay);
  }

  function clearPreview() {
    resultLayer.clearLayers();
    problemLayer.clearLayers();
    $("preview-status").textContent = msg("editor.preview_none");
    $("preview-status").className = "small";
    $("problems-box").hidden = true;
    $("moves-box").hidden = true;
    $("load-box").hidden = true;
    $("apply-box").hidden = true;
    $("preview").dataset.state = "none";
    hideMessage();
    document.dispatchEvent(new CustomEvent("gridmap:preview", { detail: null }));
  }

  function preview() {
    if (!state.pending) { clearPreview(); return; }
    var seq = ++state.previewSeq;
    var reason = $("reason").value.trim() || msg("editor.preview_reason");
    // with a plan open, the edit is previewed on top of the plan (plans.js builds it)
    var req = state.plan && state.api.planPreview
      ? state.api.planPreview(state.pending)
      : editRequest(state.pending, reason, true);
    $("preview-status").textContent = msg("editor.preview_waiting");
    $("preview-status").className = "small";
    $("preview").dataset.state = "waiting";
    hideMessage();
    request(req.method, req.url, req.body, req.etags).then(function (r) {
      if (seq !== state.previewSeq) return;  // an older preview answering late
      if (r.status === 412) { conflict(req.units); return; }
      if (r.ok) {
        showReport(r.data);
        document.dispatchEvent(new CustomEvent("gridmap:preview", { detail: r.data }));
        return;
      }
      if (r.status === 422 && r.data && r.data.problems) {
        showReport({ valid: false, problems: r.data.problems, detail: r.data.detail });
        document.dispatchEvent(new CustomEvent("gridmap:preview", { detail: state.report }));
        return;
      }
      showPreviewError(r);
    }).catch(function (error) {
      showPreviewError({ status: 0, data: { detail: error.message } });
    });
  }

  function showPreviewError(r) {
    resultLayer.clearLayers();
    problemLayer.clearLayers();
    $("moves-box").hidden = $("load-box").hidden = $("problems-box").hidden = true;
    $("apply-box").hidden = true;
    $("preview-status").className = "small invalid";
    $("preview-status").textContent = msg("editor.refused", {
      detail: (r.data && r.data.detail) || ("HTTP " + r.status),
    });
    $("preview").dataset.state = "error";
  }

  function showReport(report) {
    state.report = report;
    resultLayer.clearLayers();
    problemLayer.clearLayers();
    var problems = report.problems || [];
    showProblems(problems);
    state.problemShapes = problemLayer.getLayers().length;
    if (report.map && report.map.after) {
      L.geoJSON(report.map.after, {
        pmIgnore: true, interactive: false,
        style: { color: "#1d4ed8", weight: 2, dashArray: "6 4", fill: false },
      }).addTo(resultLayer);
    }
    if (!report.valid) {
      $("preview-status").className = "small invalid";
      $("preview-status").textContent = msg("editor.preview_invalid", { count: problems.length });
      $("moves-box").hidden = true;
      $("load-box").hidden = true;
      $("apply-box").hidden = true;
      $("preview").dataset.state = "invalid";
      return;
    }
    $("preview-status").className = "small valid";
    $("preview-status").textContent = msg("editor.preview_valid");
    showMoves(report);
    showLoad(report.load);
    $("apply-box").hidden = !!state.plan;  // a plan's edit goes into the plan, not live
    $("preview").dataset.state = "valid";
    var households = report.moves && report.moves.households ? report.moves.households.moved : 0;
    $("preview").dataset.householdsMoved = households;
  }

  function showProblems(problems) {
    var list = $("problems");
    clear(list);
    $("problems-box").hidden = !problems.length;
    problems.forEach(function (p) {
      var li = el("li");
      li.appendChild(el("span", msg("rule." + p.rule) === "rule." + p.rule ? p.rule : msg("rule." + p.rule), "rule"));
      if (p.units && p.units.length) li.appendChild(el("div", msg("editor.problem_units", { units: p.units.join(", ") })));
      if (p.area_m2 !== undefined && p.area_m2 !== null) {
        li.appendChild(el("div", msg("editor.problem_area", { area: number(p.area_m2, 1) })));
      }
      var details = el("details");
      details.appendChild(el("summary", msg("editor.problem_detail")));
      details.appendChild(el("p", p.detail));
      li.appendChild(details);
      if (p.where) {
        var shape = L.geoJSON(p.where, {
          pmIgnore: true,
          style: { color: "#d4001a", weight: 3, fillColor: "#d4001a", fillOpacity: 0.45 },
          pointToLayer: function (f, ll) {
            return L.circleMarker(ll, { radius: 8, color: "#d4001a", fillOpacity: 0.6 });
          },
        }).addTo(problemLayer);
        li.addEventListener("click", function () {
          var b = shape.getBounds();
          if (b.isValid()) map.fitBounds(b, { maxZoom: 18, padding: [40, 40] });
        });
        li.style.cursor = "pointer";
      }
      list.appendChild(li);
    });
  }

  function unitCell(code) {
    // a unit's name over its code (a new unit, not loaded yet, by its code alone)
    var td = el("td");
    var f = code && (state.sectors[code] || state.grid2s[code]);
    if (f) td.appendChild(el("div", nameOf(f.properties)));
    td.appendChild(el("div", code || "–", "code muted"));
    return td;
  }

  function showMoves(report) {
    var body = $("moves").tBodies[0];
    clear(body);
    var any = false;
    ["households", "businesses", "resources", "incidents", "courtyards"].forEach(function (kind) {
      var entry = report.moves && report.moves[kind];
      if (!entry) return;
      var flows = entry.flows || [];
      if (kind === "courtyards") {
        flows = flows.map(function (f) { return { from: f.from, to: f.to, count: 1, code: f.code }; });
      }
      flows.forEach(function (f) {
        any = true;
        var tr = el("tr");
        tr.dataset.kind = kind;
        tr.appendChild(el("td", msg("editor.kind." + kind), "kind"));
        tr.appendChild(unitCell(f.from));
        tr.appendChild(unitCell(f.to));
        var count = el("td", number(f.count), "num");
        count.dataset.count = f.count;
        tr.appendChild(count);
        body.appendChild(tr);
      });
    });
    if (!any) {
      var tr = el("tr");
      var td = el("td", msg("editor.moves_none"));
      td.colSpan = 4;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    $("redispatched").textContent = msg("editor.redispatched", {
      count: number(report.open_incidents_moved || 0),
    });
    $("moves-box").hidden = false;
  }

  function badge(value, within) {
    var span;
    if (value === null || value === undefined) span = el("span", msg("editor.load_no_worker"), "badge over");
    // one band (geo/core/terms.py): above the target is over, even inside the ±band
    else if (value > config.target) span = el("span", msg("editor.load_over"), "badge over");
    else if (within) span = el("span", msg("editor.load_within"), "badge within");
    else span = el("span", msg("editor.load_under"), "badge under");
    return span;
  }

  function showLoad(load) {
    if (!load) { $("load-box").hidden = true; return; }
    $("load-target").textContent = msg("editor.target", {
      target: load.target, band: Math.round(load.band * 100),
    });
    [["sectors", "load-sectors"], ["grids", "load-grids"]].forEach(function (pair) {
      var body = $(pair[1]).tBodies[0];
      clear(body);
      (load[pair[0]] || []).forEach(function (row) {
        var tr = el("tr");
        tr.dataset.code = row.code;
        var name = el("td");
        name.appendChild(el("div", row.name_zh || ""));
        name.appendChild(el("div", row.code, "code muted"));
        tr.appendChild(name);
        tr.appendChild(el("td", number(row.households_before) + " → " + number(row.households_after), "num"));
        tr.appendChild(el("td", number(row.workers_before) + " → " + number(row.workers_after), "num"));
        var per = el("td", number(row.households_per_worker_before, 1) + " → " +
          number(row.households_per_worker_after, 1), "num");
        per.appendChild(badge(row.households_per_worker_after, row.within_band_after));
        tr.appendChild(per);
        body.appendChild(tr);
      });
    });
    $("load-box").hidden = false;
  }

  // ---------------------------------------------------------------- apply
  function hideMessage() {
    $("message").hidden = true;
    $("reload").hidden = true;
    $("change-link").hidden = true;
    $("message").className = "message small";
  }
  function showMessage(text, cls) {
    $("message").hidden = false;
    $("message").className = "message small " + (cls || "");
    $("message-text").textContent = text;
  }
  function conflict(units) {
    state.conflict = true;
    $("apply-box").hidden = true;
    $("preview").dataset.state = "conflict";
    $("preview-status").className = "small invalid";
    $("preview-status").textContent = "";
    resultLayer.clearLayers();
    $("moves-box").hidden = $("load-box").hidden = $("problems-box").hidden = true;
    showMessage(msg("editor.conflict", { units: units.join(", ") }), "conflict");
    $("reload").hidden = false;
  }
  $("reload").addEventListener("click", function () {
    state.conflict = false;
    load(state.selected);
  });

  $("apply").addEventListener("click", function () {
    var reason = $("reason").value.trim();
    if (!reason) {
      showMessage(msg("editor.reason_missing"), "error");
      $("reason").focus();
      return;
    }
    if (!state.pending || state.busy) return;
    var req = editRequest(state.pending, reason, false);
    var keep = state.pending.code || state.selected;
    state.busy = true;
    $("apply").disabled = true;
    $("apply").textContent = msg("editor.applying");
    request(req.method, req.url, req.body, req.etags).then(function (r) {
      state.busy = false;
      $("apply").disabled = false;
      $("apply").textContent = msg("editor.apply");
      if (r.status === 412) { conflict(req.units); return; }
      if (r.ok) {
        var id = r.data.change && r.data.change.id;
        var successor = (r.data.units || []).filter(function (u) {
          return u.code === keep && u.successor;
        })[0];
        $("reason").value = "";
        return load(successor ? successor.successor : keep).then(function () {
          showMessage(msg("editor.applied", { id: id }), "applied");
          var link = $("change-link");
          link.href = "/maps/boundaries/changes/" + encodeURIComponent(id);
          link.hidden = false;
          document.body.dataset.applied = String(id);
        });
      }
      if (r.status === 422 && r.data && r.data.problems) {
        showReport({ valid: false, problems: r.data.problems });
      }
      showMessage(msg("editor.failed", {
        status: r.status, detail: (r.data && r.data.detail) || "",
      }), "error");
    }).catch(function (error) {
      state.busy = false;
      $("apply").disabled = false;
      $("apply").textContent = msg("editor.apply");
      showMessage(msg("editor.failed", { status: 0, detail: error.message }), "error");
    });
  });

  // ---------------------------------------------------------------- history
  function changeLabel(kind) {
    var k = "editor.change." + kind;
    return M[k] !== undefined ? M[k] : (kind || "");
  }

  function loadHistory(code) {
    var list = $("history");
    clear(list);
    historyLayer.clearLayers();
    getJSON("/api/boundaries/units/" + encodeURIComponent(code) + "/history").then(function (fc) {
      if (state.selected !== code) return;
      clear(list);
      fc.features.slice().reverse().forEach(function (f) {
        var p = f.properties;
        var li = el("li");
        li.dataset.version = p.version;
        var head = el("div");
        head.appendChild(el("strong", msg("editor.history_version", { version: p.version })));
        head.appendChild(document.createTextNode(" · " + changeLabel(p.change_kind) + " "));
        if (!p.valid_to) head.appendChild(el("span", msg("editor.history_current"), "badge within"));
        li.appendChild(head);
        li.appendChild(el("div", when(p.valid_from) + (p.valid_to ? " – " + when(p.valid_to) : ""), "when"));
        li.appendChild(el("div", msg("editor.history_by", { who: p.changed_by || "–", reason: p.reason || "–" })));
        var show = el("button", msg("editor.history_show"), "secondary");
        show.type = "button";
        show.addEventListener("click", function () {
          historyLayer.clearLayers();
          var shape = L.geoJSON(f, {
            pmIgnore: true, interactive: false,
            style: { color: "#e0a800", weight: 3, dashArray: "2 6", fillOpacity: 0.1 },
          }).addTo(historyLayer);
          map.fitBounds(shape.getBounds(), { padding: [30, 30] });
        });
        li.appendChild(show);
        if (p.valid_to && !state.readOnly) {
          var back = el("button", msg("editor.history_rollback"), "secondary");
          back.type = "button";
          back.addEventListener("click", function () {
            startTool({ kind: "rollback", code: code, version: p.version });
          });
          li.appendChild(back);
        }
        list.appendChild(li);
      });
    }).catch(function () { clear(list); });
  }

  // ---------------------------------------------------------------- the grid as it was
  function setupSlider() {
    var slider = $("asof");
    slider.max = String(state.changes.length);
    slider.value = String(state.changes.length);
    $("asof-label").textContent = msg("editor.asof_now");
  }

  $("asof").addEventListener("input", function (e) {
    var i = Number(e.target.value);
    var change = state.changes[i];
    $("asof-label").textContent = change
      ? when(change.at) + " · #" + change.id + " " + changeLabel(change.kind) + " · " + (change.reason || "")
      : msg("editor.asof_now");
  });
  $("asof").addEventListener("change", function (e) {
    var i = Number(e.target.value);
    var change = state.changes[i];
    if (!change) { backToNow(); return; }
    getJSON("/api/boundaries?level=sector&as_of=" + encodeURIComponent(change.at)).then(function (fc) {
      if (state.selected && state.layers[state.selected]) state.layers[state.selected].pm.disable();
      state.readOnly = true;
      clearPreview();
      state.pending = null;
      state.edited = {};
      $("unit").hidden = true;
      $("asof-banner").hidden = false;
      $("asof-text").textContent = msg("editor.asof_viewing", { time: when(change.at) });
      drawSectors(fc.features);
    }).catch(function (error) { status(error.message); });
  });
  $("asof-back").addEventListener("click", backToNow);
  function backToNow() {
    state.readOnly = false;
    $("asof-banner").hidden = true;
    setupSlider();
    drawSectors();
    select(state.selected);
  }

  // draw and edit plan `id`'s layer (null: the layer in force), keeping the selection
  function usePlan(id) {
    state.plan = id || null;
    return load(state.selected).then(function () {
      document.body.dataset.layerPlan = state.plan ? String(state.plan) : "";
    });
  }

  // what the plans panel (static/web/plans.js) builds on: the HTTP helper, the pending
  // edit's request, dropping it, reloading the layer, and the page's helpers; it sets
  // `planPreview(pending)`: the request previewing an edit on the open plan
  state.api = {
    request: request, editRequest: editRequest, discard: discard, load: load, msg: msg,
    el: el, clear: clear, number: number, nameOf: nameOf, usePlan: usePlan, planPreview: null,
  };

  load(new URLSearchParams(location.search).get("code"));
})();
