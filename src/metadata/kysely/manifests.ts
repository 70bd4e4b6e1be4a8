import { sql, type Kysely, type Selectable } from 'kysely';
import type { InventoryManifest, ManifestReference, ManifestRow, ManifestStore, ManifestWithContent, Page, RepositoryInventory } from '../types.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

export const toManifest = (r: Omit<Selectable<Database['manifests']>, 'content'>): ManifestRow => ({
  repositoryId: Number(r.repository_id),
  digest: r.digest,
  mediaType: r.media_type,
  size: Number(r.size),
  artifactType: r.artifact_type,
  subjectDigest: r.subject_digest,
  annotations: r.annotations === null ? null : (JSON.parse(r.annotations) as Record<string, string>),
  pushedAt: Number(r.pushed_at),
  lastPulledAt: r.last_pulled_at === null ? null : Number(r.last_pulled_at),
});

export const withContent = (r: Selectable<Database['manifests']>): ManifestWithContent => ({ ...toManifest(r), content: r.content });

const MANIFEST_COLUMNS = [
  'repository_id',
  'digest',
  'media_type',
  'size',
  'artifact_type',
  'subject_digest',
  'annotations',
  'pushed_at',
  'last_pulled_at',
] as const;

export class KyselyManifests implements ManifestStore {
  constructor(private readonly db: Db) {}

  async get(repositoryId: number, digest: string): Promise<ManifestWithContent | null> {
    const r = await this.db
      .selectFrom('manifests')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return r ? withContent(r) : null;
  }

  async getByName(repository: string, digest: string): Promise<ManifestWithContent | null> {
    const r = await this.db
      .selectFrom('repositories as p')
      .innerJoin('manifests as m', 'm.repository_id', 'p.id')
      .selectAll('m')
      .where('p.name', '=', repository)
      .where('m.digest', '=', digest)
      .executeTakeFirst();
    return r ? withContent(r) : null;
  }

