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

/**
 * The traces view. The filter form stays on the page while filters change: a new query only
 * replaces the list below it, so nothing typed into the form is lost to a re-render, and an
 * answer for an older query can only reach a list that is no longer on the page.
 */
export async function renderTraces(root, params, lifecycle) {
  const live = h("span", { className: "live", title: "new traces appear as they arrive" }, "live");
  const list = h("div", { className: "trace-list" });
  const form = await filterForm(readFilters(params));
  append(root, h("div", { className: "page-head" }, h("h1", {}, "Traces"), live), form.element, list);
  const show = (next, life) => {
    form.sync(next);
    const section = h("div", { className: "trace-list-body" });
    clear(list).appendChild(section);
    return renderList(section, readFilters(next), live, life);
  };
  root.update = show; // from now on, a new query replaces only the list
  await show(params, lifecycle);
}

/** One query's list: its rows, its live poll, its "Show older traces" button. */
async function renderList(root, filters, live, lifecycle) {
  const tbody = h("tbody");
  const status = h("div", { className: "muted list-status" }, "Loading…");
  const rows = new Map();
  const older = olderButton(filters, rows, () => drawRows(tbody, rows, status));
  append(
    root,
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
      if (lifecycle.stopped) throw error;
      markOffline(live, true);
      if (cursor === null) status.textContent = `Could not load traces: ${error.message}. Retrying…`;
      throw error;
    });
    if (lifecycle.stopped) return; // an answer for a list that was replaced meanwhile
    markOffline(live, false);
    const fresh = merge(rows, data.threads ?? [], cursor !== null);
    if (cursor === null) older.hidden = !data.pagination?.hasMore;
    cursor = newest(rows) ?? cursor ?? new Date(0).toISOString();
    if (fresh || !tbody.firstChild) drawRows(tbody, rows, status);
  };
  // A failed first load is retried by the poll, like any other.
  await load().catch(() => {});
  lifecycle.every(POLL_MS, load);
}

function markOffline(live, offline) {
  live.classList.toggle("is-offline", offline);
  live.textContent = offline ? "reconnecting…" : "live";
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

/**
 * The filter bar; any change becomes the URL's query, which replaces the list. `sync` shows
 * a query that came from elsewhere (a link, Back) without touching what the form itself sent.
 */
async function filterForm(filters) {
  const agent = await agentSelect(filters.agent);
  const user = h("input", { name: "user", type: "search", placeholder: "external user id" });
  const from = h("input", { name: "from", type: "datetime-local" });
  const to = h("input", { name: "to", type: "datetime-local" });
  const errors = h("input", { name: "errors", type: "checkbox" });
  let sent = null;
  const apply = (event) => {
    event?.preventDefault();
    const next = { agent: agent.value, user: user.value.trim(), from: from.value, to: to.value };
    const search = new URLSearchParams(Object.entries(next).filter(([, v]) => v));
    if (errors.checked) search.set("errors", "1");
    sent = search.toString();
    window.location.hash = `#/traces${sent ? `?${sent}` : ""}`;
  };
  const reset = () => {
    for (const input of [agent, user, from, to]) input.value = "";
    errors.checked = false;
    apply();
  };
  const element = h(
    "form",
    { className: "filters", onchange: apply, onsubmit: apply },
    [label("Agent", agent), label("User", user), label("From", from), label("To", to)],
    h("label", { className: "check" }, errors, "Has errors"),
    h("button", { type: "button", onclick: reset }, "Clear"),
  );
  const sync = (params) => {
    if (params.toString() === sent) return;
    const f = readFilters(params);
    ensureOption(agent, f.agent);
    [agent.value, user.value, from.value, to.value] = [f.agent, f.user, f.from, f.to];
    errors.checked = f.errors;
    sent = params.toString();
  };
  return { element, sync };
}

function ensureOption(select, name) {
  if (name && ![...select.options].some((option) => option.value === name))
    select.appendChild(h("option", { value: name }, name));
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

const stampOf = (s) => Date.parse(s.updatedAt ?? s.lastEventTimestamp ?? s.lastActivity ?? 0) || 0;

/**
 * Upsert summaries by trace id; returns whether anything changed. An answer can arrive after
 * a newer one (an older page requested before a poll): a summary never replaces a newer one.
 */
function merge(rows, threads, markNew) {
  let changed = false;
  for (const summary of threads) {
    const id = traceIdOf(summary);
    const previous = rows.get(id);
    if (previous && stampOf(summary) < stampOf(previous.summary)) continue;
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
