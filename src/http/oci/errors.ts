/**
 * The one table that projects domain error codes onto OCI Distribution error codes and
 * HTTP statuses. `satisfies Record<ErrorCode, ...>` makes a new domain code fail to
 * compile until it is mapped here.
 */
import type { ErrorCode } from '../../core/errors.js';

export type OciCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID'
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNKNOWN';

export const OCI_ERRORS = {
  INVALID_NAME: { code: 'NAME_INVALID', status: 400 },
  INVALID_TAG: { code: 'TAG_INVALID', status: 400 },
  INVALID_DIGEST: { code: 'DIGEST_INVALID', status: 400 },
  DIGEST_MISMATCH: { code: 'DIGEST_INVALID', status: 400 },
  REPOSITORY_NOT_FOUND: { code: 'NAME_UNKNOWN', status: 404 },
  BLOB_NOT_FOUND: { code: 'BLOB_UNKNOWN', status: 404 },
  UPLOAD_NOT_FOUND: { code: 'BLOB_UPLOAD_UNKNOWN', status: 404 },
  UPLOAD_INVALID: { code: 'BLOB_UPLOAD_INVALID', status: 400 },
  UPLOAD_OUT_OF_ORDER: { code: 'RANGE_INVALID', status: 416 },
  RANGE_NOT_SATISFIABLE: { code: 'RANGE_INVALID', status: 416 },
  MANIFEST_NOT_FOUND: { code: 'MANIFEST_UNKNOWN', status: 404 },
  MANIFEST_INVALID: { code: 'MANIFEST_INVALID', status: 400 },
  MANIFEST_BLOB_MISSING: { code: 'MANIFEST_BLOB_UNKNOWN', status: 400 },
  MANIFEST_CHILD_MISSING: { code: 'MANIFEST_UNKNOWN', status: 400 },
  MANIFEST_REFERENCED: { code: 'DENIED', status: 409 },
  TOO_LARGE: { code: 'SIZE_INVALID', status: 413 },
  UNSUPPORTED: { code: 'UNSUPPORTED', status: 415 },
  INVALID_PARAMETER: { code: 'PAGINATION_NUMBER_INVALID', status: 400 },
  INVALID_TOKEN: { code: 'UNAUTHORIZED', status: 401 },
  REPOSITORY_EXISTS: { code: 'DENIED', status: 409 },
  REPOSITORY_NOT_EMPTY: { code: 'DENIED', status: 409 },
  TAG_IMMUTABLE: { code: 'TAG_INVALID', status: 400 },
  IMAGE_EXISTS: { code: 'DENIED', status: 409 },
  LAYER_EXISTS: { code: 'DENIED', status: 409 },
  LIMIT_EXCEEDED: { code: 'TOOMANYREQUESTS', status: 429 },
  TEMPLATE_EXISTS: { code: 'DENIED', status: 409 },
  TEMPLATE_NOT_FOUND: { code: 'NAME_UNKNOWN', status: 404 },
  POLICY_NOT_FOUND: { code: 'NAME_UNKNOWN', status: 404 },
  REGISTRY_POLICY_NOT_FOUND: { code: 'NAME_UNKNOWN', status: 404 },
  LIFECYCLE_POLICY_NOT_FOUND: { code: 'NAME_UNKNOWN', status: 404 },
  LIFECYCLE_PREVIEW_NOT_FOUND: { code: 'NAME_UNKNOWN', status: 404 },
  LIFECYCLE_PREVIEW_IN_PROGRESS: { code: 'DENIED', status: 409 },
  SCAN_NOT_FOUND: { code: 'MANIFEST_UNKNOWN', status: 404 },
  ACCESS_DENIED: { code: 'DENIED', status: 403 },
  UNAUTHENTICATED: { code: 'UNAUTHORIZED', status: 401 },
  // IAM/STS conditions never raised by /v2/ handlers; listed so the table stays total.
  ENTITY_NOT_FOUND: { code: 'NAME_UNKNOWN', status: 404 },
  ENTITY_EXISTS: { code: 'DENIED', status: 409 },
  DELETE_CONFLICT: { code: 'DENIED', status: 409 },
  INVALID_IDENTITY_TOKEN: { code: 'UNAUTHORIZED', status: 401 },
  EXPIRED_TOKEN: { code: 'UNAUTHORIZED', status: 401 },
  INTERNAL: { code: 'UNKNOWN', status: 500 },
} as const satisfies Record<ErrorCode, { code: OciCode; status: number }>;
