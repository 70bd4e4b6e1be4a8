/**
 * IdentityStore cases of the MetadataStore contract (run on SQLite and PostgreSQL).
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { MetadataStore } from './types.js';

const uid = (): string => randomUUID().replace(/-/g, '').slice(0, 12);

export function identityContractCases(store: () => MetadataStore): void {
  it('identity: users are unique regardless of case, listed by name with a path filter, deleted with their policies', async () => {
    const s = store().identity;
    const base = `U${uid()}`;
    expect(await s.createUser({ name: base, id: `AIDA${uid()}`, path: '/ci/', createdAt: 1 })).toBe(true);
    expect(await s.createUser({ name: base.toLowerCase(), id: `AIDA${uid()}`, path: '/', createdAt: 2 })).toBe(false);
    expect(await s.createUser({ name: `${base}-b`, id: `AIDA${uid()}`, path: '/', createdAt: 3 })).toBe(true);
    expect((await s.getUser(base))?.path).toBe('/ci/');
    expect(await s.getUser(`${base}-missing`)).toBeNull();
    const page = await s.listUsers({ after: base.slice(0, -1), limit: 1000 });
    const mine = page.filter((u) => u.name.startsWith(base)).map((u) => u.name);
    expect(mine).toEqual([base, `${base}-b`]);
    const ci = (await s.listUsers({ limit: 1000, pathPrefix: '/ci/' })).map((u) => u.name);
    expect(ci).toContain(base);
    expect(ci).not.toContain(`${base}-b`);
    await s.putPolicy({ kind: 'user', name: base }, 'p1', '{"a":1}');
    expect(await s.deleteUser(base)).toBe(true);
    expect(await s.deleteUser(base)).toBe(false);
    expect(await s.getPolicy({ kind: 'user', name: base }, 'p1')).toBeNull();
    // The name is free again; the new user is another principal (new id).
    expect(await s.createUser({ name: base, id: `AIDA${uid()}`, path: '/', createdAt: 4 })).toBe(true);
  });

  it('identity: inline policies of a user and of its groups come back together', async () => {
    const s = store().identity;
    const user = `u${uid()}`;
    const group = `g${uid()}`;
    const other = `g${uid()}`;
    await s.createUser({ name: user, id: `AIDA${uid()}`, path: '/', createdAt: 1 });
    await s.createGroup({ name: group, id: `AGPA${uid()}`, path: '/', createdAt: 1 });
    await s.createGroup({ name: other, id: `AGPA${uid()}`, path: '/', createdAt: 1 });
    await s.addMember(group, user);
    await s.addMember(group, user);
    expect(await s.groupsOf(user)).toEqual([group]);
    expect(await s.membersOf(group)).toEqual([user]);
    await s.putPolicy({ kind: 'user', name: user }, 'own', 'doc-own');
    await s.putPolicy({ kind: 'user', name: user }, 'own', 'doc-own-2');
    await s.putPolicy({ kind: 'group', name: group }, 'team', 'doc-team');
    await s.putPolicy({ kind: 'group', name: other }, 'not-mine', 'doc-other');
    await s.putPolicy({ kind: 'role', name: user }, 'same-name-role', 'doc-role');
    const got = (await s.policiesOfUser(user)).map((p) => `${p.owner.kind}:${p.policyName}:${p.document}`).sort();
    expect(got).toEqual(['group:team:doc-team', 'user:own:doc-own-2']);
    expect(await s.listPolicies({ kind: 'user', name: user })).toEqual(['own']);
    expect(await s.removeMember(group, user)).toBe(true);
    expect((await s.policiesOfUser(user)).map((p) => p.policyName)).toEqual(['own']);
    expect(await s.deletePolicy({ kind: 'user', name: user }, 'own')).toBe(true);
    expect(await s.deletePolicy({ kind: 'user', name: user }, 'own')).toBe(false);
    expect(await s.deleteGroup(group)).toBe(true);
    expect(await s.getPolicy({ kind: 'group', name: group }, 'team')).toBeNull();
  });

  it('identity: roles keep their trust policy; access keys record status and last use', async () => {
    const s = store().identity;
    const name = `r${uid()}`;
    expect(await s.createRole({ name, id: `AROA${uid()}`, path: '/', trustPolicy: 't1', description: null, maxSessionSeconds: 3600, createdAt: 1 })).toBe(true);
    expect(await s.createRole({ name: name.toUpperCase(), id: `AROA${uid()}`, path: '/', trustPolicy: 't', description: null, maxSessionSeconds: 3600, createdAt: 1 })).toBe(false);
    expect(await s.updateTrustPolicy(name, 't2')).toBe(true);
    expect((await s.getRole(name))?.trustPolicy).toBe('t2');
    expect((await s.listRoles({ after: name.slice(0, -1), limit: 5 })).map((r) => r.name)).toContain(name);
    expect(await s.deleteRole(name)).toBe(true);

    const user = `u${uid()}`;
    await s.createUser({ name: user, id: `AIDA${uid()}`, path: '/', createdAt: 1 });
    const id = `AKIA${uid().toUpperCase()}`;
    await s.createAccessKey({ id, userName: user, sealedSecret: 'sealed', status: 'Active', createdAt: 5, lastUsedAt: null, lastUsedService: null, lastUsedRegion: null });
    await s.recordKeyUse(id, 10, 'ecr', 'us-east-1');
    await s.recordKeyUse(id, 9, 'iam', 'us-east-1'); // older: ignored
    expect(await s.getAccessKey(id)).toMatchObject({ userName: user, status: 'Active', lastUsedAt: 10, lastUsedService: 'ecr' });
    expect(await s.setAccessKeyStatus(id, 'Inactive')).toBe(true);
    expect((await s.listAccessKeys(user)).map((k) => [k.id, k.status])).toEqual([[id, 'Inactive']]);
    expect(await s.deleteAccessKey(id)).toBe(true);
    expect(await s.getAccessKey(id)).toBeNull();
  });
}
