import { pageSize } from './request.js';
import type { OciCall } from './context.js';

function nextLink(path: string, n: number, last: string): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}

/** GET /v2/<name>/tags/list?n=&last= : tags in lexical order, with a Link header when there are more. */
export async function tagsList(call: OciCall): Promise<void> {
  const { services, name, query, reply } = call;
  const n = pageSize(query);
  const last = query.get('last') ?? undefined;
  const page = await services.manifests.tags(name, { ...(n === undefined ? {} : { n }), ...(last === undefined ? {} : { last }) });
  const tail = page.tags[page.tags.length - 1];
  if (page.more && tail !== undefined) reply.header('Link', nextLink(`/v2/${name}/tags/list`, n ?? page.tags.length, tail));
  return reply.code(200).header('Content-Type', 'application/json').send(JSON.stringify({ name, tags: page.tags }));
}

/** GET /v2/_catalog?n=&last= */
export async function catalog(call: OciCall): Promise<void> {
  const { services, query, reply } = call;
  const n = pageSize(query);
  const last = query.get('last') ?? undefined;
  // Filtered to the repositories the caller may see; `more` and the Link still follow the unfiltered walk.
  const page = await services.manifests.catalog({ ...(n === undefined ? {} : { n }), ...(last === undefined ? {} : { last }) });
  const tailUnfiltered = page.repositories[page.repositories.length - 1];
  const walked = page.repositories.length;
  page.repositories = await services.access.filterRepositories(call.principal, 'ecr:DescribeRepositories', page.repositories);
  if (page.more && tailUnfiltered !== undefined) reply.header('Link', nextLink('/v2/_catalog', n ?? walked, tailUnfiltered));
  return reply.code(200).header('Content-Type', 'application/json').send(JSON.stringify({ repositories: page.repositories }));
}

/** GET /v2/<name>/referrers/<digest>?artifactType= */
export async function referrers(call: OciCall): Promise<void> {
  const { services, name, reference, query, reply } = call;
  const artifactType = query.get('artifactType') ?? undefined;
  const result = await services.manifests.referrers(name, reference, artifactType);
  if (result.filtered) reply.header('OCI-Filters-Applied', 'artifactType');
  return reply.code(200).header('Content-Type', 'application/vnd.oci.image.index.v1+json').send(Buffer.from(JSON.stringify(result.index)));
}
