import { createHash, type Hash } from 'node:crypto';
import { BerthError } from './errors.js';

/** Digest algorithms the registry accepts, with the length of their hex encoding. */
export const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
  /** `algorithm:hex`, the canonical string form. */
  readonly value: string;
}

const DIGEST_GRAMMAR = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/**
 * Parses a digest string. Only registered algorithms with lower-case hex of the
 * exact length are accepted; anything else is INVALID_DIGEST (never a 5xx).
 */
export function parseDigest(input: string): Digest {
  const m = DIGEST_GRAMMAR.exec(input);
  if (!m) throw new BerthError('INVALID_DIGEST', `invalid digest "${truncate(input)}"`);
  const algorithm = m[1] as string;
  const hex = m[2] as string;
  if (!(algorithm in DIGEST_ALGORITHMS)) {
    throw new BerthError('INVALID_DIGEST', `digest algorithm "${truncate(algorithm)}" is not supported (use sha256 or sha512)`);
  }
  const len = DIGEST_ALGORITHMS[algorithm as DigestAlgorithm];
  if (hex.length !== len || !/^[a-f0-9]+$/.test(hex)) {
    throw new BerthError('INVALID_DIGEST', `invalid ${algorithm} digest "${truncate(input)}"`);
  }
  return { algorithm: algorithm as DigestAlgorithm, hex, value: input };
}

export function isDigestString(input: string): boolean {
  return input.includes(':');
}

export function hasher(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
