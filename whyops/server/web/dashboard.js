// The dashboard: for a time range and an agent, traces, errors, LLM latency, tokens and cost
// over time (GET /api/stats) and the top-N tables (GET /api/stats/top), each row linking to
// the traces behind it.

import { getStats, getStatsTop, listAgents } from "./api.js";
import { chart, fmt } from "./charts.js";
import { TOP_TABLES, topCard } from "./dashtop.js";
import { append, clear, formatCount, formatTime, h, message } from "./dom.js";

const PRESETS = [
  ["24h", "24 h", 86400],
  ["7d", "7 d", 7 * 86400],
  ["30d", "30 d", 30 * 86400],
];
const TOP_LIMIT = 10;

/** The dashboard view. The controls stay on the page; a new range or agent redraws below. */
export async function renderDashboard(root, params, lifecycle) {
  const body = h("div", { className: "dashboard-body" });
  const controls = controlForm(readQuery(params));
  append(root, h("div", { className: "page-head" }, h("h1", {}, "Dashboard")), controls.element, body);
  const show = (next, life) => {
    controls.sync(next);
    const loading = message("Loading…", "muted");
    const section = h("div", { className: "dashboard-section", "aria-busy": "true" }, loading);
    clear(body).appendChild(section);
    return renderRange(section, readQuery(next), life);
  };
  root.update = show;
  await show(params, lifecycle);
  // The agent list counts every agent's traces: on a large store that read would slow the
  // statistics down, so it comes after them (or when the list is opened, if that is sooner).
  controls.listAgents();
}

/** The query in the URL: a preset (`range=7d`) or a custom `from`/`to`, and an agent. */
export function readQuery(params) {
  const from = params.get("from") ?? "";
  const to = params.get("to") ?? "";
  const custom = Boolean(from && to);
  const preset = PRESETS.find(([id]) => id === params.get("range"))?.[0] ?? "24h";
  const range = custom ? "custom" : preset;
  return { range, from, to, agent: params.get("agent") ?? "" };
}

/** ISO-8601 bounds for the API: a preset ends now. */
export function boundsOf(query, now = Date.now()) {
  if (query.range === "custom") return { from: isoOf(query.from), to: isoOf(query.to) };
  const seconds = PRESETS.find(([id]) => id === query.range)[2];
  return { from: new Date(now - seconds * 1000).toISOString(), to: new Date(now).toISOString() };
}

const isoOf = (text) => {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toISOString();
};

/**
 * One range: the charts as soon as /api/stats answers, then the top-N tables, each drawn
 * when its own answer arrives (the charts' query goes first: on a large store the server's
 * reads compete). The section stays aria-busy until everything is in.
 */
async function renderRange(section, query, lifecycle) {
  const filter = { ...boundsOf(query), agent: query.agent };
  const failed = (error) => {
    if (lifecycle.stopped) return;
    const text = `Could not load the statistics: ${error.message}`;
    clear(section).appendChild(h("div", { className: "error-box" }, text));
  };
  const stats = await getStats(filter).catch(failed);
  if (lifecycle.stopped || !stats) return done(section); // a replaced range, or the error shown
  performance.mark("whyops:dashboard-data");
  clear(section);
  if (isEmpty(stats.totals)) {
    section.appendChild(emptyState(stats, query));
    return done(section, "whyops:dashboard-drawn");
  }
  const tables = TOP_TABLES.map((table) => topCard(table));
  const grid = h("div", { className: "top-grid" }, tables.map((t) => t.card));
  append(section, totalsChips(stats.totals), charts(stats), grid);
  performance.mark("whyops:dashboard-drawn"); // the marks are read by bench/bench_dashboard.py
  await Promise.all(
    TOP_TABLES.map((table, i) =>
      getStatsTop(table.kind, { ...filter, limit: TOP_LIMIT }).then(
        (answer) => lifecycle.stopped || tables[i].fill(answer.rows ?? []),
        (error) => lifecycle.stopped || tables[i].fail(error),
      ),
    ),
  );
  done(section, "whyops:dashboard-complete");
}

function done(section, mark) {
  section.removeAttribute("aria-busy");
  if (mark) performance.mark(mark);
}

const isEmpty = (totals) => !totals.traces && !totals.llmCalls && !totals.toolCalls;

