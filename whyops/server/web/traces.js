// The traces list: filters kept in the URL, newest first, new traces polled in every ~2 s.

import { listAgents, listThreads, threadIdOf, traceIdOf } from "./api.js";
import {
  append,
  clear,
  formatCount,
  formatDuration,
  formatRelative,
  formatTime,
  h,
  link,
  message,
  openUnlessLink,
  routeTo,
  shortId,
} from "./dom.js";
import { durationOf, tokenCell } from "./summary.js";

const POLL_MS = 2000;

export async function renderTraces(root, params, lifecycle) {
  const filters = readFilters(params);
  const tbody = h("tbody");
  const status = h("div", { className: "muted list-status" }, "Loading…");
  const rows = new Map();
  const older = olderButton(filters, rows, () => drawRows(tbody, rows, status));
  const live = h("span", { className: "live", title: "new traces appear as they arrive" }, "live");
  append(
    root,
    h("div", { className: "page-head" }, h("h1", {}, "Traces"), live),
    await filterForm(filters),
    h("table", { className: "grid traces-table" }, tableHead(), tbody),
    h("div", { className: "list-foot" }, status, older),
  );
  let cursor = null;
  const load = async () => {
    const query = apiFilters(filters);
    // The server's write times never go backwards and `updatedSince` is inclusive, so the
    // largest `updatedAt` seen is a cursor that misses nothing (repeats merge away).
    if (cursor) query.updatedSince = cursor;
    const data = await listThreads(query).catch((error) => {
      live.classList.add("is-offline");
      live.textContent = "reconnecting…";
      throw error;
    });
    live.classList.remove("is-offline");
    live.textContent = "live";
    const fresh = merge(rows, data.threads ?? [], cursor !== null);
    if (cursor === null) older.hidden = !data.pagination?.hasMore;
    cursor = newest(rows) ?? cursor ?? new Date(0).toISOString();
    if (fresh || !tbody.firstChild) drawRows(tbody, rows, status);
  };
  try {
    await load();
  } catch (error) {
    status.textContent = `Could not load traces: ${error.message}`;
    return;
  }
  lifecycle.every(POLL_MS, load);
}

/** "Show older traces": the next page of the list, merged into the rows. */
function olderButton(filters, rows, redraw) {
  let page = 1;
  const button = h("button", { type: "button", hidden: true }, "Show older traces");
  button.addEventListener("click", async () => {
    page += 1;
    const data = await listThreads({ ...apiFilters(filters), page });
    merge(rows, data.threads ?? [], false);
    button.hidden = !data.pagination?.hasMore;
    redraw();
  });
  return button;
}

function readFilters(params) {
  return {
    agent: params.get("agent") ?? "",
    user: params.get("user") ?? "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
    errors: params.get("errors") === "1",
  };
}

function apiFilters(f) {
  return {
    agentName: f.agent,
    externalUserId: f.user,
    startDate: f.from ? new Date(f.from).toISOString() : "",
    endDate: f.to ? new Date(f.to).toISOString() : "",
    hasErrors: f.errors ? "true" : "",
  };
}

async function agentSelect(selected) {
  const names = await listAgents().then(
    (data) => (data.agents ?? []).map((a) => a.name),
    () => [],
  );
  if (selected && !names.includes(selected)) names.push(selected);
  const options = names.sort().map((n) => h("option", { value: n }, n));
  const select = h("select", { name: "agent" }, h("option", { value: "" }, "All agents"), options);
  select.value = selected;
  return select;
}

