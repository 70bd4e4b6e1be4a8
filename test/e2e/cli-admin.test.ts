/**
 * `berth admin ...` (IAM through the running server) and `berth audit` (the audit trail read
 * from the data directory), as an operator runs them: child processes with the root key in
 * the environment. Also: secrets never reach the database in clear, the server log or the
 * audit trail.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, makeTempDir, removeDir, run, type RunResult } from '../support/clients.js';
import { REPO_ROOT, TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';

const BIN = join(REPO_ROOT, 'bin', 'berth.js');

describe('berth admin and berth audit', () => {
  let server: RunningServer;
  let tmp: string;
  const env = (creds: { accessKeyId: string; secretAccessKey: string } = TEST_ROOT_CREDENTIALS): NodeJS.ProcessEnv => {
    const out: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('BERTH_')) out[k] = v;
    return { ...out, HOME: tmp, AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey };
  };
  const berth = (args: string[], creds?: { accessKeyId: string; secretAccessKey: string }): Promise<RunResult> =>
    run(process.execPath, [BIN, ...args], { env: env(creds), timeoutMs: 60_000 });
  const admin = async (...args: string[]): Promise<RunResult> => {
    const r = await berth(['admin', ...args, '--endpoint', server.url]);
    expect(r.code, describeResult(r)).toBe(0);
    return r;
  };

  beforeAll(async () => {
    tmp = await makeTempDir('berth-admin-');
    server = await startBerth({ target: 'berth' });
  });
  afterAll(async () => {
    await server?.stop();
    await removeDir(tmp);
  });
  dumpServerLogsOnFailure(() => server);

  it('creates users, keys, groups, roles and policies, and the audit trail shows who did it', async () => {
    expect((await admin('users', 'create', 'alice', '--path', '/team/')).stdout).toMatch(/^USER\s+ARN\s+CREATED\nalice\s+arn:aws:iam::\d{12}:user\/team\/alice\s+\d{4}-/);
    const key = await admin('keys', 'create', 'alice');
    const id = /AWS_ACCESS_KEY_ID=(AKIA[A-Z2-7]{16})/.exec(key.stdout)?.[1];
    const secret = /AWS_SECRET_ACCESS_KEY=(\S+)/.exec(key.stdout)?.[1];
    expect(id && secret).toBeTruthy();
    const doc = join(tmp, 'pull.json');
    await writeFile(doc, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecr:GetAuthorizationToken', 'ecr:Describe*'], Resource: '*' }] }));
    await admin('policies', 'put', 'user', 'alice', 'pull', '--file', doc);
    expect(JSON.parse((await admin('policies', 'get', 'user', 'alice', 'pull')).stdout)).toEqual(JSON.parse(await readFile(doc, 'utf8')));
    await admin('groups', 'create', 'devs');
    await admin('groups', 'add-user', 'devs', 'alice');
    const trust = join(tmp, 'trust.json');
    await writeFile(trust, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'sts:AssumeRole' }] }));
    expect((await admin('roles', 'create', 'deploy', '--trust', trust)).stdout).toMatch(/^arn:aws:iam::\d{12}:role\/deploy\n$/);
    expect((await admin('users', 'list')).stdout).toContain('alice');

    // Alice's key works and is recorded as used; she may not administer IAM.
    const denied = await berth(['admin', 'users', 'list', '--endpoint', server.url], { accessKeyId: id!, secretAccessKey: secret! });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^berth: AccessDenied: User: arn:aws:iam::\d{12}:user\/team\/alice is not authorized to perform: iam:ListUsers/);
    const keys = await admin('keys', 'list', 'alice');
    expect(keys.stdout).toMatch(new RegExp(`${id}\\s+Active\\s+\\S+\\s+\\d{4}-\\S+\\s+iam`));

    // A malformed policy is refused with what is wrong, a duplicate with EntityAlreadyExists.
    await writeFile(doc, '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*"}]}');
    const bad = await berth(['admin', 'policies', 'put', 'user', 'alice', 'bad', '--file', doc, '--endpoint', server.url]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/MalformedPolicyDocument.*Resource/);
    const dup = await berth(['admin', 'users', 'create', 'ALICE', '--endpoint', server.url]);
    expect(dup.stderr).toContain('EntityAlreadyExists');

    await new Promise((r) => setTimeout(r, 600)); // the audit trail is written in batches every 250 ms
    const audit = await berth(['audit', '--data-dir', server.dataDir, '--event-name', 'CreateUser', '-o', 'json']);
    expect(audit.code, describeResult(audit)).toBe(0);
    const events = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({
      eventSource: 'iam.amazonaws.com',
      eventName: 'CreateUser',
      userIdentity: { type: 'Root', accessKeyId: TEST_ROOT_CREDENTIALS.accessKeyId },
      requestParameters: { UserName: 'alice', Path: '/team/' },
      sourceIPAddress: '127.0.0.1',
    });
    expect(events.at(-1)).toMatchObject({ errorCode: 'EntityAlreadyExists' });
    const deniedEvents = await berth(['audit', '--data-dir', server.dataDir, '--errors', '--user', 'alice', '-o', 'json']);
    expect(deniedEvents.stdout).toContain('"errorCode":"AccessDenied"');
    expect(deniedEvents.stdout).toContain('"eventName":"ListUsers"');
    const table = await berth(['audit', '--data-dir', server.dataDir, '--since', '1h']);
    expect(table.stdout).toMatch(/CreateAccessKey\s+arn:aws:iam::\d{12}:root/);

    // The secret is nowhere but in the one response that created it.
    const all = await berth(['audit', '--data-dir', server.dataDir, '--limit', '10000', '-o', 'json']);
    expect(all.stdout).not.toContain(secret!);
    expect(server.logs()).not.toContain(secret!);
    for (const f of (await readdir(server.dataDir)).filter((n) => n.startsWith('berth.db'))) {
      expect((await readFile(join(server.dataDir, f))).includes(Buffer.from(secret!)), f).toBe(false);
    }
  });
});
