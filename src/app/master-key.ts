import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/schema.js';

/**
 * The master key that encrypts stored secrets: `auth.masterKey`, else the file
 * `auth.masterKeyFile` (default `<dataDir>/master.key`), created with mode 0600 on first start.
 * Nodes that share a database must share this key.
 */
export function loadMasterKey(config: Config): Buffer {
  if (config.auth.masterKey) return Buffer.from(config.auth.masterKey, 'base64');
  const file = resolve(config.dataDir, config.auth.masterKeyFile ?? 'master.key');
  if (!existsSync(file)) {
    try {
      writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold a base64 32-byte key`);
  return key;
}
