// The case desk's pages: report (/cases/new), my cases (/cases), one case (/cases/{id}) and
// the command centre (/desk). Writes go to the JSON API with the page's CSRF token; every
// text from data is set with textContent, never as HTML.
(function () {
  "use strict";

  var MSG = JSON.parse((document.getElementById("desk-messages") || {}).textContent || "{}");
  var EN = document.documentElement.lang === "en";

  function t(key, values) {
    var text = MSG[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function number(value) {
    return typeof value === "number" ? value.toLocaleString(EN ? "en" : "zh-CN") : String(value);
  }

  // the server's message: in the page's language when the problem names itself
  // (e.g. {"problem": "too_large", "actual": ..., "limit": ...}), else its detail as sent
  function problemText(body, status) {
    var key = body && body.problem ? "case.problem." + body.problem : null;
    if (key && MSG[key]) return t(key, { actual: number(body.actual), limit: number(body.limit) });
    if (body && body.detail) return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    return "HTTP " + status;
  }

  // a JSON (or FormData) write; resolves to {status, body}
  function send(method, url, payload, extraHeaders) {
    var headers = { "X-CSRF-Token": csrfToken(), Accept: "application/json" };
    var body = payload;
    if (!(payload instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(payload || {});
    }
    Object.keys(extraHeaders || {}).forEach(function (k) { headers[k] = extraHeaders[k]; });
    return fetch(url, { method: method, headers: headers, body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          return { status: response.status, body: json };
        });
      });
  }

  function showMessage(el, text, kind) {
    if (!el) return;
    el.hidden = false;
    el.textContent = text;
    el.className = kind === "error" ? "error" : "notice";
    // on a phone the message may be a screen away from the button that was tapped
    if (kind === "error" && el.scrollIntoView) el.scrollIntoView({ block: "nearest" });
  }

  function span(minutes) {
    var m = Math.abs(minutes);
    var d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60), mm = m % 60;
    // two days and more: days alone are easier to scan on a long list ("743天")
    if (d >= 2) return EN ? d + " d" : d + "天";
    if (EN) return (d ? d + " d " : "") + (d || h ? h + " h " : "") + mm + " min";
    return (d ? d + "天" : "") + (d || h ? h + "小时" : "") + mm + "分";
  }

  // countdowns: "3 h 10 min left" / "overdue by 2 d 1 h 0 min", refreshed every 30 s
  function tick() {
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var minutes = Math.floor((Date.parse(el.getAttribute("data-due")) - Date.now()) / 60000);
      el.textContent = minutes < 0 ? t("cases.overdue_by", { time: span(minutes) }) : t("cases.left", { time: span(minutes) });
      el.classList.toggle("alert-text", minutes < 0);
    });
  }
  tick();
  setInterval(tick, 30000);

  // file pickers: the page's own button and "what was chosen" line, in the page's language
  // (the browser's native control would say "Choose File" in the browser's language)
  document.querySelectorAll("input.file-input").forEach(function (input) {
    var chosen = document.querySelector('.file-chosen[data-for="' + input.id + '"]');
    input.addEventListener("change", function () {
      var files = input.files || [];
      if (!chosen) return;
      chosen.textContent = files.length === 0 ? t("case.file.none")
        : files.length === 1 ? files[0].name : t("case.file.chosen", { n: files.length });
    });
  });

  function baseMap(id, lon, lat, zoom, fit) {
    var el = document.getElementById(id);
    if (!el || !window.L) return null;
    var map = L.map(el, { zoomControl: true }).setView([lat, lon], zoom);
    el.gridmapMap = map;  // for the browser tests, which tap a computed point
    var moved = false;  // once someone moved the view, the district's outline does not refit it
    map.on("movestart", function () { moved = true; });
    if (window.gmStreets) gmStreets.load(map);  // the streets and landmarks, under the sectors
    // no basemap tiles (zero external requests): the district's sectors are the map
    fetch("/api/boundaries?level=sector", { headers: { Accept: "application/geo+json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (geojson) {
        if (!geojson) return;
        var layer = L.geoJSON(geojson, { style: { color: "#3b6ea5", weight: 1, fillOpacity: 0.06 } }).addTo(map);
        el.gridmapDistrict = layer;
        if (fit && !moved) map.fitBounds(layer.getBounds(), { padding: [8, 8], animate: false });
      })
      .catch(function () {});
    return map;
  }

  // -- report ---------------------------------------------------------------------------
  var form = document.getElementById("report-form");
  if (form) {
    var lonInput = document.getElementById("lon"), latInput = document.getElementById("lat");
    var place = document.getElementById("place");
    var message = document.getElementById("report-message");
    var backToMap = document.getElementById("back-to-map");
    var map = baseMap("report-map", 98.49, 39.755, 13, true);
    var marker = null;
    var key = newKey();
    var photos = [];
    var resizing = Promise.resolve();  // submitting waits for the photos being resized

    function newKey() {
      if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
      return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
    }

    function setPlace(lon, lat, note) {
      lonInput.value = lon.toFixed(6);
      latInput.value = lat.toFixed(6);
      place.textContent = lonInput.value + ", " + latInput.value + (note ? " · " + note : "");
      if (map) {
        if (marker) marker.setLatLng([lat, lon]);
        else marker = L.marker([lat, lon]).addTo(map);
      }
      checkDuplicates();
    }

    if (map) map.on("click", function (e) { setPlace(e.latlng.lng, e.latlng.lat); });

    document.getElementById("use-gps").addEventListener("click", function () {
      var status = document.getElementById("gps-status");
      if (!navigator.geolocation) { status.textContent = t("cases.new.gps_failed"); return; }
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          var note = t("cases.new.gps_accuracy", { m: Math.round(pos.coords.accuracy) });
          status.textContent = note;
          setPlace(pos.coords.longitude, pos.coords.latitude, note);
          if (map) map.setView([pos.coords.latitude, pos.coords.longitude], 16);
        },
        function () { status.textContent = t("cases.new.gps_failed"); },
        { enableHighAccuracy: true, timeout: 15000 }
      );
    });

    document.getElementById("category").addEventListener("change", checkDuplicates);

    // photos resized in the browser (longest side 1600 px, JPEG): smaller uploads, no EXIF
    var photoInput = document.getElementById("photos");
    photoInput.addEventListener("change", function () {
      var files = Array.prototype.slice.call(photoInput.files || []);
      var count = document.getElementById("photo-count");
      if (files.length > 6) {
        count.textContent = t("cases.new.too_many_photos");
        files = files.slice(0, 6);
      } else {
        count.textContent = "";  // the picker's line says what was chosen
      }
      resizing = Promise.all(files.map(resize)).then(function (blobs) { photos = blobs; });
    });

    function resize(file) {
      return new Promise(function (resolve) {
        var url = URL.createObjectURL(file);
        var img = new Image();
        img.onload = function () {
          var scale = Math.min(1, 1600 / Math.max(img.naturalWidth, img.naturalHeight));
          var canvas = document.createElement("canvas");
          canvas.width = Math.round(img.naturalWidth * scale);
          canvas.height = Math.round(img.naturalHeight * scale);
          canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
          URL.revokeObjectURL(url);
          canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.85);
        };
        img.onerror = function () { URL.revokeObjectURL(url); resolve(file); };
        img.src = url;
      });
    }

    var dupSection = document.getElementById("duplicates");
    var dupList = document.getElementById("duplicate-list");
    function checkDuplicates() {
      if (!lonInput.value) return;
      var params = new URLSearchParams({
        lon: lonInput.value, lat: latInput.value, category: document.getElementById("category").value,
      });
      fetch("/api/cases/nearby?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (rows) {
          while (dupList.firstChild) dupList.removeChild(dupList.firstChild);
          dupSection.hidden = false;
          if (!rows.length) {
            var none = document.createElement("li");
            none.className = "muted";
            none.textContent = t("cases.new.no_duplicates");
            dupList.appendChild(none);
            return;
          }
          rows.forEach(function (row) {
            var li = document.createElement("li");
            var link = document.createElement("a");
            link.href = "/cases/" + encodeURIComponent(row.id);
            link.textContent = row.id + " · " + t("cases.new.distance", { m: Math.round(row.distance_m) });
            var desc = document.createElement("span");
            desc.className = "small muted";
            desc.textContent = " " + (row.description || "");
            var same = document.createElement("button");
            same.type = "button";
            same.textContent = t("cases.new.same");
            same.setAttribute("data-same", row.id);
            same.addEventListener("click", function () {
              var text = t("cases.new.same_note") + (form.description.value ? ": " + form.description.value : "");
              send("POST", "/api/incidents/" + encodeURIComponent(row.id) + "/notes", { note: text })
                .then(function (res) {
                  if (res.status === 200) location.href = "/cases/" + encodeURIComponent(row.id);
                  else showMessage(message, t("cases.new.failed", { reason: problemText(res.body, res.status) }), "error");
                });
            });
            li.appendChild(link);
            li.appendChild(desc);
            li.appendChild(same);
            dupList.appendChild(li);
          });
        })
        .catch(function () {});
    }

    // a place outside the district: the map again, showing the whole district, to tap anew
    backToMap.addEventListener("click", function () {
      var el = document.getElementById("report-map");
      el.scrollIntoView({ block: "center" });
      if (map && el.gridmapDistrict) map.fitBounds(el.gridmapDistrict.getBounds(), { padding: [8, 8], animate: false });
      el.focus();
    });

    // every photo is checked by the server before the case is filed: a refused one files nothing
    function checkPhotos() {
      return photos.reduce(function (chain, blob, i) {
        return chain.then(function () {
          var data = new FormData();
          data.append("file", blob, blob.name || "photo-" + (i + 1) + ".jpg");
          return send("POST", "/api/photos/check", data).then(function (res) {
            if (res.status !== 200) {
              var name = blob.name ? blob.name + ": " : "";
              throw new Error(t("cases.new.photo_failed", { reason: name + problemText(res.body, res.status) }));
            }
          });
        });
      }, Promise.resolve());
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      message.hidden = true;
      backToMap.hidden = true;
      if (!lonInput.value) { showMessage(message, t("cases.new.no_place"), "error"); return; }
      var button = document.getElementById("submit-report");
      button.disabled = true;
      button.textContent = t("cases.new.sending");
      var report = {
        lon: Number(lonInput.value), lat: Number(latInput.value),
        category: form.category.value, description: form.description.value || null,
        observed_at: new Date().toISOString(),
      };
      resizing
        .then(function () {
          return checkPhotos().catch(function (error) {
            // no connection (fetch's TypeError): the server checks the photos on arrival
            if (error instanceof TypeError && window.GridmapOffline) return;
            throw error;
          });
        })
        .then(function () {
          return send("POST", "/api/incidents", report, { "Idempotency-Key": key }).catch(function (error) {
            if (!window.GridmapOffline) throw error;  // no connection: kept to send later (offline.js)
            return GridmapOffline.queueReport(report, photos, key, form.category.selectedOptions[0].textContent);
          });
        })
        .then(function (res) {
          if (res.body && res.body.queued) {
            key = newKey();
            form.reset();
            showMessage(message, t("case.queued"));
            button.disabled = false;
            button.textContent = t("cases.new.submit");
            return;
          }
          if (res.status !== 201) {
            var body = res.body || {};
            backToMap.hidden = !body.distance_m;
            var text = body.distance_m
              ? t("cases.new.outside", { m: number(Math.round(body.distance_m)) })
              : t("cases.new.failed", { reason: problemText(body, res.status) });
            throw new Error(text);
          }
          var id = res.body.id;
          return photos.reduce(function (chain, blob, i) {
            return chain.then(function () {
              var data = new FormData();
              data.append("file", blob, "photo-" + (i + 1) + ".jpg");
              data.append("stage", "report");
              return send("POST", "/api/incidents/" + encodeURIComponent(id) + "/photos", data).then(function (up) {
                if (up.status !== 201) throw new Error(t("cases.new.photo_failed", { reason: problemText(up.body, up.status) }));
              });
            });
          }, Promise.resolve()).then(function () {
            key = newKey();
            location.href = "/cases/" + encodeURIComponent(id);
          });
        })
        .catch(function (error) {
          showMessage(message, error.message, "error");
          button.disabled = false;
          button.textContent = t("cases.new.submit");
        });
    });
  }

  // -- one case, and the command centre's rows --------------------------------------------
  var caseMessage = document.getElementById("case-message");
  var STALE = "gridmap.case.stale";  // sessionStorage: the 409 to say once the page reloaded
  try {
    var stale = sessionStorage.getItem(STALE);
    if (stale && caseMessage) {
      sessionStorage.removeItem(STALE);
      showMessage(caseMessage, stale, "error");
      caseMessage.setAttribute("data-stale", "1");
    }
  } catch (e) { /* storage off: the message was shown before the reload */ }

  // the answer of a write: reload on success; a 409 (the case moved on) reloads the case as
  // it is now and says why on the reloaded page, in the page's language
  function afterWrite(res) {
    if (res.body && res.body.queued) { showMessage(caseMessage, t("case.queued")); return; }
    if (res.status >= 200 && res.status < 300) {
      showMessage(caseMessage, t("case.done"));
      location.reload();
      return;
    }
    if (res.status === 409) {
      var text = t("case.stale");
      showMessage(caseMessage, text, "error");
      try { sessionStorage.setItem(STALE, text); } catch (e) { /* said above, briefly */ }
      location.reload();
      return;
    }
    showMessage(caseMessage, t("case.failed", { reason: problemText(res.body, res.status) }), "error");
  }

  function uploadPhoto(id, file, stage) {
    var data = new FormData();
    data.append("file", file, file.name || "photo.jpg");
    if (stage) data.append("stage", stage);
    return send("POST", "/api/incidents/" + encodeURIComponent(id) + "/photos", data);
  }

  var caseEl = document.getElementById("case");
  if (caseEl) {
    var id = caseEl.getAttribute("data-id");
    var lon = Number(caseEl.getAttribute("data-lon")), lat = Number(caseEl.getAttribute("data-lat"));
    var caseMap = baseMap("case-map", lon, lat, 16);
    if (caseMap) L.marker([lat, lon]).addTo(caseMap);
    var url = "/api/incidents/" + encodeURIComponent(id);
    var noteEl = document.getElementById("action-note");
    function note() { return noteEl ? noteEl.value.trim() : ""; }

    document.querySelectorAll("#actions [data-move]").forEach(function (button) {
      button.addEventListener("click", function () {
        var to = button.getAttribute("data-move");
        var payload = { to: to, note: note() || null };
        var dup = document.getElementById("duplicate-of");
        if (to === "duplicate") payload.duplicate_of = dup ? dup.value.trim() : null;
        var after = document.getElementById("after-photo");
        var first = Promise.resolve({ status: 201 });
        if (to === "resolved" && after && after.files && after.files[0]) first = uploadPhoto(id, after.files[0], "after");
        // the state it was decided in (409 if the case moved on), one key (sent twice, moved once)
        payload.expect = document.getElementById("case-state").getAttribute("data-state");
        var once = { "Idempotency-Key": window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) };
        button.disabled = true;
        first.then(function (up) {
          if (up.status !== 201) return up;
          return send("POST", url + "/transitions", payload, once);
        }).catch(function (error) {
          if (!window.GridmapOffline) throw error;  // no connection: kept to send later (offline.js)
          return GridmapOffline.queueAction(url + "/transitions", payload, id + " · " + button.textContent, once["Idempotency-Key"]);
        }).then(function (res) { button.disabled = false; afterWrite(res); });
      });
    });
    document.querySelectorAll("#actions [data-decide]").forEach(function (button) {
      button.addEventListener("click", function () {
        send("POST", url + "/requests/decision", { approve: button.getAttribute("data-decide") === "approve", note: note() || null }).then(afterWrite);
      });
    });
    var noteButton = document.querySelector("#actions [data-note]");
    if (noteButton) noteButton.addEventListener("click", function () {
      send("POST", url + "/notes", { note: note() }).then(afterWrite);
    });
    var assignButton = document.querySelector("#actions [data-assign]");
    if (assignButton) assignButton.addEventListener("click", function () {
      send("POST", url + "/assign", { worker: document.getElementById("assign-worker").value }).then(afterWrite);
    });
    document.querySelectorAll("#actions [data-request]").forEach(function (button) {
      button.addEventListener("click", function () {
        var kind = button.getAttribute("data-request");
        var payload = { kind: kind, reason: document.getElementById("request-reason").value.trim() };
        if (kind === "extension") payload.working_days = Number(document.getElementById("extension-days").value);
        send("POST", url + "/requests", payload).then(afterWrite);
      });
    });
    var addPhoto = document.getElementById("add-photo");
    if (addPhoto) addPhoto.addEventListener("change", function () {
      if (addPhoto.files && addPhoto.files[0]) uploadPhoto(id, addPhoto.files[0]).then(afterWrite);
    });
  }

  var deskList = document.getElementById("desk-list");
  if (deskList) {
    var deskMap = baseMap("desk-map", 98.49, 39.755, 13, true);
    var rows = Array.prototype.slice.call(deskList.querySelectorAll("li[data-id]"));
    rows.forEach(function (row) {
      var rowId = row.getAttribute("data-id");
      var rowUrl = "/api/incidents/" + encodeURIComponent(rowId);
      if (deskMap) {
        var overdue = row.classList.contains("overdue");
        L.circleMarker([Number(row.getAttribute("data-lat")), Number(row.getAttribute("data-lon"))], {
          radius: 6, color: overdue ? "#b3261e" : "#1f6f43", fillOpacity: 0.8,
        }).addTo(deskMap).bindTooltip(rowId).on("click", function () {
          row.scrollIntoView({ block: "center" });
          row.classList.add("highlight");
        });
      }
      function askNote(button) {
        if (!button.hasAttribute("data-needs-note")) return null;
        var text = window.prompt(t("case.note"));
        return text && text.trim() ? text.trim() : "";
      }
      row.querySelectorAll("[data-move]").forEach(function (button) {
        button.addEventListener("click", function () {
          var text = askNote(button);
          if (text === "") return;
          send("POST", rowUrl + "/transitions", { to: button.getAttribute("data-move"), note: text }).then(afterWrite);
        });
      });
      row.querySelectorAll("[data-decide]").forEach(function (button) {
        button.addEventListener("click", function () {
          var text = askNote(button);
          if (text === "") return;
          send("POST", rowUrl + "/requests/decision", { approve: button.getAttribute("data-decide") === "approve", note: text }).then(afterWrite);
        });
      });
      var assign = row.querySelector("[data-assign]");
      if (assign) assign.addEventListener("click", function () {
        send("POST", rowUrl + "/assign", { worker: row.querySelector("[data-assign-select]").value }).then(afterWrite);
      });
    });
  }
  document.body.setAttribute("data-ready", "1");  // the handlers are in place
})();