/** The filter bar; any change becomes the URL's query, which re-renders the list. */
async function filterForm(filters) {
  const agent = await agentSelect(filters.agent);
  const user = h("input", {
    name: "user",
    type: "search",
    placeholder: "external user id",
    value: filters.user,
  });
  const from = h("input", { name: "from", type: "datetime-local", value: filters.from });
  const to = h("input", { name: "to", type: "datetime-local", value: filters.to });
  const errors = h("input", { name: "errors", type: "checkbox", checked: filters.errors });
  const clear = h("button", { type: "button", onclick: () => (window.location.hash = "#/traces") }, "Clear");
  const form = h(
    "form",
    { className: "filters" },
    [label("Agent", agent), label("User", user), label("From", from), label("To", to)],
    h("label", { className: "check" }, errors, "Has errors"),
    clear,
  );
  const apply = (event) => {
    event.preventDefault();
    const next = { agent: agent.value, user: user.value.trim(), from: from.value, to: to.value };
    const search = new URLSearchParams(Object.entries(next).filter(([, v]) => v));
    if (errors.checked) search.set("errors", "1");
    window.location.hash = `#/traces${search.toString() ? `?${search}` : ""}`;
  };
  form.addEventListener("change", apply);
  form.addEventListener("submit", apply);
  return form;
}

function label(text, input) {
  return h("label", {}, h("span", { className: "label-text" }, text), input);
}

function tableHead() {
  const cols = ["Started", "Trace", "Agent", "User", "Duration", "Tokens", "Events", "Errors"];
  return h(
    "thead",
    {},
    h(
      "tr",
      {},
      cols.map((c, i) => h("th", { className: i >= 4 ? "num" : "" }, c)),
    ),
  );
}

/** Upsert summaries by trace id; returns whether anything changed. */
function merge(rows, threads, markNew) {
  let changed = false;
  for (const summary of threads) {
    const id = traceIdOf(summary);
    const previous = rows.get(id);
    if (
      previous &&
      previous.summary.updatedAt === summary.updatedAt &&
      previous.summary.eventCount === summary.eventCount
    )
      continue;
    rows.set(id, { summary, isNew: markNew && !previous });
    changed = true;
  }
  return changed;
}

function newest(rows) {
  let best = null;
  for (const { summary } of rows.values()) {
    const stamp = summary.updatedAt ?? summary.lastEventTimestamp ?? summary.lastActivity;
    if (stamp && (!best || Date.parse(stamp) > Date.parse(best))) best = stamp;
  }
  return best;
}

const startOf = (s) => Date.parse(s.firstEventTimestamp ?? s.lastEventTimestamp ?? s.lastActivity ?? 0) || 0;

function drawRows(tbody, rows, status) {
  const ordered = [...rows.values()].sort((a, b) => startOf(b.summary) - startOf(a.summary));
  clear(tbody);
  for (const row of ordered) {
    tbody.appendChild(traceRow(row.summary, row.isNew));
    row.isNew = false;
  }
  status.textContent = ordered.length ? `${ordered.length} traces, newest first` : "";
  if (!ordered.length)
    status.appendChild(message("No traces yet. Run an agent with whyops configured, or `whyops demo`."));
}

function traceRow(s, isNew) {
  const traceId = traceIdOf(s);
  const thread = threadIdOf(s);
  const errors = s.errorCount ?? 0;
  const agent = s.agentName ?? s.entityName ?? "";
  return h(
    "tr",
    {
      className: `clickable ${errors ? "has-error" : ""} ${isNew ? "is-new" : ""}`.trim(),
      dataset: { traceId },
      onclick: (event) => openUnlessLink(event, routeTo("trace", traceId)),
    },
    h(
      "td",
      { title: s.firstEventTimestamp ?? "" },
      formatTime(s.firstEventTimestamp),
      h("div", { className: "muted small" }, formatRelative(s.lastEventTimestamp)),
    ),
    h(
      "td",
      { title: traceId },
      link(routeTo("trace", traceId), h("code", {}, shortId(traceId))),
      thread
        ? h("div", { className: "small" }, link(routeTo("thread", thread), "thread ", shortId(thread)))
        : null,
    ),
    h("td", {}, agent ? link(`${routeTo("traces")}?agent=${encodeURIComponent(agent)}`, agent) : "—"),
    h("td", {}, s.externalUserId ?? h("span", { className: "muted" }, "—")),
    h("td", { className: "num" }, formatDuration(durationOf(s))),
    h("td", { className: "num" }, tokenCell(s)),
    h("td", { className: "num" }, formatCount(s.eventCount)),
    h("td", { className: `num ${errors ? "error-text" : "muted"}` }, String(errors)),
  );
}
