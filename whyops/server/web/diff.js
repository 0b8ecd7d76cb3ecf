// What changed between two agent versions: a line diff of the prompt, tool set changes.

const MAX_DIFF_CELLS = 4_000_000;

/** Line diff by longest common subsequence: [["+"|"-"|" ", line], ...]. */
export function diffLines(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  if (a.length * b.length > MAX_DIFF_CELLS) {
    return [...a.map((l) => ["-", l]), ...b.map((l) => ["+", l])];
  }
  const lcs = lcsTable(a, b);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push([" ", a[i]]);
      i += 1;
      j += 1;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push(["-", a[i]]);
      i += 1;
    } else {
      out.push(["+", b[j]]);
      j += 1;
    }
  }
  for (; i < a.length; i += 1) out.push(["-", a[i]]);
  for (; j < b.length; j += 1) out.push(["+", b[j]]);
  return out;
}

function lcsTable(a, b) {
  const table = Array.from({ length: a.length + 1 }, () => new Int32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  return table;
}

const TOOL_FIELDS = ["description", "inputSchema", "outputSchema"];

/** Tools added, removed, and changed (with the fields that differ), by tool name. */
export function diffTools(before, after) {
  const old = new Map(before.map((t) => [String(t.name), t]));
  const now = new Map(after.map((t) => [String(t.name), t]));
  const added = [...now.keys()].filter((n) => !old.has(n));
  const removed = [...old.keys()].filter((n) => !now.has(n));
  const changed = [];
  for (const [name, tool] of now) {
    if (!old.has(name)) continue;
    const fields = TOOL_FIELDS.filter(
      (f) => JSON.stringify(tool[f] ?? null) !== JSON.stringify(old.get(name)[f] ?? null),
    );
    if (fields.length) changed.push([name, fields]);
  }
  return { added, removed, changed };
}
