// The field app's service worker (served at /sw.js by api/routers/fieldapp.py, which fills
// in VERSION and SHELL). Caches: the shell (the pages' assets and the vendored map library)
// at install; the pages and data the signed-in user reads (their cases, thumbnails, the
// district's boundaries) as they are read, network first, so they read offline. Every
// version has its own caches; activating deletes the older ones. A new version waits
// until the next navigation, then takes over; pages reload when their worker changes, so
// an old page never calls an API that changed.
"use strict";

var VERSION = "__VERSION__";
var SHELL = "__SHELL__";
var ROOT = new URL(self.registration.scope).pathname.replace(/\/$/, "");
var SHELL_CACHE = "gridmap-shell-" + VERSION;
var DATA_CACHE = "gridmap-data-" + VERSION;

importScripts(ROOT + "/static/web/offline-queue.js");

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) {
      return cache.addAll(SHELL.map(function (path) { return ROOT + path; }));
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("gridmap-") === 0 && name !== SHELL_CACHE && name !== DATA_CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "skip-waiting") self.skipWaiting();
  if (data.type === "version" && event.source) event.source.postMessage({ type: "version", version: VERSION });
});

// Background Sync: the offline queue is sent when the connection returns
self.addEventListener("sync", function (event) {
  if (event.tag === "gridmap-queue") event.waitUntil(GridmapQueue.flush(ROOT));
});

function path(url) { return url.pathname.slice(ROOT.length) || "/"; }

// what is kept to read offline: the case pages, the lists and cases, the boundaries, the
// streets and landmarks drawn under them (/api/orientation)
function cacheable(url, request) {
  var p = path(url);
  if (request.mode === "navigate") return /^\/(cases(\/.*)?|desk|)$/.test(p);
  return /^\/api\/(cases|categories|boundaries|orientation)$/.test(p) ||
    /^\/api\/incidents\/[^/]+$/.test(p) ||
    (/^\/api\/incidents\/[^/]+\/photos\/\d+$/.test(p) && url.searchParams.get("size") === "thumb");
}

function networkFirst(request, keep) {
  return fetch(request).then(function (response) {
    if (keep && response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(DATA_CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function (error) {
    return caches.match(request, { ignoreVary: true }).then(function (hit) {
      if (hit) return hit;
      if (request.mode === "navigate") return offlinePage();
      throw error;
    });
  });
}

function offlinePage() {
  var body = "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>" +
    "<title>离线 · Offline</title><link rel=stylesheet href='" + ROOT + "/static/web/gridmap.css'>" +
    "<main><h1>离线 · Offline</h1><p>此页面未保存到本机。已保存: <a href='" + ROOT + "/cases'>我的事件</a>, " +
    "<a href='" + ROOT + "/cases/new'>上报</a>。</p><p>This page was not saved on this device.</p></main>";
  return new Response(body, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var p = path(url);
  if (p === "/api/notifications/stream" || p === "/sw.js") return;
  if (request.mode === "navigate" && self.registration.waiting) {
    // a new version is waiting: it takes over with this navigation
    self.registration.waiting.postMessage({ type: "skip-waiting" });
  }
  if (p.indexOf("/static/") === 0 || p === "/manifest.webmanifest") {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
    return;
  }
  if (request.mode === "navigate" || p.indexOf("/api/") === 0) {
    event.respondWith(networkFirst(request, cacheable(url, request)));
  }
});
