import { Migrator, sql, type Kysely } from 'kysely';
import type { MetadataSnapshot, MetadataStore, MetadataTx } from '../types.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';
import { KyselyBlobs } from './blobs.js';
import { KyselyManifests, manifestCache } from './manifests.js';
import { KyselyRegistrySettings, KyselyRepositories } from './repositories.js';
import { KyselyTags } from './tags.js';
import { KyselyUploads } from './uploads.js';
import { KyselyAuditLog, KyselySchedules } from './schedules.js';
import { KyselyIdentity } from './identity.js';
import { KyselyJobs } from './jobs.js';
import { KyselyVulnDb } from './vulndb.js';
import { KyselyScans } from './scans.js';
import type { ChangeWatch } from '../sqlite-change-watch.js';

function bind(db: Kysely<Database>, dialect: 'sqlite' | 'postgres', watch?: ChangeWatch): MetadataTx {
  const manifests = watch && manifestCache(watch);
  return {
    repositories: new KyselyRepositories(db, watch),
    blobs: new KyselyBlobs(db, dialect),
    manifests: new KyselyManifests(db, dialect, manifests ? { cache: manifests } : {}),
    tags: new KyselyTags(db, manifests),
    uploads: new KyselyUploads(db),
    registry: new KyselyRegistrySettings(db, watch),
    schedules: new KyselySchedules(db),
    audit: new KyselyAuditLog(db),
    identity: new KyselyIdentity(db),
    jobs: new KyselyJobs(db, dialect),
    vulndb: new KyselyVulnDb(db, dialect),
    scans: new KyselyScans(db, dialect),
  };
}

function snapshotView(db: Kysely<Database>, dialect: 'sqlite' | 'postgres'): MetadataSnapshot {
  return { manifests: new KyselyManifests(db, dialect, { snapshot: true }) };
}

/** The one MetadataStore implementation; the dialect modules only build the Kysely instance. */
export class KyselyMetadataStore implements MetadataStore {
  readonly repositories;
  readonly blobs;
  readonly manifests;
  readonly tags;
  readonly uploads;
  readonly registry;
  readonly schedules;
  readonly audit;
  readonly identity;
  readonly jobs;
  readonly vulndb;
  readonly scans;
  /** The connection snapshots run on (opened on first use). */
  private reader: Kysely<Database> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: 'sqlite' | 'postgres',
    /** SQLite: starts a write transaction on the held connection (see sqlite.ts); `begin immediate` by default. */
    private readonly beginImmediate: (conn: Kysely<Database>) => Promise<void> = async (conn) => {
      await sql`begin immediate`.execute(conn);
    },
    /**
     * SQLite: commits on the held connection and returns what makes the commit durable, awaited
     * once the connection is released (group commit, see sqlite-group-commit.ts); `commit` by default.
     */
    private readonly commit: (conn: Kysely<Database>) => Promise<(() => Promise<void>) | undefined> = async (conn) => {
      await sql`commit`.execute(conn);
      return undefined;
    },
    /** SQLite on a file: opens the read-only connection snapshots run on (the main one otherwise). */
    private readonly openReader?: () => Kysely<Database>,
    /**
     * SQLite: watches the main connection for changes, so that outside transactions the
     * repository rows and registry settings are read from memory while nothing changed.
     */
    watch?: ChangeWatch,
  ) {
    const root = bind(db, dialect, watch);
    this.repositories = root.repositories;
    this.blobs = root.blobs;
    this.manifests = root.manifests;
    this.tags = root.tags;
    this.uploads = root.uploads;
    this.registry = root.registry;
    this.schedules = root.schedules;
    this.audit = root.audit;
    this.identity = root.identity;
    this.jobs = root.jobs;
    this.vulndb = root.vulndb;
    this.scans = root.scans;
  }

  /** Applies pending migrations; throws with the failing migration's error. */
  async migrate(): Promise<void> {
    // Features land in parallel and take migration numbers ahead of time (0007 before 0006): a
    // database that already ran a later one still gets an earlier one that arrives afterwards.
    // PostgreSQL: Kysely looks for its migration tables in every schema unless told which one,
    // so a store in its own schema beside another store (or any Kysely application) in the
    // same database found the other's tables, skipped creating its own, and failed to migrate.
    const schema = this.dialect === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(this.db)).rows[0]?.s : undefined;
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider(this.dialect),
      allowUnorderedMigrations: true,
      ...(schema ? { migrationTableSchema: schema } : {}),
    });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
  }

  async tx<T>(fn: (tx: MetadataTx) => Promise<T>): Promise<T> {
    if (this.dialect === 'postgres') return this.db.transaction().execute((trx) => fn(bind(trx, 'postgres')));
    // NOTE: SQLite takes the write lock up front (BEGIN IMMEDIATE). A deferred transaction
    // that reads and then writes can fail with SQLITE_BUSY when another process wrote in between.
    let durable: (() => Promise<void>) | undefined;
    const result = await this.db.connection().execute(async (conn) => {
      await this.beginImmediate(conn);
      try {
        const result = await fn(bind(conn, 'sqlite'));
        durable = await this.commit(conn);
        return result;
      } catch (err) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw err;
      }
    });
    // Other requests use the connection while this commit is made durable.
    if (durable) await durable();
    return result;
  }

  async snapshot<T>(fn: (view: MetadataSnapshot) => Promise<T>): Promise<T> {
    if (this.dialect === 'postgres') {
      return this.db
        .transaction()
        .setIsolationLevel('repeatable read')
        .setAccessMode('read only')
        .execute((trx) => fn(snapshotView(trx, 'postgres')));
    }
    // A deferred transaction on its own connection: its first read fixes the snapshot (WAL
    // keeps it while the main connection commits). Held for the whole of `fn`, so snapshots
    // take turns.
    this.reader ??= this.openReader?.() ?? this.db;
    return this.reader.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      try {
        const result = await fn(snapshotView(conn, 'sqlite'));
        await sql`commit`.execute(conn);
        return result;
      } catch (err) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw err;
      }
    });
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    if (this.reader && this.reader !== this.db) await this.reader.destroy();
    await this.db.destroy();
  }
}
