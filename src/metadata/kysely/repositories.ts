import type { Kysely, Selectable } from 'kysely';
import {
  DEFAULT_REPOSITORY_SETTINGS,
  type Page,
  type RegistrySettingsStore,
  type RepositoryRow,
  type RepositorySettings,
  type RepositoryStore,
} from '../types.js';
import type { Database } from './schema.js';
import { $, affected, prepared, preparedQuery } from './prepared.js';
import { EpochCache, deepFreeze, type ChangeWatch } from '../sqlite-change-watch.js';

// Read on every authorized request: compiled once (see prepared.ts).
const repositoryByName = prepared('repositories.get', (db: Kysely<Database>) => db.selectFrom('repositories').selectAll().where('name', '=', $(1)));
const insertRepository = preparedQuery('repositories.insert', (db: Kysely<Database>) =>
  db
    .insertInto('repositories')
    .values({ name: $(1), created_at: $(2), settings: $(3) })
    .onConflict((oc) => oc.column('name').doNothing()),
);
const settingByKey = prepared('registry_settings.get', (db: Kysely<Database>) => db.selectFrom('registry_settings').select('value').where('key', '=', $(1)));

type Db = Kysely<Database>;

const toRepository = (r: Selectable<Database['repositories']>): RepositoryRow => ({
  id: Number(r.id),
  name: r.name,
  createdAt: Number(r.created_at),
  settings: r.settings ? { ...DEFAULT_REPOSITORY_SETTINGS, ...(JSON.parse(r.settings) as Partial<RepositorySettings>) } : { ...DEFAULT_REPOSITORY_SETTINGS },
});

/** What the cached reads below read from (see EpochCacheOptions.tables). */
export const REPOSITORY_TABLES = ['repositories'];
export const REGISTRY_SETTINGS_TABLES = ['registry_settings'];

export class KyselyRepositories implements RepositoryStore {
  /** Rows by name while the database is unchanged (the main SQLite store only; see sqlite-change-watch.ts). */
  private readonly cache: EpochCache<RepositoryRow | null> | undefined;

  constructor(
    private readonly db: Db,
    watch?: ChangeWatch,
  ) {
    this.cache = watch && new EpochCache(watch, { tables: REPOSITORY_TABLES });
  }

  async ensure(name: string, now: number, settings: RepositorySettings = DEFAULT_REPOSITORY_SETTINGS): Promise<RepositoryRow> {
    const found = await this.get(name);
    if (found) return found;
    return (await this.create(name, settings, now)).row;
  }

  async create(name: string, settings: RepositorySettings, now: number): Promise<{ created: boolean; row: RepositoryRow }> {
    const created = affected(await insertRepository(this.db, name, now, JSON.stringify(settings))) > 0;
    const row = await this.get(name);
    if (!row) throw new Error(`repository ${name} vanished after insert`);
    return { created, row };
  }

  async get(name: string): Promise<RepositoryRow | null> {
    if (!this.cache) return this.read(name);
    // Frozen: one cached row is shared by the requests that read it.
    return this.cache.get(name, async () => deepFreeze(await this.read(name)));
  }

  private async read(name: string): Promise<RepositoryRow | null> {
    const [r] = await repositoryByName(this.db, name);
    return r ? toRepository(r) : null;
  }

  async list(page: Page): Promise<string[]> {
    let q = this.db.selectFrom('repositories').select('name').orderBy('name').limit(page.limit);
    if (page.last !== undefined) q = q.where('name', '>', page.last);
    return (await q.execute()).map((r) => r.name);
  }

  async listRows(page: Page): Promise<RepositoryRow[]> {
    let q = this.db.selectFrom('repositories').selectAll().orderBy('name').limit(page.limit);
    if (page.last !== undefined) q = q.where('name', '>', page.last);
    return (await q.execute()).map(toRepository);
  }

  async updateSettings(id: number, settings: RepositorySettings): Promise<void> {
    await this.db.updateTable('repositories').set({ settings: JSON.stringify(settings) }).where('id', '=', id).execute();
  }

  async delete(id: number): Promise<boolean> {
    // Children first: SQLite only cascades with foreign_keys on, and the order keeps both dialects alike.
    await this.db.deleteFrom('tags').where('repository_id', '=', id).execute();
    await this.db.deleteFrom('manifest_refs').where('repository_id', '=', id).execute();
    await this.db.deleteFrom('manifests').where('repository_id', '=', id).execute();
    await this.db.deleteFrom('repository_blobs').where('repository_id', '=', id).execute();
    await this.db.deleteFrom('uploads').where('repository_id', '=', id).execute();
    const r = await this.db.deleteFrom('repositories').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

export class KyselyRegistrySettings implements RegistrySettingsStore {
  /** Values by key while the database is unchanged (the main SQLite store only; see sqlite-change-watch.ts). */
  private readonly cache: EpochCache<string | null> | undefined;

  constructor(
    private readonly db: Db,
    watch?: ChangeWatch,
  ) {
    this.cache = watch && new EpochCache(watch, { tables: REGISTRY_SETTINGS_TABLES });
  }

  async get(key: string): Promise<string | null> {
    if (!this.cache) return this.read(key);
    return this.cache.get(key, () => this.read(key));
  }

  private async read(key: string): Promise<string | null> {
    const [r] = await settingByKey(this.db, key);
    return r?.value ?? null;
  }

  async putIfAbsent(key: string, value: string): Promise<string> {
    await this.db
      .insertInto('registry_settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    return (await this.get(key)) ?? value;
  }

  async put(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('registry_settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  async delete(key: string): Promise<boolean> {
    const r = await this.db.deleteFrom('registry_settings').where('key', '=', key).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async list(prefix: string): Promise<{ key: string; value: string }[]> {
    // NOTE: a range on the key instead of LIKE, so `%` and `_` in prefixes mean themselves.
    return this.db
      .selectFrom('registry_settings')
      .select(['key', 'value'])
      .where('key', '>=', prefix)
      .where('key', '<', `${prefix}\uffff`)
      .orderBy('key')
      .execute();
  }
}
