import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import { ConfigSchema } from '../config/schema.js';
import { registerRegistryCommands } from './commands/index.js';
import { registerVulnDbCommands } from './commands/vulndb.js';
import { registerAdminCommands } from './commands/admin.js';
import { scanCommand } from './commands/scan.js';
import { sbomCommand } from './commands/sbom.js';
import { serve } from './serve.js';

const program = new Command();
program.name('berth').description('Berth: a self-hosted private container registry (OCI Distribution + Amazon ECR API)');

program
  .command('serve')
  .description('run the registry (SQLite and ./berth-data when nothing is configured)')
  .option('-c, --config <file>', 'YAML or JSON configuration file (or BERTH_CONFIG)')
  .option('-l, --listen <host:port>', 'address to listen on (default 127.0.0.1:5000)')
  .option('-d, --data-dir <dir>', 'data directory (default ./berth-data)')
  .option('-w, --workers <n>', 'worker processes')
  .action(async (opts: { config?: string; listen?: string; dataDir?: string; workers?: string }) => {
    const flags: Record<string, unknown> = {};
    if (opts.listen !== undefined) flags.listen = opts.listen;
    if (opts.dataDir !== undefined) flags.dataDir = opts.dataDir;
    if (opts.workers !== undefined) flags.workers = opts.workers;
    const config = loadConfig({ ...(opts.config ? { file: opts.config } : {}), flags });
    await serve(config);
  });

program
  .command('gc')
  .description('collect unused blobs now (safe while the registry serves; no read-only mode)')
  .option('-c, --config <file>', 'configuration file (the stores to clean)')
  .option('-d, --data-dir <dir>', 'data directory')
  .option('--dry-run', 'print what would be freed, change nothing')
  .option('--grace-seconds <n>', 'only blobs unused for longer than this (default: gc.graceSeconds)')
  .option('-o, --output <format>', 'table or json', 'table')
  .action(async (opts: { config?: string; dataDir?: string; dryRun?: boolean; graceSeconds?: string; output: string }) => {
    const { runGc } = await import('./gc.js');
    const config = loadConfig({ ...(opts.config ? { file: opts.config } : {}), flags: opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {} });
    await runGc(config, { dryRun: opts.dryRun ?? false, json: opts.output === 'json', ...(opts.graceSeconds !== undefined ? { graceSeconds: Number(opts.graceSeconds) } : {}) });
  });

const configCmd = program.command('config').description('configuration helpers');
configCmd
  .command('schema')
  .description('print the configuration JSON Schema')
  .action(() => {
    process.stdout.write(`${JSON.stringify(ConfigSchema, null, 2)}\n`);
  });
configCmd
  .command('check')
  .description('validate the configuration and print it with secrets redacted')
  .option('-c, --config <file>', 'configuration file')
  .action(async (opts: { config?: string }) => {
    const { redact } = await import('../config/load.js');
    process.stdout.write(`${JSON.stringify(redact(loadConfig(opts.config ? { file: opts.config } : {})), null, 2)}\n`);
  });

registerRegistryCommands(program);
registerAdminCommands(program);

program
  .command('audit')
  .description('print the audit trail (API calls, denied requests, lifecycle and GC) from the configured database')
  .option('-c, --config <file>', 'configuration file')
  .option('-d, --data-dir <dir>', 'data directory')
  .option('--event-name <name>', 'only this event (e.g. PutImage, CreateUser)')
  .option('--user <arn-or-name>', 'only calls by this principal')
  .option('--since <time>', 'ISO time, or a duration such as 15m, 2h, 1d')
  .option('--errors', 'only calls that failed (denied, unauthenticated, invalid)')
  .option('--limit <n>', 'the last n matching events', '100')
  .option('-o, --output <format>', 'table or json (one CloudTrail event per line)', 'table')
  .action(async (opts: { config?: string; dataDir?: string; eventName?: string; user?: string; since?: string; errors?: boolean; limit: string; output: string }) => {
    const { runAudit } = await import('./audit.js');
    const config = loadConfig({ ...(opts.config ? { file: opts.config } : {}), flags: opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {} });
    const since = opts.since === undefined ? undefined : parseSince(opts.since);
    await runAudit(config, {
      ...(opts.eventName ? { eventName: opts.eventName } : {}),
      ...(opts.user ? { actor: opts.user } : {}),
      ...(since !== undefined ? { since } : {}),
      errorsOnly: opts.errors ?? false,
      limit: Math.max(1, Number(opts.limit) || 100),
      json: opts.output === 'json',
    });
  });

function parseSince(value: string): number {
  const m = /^(\d+)([smhd])$/.exec(value);
  if (m) return Date.now() - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new ConfigError(`--since ${value}: use an ISO time or a duration such as 15m, 2h, 1d`);
  return t;
}
registerVulnDbCommands(program);
program.addCommand(scanCommand());
program.addCommand(sbomCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`berth: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`berth: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