  async put(row: ManifestRow, content: Buffer, refs: ManifestReference[]): Promise<boolean> {
    const res = await this.db
      .insertInto('manifests')
      .values({
        repository_id: row.repositoryId,
        digest: row.digest,
        media_type: row.mediaType,
        size: row.size,
        content,
        artifact_type: row.artifactType,
        subject_digest: row.subjectDigest,
        annotations: row.annotations === null ? null : JSON.stringify(row.annotations),
        pushed_at: row.pushedAt,
        last_pulled_at: row.lastPulledAt,
      })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) === 0) return false;
    const unique = new Map(refs.map((r) => [`${r.kind} ${r.digest}`, r]));
    if (unique.size > 0) {
      await this.db
        .insertInto('manifest_refs')
        .values(
          [...unique.values()].map((r) => ({
            repository_id: row.repositoryId,
            parent_digest: row.digest,
            child_digest: r.digest,
            kind: r.kind,
          })),
        )
        .execute();
    }
    return true;
  }

  async delete(repositoryId: number, digest: string): Promise<boolean> {
    await this.db.deleteFrom('tags').where('repository_id', '=', repositoryId).where('digest', '=', digest).execute();
    await this.db
      .deleteFrom('manifest_refs')
      .where('repository_id', '=', repositoryId)
      .where('parent_digest', '=', digest)
      .execute();
    const r = await this.db
      .deleteFrom('manifests')
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async presentAmong(repositoryId: number, digests: string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('manifests')
      .select('digest')
      .where('repository_id', '=', repositoryId)
      .where('digest', 'in', [...new Set(digests)])
      .execute();
    return new Set(rows.map((r) => r.digest));
  }

  async exclusiveBytes(repositoryId: number, digests: string[]): Promise<number> {
    // NOTE: counted in chunks of CHUNK digests: SQLite and PostgreSQL cap the number of bound
    // parameters (32,766 and 65,535), and a preview can expire far more images than that.
    const set = [...new Set(digests)];
    const inSet = new Map<string, number>();
    for (const part of chunks(set)) {
      const rows = await this.db
        .selectFrom('manifest_refs')
        .select('child_digest')
        .where('repository_id', '=', repositoryId)
        .where('kind', '=', 'blob')
        .where('parent_digest', 'in', part)
        .execute();
      for (const r of rows) inSet.set(r.child_digest, (inSet.get(r.child_digest) ?? 0) + 1);
    }
    let bytes = 0;
    for (const part of chunks([...inSet.keys()])) {
      const totals = await this.db
        .selectFrom('manifest_refs as r')
        .innerJoin('blobs as b', 'b.digest', 'r.child_digest')
        .select(['r.child_digest as digest', 'b.size as size', sql<number>`count(*)`.as('refs')])
        .where('r.kind', '=', 'blob')
        .where('r.child_digest', 'in', part)
        .groupBy(['r.child_digest', 'b.size'])
        .execute();
      // A blob is freed when every manifest that references it, in any repository, is in the set.
      for (const t of totals) if (Number(t.refs) === inSet.get(t.digest)) bytes += Number(t.size);
    }
    return bytes;
  }

  async childLinks(repositoryId: number): Promise<{ parent: string; child: string }[]> {
    return this.db
      .selectFrom('manifest_refs')
      .select(['parent_digest as parent', 'child_digest as child'])
      .where('repository_id', '=', repositoryId)
      .where('kind', '=', 'manifest')
      .orderBy('parent_digest')
      .execute();
  }

  async inventory(repositoryId: number): Promise<RepositoryInventory> {
    // NOTE: whole-repository reads without ORDER BY (sorting in SQL made SQLite walk an index
    // and fetch every row from the table by it); tags are sorted per manifest below.
    const rows = await this.db
      .selectFrom('manifests')
      .select(['digest', 'media_type', 'subject_digest', 'pushed_at', 'last_pulled_at'])
      .where('repository_id', '=', repositoryId)
      .execute();
    const tagRows = await this.db.selectFrom('tags').select(['digest', 'name']).where('repository_id', '=', repositoryId).execute();
    const blobRefs = await this.db
      .selectFrom('manifest_refs')
      .select(['parent_digest as parent', 'child_digest as child'])
      .where('repository_id', '=', repositoryId)
      .where('kind', '=', 'blob')
      .execute();
    const links = await this.db
      .selectFrom('manifest_refs')
      .select(['parent_digest as parent', 'child_digest as child'])
      .where('repository_id', '=', repositoryId)
      .where('kind', '=', 'manifest')
      .execute();
    // Blob sizes through the repository's links (one walk of its links in digest order, three
    // times faster than a lookup per reference), then those referenced but no longer linked.
    const blobSizes = new Map<string, number>();
    const linked = await this.db
      .selectFrom('repository_blobs as l')
      .innerJoin('blobs as b', 'b.digest', 'l.digest')
      .select(['b.digest', 'b.size'])
      .where('l.repository_id', '=', repositoryId)
      .execute();
    const linkedSet = new Set<string>();
    for (const b of linked) {
      blobSizes.set(b.digest, Number(b.size));
      linkedSet.add(b.digest);
    }
    const unlinked = new Set<string>();
    for (const r of blobRefs) if (!blobSizes.has(r.child)) unlinked.add(r.child);
    for (const part of chunks([...unlinked])) {
      for (const b of await this.db.selectFrom('blobs').select(['digest', 'size']).where('digest', 'in', part).execute()) blobSizes.set(b.digest, Number(b.size));
    }
    const tags = new Map<string, string[]>();
    for (const t of tagRows) {
      const list = tags.get(t.digest);
      if (list) list.push(t.name);
      else tags.set(t.digest, [t.name]);
    }
    // Sizes as `sizes` computes them: the sum of a manifest's blobs; an index, its largest child.
    const size = new Map<string, number>();
    for (const r of blobRefs) size.set(r.parent, (size.get(r.parent) ?? 0) + (blobSizes.get(r.child) ?? 0));
    const parents = new Map<string, string[]>();
    const indexSize = new Map<string, number>();
    for (const l of links) {
      indexSize.set(l.parent, Math.max(indexSize.get(l.parent) ?? size.get(l.parent) ?? 0, size.get(l.child) ?? 0));
      const list = parents.get(l.child);
      if (list) list.push(l.parent);
      else parents.set(l.child, [l.parent]);
    }
    const manifests = rows.map(
      (r): InventoryManifest => ({
        digest: r.digest,
        mediaType: r.media_type,
        subjectDigest: r.subject_digest,
        pushedAt: Number(r.pushed_at),
        lastPulledAt: r.last_pulled_at === null ? null : Number(r.last_pulled_at),
        tags: tags.get(r.digest)?.sort(byteOrder) ?? [],
        sizeBytes: indexSize.get(r.digest) ?? size.get(r.digest) ?? 0,
        parents: parents.get(r.digest)?.sort(byteOrder) ?? [],
      }),
    );
    return { manifests, blobRefs, blobSizes, linked: linkedSet };
  }

  async blobReferenceCounts(digests: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    // Answered from the (child_digest, kind) index alone, in chunks (bound-parameter limits) of
    // sorted digests, so that each chunk reads one narrow range of the index.
    for (const part of chunks([...new Set(digests)].sort())) {
      const rows = await this.db
        .selectFrom('manifest_refs')
        .select(['child_digest', sql<number>`count(*)`.as('n')])
        .where('child_digest', 'in', part)
        .where('kind', '=', 'blob')
        .groupBy('child_digest')
        .execute();
      for (const r of rows) out.set(r.child_digest, Number(r.n));
    }
    return out;
  }

  async blobsReferencedElsewhere(repositoryId: number): Promise<Set<string>> {
    // One walk of the repository's links, each probing the (child_digest, kind) index. NOTE:
    // walking the repository's references instead took 60 times longer: a layer shared by N
    // manifests of the repository was probed N times, each scanning past those N references.
    const rows = await this.db
      .selectFrom('repository_blobs as l')
      .select('l.digest')
      .where('l.repository_id', '=', repositoryId)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('manifest_refs as o')
            .select('o.child_digest')
            .whereRef('o.child_digest', '=', 'l.digest')
            .where('o.kind', '=', 'blob')
            .whereRef('o.repository_id', '<>', 'l.repository_id'),
        ),
      )
      .execute();
    return new Set(rows.map((r) => r.digest));
  }

  async parentsOf(repositoryId: number, digest: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('manifest_refs')
      .select('parent_digest')
      .where('repository_id', '=', repositoryId)
      .where('child_digest', '=', digest)
      .where('kind', '=', 'manifest')
      .orderBy('parent_digest')
      .execute();
    return rows.map((r) => r.parent_digest);
  }

  async list(repositoryId: number, page: Page): Promise<ManifestRow[]> {
    let q = this.db.selectFrom('manifests').select(MANIFEST_COLUMNS).where('repository_id', '=', repositoryId).orderBy('digest').limit(page.limit);
    if (page.last !== undefined) q = q.where('digest', '>', page.last);
    return (await q.execute()).map(toManifest);
  }

  async count(repositoryId: number): Promise<number> {
    const r = await this.db
      .selectFrom('manifests')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('repository_id', '=', repositoryId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async sizes(repositoryId: number, digests: string[]): Promise<Map<string, number>> {
    const out = await this.directSizes(repositoryId, digests);
    // An index is as large as its largest child (ECR: "the max size of all manifests in the list").
    // NOTE: two simple indexed queries; one self-join here made SQLite scan every reference.
    const links = await this.db
      .selectFrom('manifest_refs')
      .select(['parent_digest', 'child_digest'])
      .where('repository_id', '=', repositoryId)
      .where('kind', '=', 'manifest')
      .where('parent_digest', 'in', [...new Set(digests)])
      .execute();
    if (links.length > 0) {
      const childSizes = await this.directSizes(repositoryId, links.map((l) => l.child_digest));
      for (const l of links) out.set(l.parent_digest, Math.max(out.get(l.parent_digest) ?? 0, childSizes.get(l.child_digest) ?? 0));
    }
    return out;
  }

  /** Sum of the sizes of the blobs each manifest references directly (0 when none). */
  private async directSizes(repositoryId: number, digests: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const unique = [...new Set(digests)];
    if (unique.length === 0) return out;
    const rows = await this.db
      .selectFrom('manifest_refs as r')
      .innerJoin('blobs as b', 'b.digest', 'r.child_digest')
      .select(['r.parent_digest as digest', sql<number>`sum(b.size)`.as('bytes')])
      .where('r.repository_id', '=', repositoryId)
      .where('r.kind', '=', 'blob')
      .where('r.parent_digest', 'in', unique)
      .groupBy('r.parent_digest')
      .execute();
    for (const r of rows) out.set(r.digest, Number(r.bytes));
    for (const d of unique) if (!out.has(d)) out.set(d, 0);
    return out;
  }

  async referrers(repositoryId: number, subjectDigest: string, artifactType?: string): Promise<ManifestRow[]> {
    let q = this.db
      .selectFrom('manifests')
      .select(MANIFEST_COLUMNS)
      .where('repository_id', '=', repositoryId)
      .where('subject_digest', '=', subjectDigest);
    if (artifactType !== undefined) q = q.where('artifact_type', '=', artifactType);
    return (await q.orderBy('digest').execute()).map(toManifest);
  }

  async recordPull(repositoryId: number, digest: string, now: number): Promise<void> {
    await this.db
      .updateTable('manifests')
      .set({ last_pulled_at: now })
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .execute();
  }
}

const CHUNK = 5000;

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}