function emptyState(stats, query) {
  const who = query.agent ? ` for the agent “${query.agent}”` : "";
  return h(
    "div",
    { className: "empty dashboard-empty" },
    h("p", {}, `No traces between ${formatTime(stats.from)} and ${formatTime(stats.to)}${who}.`),
    h("p", { className: "small" }, "Pick a longer range or another agent, or run an agent with whyops."),
  );
}

function totalsChips(t) {
  const latency = t.latencyMs;
  const tokens = Object.values(t.tokens ?? {}).reduce((a, b) => a + b, 0);
  const unpriced = t.unpricedCalls ? `${fmt.count(t.unpricedCalls)} calls without a price` : null;
  return h(
    "div",
    { className: "chips totals" },
    chip("Traces", "traces", fmt.count(t.traces)),
    chip("With errors", "errors", `${fmt.count(t.errors)} (${fmt.percent(t.errorRate)})`),
    chip("LLM calls", "llmCalls", fmt.count(t.llmCalls)),
    chip("Tool calls", "toolCalls", fmt.count(t.toolCalls)),
    chip(
      "LLM latency p50 / p95 / p99",
      "latency",
      latency ? [latency.p50, latency.p95, latency.p99].map(fmt.ms).join(" / ") : "—",
    ),
    chip("Tokens", "tokens", fmt.count(tokens)),
    chip("Cost", "cost", fmt.callsCost(t), unpriced),
  );
}

function chip(label, name, value, note) {
  return h(
    "span",
    { className: "chip", dataset: { total: name } },
    h("span", { className: "chip-label" }, label),
    h("span", { className: "chip-value" }, value),
    note ? h("span", { className: "muted small" }, note) : null,
  );
}

const TOKEN_KINDS = [
  ["input", "Input"],
  ["output", "Output"],
  ["cacheRead", "Cache read"],
  ["cacheWrite", "Cache write"],
  ["reasoning", "Reasoning"],
];

// The six charts as data: each series is [key, label, its value in a bucket].
const CHARTS = [
  {
    id: "traces",
    title: "Traces",
    kind: "bars",
    format: fmt.count,
    tick: formatCount,
    series: [["traces", "Traces", (b) => b.traces]],
  },
  {
    id: "calls",
    title: "LLM and tool calls",
    kind: "lines",
    format: fmt.count,
    tick: formatCount,
    series: [
      ["llmCalls", "LLM calls", (b) => b.llmCalls],
      ["toolCalls", "Tool calls", (b) => b.toolCalls],
    ],
  },
  {
    id: "errors",
    title: "Error rate (traces with an error)",
    kind: "lines",
    format: fmt.percent,
    // A bucket without traces has no rate: a gap in the line, not 0%.
    series: [["errorRate", "Error rate", (b) => (b.traces ? b.errorRate : null)]],
  },
  {
    id: "latency",
    title: "LLM latency",
    kind: "lines",
    format: fmt.ms,
    tick: (v) => (v ? fmt.ms(v) : "0"),
    series: ["p50", "p95", "p99"].map((p) => [p, p, (b) => b.latencyMs?.[p] ?? null]),
  },
  {
    id: "tokens",
    title: "Tokens by kind",
    kind: "stacked",
    format: fmt.count,
    tick: formatCount,
    series: TOKEN_KINDS.map(([key, label]) => [key, label, (b) => b.tokens?.[key] ?? 0]),
  },
  {
    id: "cost",
    title: "Cost (USD)",
    kind: "bars",
    format: fmt.usd,
    tick: (v) => `$${+v.toPrecision(3)}`,
    missing: fmt.callsCost, // a bucket's text where it has no cost
    series: [["costUsd", "Cost", (b) => b.costUsd ?? null]],
  },
];

/** The six chart specs (charts.js `chart`), read from the single series of the answer. */
export function chartSpecs(stats) {
  const buckets = stats.series[0]?.buckets ?? [];
  return CHARTS.map(({ series, missing, ...spec }) => ({
    ...spec,
    buckets: buckets.map((b) => b.start),
    bucketSeconds: stats.bucketSeconds,
    missing: missing ? (i) => missing(buckets[i]) : "—",
    series: series.map(([key, label, read]) => ({ key, label, values: buckets.map(read) })),
  }));
}

function charts(stats) {
  return h("div", { className: "chart-grid" }, chartSpecs(stats).map(chart));
}

