// The plans panel of the grid editor (/maps/planner): choose or start a named plan, add the
// edit previewed on the map to it (previewed again on top of the plan so far), undo/redo,
// assign a grid worker to a sector a split made, compare the plan with the layer in force
// or another plan (two maps side by side and the per-sector figures), apply it as one
// change with one reason, discard it, export it.
//
// It builds on the editor (static/web/editor.js exposes `gridEditor.api`): the same HTTP
// helper (session cookie and CSRF header), the pending edit's request, the same labels.
// Everything from the server is written as text, never as HTML.
(function () {
  "use strict";

  var editor = window.gridEditor;
  if (!editor || !editor.api) return;
  var api = editor.api, msg = api.msg, el = api.el, clear = api.clear, number = api.number;
  function $(id) { return document.getElementById(id); }

  var plans = { current: null, list: [], workers: [], compareMaps: null, layerKey: "", drawn: Promise.resolve() };
  window.gridPlans = plans;  // for the browser tests

  function call(method, url, body) {
    return api.request(method, url, body).then(function (r) {
      if (!r.ok) {
        var error = new Error(msg("plans.failed", {
          status: r.status, detail: (r.data && r.data.detail) || "",
        }));
        error.response = r;
        throw error;
      }
      return r.data;
    });
  }
  function say(text, cls) {
    $("plan-message").hidden = !text;
    $("plan-message").className = "message small " + (cls || "");
    $("plan-message-text").textContent = text || "";
  }
  function failed(error) { say(error.message, "error"); }
  function option(value, text) {
    var o = el("option", text);
    o.value = value;
    return o;
  }
  function planLabel(p) { return msg("plans.plan_label", { id: p.id, name: p.name }); }

  // ---------------------------------------------------------------- list and choice
  function loadList(chosen) {
    return call("GET", "/api/plans").then(function (list) {
      plans.list = list;
      var select = $("plan-select"), other = $("plan-with");
      while (select.options.length > 1) select.remove(1);
      while (other.options.length > 1) other.remove(1);
      list.forEach(function (p) {
        select.appendChild(option(String(p.id), planLabel(p)));
        other.appendChild(option(String(p.id), planLabel(p)));
      });
      select.value = chosen ? String(chosen) : "";
      return chosen ? choose(chosen) : show(null);
    }).catch(failed);
  }

  function choose(id) {
    if (!id) { show(null); return Promise.resolve(); }
    return call("GET", "/api/plans/" + id).then(show).catch(failed);
  }

  $("plan-select").addEventListener("change", function (e) {
    say("");
    $("plan-compare-box").hidden = true;
    choose(e.target.value);
  });

  $("plan-create").addEventListener("click", function () {
    var name = $("plan-name").value.trim();
    if (!name) { $("plan-name").focus(); return; }
    call("POST", "/api/plans", { name: name }).then(function (plan) {
      $("plan-name").value = "";
      return loadList(plan.id);
    }).catch(failed);
  });

  // ---------------------------------------------------------------- one plan
  function show(plan) {
    plans.current = plan;
    $("plan-box").hidden = !plan;
    document.body.dataset.plan = plan ? String(plan.id) : "";
    drawLayerOf(plan);
    syncAdd();
    if (!plan) return;
    $("plan-stale").hidden = !plan.stale;
    $("plan-locks").hidden = !plan.locks.length;
    $("plan-locks").textContent = msg("plans.locks", { codes: plan.locks.join(", ") });
    var list = $("plan-edits");
    clear(list);
    if (!plan.edits.length) list.appendChild(el("li", msg("plans.no_edits"), "muted"));
    plan.edits.forEach(function (e) {
      var li = el("li");
      li.dataset.seq = e.seq;
      li.dataset.active = e.active ? "1" : "0";
      li.className = e.active ? "" : "undone";
      li.appendChild(el("strong", msg("plans.kind." + e.kind)));
      li.appendChild(document.createTextNode(" " + e.label.replace(/^#\d+ \w+ ?(of )?/, "")));
      var moved = e.summary && e.summary.households_moved;
      if (moved) li.appendChild(el("span", " · " + number(moved) + " " + msg("plans.households"), "muted"));
      if (!e.active) li.appendChild(el("span", " " + msg("plans.undone"), "muted"));
      list.appendChild(li);
    });
    $("plan-undo").disabled = !plan.can_undo;
    $("plan-redo").disabled = !plan.can_redo;
    $("plan-export-geojson").href = "/api/plans/" + plan.id + "/export?format=geojson";
    $("plan-export-gpkg").href = "/api/plans/" + plan.id + "/export?format=gpkg";
    offerWorker(plan);
  }

  // the editor draws (and edits) the layer the open plan makes, or the one in force; it is
  // drawn again whenever the plan changed (an edit added, undone, redone, a rebase)
  function drawLayerOf(plan) {
    var key = plan ? [plan.id, plan.updated_at, plan.layer_etag].join(" ") : "";
    if (key === plans.layerKey) return;
    plans.layerKey = key;
    api.discard();
    plans.drawn = api.usePlan(plan ? plan.id : null);
  }
  api.planPreview = function (pending) {
    return {
      method: "POST", url: "/api/plans/" + plans.current.id + "/edits?dry_run=true",
      body: planEdit(pending), etags: [], units: [],
    };
  };

  // the editor's preview state decides whether its edit can go into the plan
  function syncAdd() {
    var valid = $("preview").dataset.state === "valid" && editor.pending;
    $("plan-add").hidden = !(plans.current && valid);
    $("plan-lock").hidden = !(plans.current && editor.selected);
    document.body.classList.toggle("planning", !!plans.current);
  }
  new MutationObserver(syncAdd).observe($("preview"), { attributes: true });
  new MutationObserver(syncAdd).observe($("unit"), { attributes: true });

  function planEdit(pending) {
    if (pending.kind === "move") {
      var body = api.editRequest(pending, "", true).body;
      return { kind: "move_borders", features: body.features, on_conflict: body.on_conflict };
    }
    if (pending.kind === "merge") return { kind: "merge", code: pending.code, other: pending.other };
    if (pending.kind === "reassign") {
      return { kind: "reassign", code: pending.code, grid2_code: pending.grid2 };
    }
    if (pending.kind === "split") {
      var split = { kind: "split", code: pending.code, line: pending.line };
      if (pending.name) split.name_zh = pending.name;
      return split;
    }
    return { kind: "rollback", code: pending.code, version: pending.version };
  }

  function addEdit(body) {
    say("");
    return call("POST", "/api/plans/" + plans.current.id + "/edits", body).then(function (r) {
      plans.lastPreview = r.preview;
      api.discard();
      show(r.plan);
      return plans.drawn.then(function () {
        say(msg("plans.added", { seq: r.edit }), "applied");
        document.body.dataset.planEdits = String(r.plan.cursor);
      });
    }).catch(failed);
  }

  $("plan-add").addEventListener("click", function () {
    if (plans.current && editor.pending) addEdit(planEdit(editor.pending));
  });
  $("plan-lock").addEventListener("click", function () {
    call("POST", "/api/plans/" + plans.current.id + "/locks", { sectors: [editor.selected] })
      .then(show).catch(failed);
  });
  ["undo", "redo"].forEach(function (step) {
    $("plan-" + step).addEventListener("click", function () {
      say("");
      call("POST", "/api/plans/" + plans.current.id + "/" + step).then(function (plan) {
        show(plan);
        return plans.drawn.then(function () {
          document.body.dataset.planEdits = String(plan.cursor);
        });
      }).catch(failed);
    });
  });
  $("plan-rebase").addEventListener("click", function () {
    call("POST", "/api/plans/" + plans.current.id + "/rebase").then(function (plan) {
      show(plan);
      say(msg("plans.rebased"), "applied");
    }).catch(failed);
  });

  // ---------------------------------------------------------------- people follow the plan
  function loadWorkers() {
    return call("GET", "/api/resources?kind=grid_worker&limit=1000").then(function (fc) {
      plans.workers = fc.features.map(function (f) {
        return { id: f.id || f.properties.id, name: f.properties.name_zh, serves: f.properties.serves_code };
      });
    }).catch(function () { plans.workers = []; });
  }

  function offerWorker(plan) {
    // the last edit in force a split: offer a worker for the sector it made
    var active = plan.edits.filter(function (e) { return e.active; });
    var last = active[active.length - 1];
    var created = last && last.kind === "split" && last.summary ? last.summary.created : [];
    $("plan-assign").hidden = !(created && created.length);
    if (!created || !created.length) return;
    plans.newSector = created[0];
    $("plan-assign-label").textContent = msg("plans.assign", { sector: created[0] });
    var select = $("plan-worker");
    clear(select);
    plans.workers.forEach(function (w) {
      select.appendChild(option(w.id, (w.name || w.id) + " · " + (w.serves || "–")));
    });
  }

  $("plan-assign-button").addEventListener("click", function () {
    var worker = $("plan-worker").value;
    if (worker && plans.newSector) {
      addEdit({ kind: "assign_worker", worker: worker, sector: plans.newSector });
    }
  });

  // ---------------------------------------------------------------- compare
  function compareMap(id) {
    var m = L.map(id, { zoomControl: true, attributionControl: false });
    var layer = L.featureGroup().addTo(m);
    // the streets and their names under both sides, once the map has a view (streets.js)
    if (window.gmStreets) m.whenReady(function () { gmStreets.load(m); });
    return { map: m, layer: layer };
  }

  function drawSide(side, fc) {
    side.layer.clearLayers();
    L.geoJSON(fc, {
      pmIgnore: true,
      style: function (f) {
        var changed = f.properties.changed;
        return {
          color: changed ? "#b0281c" : "#555", weight: changed ? 2.5 : 1,
          fillColor: changed ? "#e5a13b" : "#5b8def", fillOpacity: changed ? 0.35 : 0.15,
        };
      },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(el("span", (f.properties.name_zh || "") + " · " + f.properties.code), {
          sticky: true,
        });
      },
    }).addTo(side.layer);
  }

  function cell(before, after, digits) {
    var text = number(before, digits) + " → " + number(after, digits);
    var td = el("td", text, "num");
    if (before !== after) td.classList.add("plan-diff");
    return td;
  }

  function sideLabel(side) {
    if (!side.plan) return msg("plans.current");
    var known = plans.list.filter(function (p) { return p.id === side.plan; })[0];
    return known ? planLabel(known) : side.label;
  }

  function fitCompare() {
    if (!plans.compareMaps) return;
    ["before", "after"].forEach(function (k) { plans.compareMaps[k].map.invalidateSize(); });
    var bounds = plans.compareMaps.after.layer.getBounds();
    if (bounds.isValid()) plans.compareMaps.before.map.fitBounds(bounds, { padding: [6, 6] });
  }
  window.addEventListener("resize", function () {
    if (!$("plan-compare-box").hidden) fitCompare();
  });

  function showCompare(c) {
    $("plan-compare-box").hidden = false;
    $("plan-before-label").textContent = sideLabel(c.before);
    $("plan-after-label").textContent = sideLabel(c.after);
    var moved = c.moved;
    $("plan-moved").textContent = msg("plans.moved", {
      households: number(moved.households.total), residents: number(moved.residents.total),
      incidents: number(moved.incidents.total), workers: number(moved.workers.total),
    });
    $("plan-moved").dataset.householdsMoved = moved.households.total;
    var body = $("plan-table").tBodies[0];
    clear(body);
    c.rows.filter(function (r) {
      return r.changed || r.workers_before !== r.workers_after ||
        r.households_before !== r.households_after;
    }).forEach(function (r) {
      var tr = el("tr");
      tr.dataset.code = r.code;
      var name = el("td");
      name.appendChild(el("div", r.name_zh || ""));
      var code = el("div", r.code, "code muted");
      if (!r.in_before) code.appendChild(el("span", msg("plans.new_sector"), "badge under"));
      if (!r.in_after) code.appendChild(el("span", msg("plans.gone_sector"), "badge over"));
      name.appendChild(code);
      tr.appendChild(name);
      tr.appendChild(cell(r.households_before, r.households_after));
      tr.appendChild(cell(r.residents_before, r.residents_after));
      tr.appendChild(cell(r.incidents_before, r.incidents_after));
      tr.appendChild(cell(r.workers_before, r.workers_after));
      tr.appendChild(cell(r.households_per_worker_before, r.households_per_worker_after, 1));
      body.appendChild(tr);
    });
    if (!plans.compareMaps) {
      plans.compareMaps = { before: compareMap("plan-map-before"), after: compareMap("plan-map-after") };
      // the two maps move together
      var b = plans.compareMaps.before.map, a = plans.compareMaps.after.map, syncing = false;
      [[b, a], [a, b]].forEach(function (pair) {
        pair[0].on("moveend", function () {
          if (syncing) return;
          syncing = true;
          pair[1].setView(pair[0].getCenter(), pair[0].getZoom(), { animate: false });
          syncing = false;
        });
      });
    }
    drawSide(plans.compareMaps.before, c.before.sectors);
    drawSide(plans.compareMaps.after, c.after.sectors);
    fitCompare();
    document.body.dataset.compared = "1";
  }

  $("plan-compare").addEventListener("click", function () {
    say("");
    var other = $("plan-with").value || "current";
    call("GET", "/api/plans/" + plans.current.id + "/compare?with=" + encodeURIComponent(other))
      .then(function (c) {
        plans.comparison = c;
        showCompare(c);
        $("plan-compare-box").scrollIntoView({ block: "start" });
      }).catch(failed);
  });

  // ---------------------------------------------------------------- apply, discard
  $("plan-apply").addEventListener("click", function () {
    var reason = $("plan-reason").value.trim();
    if (!reason) { say(msg("editor.reason_missing"), "error"); $("plan-reason").focus(); return; }
    $("plan-apply").disabled = true;
    call("POST", "/api/plans/" + plans.current.id + "/apply", { reason: reason }).then(function (r) {
      $("plan-apply").disabled = false;
      $("plan-reason").value = "";
      $("plan-compare-box").hidden = true;
      var id = r.change && r.change.id;
      plans.layerKey = "";  // the layer in force now holds the plan
      return api.usePlan(null).then(function () {
        return loadList(null);
      }).then(function () {
        say(msg("plans.applied", { id: id }), "applied");
        document.body.dataset.planApplied = String(id);
      });
    }).catch(function (error) {
      $("plan-apply").disabled = false;
      failed(error);
    });
  });
  $("plan-discard").addEventListener("click", function () {
    call("DELETE", "/api/plans/" + plans.current.id).then(function () {
      $("plan-compare-box").hidden = true;
      return loadList(null);
    }).then(function () { say(msg("plans.discarded"), "applied"); }).catch(failed);
  });

  loadWorkers().then(function () { return loadList(null); });
})();
