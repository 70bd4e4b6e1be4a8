/**
 * Loads the configuration: schema defaults ← file (`--config` or BERTH_CONFIG, YAML or
 * JSON) ← BERTH_ environment variables ← command-line flags. Environment names use `__`
 * between levels and `_` between words: BERTH_STORAGE__S3__ACCESS_KEY_ID sets
 * storage.s3.accessKeyId. Invalid values and unknown keys fail with the path of the
 * field and where it came from.
 */
import { readFileSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, type Config } from './schema.js';

/** Variables that start with BERTH_ but are not configuration. */
// BERTH_ENDPOINT is the CLI's server address (commands that talk to a running Berth), not configuration.
const NOT_CONFIG = new Set(['BERTH_CONFIG', 'BERTH_ENDPOINT']);
const NOT_CONFIG_PREFIXES = ['BERTH_TEST_', 'BERTH_E2E_', 'BERTH_BENCH_'];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Tree = Record<string, unknown>;

const camel = (s: string): string => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The config tree that BERTH_ variables describe, and where each key came from. */
export function envTree(env: NodeJS.ProcessEnv): { tree: Tree; sources: Map<string, string> } {
  const tree: Tree = {};
  const sources = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('BERTH_') || value === undefined || NOT_CONFIG.has(name)) continue;
    if (NOT_CONFIG_PREFIXES.some((p) => name.startsWith(p))) continue;
    const path = name.slice('BERTH_'.length).split('__').map(camel);
    let node = tree;
    for (const part of path.slice(0, -1)) {
      if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
      node = node[part] as Tree;
    }
    node[path[path.length - 1]!] = value;
    sources.set(`/${path.join('/')}`, `environment variable ${name}`);
  }
  return { tree, sources };
}

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isTree(b) && isTree(v) ? merge(b, v) : v;
  }
  return out;
}

const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Tree;
}

export function loadConfig(o: LoadOptions = {}): Readonly<Config> {
  const env = o.env ?? process.env;
  const file = o.file ?? env.BERTH_CONFIG;
  let fromFile: Tree = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid YAML/JSON: ${(err as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined && !isTree(parsed)) throw new ConfigError(`config file ${file} must hold a mapping`);
    fromFile = (parsed as Tree | null) ?? {};
  }
  const { tree: fromEnv, sources } = envTree(env);
  const merged = merge(merge(fromFile, fromEnv), o.flags ?? {});
  const converted = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, Value.Clone(merged)));
  const errors = [...Value.Errors(ConfigSchema, converted)];
  if (errors.length > 0) {
    const lines = errors.slice(0, 10).map((e) => {
      const where = sourceOf(e.path, sources, file);
      return `  ${e.path || '/'}: ${e.message}${where ? ` (from ${where})` : ''}`;
    });
    throw new ConfigError(`invalid configuration:\n${[...new Set(lines)].join('\n')}`);
  }
  const config = converted as Config;
  crossCheck(config);
  return deepFreeze(config);
}

function sourceOf(path: string, sources: Map<string, string>, file: string | undefined): string | undefined {
  for (let p = path; p !== ''; p = p.slice(0, p.lastIndexOf('/'))) {
    const s = sources.get(p);
    if (s) return s;
  }
  return file ? `config file ${file} or flags` : undefined;
}

function crossCheck(c: Config): void {
  if (c.storage.driver === 's3' && !c.storage.s3) throw new ConfigError('invalid configuration:\n  /storage/s3: required when storage.driver is "s3"');
  if (c.metadata.driver === 'postgres' && !c.metadata.postgres) {
    throw new ConfigError('invalid configuration:\n  /metadata/postgres: required when metadata.driver is "postgres"');
  }
}

function deepFreeze<T>(o: T): T {
  if (isTree(o)) for (const v of Object.values(o)) deepFreeze(v);
  return Object.freeze(o);
}

/** The configuration with secrets replaced, for the startup log. */
export function redact(c: Config): unknown {
  return JSON.parse(
    JSON.stringify(c, (k, v: unknown) => (/secret|password|masterkey$/i.test(k) && typeof v === 'string' ? '***' : k === 'url' && typeof v === 'string' ? v.replace(/\/\/[^@/]*@/, '//***@') : v)),
  );
}
