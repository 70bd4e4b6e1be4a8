/**
 * The /v2/ route table as data: each entry names the operation, the path pattern and, per
 * method, the ECR action the call is authorized as (null: any authenticated caller). The
 * router, the metrics labels and the authorization check all read it.
 */
export type OciOperation =
  | 'version'
  | 'catalog'
  | 'upload.start'
  | 'upload.session'
  | 'blob'
  | 'manifest'
  | 'tags.list'
  | 'referrers';

export interface OciRoute {
  operation: OciOperation;
  pattern: RegExp;
  /** Allowed methods and the ECR action each is authorized as. */
  actions: Readonly<Record<string, string | null>>;
}

export const OCI_ROUTES: readonly OciRoute[] = [
  { operation: 'version', pattern: /^\/v2\/?$/, actions: { GET: null, HEAD: null } },
  { operation: 'catalog', pattern: /^\/v2\/_catalog$/, actions: { GET: 'ecr:DescribeRepositories' } },
  { operation: 'upload.start', pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/, actions: { POST: 'ecr:InitiateLayerUpload' } },
  {
    operation: 'upload.session',
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    actions: { GET: 'ecr:UploadLayerPart', PATCH: 'ecr:UploadLayerPart', PUT: 'ecr:CompleteLayerUpload', DELETE: 'ecr:UploadLayerPart' },
  },
  {
    operation: 'blob',
    pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/,
    actions: { GET: 'ecr:GetDownloadUrlForLayer', HEAD: 'ecr:BatchCheckLayerAvailability', DELETE: 'ecr:BatchDeleteImage' },
  },
  {
    operation: 'manifest',
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    actions: { GET: 'ecr:BatchGetImage', HEAD: 'ecr:BatchGetImage', PUT: 'ecr:PutImage', DELETE: 'ecr:BatchDeleteImage' },
  },
  { operation: 'tags.list', pattern: /^\/v2\/(.+)\/tags\/list$/, actions: { GET: 'ecr:ListImages' } },
  { operation: 'referrers', pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, actions: { GET: 'ecr:BatchGetImage' } },
];

export interface MatchedRoute {
  operation: OciOperation;
  name: string;
  /** Upload id, digest or tag, depending on the operation. */
  reference: string;
  methodAllowed: boolean;
  /** The ECR action to authorize (undefined when the method is not allowed). */
  action: string | null | undefined;
}

/**
 * Matches a request path (already percent-decoded) against the table. Returns null when no
 * route matches. Decoding first means `%2e%2e` arrives as `..` and fails the name grammar.
 */
export function matchRoute(method: string, path: string): MatchedRoute | null {
  for (const route of OCI_ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    return { operation: route.operation, name: m[1] ?? '', reference: m[2] ?? '', methodAllowed: method in route.actions, action: route.actions[method] };
  }
  return null;
}