/** Range presets, a custom from/to and the agent; any change becomes the URL's query. */
function controlForm(initial) {
  const inputs = controlInputs();
  const { agent, from, to, custom, buttons } = inputs;
  let sent = null;
  let range = initial.range;
  const apply = () => {
    const query = queryOf(range, inputs);
    if (query === null) return; // a custom range waits for both ends
    sent = query;
    window.location.hash = `#/dashboard?${sent}`;
  };
  const choose = (id) => {
    if (id === "custom" && !from.value && !to.value) {
      // Start from the range on screen, so one click keeps the view and opens the fields.
      const bounds = boundsOf({ range });
      [from.value, to.value] = [localInput(bounds.from), localInput(bounds.to)];
    }
    range = id;
    mark(buttons, custom, id);
    apply();
  };
  for (const button of buttons) button.addEventListener("click", () => choose(button.dataset.range));
  const submit = (event) => {
    event.preventDefault();
    apply();
  };
  const element = h(
    "form",
    { className: "filters dashboard-controls", onchange: apply, onsubmit: submit },
    h("div", { className: "range-buttons", role: "group", "aria-label": "time range" }, buttons),
    custom,
    label("Agent", agent),
  );
  const listed = once(() => addAgents(agent));
  agent.addEventListener("pointerdown", listed);
  agent.addEventListener("focus", listed);
  const sync = (params) => {
    if (params.toString() === sent) return;
    range = showQuery(inputs, readQuery(params));
    sent = params.toString();
  };
  range = showQuery(inputs, initial);
  return { element, sync, listAgents: listed };
}

/** The form's inputs: the agent, a custom from/to, and the range buttons (presets, Custom). */
function controlInputs() {
  const agent = h("select", { name: "agent" }, h("option", { value: "" }, "All agents"));
  const from = h("input", { name: "from", type: "datetime-local", "aria-label": "from" });
  const to = h("input", { name: "to", type: "datetime-local", "aria-label": "to" });
  const custom = h("span", { className: "custom-range" }, label("From", from), label("To", to));
  const buttons = [...PRESETS, ["custom", "Custom"]].map(([id, text]) =>
    h("button", { type: "button", dataset: { range: id }, "aria-pressed": "false" }, text),
  );
  return { agent, from, to, custom, buttons };
}

/** The URL query for `range` and the inputs; null while a custom range lacks an end. */
function queryOf(range, { agent, from, to }) {
  const search = new URLSearchParams();
  if (range === "custom") {
    if (!from.value || !to.value) return null;
    search.set("from", new Date(from.value).toISOString());
    search.set("to", new Date(to.value).toISOString());
  } else search.set("range", range);
  if (agent.value) search.set("agent", agent.value);
  return search.toString();
}

/** Shows a query in the inputs (an agent not listed yet gets an option); returns its range. */
function showQuery({ agent, from, to, custom, buttons }, query) {
  if (query.agent && ![...agent.options].some((o) => o.value === query.agent))
    agent.appendChild(h("option", { value: query.agent }, query.agent));
  agent.value = query.agent;
  [from.value, to.value] = [localInput(query.from), localInput(query.to)];
  mark(buttons, custom, query.range);
  return query.range;
}

function once(task) {
  let started = null;
  return () => (started ??= task());
}

function mark(buttons, custom, range) {
  for (const button of buttons) {
    const on = button.dataset.range === range;
    button.classList.toggle("active", on);
    button.setAttribute("aria-pressed", String(on));
  }
  custom.hidden = range !== "custom";
}

/** An ISO time as a datetime-local value, in the browser's time zone. */
function localInput(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return "";
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

/** The agents from GET /api/entities, sorted, around whatever the select already holds. */
async function addAgents(select) {
  const names = await listAgents().then(
    (data) => (data.agents ?? []).map((a) => a.name),
    () => [],
  );
  const chosen = select.value;
  const have = new Set([...select.options].map((o) => o.value));
  for (const name of names) if (!have.has(name)) select.appendChild(h("option", { value: name }, name));
  const byName = (a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);
  const sorted = [...select.options].slice(1).sort(byName);
  select.append(...sorted);
  select.value = chosen;
}

function label(text, input) {
  return h("label", {}, h("span", { className: "label-text" }, text), input);
}
