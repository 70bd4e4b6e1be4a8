/**
 * The /v2/ route table as data: each entry names the operation, the path pattern and
 * the methods. The router, the metrics labels and (later) authorization read it.
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
  methods: readonly string[];
}

export const OCI_ROUTES: readonly OciRoute[] = [
  { operation: 'version', pattern: /^\/v2\/?$/, methods: ['GET', 'HEAD'] },
  { operation: 'catalog', pattern: /^\/v2\/_catalog$/, methods: ['GET'] },
  { operation: 'upload.start', pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/, methods: ['POST'] },
  { operation: 'upload.session', pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, methods: ['GET', 'PATCH', 'PUT', 'DELETE'] },
  { operation: 'blob', pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/, methods: ['GET', 'HEAD', 'DELETE'] },
  { operation: 'manifest', pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/, methods: ['GET', 'HEAD', 'PUT', 'DELETE'] },
  { operation: 'tags.list', pattern: /^\/v2\/(.+)\/tags\/list$/, methods: ['GET'] },
  { operation: 'referrers', pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, methods: ['GET'] },
];

export interface MatchedRoute {
  operation: OciOperation;
  name: string;
  /** Upload id, digest or tag, depending on the operation. */
  reference: string;
  methodAllowed: boolean;
}

/**
 * Matches a request path (already percent-decoded) against the table. Returns null when no
 * route matches. Decoding first means `%2e%2e` arrives as `..` and fails the name grammar.
 */
export function matchRoute(method: string, path: string): MatchedRoute | null {
  for (const route of OCI_ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    return { operation: route.operation, name: m[1] ?? '', reference: m[2] ?? '', methodAllowed: route.methods.includes(method) };
  }
  return null;
}
