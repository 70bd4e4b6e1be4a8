import { BerthError } from '../../core/errors.js';
import type { EcrCall } from './context.js';

const PAGE_TOKEN_TTL_MS = 24 * 3600 * 1000;

/** An opaque, signed nextToken carrying where the next page starts; bound to its operation and repository. */
export async function nextToken(call: EcrCall, op: string, scope: string, after: string): Promise<string> {
  return call.services.tokens.sign('page', { o: op, s: scope, a: after }, PAGE_TOKEN_TTL_MS);
}

/** The position a nextToken carries; INVALID_TOKEN when it was altered, expired or minted for another call. */
export async function readNextToken(call: EcrCall, op: string, scope: string, token: string | undefined): Promise<string | undefined> {
  if (token === undefined) return undefined;
  const p = await call.services.tokens.verify<{ o: string; s: string; a: string }>('page', token);
  if (p.o !== op || p.s !== scope) {
    throw new BerthError('INVALID_TOKEN', 'invalid nextToken: it belongs to another request');
  }
  return p.a;
}
