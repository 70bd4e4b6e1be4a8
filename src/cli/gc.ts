import { pino } from 'pino';
import { openBlobStore, openMetadataStore } from '../app/stores.js';
import type { Config } from '../config/schema.js';
import { GcService, type GcReport } from '../services/gc/gc-service.js';

/**
 * `berth gc [--dry-run]`: garbage collection on demand, against the configured stores. Safe
 * while the registry serves pushes and pulls (see GcService), so there is no read-only mode.
 */
export async function runGc(config: Config, o: { dryRun: boolean; graceSeconds?: number; json: boolean }): Promise<GcReport> {
  const meta = await openMetadataStore(config);
  const blobs = await openBlobStore(config);
  try {
    const gc = new GcService(meta, blobs, () => Date.now(), pino({ level: 'silent' }));
    const report = await gc.run({ graceMs: (o.graceSeconds ?? config.gc.graceSeconds) * 1000, dryRun: o.dryRun, actor: 'cli' });
    if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      const verb = o.dryRun ? 'would free' : 'freed';
      process.stdout.write(
        `${o.dryRun ? 'Dry run: ' : ''}${report.blobsDeleted} unused blob(s), ${verb} ${formatBytes(report.bytesFreed)}; ` +
          `${report.orphansDeleted} orphaned object(s), ${formatBytes(report.orphanBytesFreed)}; ${report.durationMs} ms\n`,
      );
      for (const d of report.digests) process.stdout.write(`  ${d}\n`);
    }
    return report;
  } finally {
    await blobs.close();
    await meta.close();
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
