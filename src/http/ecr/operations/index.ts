import type { EcrHandlers } from '../context.js';
import { imageHandlers } from './images.js';
import { layerHandlers } from './layers.js';
import { lifecycleHandlers } from './lifecycle.js';
import { policyHandlers } from './policies.js';
import { registryHandlers } from './registry.js';
import { repositoryHandlers } from './repositories.js';
import { scanningHandlers } from './scanning.js';

/** Every implemented ECR operation. The rest of the model answers UnsupportedOperationException. */
export const ECR_HANDLERS: EcrHandlers = { ...repositoryHandlers, ...imageHandlers, ...layerHandlers, ...registryHandlers, ...policyHandlers, ...lifecycleHandlers, ...scanningHandlers };
