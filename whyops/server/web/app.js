// Entry point: API key handling, hash routing, and the polling lifecycle of each view.

import { renderAgent, renderAgents } from "./agents.js";
import { adoptKeyFromHash, getKey, setKey } from "./api.js";
import { renderDashboard } from "./dashboard.js";
import { clear, h } from "./dom.js";
import { renderThread } from "./thread.js";
import { renderTrace } from "./trace.js";
import { renderTraces } from "./traces.js";

const ROUTES = {
  traces: (view, _id, params, life) => renderTraces(view, params, life),
  trace: (view, id, _params, life) => renderTrace(view, id, life),
  agents: (view) => renderAgents(view),
  agent: (view, id) => renderAgent(view, id),
  thread: (view, id) => renderThread(view, id),
  dashboard: (view, _id, params, life) => renderDashboard(view, params, life),
};

/** Timers owned by the current view; navigating away stops them. */
class Lifecycle {
  constructor() {
    this.stopped = false;
    this.timers = new Set();
  }

  every(ms, task) {
    const schedule = () => {
      const timer = setTimeout(async () => {
        this.timers.delete(timer);
        if (this.stopped) return;
        try {
          await task();
        } catch {
          // A failed poll is retried on the next tick; the view keeps what it has.
        }
        if (!this.stopped) schedule();
      }, ms);
      this.timers.add(timer);
    };
    schedule();
  }

  stop() {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
  }
}

let current = new Lifecycle();
const KEY_HELP =
  "The page reads this server's traces with an API key: the one `whyops serve` printed. " +
  "Or open the address it printed, which carries the key (#key=…).";

function parseHash() {
  const hash = window.location.hash.replace(/^#\/?/, "");
  const [path, search] = hash.split("?");
  const [name, ...rest] = path.split("/").filter(Boolean);
  return {
    name: name || "traces",
    id: rest.map(decodeURIComponent).join("/"),
    params: new URLSearchParams(search ?? ""),
  };
}

// The view on the page. A view that can show a new query in place sets `view.update` (the
// traces list keeps its filter form while the filters change).
let shown = null;

async function route() {
  adoptKeyFromHash();
  current.stop();
  current = new Lifecycle();
  markNav();
  const { name, id, params } = parseHash();
  const same = shown?.name === name && shown.id === id && shown.view.isConnected;
  if (getKey() && same && shown.view.update) {
    await shown.view.update(params, current);
    return;
  }
  shown = null;
  const main = clear(document.getElementById("main"));
  if (!getKey()) {
    main.appendChild(keyPrompt(""));
    return;
  }
  const render = ROUTES[name];
  const view = h("div", { className: `view view-${render ? name : "missing"}` });
  main.appendChild(view);
  if (!render) {
    view.appendChild(
      h("div", { className: "empty" }, "Nothing here. ", h("a", { href: "#/traces" }, "See the traces.")),
    );
    return;
  }
  shown = { name, id, view };
  try {
    await render(view, id, params, current);
  } catch (error) {
    if (view.isConnected)
      view.appendChild(h("div", { className: "error-box" }, `Could not load this page: ${error.message}`));
  }
}

const NAV_SECTIONS = new Map([
  ["agent", "agents"],
  ["agents", "agents"],
  ["dashboard", "dashboard"],
]);

function markNav() {
  const { name } = parseHash();
  const section = NAV_SECTIONS.get(name) ?? "traces";
  for (const a of document.querySelectorAll("nav a"))
    a.classList.toggle("active", a.dataset.section === section);
}

function keyPrompt(problem) {
  const input = h("input", { type: "password", name: "key", placeholder: "API key", autocomplete: "off" });
  const form = h(
    "form",
    { className: "card key-prompt" },
    h("h1", {}, "API key"),
    h("p", {}, KEY_HELP),
    problem ? h("p", { className: "error-text" }, problem) : null,
    input,
    h("button", { type: "submit" }, "Use key"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setKey(input.value);
    route();
  });
  return form;
}

function onUnauthorized(event) {
  if (event.detail?.key !== getKey()) return; // a late answer to a key already replaced
  current.stop();
  setKey("");
  // A view makes several requests at once: the first 401 shows the prompt, the rest must not
  // replace it while someone is typing a key into it.
  const main = document.getElementById("main");
  if (main.querySelector(".key-prompt")) return;
  clear(main).appendChild(keyPrompt("That key was not accepted."));
}

function setupHeader() {
  document.getElementById("change-key").addEventListener("click", () => {
    current.stop();
    clear(document.getElementById("main")).appendChild(keyPrompt(""));
  });
}

window.addEventListener("hashchange", route);
window.addEventListener("whyops:unauthorized", onUnauthorized);
setupHeader();
route();
