import { BerthError } from '../../core/errors.js';
import type { Principal, AccessService } from '../../services/access/access-service.js';
import type { BlobService } from '../../services/registry/blob-service.js';
import type { ImageService } from '../../services/registry/image-service.js';
import type { ManifestService } from '../../services/registry/manifest-service.js';
import type { UploadService } from '../../services/registry/upload-service.js';
import type { RepositoryService } from '../../services/repositories/repository-service.js';
import type { TokenService } from '../../services/tokens.js';
import type { LifecycleService } from '../../services/lifecycle/lifecycle-service.js';
import type { RegistryConfig } from '../../services/registry-config/registry-config.js';
import type { Authenticator } from '../../services/identity/authenticator.js';
import type { AuditTrail } from '../../services/audit/audit-trail.js';
import type { AuthThrottle } from '../auth-throttle.js';
import type { CreationTemplates } from '../../services/registry-config/creation-templates.js';
import type { ScanService } from '../../services/scanning/scan-service.js';
import type { EcrOperationName, OperationTypes } from './generated/ecr-model.js';

export interface EcrServices {
  repositories: RepositoryService;
  images: ImageService;
  manifests: ManifestService;
  uploads: UploadService;
  blobs: BlobService;
  tokens: TokenService;
  access: AccessService;
  auth: Authenticator;
  audit: AuditTrail;
  throttle: AuthThrottle;
  templates: CreationTemplates;
  lifecycle: LifecycleService;
  registryConfig: RegistryConfig;
  scanning: ScanService;
  account: { id: string; region: string };
  now: () => number;
}

export interface EcrCall {
  services: EcrServices;
  principal: Principal;
  sourceIp: string;
  /** `http://host:port` as the client addressed us (repository URIs, proxy endpoint, download URLs). */
  baseUrl: string;
}

export type EcrHandler<N extends EcrOperationName> = (call: EcrCall, input: OperationTypes[N]['input']) => Promise<OperationTypes[N]['output']>;

export type EcrHandlers = { [N in EcrOperationName]?: EcrHandler<N> };

/** The registry id in a request must be this registry's account (or absent). */
export function checkRegistryId(call: EcrCall, registryId: string | undefined): void {
  if (registryId !== undefined && registryId !== call.services.account.id) {
    throw new BerthError('INVALID_PARAMETER', `registry ${registryId} is not served here (this registry is ${call.services.account.id})`);
  }
}
