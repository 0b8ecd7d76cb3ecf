// Agents: the list, and one agent's versions with what changed between them.

import { getAgent, listAgents } from "./api.js";
import {
  append,
  formatCount,
  formatRelative,
  formatTime,
  h,
  link,
  message,
  openUnlessLink,
  pre,
  routeTo,
  shortId,
} from "./dom.js";
import { diffLines, diffTools } from "./diff.js";
import { chip } from "./summary.js";

export async function renderAgents(root) {
  append(root, h("div", { className: "page-head" }, h("h1", {}, "Agents")));
  const data = await listAgents();
  const agents = data.agents ?? [];
  if (!agents.length) {
    root.appendChild(message("No agents yet. They appear with their first trace or `init_agent`."));
    return;
  }
  const cols = ["Agent", "Versions", "Traces", "Traces with errors", "Events", "Last activity", ""];
  root.appendChild(
    h(
      "table",
      { className: "grid agents-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          cols.map((c, i) => h("th", { className: i >= 1 && i <= 4 ? "num" : "" }, c)),
        ),
      ),
      h("tbody", {}, agents.map(agentRow)),
    ),
  );
}

/** Share of the agent's traces holding an error, and how many (the server counts them). */
function rateCell(agent) {
  const traces = agent.traceCount ?? 0;
  const failing = agent.tracesWithErrors;
  if (failing === null || failing === undefined || !traces) {
    return h("span", { className: "muted" }, "—");
  }
  const rate = (failing / traces) * 100;
  return h(
    "span",
    { className: rate > 0 ? "error-text" : "" },
    `${rate.toFixed(rate && rate < 10 ? 1 : 0)}%`,
    h("span", { className: "muted" }, ` (${failing})`),
  );
}

/** Which configuration the agent runs now: its latest version's hash and when it appeared. */
function latestLine(agent) {
  const latest = agent.latestVersion;
  if (!latest) return null;
  return h(
    "div",
    { className: "muted small" },
    "latest ",
    h("code", { title: latest.hash ?? "" }, shortId(latest.hash ?? latest.id ?? "")),
    ` · ${formatTime(latest.createdAt)}`,
  );
}

function agentRow(agent) {
  const versions = agent.versionCount ?? agent.versions?.length ?? (agent.latestVersion ? 1 : 0);
  return h(
    "tr",
    {
      className: "clickable",
      dataset: { agentId: agent.id },
      onclick: (event) => openUnlessLink(event, routeTo("agent", agent.id)),
    },
    h("td", {}, link(routeTo("agent", agent.id), h("strong", {}, agent.name)), latestLine(agent)),
    h("td", { className: "num" }, String(versions)),
    h("td", { className: "num" }, formatCount(agent.traceCount ?? 0)),
    h("td", { className: "num" }, rateCell(agent)),
    h("td", { className: "num" }, formatCount(agent.eventCount ?? 0)),
    h("td", { title: agent.lastActive ?? "" }, formatRelative(agent.lastActive ?? agent.updatedAt)),
    h(
      "td",
      { className: "go" },
      link(`${routeTo("traces")}?agent=${encodeURIComponent(agent.name)}`, "traces →"),
    ),
  );
}

export async function renderAgent(root, agentId) {
  const data = await getAgent(agentId);
  const agent = data.agent ?? data;
  const versions = [...(agent.versions ?? [])].sort(
    (a, b) => Date.parse(a.createdAt ?? 0) - Date.parse(b.createdAt ?? 0),
  );
  append(
    root,
    h(
      "div",
      { className: "page-head" },
      h("h1", {}, link(routeTo("agents"), "Agents"), " / ", agent.name),
      link(`${routeTo("traces")}?agent=${encodeURIComponent(agent.name)}`, "traces of this agent →"),
    ),
    h(
      "div",
      { className: "chips" },
      chip("versions", String(versions.length)),
      chip("traces", formatCount(agent.traceCount ?? 0)),
      chip("traces with errors", rateCell(agent)),
      chip("last activity", formatRelative(agent.lastActive ?? agent.updatedAt)),
    ),
  );
  if (!versions.length) root.appendChild(message("No versions recorded."));
  for (let i = versions.length - 1; i >= 0; i -= 1) {
    root.appendChild(versionCard(versions[i], i + 1, i > 0 ? versions[i - 1] : null));
  }
}

function metadataOf(version) {
  return version.metadata ?? {};
}

function versionCard(version, number, previous) {
  const meta = metadataOf(version);
  const tools = Array.isArray(meta.tools) ? meta.tools : [];
  return h(
    "section",
    { className: "card version", dataset: { versionId: version.id } },
    h(
      "div",
      { className: "card-head" },
      h("h2", {}, `Version ${number}`),
      h("code", { className: "muted", title: version.hash ?? "" }, shortId(version.hash ?? version.id)),
      h("span", { className: "muted" }, formatTime(version.createdAt)),
    ),
    previous ? changes(metadataOf(previous), meta, number - 1) : null,
    meta.description ? h("p", {}, meta.description) : null,
    h("h3", {}, "System prompt"),
    pre(meta.systemPrompt ?? "(none)", "code prompt"),
    h("h3", {}, `Tools (${tools.length})`),
    tools.length ? toolsTable(tools) : h("div", { className: "muted" }, "No tools."),
  );
}

function changes(before, after, previousNumber) {
  const items = [];
  if ((before.systemPrompt ?? "") !== (after.systemPrompt ?? "")) {
    items.push(
      h("li", {}, "System prompt changed:", promptDiff(before.systemPrompt ?? "", after.systemPrompt ?? "")),
    );
  }
  if ((before.description ?? "") !== (after.description ?? ""))
    items.push(h("li", {}, "Description changed."));
  const tools = diffTools(before.tools ?? [], after.tools ?? []);
  for (const name of tools.added)
    items.push(h("li", { className: "diff-add" }, "Tool added: ", h("code", {}, name)));
  for (const name of tools.removed)
    items.push(h("li", { className: "diff-del" }, "Tool removed: ", h("code", {}, name)));
  for (const [name, fields] of tools.changed) {
    items.push(h("li", {}, "Tool changed: ", h("code", {}, name), ` (${fields.join(", ")})`));
  }
  return h(
    "div",
    { className: "changes" },
    h("h3", {}, `Changes since version ${previousNumber}`),
    items.length
      ? h("ul", {}, items)
      : h("div", { className: "muted" }, "No differences in prompt or tools."),
  );
}

function promptDiff(before, after) {
  return h(
    "pre",
    { className: "code diff" },
    diffLines(before, after).map(([op, line]) =>
      h(
        "div",
        { className: op === "+" ? "diff-add" : op === "-" ? "diff-del" : "diff-same" },
        `${op} ${line}`,
      ),
    ),
  );
}

function toolsTable(tools) {
  return h(
    "table",
    { className: "grid tools" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Name", "Description", "Input schema", "Output schema"].map((c) => h("th", {}, c)),
      ),
    ),
    h(
      "tbody",
      {},
      tools.map((t) =>
        h(
          "tr",
          {},
          h("td", {}, h("code", {}, String(t.name ?? "?"))),
          h("td", {}, String(t.description ?? "")),
          h("td", {}, schema(t.inputSchema)),
          h("td", {}, schema(t.outputSchema)),
        ),
      ),
    ),
  );
}

function schema(value) {
  if (value === undefined || value === null || value === "") return h("span", { className: "muted" }, "—");
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = value;
    }
  }
  return h("details", {}, h("summary", {}, "schema"), pre(parsed));
}
