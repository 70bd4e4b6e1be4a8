/**
 * The one domain error. Services and drivers throw it with an API-neutral code;
 * each HTTP surface projects the code onto its wire format through one table
 * (see src/http/oci/errors.ts). The domain never knows about HTTP statuses.
 */
export const ERROR_CODES = [
  'INVALID_NAME',
  'INVALID_TAG',
  'INVALID_DIGEST',
  'DIGEST_MISMATCH',
  'REPOSITORY_NOT_FOUND',
  'BLOB_NOT_FOUND',
  'UPLOAD_NOT_FOUND',
  'UPLOAD_INVALID',
  'UPLOAD_OUT_OF_ORDER',
  'RANGE_NOT_SATISFIABLE',
  'MANIFEST_NOT_FOUND',
  'MANIFEST_INVALID',
  'MANIFEST_BLOB_MISSING',
  'MANIFEST_CHILD_MISSING',
  'MANIFEST_REFERENCED',
  'TOO_LARGE',
  'UNSUPPORTED',
  'INVALID_PARAMETER',
  'INVALID_TOKEN',
  'REPOSITORY_EXISTS',
  'REPOSITORY_NOT_EMPTY',
  'TAG_IMMUTABLE',
  'IMAGE_EXISTS',
  'LAYER_EXISTS',
  'LIMIT_EXCEEDED',
  'TEMPLATE_EXISTS',
  'TEMPLATE_NOT_FOUND',
  'POLICY_NOT_FOUND',
  'REGISTRY_POLICY_NOT_FOUND',
  'LIFECYCLE_POLICY_NOT_FOUND',
  'LIFECYCLE_PREVIEW_NOT_FOUND',
  'LIFECYCLE_PREVIEW_IN_PROGRESS',
  'SCAN_NOT_FOUND',
  'ACCESS_DENIED',
  'UNAUTHENTICATED',
  'ENTITY_NOT_FOUND',
  'ENTITY_EXISTS',
  'DELETE_CONFLICT',
  'INVALID_IDENTITY_TOKEN',
  'EXPIRED_TOKEN',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;

  constructor(code: ErrorCode, message: string, options: { detail?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BerthError';
    this.code = code;
    this.detail = options.detail;
  }
}

export function isBerthError(err: unknown, code?: ErrorCode): err is BerthError {
  return err instanceof BerthError && (code === undefined || err.code === code);
}
