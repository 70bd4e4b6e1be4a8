/**
 * Just enough TOML for lockfiles (`Cargo.lock`, `poetry.lock`): the string keys of each `[[<array>]]` table.
 * Other values (arrays, inline tables, numbers) are skipped, multi-line arrays included; sub-tables such as
 * `[package.dependencies]` end the current entry's keys.
 */

function tomlString(raw: string): string | undefined {
  const v = raw.trim();
  const basic = /^"((?:[^"\\]|\\.)*)"/.exec(v);
  if (basic) return (basic[1] as string).replace(/\\(["\\])/g, '$1');
  const literal = /^'([^']*)'/.exec(v);
  return literal ? (literal[1] as string) : undefined;
}

export function tomlArrayTables(text: string, array: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  let cur: Record<string, string> | undefined;
  let depth = 0; // open brackets of a multi-line value being skipped
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (depth > 0) {
      depth += (line.match(/\[/g)?.length ?? 0) - (line.match(/]/g)?.length ?? 0);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      cur = line === `[[${array}]]` ? {} : undefined;
      if (cur) out.push(cur);
      continue;
    }
    const m = /^([A-Za-z0-9_-]+|"[^"]*")\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const value = m[2] as string;
    if (value.startsWith('[')) {
      const open = (value.match(/\[/g)?.length ?? 0) - (value.match(/]/g)?.length ?? 0);
      if (open > 0) depth = open;
      continue;
    }
    const s = tomlString(value);
    if (cur && s !== undefined) cur[(m[1] as string).replace(/^"|"$/g, '')] = s;
  }
  return out;
}
