/**
 * `berth vulndb import PATH|URL` and `berth vulndb status`: offline admin commands on the
 * configured metadata database (like `berth gc`), not requests to a running server. An
 * import is safe while the registry serves: it writes in short transactions.
 */
import { Command, Option } from 'commander';
import type { Config } from '../../config/schema.js';
import type { ImportSummary } from '../../services/vulndb/importer.js';
import { commandGroup } from './client.js';
import { printJson } from './format.js';

interface StoreOptions {
  config?: string;
  dataDir?: string;
  output: 'table' | 'json';
}

function withStoreOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (the database to use)')
    .option('-d, --data-dir <dir>', 'data directory (SQLite)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'));
}

async function withStore<T>(opts: StoreOptions, fn: (meta: Awaited<ReturnType<typeof import('../../app/stores.js').openMetadataStore>>, config: Config) => Promise<T>): Promise<T> {
  const { loadConfig } = await import('../../config/load.js');
  const { openMetadataStore } = await import('../../app/stores.js');
  const config = loadConfig({ ...(opts.config ? { file: opts.config } : {}), flags: opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {} });
  const meta = await openMetadataStore(config);
  try {
    return await fn(meta, config);
  } finally {
    await meta.close();
  }
}

const iso = (ms: number | null): string => (ms === null ? 'never' : new Date(ms).toISOString());

export function formatImportSummary(s: ImportSummary): string {
  const seconds = s.durationMs / 1000;
  const rate = seconds > 0 ? Math.round(s.records / seconds) : s.records;
  const lines = s.notModified
    ? [`${s.source}: not modified since the last import; generation ${s.generation}`]
    : [
        `Imported from ${s.source}: ${s.imported} new, ${s.updated} updated, ${s.unchanged} unchanged, ${s.invalid} invalid (${s.withdrawn} withdrawn)`,
        `${s.records} records in ${seconds.toFixed(1)} s (${rate} records/s); generation ${s.fromGeneration} -> ${s.generation}`,
      ];
  if (s.invalidRecords.length > 0) {
    lines.push(`Invalid records${s.invalid > s.invalidRecords.length ? ` (first ${s.invalidRecords.length} of ${s.invalid})` : ''}:`);
    for (const r of s.invalidRecords) lines.push(`  ${r.file}${r.id ? ` (${r.id})` : ''}: ${r.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerVulnDbCommands(program: Command): void {
  const group = commandGroup(program, 'vulndb', 'the vulnerability database (works on the configured database directly)');

  const importCmd = withStoreOptions(
    new Command('import')
      .description('import OSV advisories from a directory of JSON files, an OSV all.zip, or an http(s) URL of one')
      .argument('<source>', 'directory, zip or JSON file, or http(s) URL')
      .option('--batch-size <n>', 'records per transaction', '500'),
  ).action(async (source: string, opts: StoreOptions & { batchSize: string }) => {
    const batchSize = Number(opts.batchSize);
    if (!Number.isInteger(batchSize) || batchSize < 1) importCmd.error('error: --batch-size must be a positive whole number', { exitCode: 2 });
    const { VulnDbImporter } = await import('../../services/vulndb/importer.js');
    let summary: ImportSummary;
    try {
      summary = await withStore(opts, (meta) => new VulnDbImporter(meta, { batchSize }).import(source));
    } catch (err) {
      // A missing file, an unreachable URL, a broken zip: say what, without a stack trace.
      if ((err as { name?: string }).name === 'ConfigError') throw err;
      process.stderr.write(`berth: vulndb import ${source}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(opts.output === 'json' ? `${JSON.stringify(summary, null, 2)}\n` : formatImportSummary(summary));
  });
  group.addCommand(importCmd.copyInheritedSettings(group));

  const statusCmd = withStoreOptions(new Command('status').description('advisories stored, generation, and the last import')).action(async (opts: StoreOptions) => {
    await withStore(opts, async (meta, config) => {
      const s = await meta.vulndb.status();
      if (opts.output === 'json') return printJson({ ...s, sources: config.vulndb.sources });
      const last = s.lastImport;
      process.stdout.write(
        [
          `Advisories:        ${s.advisories} (${s.withdrawn} withdrawn), ${s.packages} package index entries`,
          `Generation:        ${s.generation}`,
          `Source updated at: ${iso(s.vulnerabilitySourceUpdatedAt)}`,
          `Last import:       ${last ? `${last.source} (generation ${last.fromGeneration} -> ${last.toGeneration})` : 'none'}`,
          `Scheduled sources: ${config.vulndb.sources.length > 0 ? config.vulndb.sources.join(', ') : 'none configured (vulndb.sources)'}`,
        ].join('\n') + '\n',
      );
    });
  });
  group.addCommand(statusCmd.copyInheritedSettings(group));
}
