/**
 * Output for the registry commands: aligned plain-text tables (no colour, so they read the
 * same in a terminal, a pipe or a log) and JSON, plus the small value formatters they use.
 */

/** Prints rows under an upper-case header, columns separated by two spaces, no trailing blanks. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  process.stdout.write(renderTable(headers, rows));
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'] as const;

/** Decimal units with three significant digits, as docker prints them: 512 B, 2.05 kB, 12.3 MB, 456 MB. */
export function humanSize(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '-';
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  let decimals = value < 10 ? 2 : value < 100 ? 1 : 0;
  let text = value.toFixed(decimals);
  // 999.95 kB rounds to "1000 kB": say 1.00 MB instead.
  if (Number(text) >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
    decimals = 2;
    text = value.toFixed(decimals);
  }
  return `${text} ${UNITS[unit]}`;
}

/** `sha256:<64 hex>` becomes its first 12 hex characters; other algorithms keep their name. */
export function shortDigest(digest: string | undefined): string {
  if (!digest) return '-';
  const colon = digest.indexOf(':');
  if (colon < 0) return digest.slice(0, 12);
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1, colon + 13);
  return algorithm === 'sha256' ? hex : `${algorithm}:${hex}`;
}

/** UTC, to the second: 2025-01-02T03:04:05Z; `-` when absent. */
export function timestamp(date: Date | undefined): string {
  if (!date || Number.isNaN(date.getTime())) return '-';
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function listOrDash(values: readonly string[] | undefined): string {
  return values && values.length > 0 ? values.join(',') : '-';
}
