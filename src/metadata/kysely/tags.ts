import type { Kysely } from 'kysely';
import type { ManifestWithContent, Page, TagStore } from '../types.js';
import { cachedManifest, withContent, type ManifestCache } from './manifests.js';
import { $, affected, prepared, preparedQuery } from './prepared.js';
import type { Database } from './schema.js';

// The pull path's lookup (a tag of a repository, by names), compiled once.
const resolveByNameQuery = prepared('tags.resolveByName', (db: Kysely<Database>) =>
  db
    .selectFrom('repositories as p')
    .innerJoin('tags as t', 't.repository_id', 'p.id')
    .innerJoin('manifests as m', (j) => j.onRef('m.repository_id', '=', 't.repository_id').onRef('m.digest', '=', 't.digest'))
    .selectAll('m')
    .where('p.name', '=', $(1))
    .where('t.name', '=', $(2)),
);

const digestOfQuery = prepared('tags.digestOf', (db: Kysely<Database>) => db.selectFrom('tags').select('digest').where('repository_id', '=', $(1)).where('name', '=', $(2)));
const upsertQuery = preparedQuery('tags.upsert', (db: Kysely<Database>) =>
  db
    .insertInto('tags')
    .values({ repository_id: $(1), name: $(2), digest: $(3), updated_at: $(4) })
    .onConflict((oc) => oc.columns(['repository_id', 'name']).doUpdateSet({ digest: $(3), updated_at: $(4) })),
);
const deleteQuery = preparedQuery('tags.delete', (db: Kysely<Database>) => db.deleteFrom('tags').where('repository_id', '=', $(1)).where('name', '=', $(2)));

type Db = Kysely<Database>;

export class KyselyTags implements TagStore {
  constructor(
    private readonly db: Db,
    private readonly cache?: ManifestCache,
  ) {}

  async resolve(repositoryId: number, tag: string): Promise<ManifestWithContent | null> {
    const r = await this.db
      .selectFrom('tags as t')
      .innerJoin('manifests as m', (j) => j.onRef('m.repository_id', '=', 't.repository_id').onRef('m.digest', '=', 't.digest'))
      .selectAll('m')
      .where('t.repository_id', '=', repositoryId)
      .where('t.name', '=', tag)
      .executeTakeFirst();
    return r ? withContent(r) : null;
  }

  resolveByName(repository: string, tag: string): Promise<ManifestWithContent | null> {
    // Names cannot hold a newline; a tag cannot start with '@' (a digest key does).
    return cachedManifest(this.cache, `${repository}\n${tag}`, async () => {
      const [r] = await resolveByNameQuery(this.db, repository, tag);
      return r ? withContent(r) : null;
    });
  }

  async set(repositoryId: number, tag: string, digest: string, now: number): Promise<void> {
    // NOTE: no read of the previous digest: the manifest PUT has read it already (digestOf) for
    // its immutability check, and reading it here too was a second statement per tagged PUT.
    await upsertQuery(this.db, repositoryId, tag, digest, now);
  }

  async delete(repositoryId: number, tag: string): Promise<boolean> {
    return affected(await deleteQuery(this.db, repositoryId, tag)) > 0;
  }

  async list(repositoryId: number, page: Page): Promise<string[]> {
    let q = this.db.selectFrom('tags').select('name').where('repository_id', '=', repositoryId).orderBy('name').limit(page.limit);
    if (page.last !== undefined) q = q.where('name', '>', page.last);
    return (await q.execute()).map((r) => r.name);
  }

  async of(repositoryId: number, digest: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('tags')
      .select('name')
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .orderBy('name')
      .execute();
    return rows.map((r) => r.name);
  }

  async ofMany(repositoryId: number, digests: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (digests.length === 0) return out;
    const rows = await this.db
      .selectFrom('tags')
      .select(['digest', 'name'])
      .where('repository_id', '=', repositoryId)
      .where('digest', 'in', [...new Set(digests)])
      .execute();
    // NOTE: sorted here: an ORDER BY name made SQLite walk every tag of the repository by name
    // instead of looking the digests up (a quadratic preview over 100,000 images).
    for (const r of rows) {
      const list = out.get(r.digest) ?? [];
      list.push(r.name);
      out.set(r.digest, list);
    }
    for (const list of out.values()) list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return out;
  }

  async digestOf(repositoryId: number, tag: string): Promise<string | null> {
    const [r] = await digestOfQuery(this.db, repositoryId, tag);
    return r?.digest ?? null;
  }
}
