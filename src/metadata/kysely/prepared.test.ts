/** Prepared queries: values go where the placeholders are (repeats included), and a build that would bind anything else is refused. */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { $, affected, prepared, preparedQuery } from './prepared.js';

interface Db {
  kv: { k: string; v: number; n: number };
}

describe('prepared queries', () => {
  const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
  afterAll(() => db.destroy());

  it('binds each value wherever its placeholder appears, on every run', async () => {
    await db.schema.createTable('kv').addColumn('k', 'text', (c) => c.primaryKey()).addColumn('v', 'integer').addColumn('n', 'integer').execute();
    const upsert = preparedQuery('test.kv.upsert', (d: Kysely<Db>) =>
      d
        .insertInto('kv')
        .values({ k: $(1), v: $(2), n: $(3) })
        .onConflict((oc) => oc.column('k').doUpdateSet({ v: $(2), n: $(3) })),
    );
    const get = prepared('test.kv.get', (d: Kysely<Db>) => d.selectFrom('kv').select(['v', 'n']).where('k', '=', $(1)));
    expect(affected(await upsert(db, 'a', 1, 10))).toBe(1);
    expect(affected(await upsert(db, 'a', 2, 20))).toBe(1);
    await upsert(db, 'b', 3, 30);
    expect(await get(db, 'a')).toEqual([{ v: 2, n: 20 }]);
    expect(await get(db, 'b')).toEqual([{ v: 3, n: 30 }]);
    expect(await get(db, 'c')).toEqual([]);
  });

  it('refuses a build that binds a literal value or leaves a value unused', async () => {
    const literal = prepared('test.kv.literal', (d: Kysely<Db>) => d.selectFrom('kv').select('v').where('k', '=', $(1)).where('n', '>', 5));
    await expect(literal(db, 'a')).rejects.toThrow(/parameter 5 is not a placeholder/);
    const unused = prepared('test.kv.unused', (d: Kysely<Db>) => d.selectFrom('kv').select('v').where('k', '=', $(1)));
    await expect(unused(db, 'a', 'b')).rejects.toThrow(/value 2 is not used/);
  });
});
