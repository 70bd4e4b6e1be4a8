/**
 * The account's root access key (users' keys and temporary credentials are in
 * services/identity): taken from BERTH_ROOT_ACCESS_KEY_ID /
 * BERTH_ROOT_SECRET_ACCESS_KEY when set, otherwise generated on first start, written once
 * to `<dataDir>/root-credentials` (mode 0600) and stored encrypted in the database, so
 * every node that shares the database and the master key knows it. Secrets are never logged.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { RegistrySettingsStore } from '../../metadata/types.js';
import type { Principal } from '../identity/principal.js';
import type { SecretBox } from './secret-box.js';

interface StoredKey {
  id: string;
  sealedSecret: string;
}

const ROOT_KEY = 'root-access-key';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function generateAccessKeyId(): string {
  return `AKIA${Array.from(randomBytes(16), (b) => ALNUM[b % 32]).join('')}`;
}

export function generateSecret(): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
}

export class CredentialStore {
  private root: { id: string; secret: string } | null = null;

  constructor(
    private readonly settings: RegistrySettingsStore,
    private readonly box: SecretBox,
    private readonly accountId: string,
  ) {}

  /**
   * Loads or creates the root key. Returns the new credentials when they were generated
   * now (so the caller can show them once), else null.
   */
  async init(given: { accessKeyId?: string; secretAccessKey?: string }, writeTo: string | null): Promise<{ accessKeyId: string; secretAccessKey: string; file: string | null } | null> {
    if (given.accessKeyId && given.secretAccessKey) {
      this.root = { id: given.accessKeyId, secret: given.secretAccessKey };
      await this.settings.put(ROOT_KEY, JSON.stringify({ id: given.accessKeyId, sealedSecret: this.box.seal(given.secretAccessKey) } satisfies StoredKey));
      return null;
    }
    const candidate = { id: generateAccessKeyId(), secret: generateSecret() };
    const stored = JSON.parse(await this.settings.putIfAbsent(ROOT_KEY, JSON.stringify({ id: candidate.id, sealedSecret: this.box.seal(candidate.secret) } satisfies StoredKey))) as StoredKey;
    if (stored.id !== candidate.id) {
      this.root = { id: stored.id, secret: this.box.open(stored.sealedSecret) };
      return null;
    }
    this.root = candidate;
    if (writeTo) writeFileSync(writeTo, `AWS_ACCESS_KEY_ID=${candidate.id}\nAWS_SECRET_ACCESS_KEY=${candidate.secret}\n`, { mode: 0o600 });
    return { accessKeyId: candidate.id, secretAccessKey: candidate.secret, file: writeTo };
  }

  /** The secret of an access key, or null when the key is unknown. */
  async secretOf(accessKeyId: string): Promise<string | null> {
    return this.root && this.root.id === accessKeyId ? this.root.secret : null;
  }

  /** The root access key's id (null before init). */
  rootKeyId(): string | null {
    return this.root?.id ?? null;
  }

  /** The root principal, when `accessKeyId` is the root key; else null. */
  rootPrincipal(accessKeyId: string): Principal | null {
    if (!this.root || this.root.id !== accessKeyId) return null;
    return { kind: 'root', arn: `arn:aws:iam::${this.accountId}:root`, accountId: this.accountId, userId: this.accountId, accessKeyId, ref: { t: 'r', a: accessKeyId } };
  }
}
