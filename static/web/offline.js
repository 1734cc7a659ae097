// The field app on every signed-in page: registers the service worker, keeps the user's
// open cases readable offline, and shows the offline queue ("waiting to send / 等待发送",
// "could not send / 未能发送" with the server's reason). Sends the queue when the
// connection returns (Background Sync where the browser has it, else the `online` event
// or the next page load). Only the signed-in user's data is kept: another user, or
// signing out, empties the caches and the queue. Text is set with textContent only.
(function () {
  "use strict";

  var script = document.currentScript;
  var ROOT = script ? new URL(script.src).pathname.replace(/\/static\/web\/offline\.js$/, "") : "";
  var MSG = JSON.parse((document.getElementById("field-messages") || {}).textContent || "{}");
  var userMeta = document.querySelector('meta[name="gridmap-user"]');
  var USER = userMeta ? userMeta.getAttribute("content") : "";
  var READS_CASES = userMeta && userMeta.hasAttribute("data-cases");
  var WARM_EVERY_MS = 5 * 60 * 1000;

  function t(key, values) {
    var text = MSG[key] || key;
    Object.keys(values || {}).forEach(function (name) { text = text.split("{" + name + "}").join(String(values[name])); });
    return text;
  }

  // an instant in Beijing time to the minute, as the pages print them (2026-12-02 03:33)
  function beijing(value) {
    var at = new Date(new Date(value).getTime() + 8 * 3600 * 1000).toISOString();
    return at.slice(0, 10) + " " + at.slice(11, 16);
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function dropUserData() {
    var jobs = [window.GridmapQueue ? GridmapQueue.clear() : Promise.resolve()];
    if (window.caches) {
      jobs.push(caches.keys().then(function (names) {
        return Promise.all(names.filter(function (n) { return n.indexOf("gridmap-data-") === 0; })
          .map(function (n) { return caches.delete(n); }));
      }));
    }
    try { localStorage.removeItem("gridmap-warmed"); } catch (e) { /* private mode */ }
    return Promise.all(jobs).catch(function () {});
  }

  // -- whose data: a different user on this device starts from nothing ----------------------
  var ready = Promise.resolve();
  try {
    var previous = localStorage.getItem("gridmap-user");
    if (previous && previous !== USER) ready = dropUserData();
    localStorage.setItem("gridmap-user", USER);
  } catch (e) { /* storage refused: nothing was kept either */ }

  document.querySelectorAll("form.logout").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      // storage refused (private mode): nothing was kept, sign out all the same
      GridmapQueue.all().catch(function () { return []; }).then(function (items) {
        var waiting = items.filter(function (i) { return i.state === "waiting"; }).length;
        if (waiting && !window.confirm(t("field.logout_drops", { n: waiting }))) return;
        dropUserData().then(function () {
          try { localStorage.removeItem("gridmap-user"); } catch (e) { /* ignore */ }
          form.submit();
        });
      });
    });
  });

  // -- the service worker ---------------------------------------------------------------------
  if ("serviceWorker" in navigator) {
    var controlled = !!navigator.serviceWorker.controller;
    navigator.serviceWorker.addEventListener("controllerchange", function () {
      // a new version took over: this page's scripts are the old ones, so load it again
      if (controlled) location.reload();
      controlled = true;
    });
    navigator.serviceWorker.register(ROOT + "/sw.js", { scope: ROOT + "/" }).catch(function () {});
  }

  // -- the queue panel --------------------------------------------------------------------------
  var panel = document.createElement("section");
  panel.id = "offline-queue";
  panel.className = "offline-queue";
  panel.hidden = true;
  panel.setAttribute("aria-live", "polite");
  var status = document.createElement("p");
  status.className = "offline-status";
  var waitingHead = document.createElement("h2");
  var waitingList = document.createElement("ul");
  waitingList.id = "queue-waiting";
  waitingList.className = "plain";
  var failedHead = document.createElement("h2");
  var failedList = document.createElement("ul");
  failedList.id = "queue-failed";
  failedList.className = "plain";
  [status, waitingHead, waitingList, failedHead, failedList].forEach(function (el) { panel.appendChild(el); });
  var main = document.querySelector("main");
  if (main) main.insertBefore(panel, main.firstChild);

  function row(item) {
    var li = document.createElement("li");
    li.setAttribute("data-key", item.key);
    li.setAttribute("data-state", item.state);
    var label = document.createElement("span");
    label.textContent = item.label + (item.photos && item.photos.length ? " · " + t("field.photos", { n: item.photos.length }) : "");
    li.appendChild(label);
    var when = document.createElement("span");
    when.className = "small muted";
    when.textContent = " " + beijing(item.created);
    li.appendChild(when);
    if (item.state === "failed") {
      var why = document.createElement("span");
      why.className = "queue-error";
      why.textContent = (item.status === 409 ? t("field.conflict") : t("field.refused")) + " " + (item.error || "");
      li.appendChild(why);
      var drop = document.createElement("button");
      drop.type = "button";
      drop.textContent = t("field.dismiss");
      drop.addEventListener("click", function () { GridmapQueue.remove(item.key).then(render); });
      li.appendChild(drop);
    }
    return li;
  }

  function render() {
    return GridmapQueue.all().then(function (items) {
      var waiting = items.filter(function (i) { return i.state === "waiting"; });
      var failed = items.filter(function (i) { return i.state === "failed"; });
      [waitingList, failedList].forEach(function (list) { while (list.firstChild) list.removeChild(list.firstChild); });
      waiting.forEach(function (i) { waitingList.appendChild(row(i)); });
      failed.forEach(function (i) { failedList.appendChild(row(i)); });
      waitingHead.textContent = t("field.waiting", { n: waiting.length });
      failedHead.textContent = t("field.failed", { n: failed.length });
      waitingHead.hidden = waitingList.hidden = !waiting.length;
      failedHead.hidden = failedList.hidden = !failed.length;
      status.textContent = navigator.onLine ? "" : t("field.offline");
      status.hidden = navigator.onLine;
      panel.hidden = !waiting.length && !failed.length && navigator.onLine;
      document.body.setAttribute("data-queue", String(waiting.length));
    }).catch(function () {});
  }

  var flushing = null;
  function flush() {
    if (!navigator.onLine) return render();
    if (flushing) return flushing;
    flushing = GridmapQueue.flush(ROOT, csrfToken()).then(function (summary) {
      if (summary.sent) status.textContent = t("field.sent", { n: summary.sent });
      return render();
    }).catch(function () {}).then(function () { flushing = null; });
    return flushing;
  }

  function askForSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.sync) return registration.sync.register("gridmap-queue");
    }).catch(function () {});
  }

  function queue(item) {
    item.csrf = csrfToken();
    return GridmapQueue.add(item).then(function () {
      askForSync();
      render();
      return { status: 202, body: { queued: true, key: item.key } };
    });
  }

  // -- keep the user's open cases readable offline (through the service worker's cache) ------
  function warm() {
    if (!READS_CASES || !navigator.onLine || !("serviceWorker" in navigator)) return;
    try {
      var last = Number(localStorage.getItem("gridmap-warmed") || 0);
      if (Date.now() - last < WARM_EVERY_MS) return;
      localStorage.setItem("gridmap-warmed", String(Date.now()));
    } catch (e) { return; }
    var get = function (path, accept) {
      return fetch(ROOT + path, { credentials: "same-origin", headers: { Accept: accept || "application/json" } });
    };
    navigator.serviceWorker.ready.then(function () {
      return Promise.all([
        get("/cases", "text/html"), get("/cases/new", "text/html"),
        get("/api/boundaries?level=sector", "application/geo+json"), get("/api/categories"),
      ]).then(function () { return get("/api/cases?assigned=me&state=open&limit=30"); });
    }).then(function (response) { return response && response.ok ? response.json() : { cases: [] }; })
      .then(function (listing) {
        return (listing.cases || []).reduce(function (chain, c) {
          var id = encodeURIComponent(c.id);
          return chain.then(function () {
            return Promise.all([get("/cases/" + id, "text/html"), get("/api/incidents/" + id)]);
          }).then(function (answers) {
            return answers[1].ok ? answers[1].json() : {};
          }).then(function (one) {
            return Promise.all((one.photos || []).map(function (p) {
              return p.thumbnail_url ? fetch(p.thumbnail_url, { credentials: "same-origin" }) : null;
            }));
          }).catch(function () {});
        }, Promise.resolve());
      }).catch(function () {});
  }

  window.GridmapOffline = {
    // a report made without a connection: the case's JSON, its photos (Blobs), its key
    queueReport: function (report, photos, key, category) {
      return queue({ key: key || newKey(), kind: "report", body: report, photos: photos || [],
        label: t("field.report_label", { category: category || report.category }) });
    },
    // a case action (a transition): it carries the state it expects, so a case that moved
    // on meanwhile is a 409 shown in "could not send"
    queueAction: function (url, body, label, key) {
      return queue({ key: key || newKey(), kind: "action", url: url, body: body, label: label });
    },
    flush: flush,
    render: render,
  };

  window.addEventListener("online", flush);
  window.addEventListener("offline", render);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "queue-changed") render();
    });
  }
  ready.then(function () { return flush(); }).then(warm);
})();
