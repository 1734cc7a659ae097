// The admin's screens (people, categories): each form is sent as JSON to the API named in
// its data-action, with the page's CSRF token in the X-CSRF-Token header. On success the
// page reloads (the server renders the new state) and says "saved"; on a refusal the
// server's problem detail is shown and the field it names is marked. Text is set with
// textContent only: names come from people's input.
(function () {
  "use strict";

  var root = document.querySelector(".admin");
  var status = document.getElementById("admin-status");
  if (!root || !status) return;
  var DONE_KEY = "gridmap-admin-saved";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") || "" : "";

  function say(text, kind) {
    status.textContent = text;
    status.className = "status" + (kind ? " " + kind : "");
  }

  if (window.sessionStorage && sessionStorage.getItem(DONE_KEY)) {
    sessionStorage.removeItem(DONE_KEY);
    say(root.dataset.saved, "ok");
  }

  function valueOf(element) {
    if (element.type === "checkbox") return element.checked;
    var raw = element.value.trim();
    if (raw === "") return null;
    if (element.dataset.type === "number") return Number(raw);
    return raw;
  }

  function bodyOf(form) {
    if (form.dataset.noBody) return null;
    var body = {};
    var omitEmpty = !!form.dataset.omitEmpty;
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!element.name || element.name === "csrf_token" || element.disabled) return;
      var value = valueOf(element);
      if (omitEmpty && value === null) return;
      body[element.name] = value;
    });
    return body;
  }

  function clearMarks(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (element) {
      element.removeAttribute("aria-invalid");
    });
  }

  function markFields(form, problem) {
    var names = problem.fields || (problem.field ? [problem.field] : []);
    (problem.errors || []).forEach(function (error) {
      var loc = error.loc || [];
      if (loc.length) names.push(String(loc[loc.length - 1]));
    });
    var first = null;
    names.forEach(function (name) {
      var element = form.elements.namedItem(name);
      if (element && element.setAttribute) {
        element.setAttribute("aria-invalid", "true");
        first = first || element;
      }
    });
    if (first) first.focus();
  }

  function send(form) {
    var body = bodyOf(form);
    var button = form.querySelector("button[type=submit]");
    clearMarks(form);
    say(root.dataset.working, "");
    if (button) button.disabled = true;
    var headers = { Accept: "application/json", "X-CSRF-Token": csrf };
    if (body !== null) headers["Content-Type"] = "application/json";
    fetch(form.dataset.action, {
      method: form.dataset.method,
      headers: headers,
      body: body === null ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.ok) {
            if (window.sessionStorage) sessionStorage.setItem(DONE_KEY, "1");
            window.location.reload();
            return;
          }
          if (button) button.disabled = false;
          if (data && data.detail) {
            say(root.dataset.refused.replace("{detail}", data.detail), "error");
            markFields(form, data);
          } else {
            say(root.dataset.failed.replace("{status}", String(response.status)), "error");
          }
        });
      })
      .catch(function () {
        if (button) button.disabled = false;
        say(root.dataset.failed.replace("{status}", "network"), "error");
      });
  }

  // the lists' filter: by any text of a record (name, id, the unit it serves)
  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter]"), function (input) {
    var records = document.querySelectorAll("#" + input.dataset.filter + " > li.record");
    input.addEventListener("input", function () {
      var query = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(records, function (record) {
        record.hidden = query !== "" && record.textContent.toLowerCase().indexOf(query) < 0;
      });
    });
    input.parentNode.hidden = false;  // the filter needs this script
  });

  Array.prototype.forEach.call(document.querySelectorAll("form.admin-form"), function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      send(form);
    });
  });
})();
