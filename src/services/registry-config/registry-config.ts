/**
 * Registry-wide configuration that the ECR API reads and writes: the registry policy
 * (validated with the IAM grammar), account settings, and the registry scanning
 * configuration. Kept behind this service so HTTP handlers never touch the store.
 */
import { BerthError } from '../../core/errors.js';
import { parsePolicy } from '../../core/iam/index.js';
import type { RegistrySettingsStore } from '../../metadata/types.js';

export const ACCOUNT_SETTINGS: Readonly<Record<string, { values: readonly string[]; default: string }>> = {
  BASIC_SCAN_TYPE_VERSION: { values: ['AWS_NATIVE', 'CLAIR'], default: 'AWS_NATIVE' },
  REGISTRY_POLICY_SCOPE: { values: ['V1', 'V2'], default: 'V2' },
};

export interface ScanningRule {
  scanFrequency: 'SCAN_ON_PUSH' | 'CONTINUOUS_SCAN' | 'MANUAL';
  repositoryFilters: { filter: string; filterType: 'WILDCARD' }[];
}

export interface ScanningConfig {
  scanType: 'BASIC' | 'ENHANCED';
  rules: ScanningRule[];
}

const POLICY = 'registry-policy';
const SCANNING = 'registry-scanning';

export class RegistryConfig {
  constructor(
    private readonly store: RegistrySettingsStore,
    private readonly registryId: string,
  ) {}

  async putPolicy(text: string): Promise<void> {
    parsePolicy(text, 'resource');
    await this.store.put(POLICY, text);
  }

  async getPolicy(): Promise<string> {
    const text = await this.store.get(POLICY);
    if (text === null) throw this.noPolicy();
    return text;
  }

  async deletePolicy(): Promise<string> {
    const text = await this.getPolicy();
    if (!(await this.store.delete(POLICY))) throw this.noPolicy();
    return text;
  }

  async putAccountSetting(name: string, value: string): Promise<void> {
    const spec = knownSetting(name);
    if (!spec.values.includes(value)) throw new BerthError('INVALID_PARAMETER', `account setting ${name} takes one of ${spec.values.join(', ')}`);
    await this.store.put(`account-setting/${name}`, value);
  }

  async getAccountSetting(name: string): Promise<string> {
    const spec = knownSetting(name);
    return (await this.store.get(`account-setting/${name}`)) ?? spec.default;
  }

  async scanning(): Promise<ScanningConfig> {
    const v = await this.store.get(SCANNING);
    return v ? (JSON.parse(v) as ScanningConfig) : { scanType: 'BASIC', rules: [] };
  }

  async putScanning(config: ScanningConfig): Promise<void> {
    await this.store.put(SCANNING, JSON.stringify(config));
  }

  private noPolicy(): BerthError {
    return new BerthError('REGISTRY_POLICY_NOT_FOUND', `Registry policy does not exist in the registry with id '${this.registryId}'`);
  }
}

function knownSetting(name: string): { values: readonly string[]; default: string } {
  const spec = ACCOUNT_SETTINGS[name];
  if (!spec) throw new BerthError('INVALID_PARAMETER', `unknown account setting '${name}' (known: ${Object.keys(ACCOUNT_SETTINGS).join(', ')})`);
  return spec;
}
