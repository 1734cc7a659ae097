// The offline queue (IndexedDB), shared by the pages (offline.js) and the service worker
// (sw.js, for Background Sync). A report (with its photos as Blobs) or a case action made
// without a connection is kept with its Idempotency-Key and sent when the connection
// returns; the server files a key once, so sending twice files once. An answer that
// refuses it (409: the case moved on; 4xx) moves it to "could not send" with the server's
// message; a network failure or a 5xx leaves it waiting.
(function (scope) {
  "use strict";

  var DB = "gridmap-offline", STORE = "queue";

  function open() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "key" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function tx(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : result); };
        t.onerror = function () { db.close(); reject(t.error); };
      });
    });
  }

  function all() {
    return tx("readonly", function (store) { return store.getAll(); }).then(function (items) {
      return (items || []).sort(function (a, b) { return a.created - b.created; });
    });
  }

  function put(item) { return tx("readwrite", function (store) { return store.put(item); }); }
  function remove(key) { return tx("readwrite", function (store) { return store.delete(key); }); }
  function clear() { return tx("readwrite", function (store) { return store.clear(); }); }

  // item: {key, kind: "report"|"action", url, body, photos: [Blob], label, csrf}
  function add(item) {
    item.created = Date.now();
    item.state = "waiting";
    item.photosSent = 0;
    return put(item).then(function () { return item; });
  }

  function detail(body, status) {
    if (body && body.detail) return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    return "HTTP " + status;
  }

  function post(root, url, body, headers) {
    var init = { method: "POST", credentials: "same-origin", headers: headers, body: body };
    return fetch(root + url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, body: json };
      });
    });
  }

  function jsonHeaders(item, csrf) {
    return {
      "Content-Type": "application/json", Accept: "application/json",
      "X-CSRF-Token": csrf || item.csrf || "", "Idempotency-Key": item.key,
    };
  }

  // a report: the case (201, or 201 replayed), then the photos not yet sent
  function sendReport(root, item, csrf) {
    return post(root, "/api/incidents", JSON.stringify(item.body), jsonHeaders(item, csrf)).then(function (res) {
      if (res.status !== 201) return res;
      item.incident = res.body.id;
      var photos = item.photos || [];
      var chain = Promise.resolve(res);
      photos.forEach(function (blob, i) {
        chain = chain.then(function (last) {
          if (last.status !== 201 || i < item.photosSent) return last;
          var data = new FormData();
          data.append("file", blob, "photo-" + (i + 1) + ".jpg");
          data.append("stage", "report");
          var headers = { Accept: "application/json", "X-CSRF-Token": csrf || item.csrf || "" };
          return post(root, "/api/incidents/" + encodeURIComponent(item.incident) + "/photos", data, headers)
            .then(function (up) {
              if (up.status !== 201) return up;
              item.photosSent = i + 1;
              return put(item).then(function () { return res; });
            });
        });
      });
      return chain;
    });
  }

  function sendOne(root, item, csrf) {
    if (item.kind === "report") return sendReport(root, item, csrf);
    return post(root, item.url, JSON.stringify(item.body), jsonHeaders(item, csrf));
  }

  // send every waiting item in order; resolves to {sent, failed, waiting}
  function flushNow(root, csrf) {
    var summary = { sent: 0, failed: 0, waiting: 0 };
    return all().then(function (items) {
      var chain = Promise.resolve(true);
      items.forEach(function (item) {
        chain = chain.then(function (online) {
          if (item.state !== "waiting") return online;
          if (!online) { summary.waiting += 1; return false; }
          return sendOne(root, item, csrf).then(function (res) {
            if (res.status >= 200 && res.status < 300) { summary.sent += 1; return remove(item.key).then(function () { return true; }); }
            if (res.status >= 500 || res.status === 401 || res.status === 408 || res.status === 429) {
              summary.waiting += 1;
              return true;
            }
            item.state = "failed";
            item.status = res.status;
            item.error = detail(res.body, res.status);
            summary.failed += 1;
            return put(item).then(function () { return true; });
          }, function () { summary.waiting += 1; return false; });  // no connection: stop
        });
      });
      return chain;
    }).then(function () { return summary; });
  }

  // one sender at a time (pages and the service worker share the queue)
  function flush(root, csrf) {
    if (scope.navigator && scope.navigator.locks) {
      return scope.navigator.locks.request("gridmap-queue", function () { return flushNow(root || "", csrf); });
    }
    return flushNow(root || "", csrf);
  }

  scope.GridmapQueue = { add: add, all: all, remove: remove, clear: clear, flush: flush };
})(self);
