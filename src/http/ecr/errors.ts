/**
 * The ECR error table: each domain code lists the ECR exception names that can carry it,
 * most specific first. The dispatcher answers with the first one the operation declares
 * in the model (so every error is one the SDKs know for that call), else
 * InvalidParameterException for client faults and ServerException for ours.
 */
import type { ErrorCode } from '../../core/errors.js';
import type { EcrErrorName } from './generated/ecr-model.js';

export const ECR_ERRORS = {
  INVALID_NAME: ['InvalidParameterException'],
  INVALID_TAG: ['InvalidParameterException'],
  INVALID_DIGEST: ['InvalidParameterException'],
  DIGEST_MISMATCH: ['ImageDigestDoesNotMatchException', 'InvalidLayerException', 'InvalidParameterException'],
  REPOSITORY_NOT_FOUND: ['RepositoryNotFoundException'],
  BLOB_NOT_FOUND: ['LayersNotFoundException', 'LayerInaccessibleException', 'ReferencedImagesNotFoundException'],
  UPLOAD_NOT_FOUND: ['UploadNotFoundException'],
  UPLOAD_INVALID: ['InvalidLayerPartException', 'InvalidParameterException'],
  UPLOAD_OUT_OF_ORDER: ['InvalidLayerPartException', 'InvalidParameterException'],
  RANGE_NOT_SATISFIABLE: ['InvalidParameterException'],
  MANIFEST_NOT_FOUND: ['ImageNotFoundException', 'ReferencedImagesNotFoundException'],
  MANIFEST_INVALID: ['InvalidParameterException'],
  MANIFEST_BLOB_MISSING: ['LayersNotFoundException', 'ReferencedImagesNotFoundException'],
  MANIFEST_CHILD_MISSING: ['ReferencedImagesNotFoundException', 'ImageNotFoundException'],
  MANIFEST_REFERENCED: ['InvalidParameterException'],
  TOO_LARGE: ['InvalidParameterException'],
  UNSUPPORTED: ['UnsupportedImageTypeException', 'InvalidParameterException'],
  INVALID_PARAMETER: ['InvalidParameterException'],
  INVALID_TOKEN: ['InvalidParameterException'],
  REPOSITORY_EXISTS: ['RepositoryAlreadyExistsException'],
  REPOSITORY_NOT_EMPTY: ['RepositoryNotEmptyException'],
  TAG_IMMUTABLE: ['ImageTagAlreadyExistsException'],
  IMAGE_EXISTS: ['ImageAlreadyExistsException'],
  LAYER_EXISTS: ['LayerAlreadyExistsException'],
  LIMIT_EXCEEDED: ['LimitExceededException', 'TooManyTagsException'],
  TEMPLATE_EXISTS: ['TemplateAlreadyExistsException'],
  TEMPLATE_NOT_FOUND: ['TemplateNotFoundException'],
  POLICY_NOT_FOUND: ['RepositoryPolicyNotFoundException'],
  REGISTRY_POLICY_NOT_FOUND: ['RegistryPolicyNotFoundException'],
  LIFECYCLE_POLICY_NOT_FOUND: ['LifecyclePolicyNotFoundException'],
  LIFECYCLE_PREVIEW_NOT_FOUND: ['LifecyclePolicyPreviewNotFoundException'],
  LIFECYCLE_PREVIEW_IN_PROGRESS: ['LifecyclePolicyPreviewInProgressException'],
  SCAN_NOT_FOUND: ['ScanNotFoundException'],
  ACCESS_DENIED: ['AccessDeniedException' as EcrErrorName],
  UNAUTHENTICATED: ['UnrecognizedClientException' as EcrErrorName],
  ENTITY_NOT_FOUND: ['InvalidParameterException'],
  ENTITY_EXISTS: ['InvalidParameterException'],
  DELETE_CONFLICT: ['InvalidParameterException'],
  INVALID_IDENTITY_TOKEN: ['UnrecognizedClientException' as EcrErrorName],
  EXPIRED_TOKEN: ['ExpiredTokenException' as EcrErrorName, 'UnrecognizedClientException' as EcrErrorName],
  INTERNAL: ['ServerException'],
} as const satisfies Record<ErrorCode, readonly EcrErrorName[]>;

/** Errors of the AWS JSON protocol itself, which every operation may return. */
export const PROTOCOL_ERRORS = new Set(['AccessDeniedException', 'ExpiredTokenException', 'UnrecognizedClientException', 'UnknownOperationException', 'SerializationException', 'UnsupportedOperationException']);

/** The HTTP status of an ECR error name. */
export function statusOf(name: string): number {
  if (name === 'ServerException') return 500;
  if (name === 'AccessDeniedException' || name === 'UnrecognizedClientException' || name === 'InvalidSignatureException') return 403;
  return 400;
}
