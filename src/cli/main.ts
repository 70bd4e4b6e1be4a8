import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import { ConfigSchema } from '../config/schema.js';
import { registerRegistryCommands } from './commands/index.js';
import { registerVulnDbCommands } from './commands/vulndb.js';
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
registerVulnDbCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`berth: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`berth: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
