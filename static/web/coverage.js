// The coverage table: sort by any column, filter by name/code and by flag, show every metric.
// Works on the rows the server rendered; reads values from data-v and never writes HTML
// (only textContent and attributes), so names from imported files stay text.
(function () {
  "use strict";

  var table = document.getElementById("coverage");
  if (!table) return;
  var tbody = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var rows = Array.prototype.slice.call(tbody.rows);
  var collator = new Intl.Collator(document.documentElement.lang || "zh-CN", { numeric: true });

  function valueOf(row, index, type) {
    var raw = row.cells[index].getAttribute("data-v");
    if (type === "number") return raw === null || raw === "" ? null : Number(raw);
    return raw === null ? row.cells[index].textContent.trim() : raw;
  }

  function sortBy(index) {
    var th = headers[index];
    var type = th.getAttribute("data-type");
    var direction = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    headers.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", direction);
    var sign = direction === "ascending" ? 1 : -1;
    var sorted = rows.slice().sort(function (a, b) {
      var va = valueOf(a, index, type);
      var vb = valueOf(b, index, type);
      if (va === null || vb === null) {  // units without a value go last either way
        if (va === vb) return collator.compare(a.dataset.code, b.dataset.code);
        return va === null ? 1 : -1;
      }
      var order = type === "number" ? va - vb : collator.compare(va, vb);
      return sign * order || collator.compare(a.dataset.code, b.dataset.code);
    });
    sorted.forEach(function (row) { tbody.appendChild(row); });
  }

  headers.forEach(function (th, index) {
    var button = th.querySelector("button");
    if (button) button.addEventListener("click", function () { sortBy(index); });
  });

  var filters = document.getElementById("filters");
  var text = document.getElementById("filter-text");
  var flag = document.getElementById("filter-flag");
  var allColumns = document.getElementById("all-columns");
  var shown = document.getElementById("shown");

  function matchesFlag(row, wanted) {
    var flags = row.dataset.flags ? row.dataset.flags.split(" ") : [];
    if (wanted === "") return true;
    if (wanted === "*any") return flags.length > 0;
    if (wanted === "*none") return flags.length === 0;
    return flags.indexOf(wanted) >= 0;
  }

  function applyFilters() {
    var query = text.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var visible = (!query || row.dataset.search.toLowerCase().indexOf(query) >= 0) &&
        matchesFlag(row, flag.value);
      row.hidden = !visible;
      if (visible) count += 1;
    });
    shown.textContent = shown.dataset.template
      .replace("{shown}", String(count))
      .replace("{total}", String(rows.length));
  }

  text.addEventListener("input", applyFilters);
  flag.addEventListener("change", applyFilters);
  allColumns.addEventListener("change", function () {
    table.classList.toggle("all-columns", allColumns.checked);
  });
  filters.hidden = false;  // the controls need this script; without it the table still reads
  applyFilters();  // a browser may restore the controls' values on "back"
})();
