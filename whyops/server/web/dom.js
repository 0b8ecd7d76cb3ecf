// DOM building and formatting helpers.
//
// Every string that reaches the page goes through createTextNode (via h()) or
// textContent: data written by users or models is never parsed as HTML.

const PROPS = new Set(["className", "value", "checked", "disabled", "type", "title", "hidden"]);

/** Build an element: h("div", {className: "x", onclick: fn}, "text", child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "style") Object.assign(el.style, value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (PROPS.has(name)) el[name] = value;
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** Append children: strings and numbers become text nodes, arrays are flattened. */
export function append(el, ...children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, ...child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** An in-app link: the hash is built from our own route and encoded parts only. */
export function link(route, ...children) {
  return h("a", { href: "#" + route }, ...children);
}

/** A click anywhere on a row opens it; links inside the row keep their own target. */
export function openUnlessLink(event, route) {
  if (event.target.closest("a, button, input, select")) return;
  window.location.hash = `#${route}`;
}

export function routeTo(...parts) {
  return "/" + parts.map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join("/");
}

export function formatDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "—";
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)}ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)}s`;
  const minutes = Math.floor(ms / 60000);
  return `${minutes}m${String(Math.round((ms % 60000) / 1000)).padStart(2, "0")}s`;
}

export function formatCount(n) {
  if (n === undefined || n === null) return "—";
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Local date and time; today's timestamps show the time only. */
export function formatTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  const time = date.toLocaleTimeString([], { hour12: false });
  return sameDay ? time : `${date.toLocaleDateString()} ${time}`;
}

export function formatRelative(iso) {
  if (!iso) return "—";
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (Number.isNaN(seconds)) return String(iso);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${Math.floor(seconds)}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

/** Pretty JSON for display; strings are shown as they are, not quoted. */
export function toText(value) {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export function pre(value, className = "code") {
  return h("pre", { className }, toText(value));
}

export function badge(text, kind) {
  return h("span", { className: `badge badge-${kind || "plain"}` }, text);
}

export function shortId(id) {
  const text = String(id ?? "");
  return text.length > 14 ? `${text.slice(0, 12)}…` : text;
}

export function message(text, className = "empty") {
  return h("div", { className }, text);
}
