// The bell on every signed-in page: the unread count and the list of notifications, live
// by Server-Sent Events (/api/notifications/stream), polling /api/notifications?unread=true
// where the stream cannot be held. Marked read per user. Text set with textContent only.
(function () {
  "use strict";

  var bell = document.getElementById("bell");
  var panel = document.getElementById("notifications");
  if (!bell || !panel) return;
  var count = document.getElementById("bell-count");
  var list = document.getElementById("notification-list");
  var MSG = JSON.parse((document.getElementById("field-messages") || {}).textContent || "{}");
  var EN = document.documentElement.lang === "en";
  var script = document.currentScript;
  var ROOT = script ? new URL(script.src).pathname.replace(/\/static\/web\/notifications\.js$/, "") : "";
  var POLL_MS = 30000;

  function t(key) { return MSG[key] || key; }
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  // an instant in Beijing time to the minute, as the pages print them (2026-12-02 03:33)
  function beijing(value) {
    var at = new Date(new Date(value).getTime() + 8 * 3600 * 1000).toISOString();
    return at.slice(0, 10) + " " + at.slice(11, 16);
  }

  function setUnread(n) {
    count.textContent = n > 99 ? "99+" : String(n);
    count.hidden = !n;
    bell.setAttribute("data-unread", String(n));
  }

  function post(path) {
    return fetch(ROOT + path, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer) setUnread(answer.unread); });
  }

  function item(n) {
    var li = document.createElement("li");
    li.className = n.read_at ? "read" : "unread";
    li.setAttribute("data-id", String(n.id));
    li.setAttribute("data-kind", n.kind);
    var link = document.createElement("a");
    link.href = n.url ? ROOT + n.url : "#";
    link.textContent = EN ? n.message_en : n.message_zh;
    link.addEventListener("click", function (event) {
      if (n.read_at) return;
      event.preventDefault();
      post("/api/notifications/" + n.id + "/read").then(function () { location.href = link.href; });
    });
    var when = document.createElement("span");
    when.className = "small muted";
    when.textContent = " " + beijing(n.created_at);
    li.appendChild(link);
    li.appendChild(when);
    return li;
  }

  function load() {
    return fetch(ROOT + "/api/notifications?limit=20", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) {
        if (!answer) return;
        setUnread(answer.unread);
        while (list.firstChild) list.removeChild(list.firstChild);
        answer.items.forEach(function (n) { list.appendChild(item(n)); });
        if (!answer.items.length) {
          var none = document.createElement("li");
          none.className = "muted";
          none.textContent = t("field.no_notifications");
          list.appendChild(none);
        }
      }).catch(function () {});
  }

  bell.addEventListener("click", function (event) {
    event.preventDefault();
    panel.hidden = !panel.hidden;
    var bar = document.querySelector("header.bar");
    if (bar) panel.style.top = Math.round(bar.getBoundingClientRect().bottom + 4) + "px";
    bell.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) load();
  });
  document.getElementById("read-all").addEventListener("click", function () {
    post("/api/notifications/read-all").then(load);
  });

  function poll() {
    fetch(ROOT + "/api/notifications?unread=true&limit=1", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer) setUnread(answer.unread); })
      .catch(function () {});
  }

  var polling = null;
  function startPolling() {
    if (polling) return;
    poll();
    polling = setInterval(poll, POLL_MS);
  }

  if (window.EventSource) {
    var stream = new EventSource(ROOT + "/api/notifications/stream");
    stream.addEventListener("unread", function (event) {
      setUnread(JSON.parse(event.data).unread);
      if (polling) { clearInterval(polling); polling = null; }
    });
    stream.addEventListener("notification", function (event) {
      var n = JSON.parse(event.data);
      var none = list.querySelector("li.muted");
      if (none) list.removeChild(none);
      list.insertBefore(item(n), list.firstChild);
      bell.classList.add("ring");
      setTimeout(function () { bell.classList.remove("ring"); }, 2000);
    });
    // the browser reconnects by itself; while it cannot (offline, a proxy), poll
    stream.addEventListener("error", startPolling);
  } else {
    startPolling();
  }
})();
