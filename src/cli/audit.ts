/**
 * `berth audit`: the audit trail (CloudTrail-shaped events of API calls and denied requests,
 * plus lifecycle and GC records), read from the configured database, newest last.
 */
import { openMetadataStore } from '../app/stores.js';
import type { Config } from '../config/schema.js';
import type { AuditEvent } from '../metadata/types.js';

export interface AuditQuery {
  eventName?: string;
  actor?: string;
  since?: number;
  errorsOnly: boolean;
  limit: number;
  json: boolean;
}

export async function runAudit(config: Config, q: AuditQuery): Promise<AuditEvent[]> {
  const meta = await openMetadataStore(config);
  try {
    const matches: AuditEvent[] = [];
    let afterId: number | undefined;
    for (;;) {
      const page = await meta.audit.list({ limit: 1000, ...(afterId !== undefined ? { afterId } : {}), ...(q.eventName ? { action: q.eventName } : {}) });
      for (const e of page) {
        const detail = e.detail as { errorCode?: string } | null;
        if (q.since !== undefined && e.at < q.since) continue;
        if (q.actor !== undefined && e.actor !== q.actor && !e.actor.endsWith(`/${q.actor}`)) continue;
        if (q.errorsOnly && !detail?.errorCode) continue;
        matches.push(e);
        if (matches.length > q.limit) matches.shift();
      }
      if (page.length < 1000) break;
      afterId = page[page.length - 1]!.id;
    }
    if (q.json) {
      for (const e of matches) process.stdout.write(`${JSON.stringify(e.detail ?? e)}\n`);
    } else {
      for (const e of matches) {
        const d = e.detail as { errorCode?: string; sourceIPAddress?: string } | null;
        process.stdout.write(`${new Date(e.at).toISOString()}  ${e.action.padEnd(28)}  ${e.actor}  ${e.repository ?? '-'}  ${d?.sourceIPAddress ?? '-'}  ${d?.errorCode ?? 'ok'}\n`);
      }
    }
    return matches;
  } finally {
    await meta.close();
  }
}
