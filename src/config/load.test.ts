import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redact } from './load.js';

const dir = await mkdtemp(join(tmpdir(), 'berth-config-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('loadConfig', () => {
  it('gives the embedded defaults when nothing is configured', () => {
    const c = loadConfig({ env: {} });
    expect(c.listen).toBe('127.0.0.1:5000');
    expect(c.dataDir).toBe('./berth-data');
    expect(c.storage.driver).toBe('fs');
    expect(c.metadata.driver).toBe('sqlite');
    expect(Object.isFrozen(c.storage)).toBe(true);
  });

  it('layers file, then environment, then flags', async () => {
    const file = join(dir, 'c.yaml');
    await writeFile(file, 'listen: 0.0.0.0:6000\nworkers: 2\nstorage:\n  driver: s3\n  s3:\n    bucket: from-file\n');
    const c = loadConfig({
      file,
      env: { BERTH_WORKERS: '3', BERTH_STORAGE__S3__ACCESS_KEY_ID: 'AKID', BERTH_TEST_PG_URL: 'ignored', BERTH_LOG__LEVEL: 'warn' },
      flags: { listen: '127.0.0.1:7000' },
    });
    expect(c.listen).toBe('127.0.0.1:7000');
    expect(c.workers).toBe(3);
    expect(c.log.level).toBe('warn');
    expect(c.storage.s3).toMatchObject({ bucket: 'from-file', accessKeyId: 'AKID', region: 'us-east-1', partSizeMiB: 16 });
  });

  it('leaves BERTH_ENDPOINT (the server address of CLI commands) out of the configuration', () => {
    expect(loadConfig({ env: { BERTH_ENDPOINT: 'http://127.0.0.1:5000' } }).listen).toBe('127.0.0.1:5000');
  });

  it('refuses unknown keys and names the field and its source', async () => {
    expect(() => loadConfig({ env: { BERTH_LISTNE: '1.2.3.4:5' } })).toThrow(/listne.*environment variable BERTH_LISTNE/s);
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ storage: { driver: 'fs', fs: { pth: '/x' } } }));
    expect(() => loadConfig({ file, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ file, env: {} })).toThrow(/\/storage\/fs\/pth/);
  });

  it('refuses invalid values with the JSON pointer of the field', () => {
    expect(() => loadConfig({ env: { BERTH_WORKERS: 'many' } })).toThrow(/\/workers/);
    expect(() => loadConfig({ env: { BERTH_STORAGE__DRIVER: 'tape' } })).toThrow(/\/storage\/driver.*BERTH_STORAGE__DRIVER/s);
    expect(() => loadConfig({ env: {}, flags: { listen: 'nonsense' } })).toThrow(/\/listen/);
  });

  it('checks fields that depend on each other', () => {
    expect(() => loadConfig({ env: { BERTH_STORAGE__DRIVER: 's3' } })).toThrow(/\/storage\/s3: required/);
    expect(() => loadConfig({ env: { BERTH_METADATA__DRIVER: 'postgres' } })).toThrow(/\/metadata\/postgres: required/);
  });

  it('redacts secrets for the log', () => {
    const c = loadConfig({
      env: {
        BERTH_STORAGE__DRIVER: 's3',
        BERTH_STORAGE__S3__BUCKET: 'bkt',
        BERTH_STORAGE__S3__SECRET_ACCESS_KEY: 'shh',
        BERTH_METADATA__DRIVER: 'postgres',
        BERTH_METADATA__POSTGRES__URL: 'postgres://u:pw@h/db',
      },
    });
    const text = JSON.stringify(redact(c));
    expect(text).not.toContain('shh');
    expect(text).not.toContain('pw@');
  });
});
