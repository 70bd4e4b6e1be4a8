/**
 * The scheduled vulnerability-database update, as a Scheduler task: imports every
 * configured source (URLs conditionally) once per interval across the cluster, and calls
 * `onChanged` when the database changed (e.g. to enqueue the re-match of stored images).
 */
import type { ScheduledTask } from '../jobs/scheduler.js';
import type { VulnDbImporter } from './importer.js';

export const VULNDB_UPDATE_TASK = 'vulndb-update';

export function vulnDbUpdateTask(
  importer: VulnDbImporter,
  o: { sources: readonly string[]; intervalMs: number; onChanged?: (fromGeneration: number, toGeneration: number) => Promise<void> },
): ScheduledTask | null {
  if (o.sources.length === 0) return null;
  return {
    name: VULNDB_UPDATE_TASK,
    intervalMs: o.intervalMs,
    async run() {
      const results = await importer.update(o.sources);
      const summaries = results.flatMap((r) => ('summary' in r ? [r.summary] : []));
      const from = Math.min(...summaries.map((s) => s.fromGeneration));
      const to = Math.max(...summaries.map((s) => s.generation));
      if (to > from) await o.onChanged?.(from, to);
      // Short enough to be the schedule's stored last result: counts, not the invalid records.
      return results.map((r) => {
        if ('error' in r) return r;
        const { invalidRecords: _omit, ...counts } = r.summary;
        return counts;
      });
    },
  };
}
