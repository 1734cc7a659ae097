// The evaluation page: period picker, graded sortable table, drill-down community → level-2
// grid → sector → its cases, and three ECharts charts. Data is set with textContent only.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("eval-config").textContent);
  const M = config.messages;
  const m = (key) => (key in M ? M[key] : key);
  const DRILL = { community: "grid2", grid2: "sector", sector: "cases" };
  const params = new URLSearchParams(location.search);
  const state = {
    level: config.levels.includes(params.get("level")) ? params.get("level") : "community",
    trail: [],
    rows: [],
    sortKey: "score",
    sortDir: -1,
  };
  const $ = (id) => document.getElementById(id);
  const form = $("period");
  const since = $("since");
  const until = $("until");
  const preset = $("preset");
  const status = $("status");
  const charts = {};

  function beijingToday() {
    return new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  }
  function day(y, mo, d) {
    return new Date(Date.UTC(y, mo, d)).toISOString().slice(0, 10);
  }
  function presetDays(name) {
    const today = beijingToday();
    const y = Number(today.slice(0, 4));
    const mo = Number(today.slice(5, 7)) - 1;
    if (name === "this_month") return [day(y, mo, 1), today];
    if (name === "last_month") return [day(y, mo - 1, 1), day(y, mo, 0)];
    if (name === "quarter") return [day(y, Math.floor(mo / 3) * 3, 1), today];
    return null;
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function fmt(value) {
    return value === null || value === undefined ? "–" : String(value);
  }
  function query(extra) {
    const q = new URLSearchParams({ since: since.value, until: until.value, ...extra });
    return q.toString();
  }
  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).detail || detail;
      } catch (_) { /* not JSON */ }
      throw new Error(detail);
    }
    return response.json();
  }

  function value(row, key) {
    if (key === "name") return config.lang === "en" ? row.name_en || row.name_zh : row.name_zh;
    if (key.startsWith("rate.")) return row.rates[key.slice(5)].value;
    return row[key];
  }
  function sorted(rows) {
    const { sortKey, sortDir } = state;
    return rows.slice().sort((a, b) => {
      const x = value(a, sortKey);
      const y = value(b, sortKey);
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      if (typeof x === "number") return sortDir * (x - y);
      return sortDir * String(x).localeCompare(String(y), "zh-CN");
    });
  }

  function renderTable() {
    const body = document.querySelector("#evaluation tbody");
    body.replaceChildren();
    for (const row of sorted(state.rows)) {
      const tr = el("tr");
      tr.dataset.code = row.code;
      const name = el("th");
      name.scope = "row";
      const next = DRILL[state.level];
      if (next) {
        const a = el("a", value(row, "name"));
        a.href = "#";
        a.dataset.drill = row.code;
        a.addEventListener("click", (event) => {
          event.preventDefault();
          drill(row);
        });
        name.append(a);
      } else {
        name.textContent = value(row, "name");
      }
      if (row.small_sample) name.append(el("span", m("eval.small_sample"), "flag"));
      tr.append(name, el("td", fmt(row.filed), "num"));
      for (const key of config.rates) {
        const rate = row.rates[key];
        const td = el("td", fmt(rate.value), "num");
        td.title = `${rate.numerator} / ${rate.denominator}`;
        td.dataset.rate = key;
        tr.append(td);
      }
      tr.append(
        el("td", fmt(row.median_hours_to_close), "num"),
        el("td", fmt(row.p90_hours_to_close), "num"),
        el("td", fmt(row.score), "num"),
      );
      const grade = el("td");
      if (row.grade) {
        const badge = el("span", row.grade, "grade");
        badge.style.background = row.grade_colour;
        grade.append(badge);
      }
      tr.append(grade, el("td", fmt(row.rank), "num"));
      body.append(tr);
    }
    for (const th of document.querySelectorAll("#evaluation thead th")) {
      const on = th.dataset.key === state.sortKey;
      th.setAttribute("aria-sort", on ? (state.sortDir > 0 ? "ascending" : "descending") : "none");
    }
  }

  function renderCrumbs() {
    const nav = $("crumbs");
    nav.replaceChildren();
    const root = el("a", m("eval.all"));
    root.href = "#";
    root.addEventListener("click", (event) => {
      event.preventDefault();
      state.trail = [];
      setLevel("community");
    });
    nav.append(root);
    state.trail.forEach((step, index) => {
      nav.append(el("span", " › "));
      const a = el("a", step.name);
      a.href = "#";
      a.addEventListener("click", (event) => {
        event.preventDefault();
        state.trail = state.trail.slice(0, index + 1);
        state.level = DRILL[step.level];
        load();
      });
      nav.append(a);
    });
  }

  function drill(row) {
    const next = DRILL[state.level];
    state.trail.push({ level: state.level, code: row.code, name: value(row, "name") });
    if (next === "cases") {
      loadCases(row);
      renderCrumbs();
      loadTrend();
      return;
    }
    state.level = next;
    load();
  }

  function setLevel(level) {
    state.level = level;
    state.trail = [];
    load();
  }

  function parentCode() {
    const step = state.trail.find((s) => DRILL[s.level] === state.level);
    return step ? step.code : null;
  }
  function openSector() {
    const last = state.trail[state.trail.length - 1];
    return last && DRILL[last.level] === "cases" ? last : null;
  }

  async function load() {
    if (!openSector()) $("cases-section").hidden = true;
    for (const a of document.querySelectorAll("#levels a")) {
      if (a.dataset.level === state.level && !state.trail.length) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    renderCrumbs();
    status.textContent = m("eval.loading");
    const parent = parentCode();
    const extra = { level: state.level };
    if (parent) extra.parent = parent;
    history.replaceState(null, "", `?${query({ level: state.level })}`);
    $("report-link").href = `/reports/monthly?month=${since.value.slice(0, 7)}`;
    try {
      const data = await getJSON(`/api/evaluation?${query(extra)}`);
      state.rows = data.rows;
      status.textContent = `${data.since} – ${data.until} · ${m("eval.level." + data.level)} · ${data.rows.length}`;
      status.dataset.since = data.since;
      status.dataset.until = data.until;
      renderTable();
      drawRanking();
      const sector = openSector();
      if (sector) loadCases(state.rows.find((r) => r.code === sector.code) || { code: sector.code, name_zh: sector.name, name_en: sector.name });
    } catch (error) {
      status.textContent = `${m("eval.error")}: ${error.message}`;
    }
    loadTrend();
  }

  async function loadCases(row) {
    const section = $("cases-section");
    $("cases-title").textContent = `${m("eval.cases")} · ${value(row, "name")}`;
    const body = document.querySelector("#cases tbody");
    body.replaceChildren();
    section.hidden = false;
    try {
      const data = await getJSON(`/api/evaluation/cases?${query({ unit: row.code })}`);
      if (!data.cases.length) {
        const tr = el("tr");
        const td = el("td", m("eval.no_cases"));
        td.colSpan = 5;
        tr.append(td);
        body.append(tr);
      }
      for (const c of data.cases) {
        const tr = el("tr");
        tr.dataset.case = c.id;
        const id = el("td");
        const a = el("a", c.id);
        a.href = `/cases/${encodeURIComponent(c.id)}`;
        id.append(a);
        const fate = [];
        if (c.times_sent_back > 0) fate.push(m("eval.case.sent_back"));
        if (c.extensions_approved > 0) fate.push(m("eval.case.extended"));
        if (c.status === "verified") fate.push(m(c.closed_in_time ? "eval.case.in_time" : "eval.case.late"));
        tr.append(
          id,
          el("td", (config.lang === "en" ? c.category_en : c.category_zh) || c.category),
          el("td", m("term." + c.status)),
          el("td", c.observed_at.slice(0, 16).replace("T", " ")),
          el("td", fate.join(" · ")),
        );
        body.append(tr);
      }
      section.scrollIntoView({ block: "nearest" });
    } catch (error) {
      status.textContent = `${m("eval.error")}: ${error.message}`;
    }
  }

  function chart(id) {
    if (typeof echarts === "undefined") return null;
    if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: "canvas" });
    return charts[id];
  }

  async function loadTrend() {
    const last = state.trail[state.trail.length - 1];
    const extra = { every: $("every").value };
    if (last) extra.unit = last.code;
    try {
      const data = await getJSON(`/api/evaluation/trend?${query(extra)}`);
      const name = (c) => (config.lang === "en" ? c.name_en : c.name_zh);
      const trend = chart("chart-trend");
      if (trend) {
        trend.setOption(
          {
            animation: false,
            tooltip: { trigger: "axis" },
            legend: { type: "scroll", top: 0 },
            grid: { left: 40, right: 12, top: 36, bottom: 28 },
            xAxis: { type: "category", data: data.steps },
            yAxis: { type: "value" },
            series: data.categories.map((c) => ({
              name: name(c), type: "bar", stack: "filed", data: c.filed,
            })),
          },
          true,
        );
      }
      const inTime = chart("chart-in-time");
      if (inTime) {
        inTime.setOption(
          {
            animation: false,
            tooltip: { trigger: "axis" },
            grid: { left: 40, right: 12, top: 16, bottom: 28 },
            xAxis: { type: "category", data: data.steps },
            yAxis: { type: "value", min: 0, max: 100 },
            series: [{ name: m("rate.closed_in_time"), type: "line", connectNulls: true,
                       data: data.closed_in_time_pct }],
          },
          true,
        );
      }
    } catch (error) {
      status.textContent = `${m("eval.error")}: ${error.message}`;
    }
  }

  function drawRanking() {
    const ranking = chart("chart-rank");
    if (!ranking) return;
    const rows = state.rows.filter((r) => r.score !== null).sort((a, b) => a.score - b.score);
    $("chart-rank").style.height = `${Math.max(220, rows.length * 22 + 40)}px`;
    ranking.resize();
    ranking.setOption(
      {
        animation: false,
        tooltip: {},
        grid: { left: 110, right: 24, top: 8, bottom: 24 },
        xAxis: { type: "value", min: 0, max: 100 },
        yAxis: { type: "category", data: rows.map((r) => value(r, "name")) },
        series: [{
          type: "bar",
          data: rows.map((r) => ({ value: r.score, itemStyle: { color: r.grade_colour } })),
        }],
      },
      true,
    );
  }

  for (const th of document.querySelectorAll("#evaluation thead th")) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.key;
      state.sortDir = state.sortKey === key ? -state.sortDir : th.dataset.type === "text" ? 1 : -1;
      state.sortKey = key;
      renderTable();
    });
  }
  for (const a of document.querySelectorAll("#levels a")) {
    a.addEventListener("click", (event) => {
      event.preventDefault();
      setLevel(a.dataset.level);
    });
  }
  preset.addEventListener("change", () => {
    const days = presetDays(preset.value);
    if (days) {
      [since.value, until.value] = days;
      load();
    }
  });
  for (const input of [since, until]) {
    input.addEventListener("change", () => { preset.value = "custom"; });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("every").addEventListener("change", loadTrend);
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));

  if (params.get("since") && params.get("until")) {
    since.value = params.get("since");
    until.value = params.get("until");
    preset.value = "custom";
  } else {
    [since.value, until.value] = presetDays("this_month");
  }
  load();
})();
