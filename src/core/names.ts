import { BerthError } from './errors.js';

/**
 * Repository name grammar of the OCI Distribution Specification: path components of
 * lower-case alphanumerics joined by `.`, `_`, `__` or runs of `-`, separated by `/`.
 * The grammar alone rules out `..`, empty components, absolute paths and percent
 * escapes, which is what keeps names safe to use anywhere.
 */
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
export const MAX_NAME_LENGTH = 255;

const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export function validateRepositoryName(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    throw new BerthError('INVALID_NAME', `invalid repository name "${name.slice(0, 300)}"`);
  }
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function validateTag(tag: string): string {
  if (!isValidTag(tag)) throw new BerthError('INVALID_TAG', `invalid tag "${tag.slice(0, 200)}"`);
  return tag;
}
