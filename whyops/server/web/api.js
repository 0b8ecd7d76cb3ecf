// The read API of `whyops serve`, and the API key the page sends with it.

const KEY_STORAGE = "whyops.apiKey";

export class ApiError extends Error {
  constructor(status, text) {
    super(text || `HTTP ${status}`);
    this.status = status;
  }
}

/** Take `key=...` out of the URL fragment (#key=K or #/route&key=K), keep it, clean the URL. */
export function adoptKeyFromHash() {
  const hash = window.location.hash.replace(/^#/, "");
  const match = hash.match(/(^|[&?])key=([^&]*)/);
  if (!match) return;
  setKey(decodeURIComponent(match[2]));
  let rest = hash.replace(match[0], "").replace(/^[&?]/, "");
  if (!rest.startsWith("/")) rest = "/traces";
  history.replaceState(null, "", `${window.location.pathname}${window.location.search}#${rest}`);
}

export function getKey() {
  return window.localStorage.getItem(KEY_STORAGE) || "";
}

export function setKey(key) {
  if (key) window.localStorage.setItem(KEY_STORAGE, key.trim());
  else window.localStorage.removeItem(KEY_STORAGE);
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function getJson(path, params) {
  const key = getKey();
  const response = await fetch(`/api${path}${query(params)}`, {
    headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
  });
  if (!response.ok) {
    if (response.status === 401) {
      window.dispatchEvent(new CustomEvent("whyops:unauthorized", { detail: { key } }));
    }
    let detail = "";
    try {
      const body = await response.json();
      detail = typeof body.error === "string" ? body.error : JSON.stringify(body.error ?? body);
      // A 400 names the fields it refused: "Validation failed: to: Must be later than from".
      const fields = Array.isArray(body.details) ? body.details.filter((d) => d?.field) : [];
      if (fields.length) detail += `: ${fields.map((d) => `${d.field}: ${d.message}`).join("; ")}`;
    } catch {
      detail = response.statusText;
    }
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

export function listThreads(filters) {
  return getJson("/threads", { count: 100, ...filters });
}

export function getThread(threadId, params) {
  return getJson(`/threads/${encodeURIComponent(threadId)}`, {
    eventLimit: 1000,
    eventInclude: "content,metadata",
    ...params,
  });
}

export function getSpans(traceId) {
  return getJson(`/traces/${encodeURIComponent(traceId)}/spans`);
}

export function listEvents(params) {
  return getJson("/events", { include: "content,metadata", limit: 200, ...params });
}

/** Counts, error rate, latency, tokens and cost per time bucket (docs/server.md). */
export function getStats(params) {
  return getJson("/stats", params);
}

export function getStatsTop(kind, params) {
  return getJson("/stats/top", { kind, ...params });
}

export function listAgents() {
  return getJson("/entities", { count: 100 });
}

export function getAgent(agentId) {
  return getJson(`/entities/${encodeURIComponent(agentId)}`, { include: "metadata" });
}

// A thread summary is one trace: `traceId` (WhyOps calls it `threadId`). The conversation
// it belongs to, when the SDK set one, is `contextThreadId`.
export function traceIdOf(summary) {
  return String(summary.traceId ?? summary.threadId ?? summary.id ?? "");
}

export function threadIdOf(summary) {
  const thread = summary.contextThreadId ?? summary.extThreadId ?? null;
  return thread && thread !== traceIdOf(summary) ? String(thread) : null;
}

export function getEvent(eventId) {
  return getJson(`/events/${encodeURIComponent(eventId)}`, { include: "content,metadata" });
}
