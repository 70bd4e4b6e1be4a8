/**
 * Logging in the ways real clients do: `aws ecr get-login-password` piped into `skopeo login`,
 * `podman login` and `docker login` (Basic AWS:<password>, ECR's scheme), and the Docker token
 * flow on a server configured to answer 401s with a Bearer challenge (skopeo fetches a token
 * from the realm with its Basic credentials and sends it as a Bearer token).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, makeTempDir, removeDir, run, which } from '../support/clients.js';
import { writeImageLayout } from '../support/oci-layout.js';
import { TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
import { Podman, Skopeo } from '../support/tools.js';

const AWS = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : which('aws');
const reason = !AWS ? 'the aws CLI is not installed' : !which('skopeo') ? 'skopeo is not on PATH' : undefined;

describe.skipIf(reason !== undefined)(`registry logins with real clients${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let basic: RunningServer;
  let bearer: RunningServer;
  let tmp: string;
  let skopeo: Skopeo;

  const password = async (server: RunningServer): Promise<string> => {
    const r = await run(AWS!, ['--endpoint-url', server.url, 'ecr', 'get-login-password'], {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: TEST_ROOT_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_ROOT_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: join(tmp, 'aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'aws-credentials'),
      },
      timeoutMs: 60_000,
    });
    expect(r.code, describeResult(r)).toBe(0);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    tmp = await makeTempDir('berth-logins-');
    basic = await startBerth({ target: 'berth' });
    bearer = await startBerth({ target: 'berth', env: { BERTH_AUTH__CHALLENGE: 'bearer', BERTH_LOG__LEVEL: 'info' } });
    skopeo = await Skopeo.create(tmp);
    await writeImageLayout(join(tmp, 'img'), { tag: 'v1', layers: [{ files: { 'hello.txt': 'logged in' } }] });
  });
  afterAll(async () => {
    await basic?.stop();
    await bearer?.stop();
    await removeDir(tmp);
  });
  dumpServerLogsOnFailure(() => bearer);

  it('answers 401 with a Basic challenge by default and a Bearer challenge naming the token realm when configured', async () => {
    const b = await fetch(`${basic.url.replace('127.0.0.1', 'localhost')}/v2/`);
    expect(b.status).toBe(401);
    expect(b.headers.get('www-authenticate')).toMatch(/^Basic realm="http:\/\/localhost:\d+\/",service="berth"$/);
    const t = await fetch(`${bearer.url.replace('127.0.0.1', 'localhost')}/v2/team/app/manifests/v1`);
    expect(t.status).toBe(401);
    expect(t.headers.get('www-authenticate')).toMatch(/^Bearer realm="http:\/\/localhost:\d+\/berth\/token",service="berth",scope="repository:team\/app:pull"$/);
  });

  it('pushes and pulls through the Docker token flow (skopeo gets a bearer token with its Basic login)', async () => {
    const authfile = join(tmp, 'bearer-auth.json');
    const login = await skopeo.run(['login', '--tls-verify=false', '--authfile', authfile, '-u', 'AWS', '--password-stdin', bearer.host], { input: await password(bearer) });
    expect(login.code, describeResult(login)).toBe(0);
    const push = await skopeo.run(['copy', '--dest-tls-verify=false', '--dest-authfile', authfile, `oci:${join(tmp, 'img')}:v1`, `docker://${bearer.host}/team/app:v1`]);
    expect(push.code, describeResult(push)).toBe(0);
    const inspect = await skopeo.run(['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${bearer.host}/team/app:v1`]);
    expect(inspect.code, describeResult(inspect)).toBe(0);
    // The token endpoint was used, and /v2/ saw bearer tokens.
    expect(bearer.logs()).toMatch(/"url":"\/berth\/token\?[^"]*","status":200/);
    // A wrong password gets no token.
    const bad = await fetch(`${bearer.url}/berth/token?service=berth&scope=repository:team/app:pull`, { headers: { authorization: `Basic ${Buffer.from('AWS:wrong').toString('base64')}` } });
    expect(bad.status).toBe(401);
    // No credentials: an anonymous token, which pulls nothing that is not public.
    const anon = (await (await fetch(`${bearer.url}/berth/token?service=berth`)).json()) as { token: string; expires_in: number };
    expect(anon.expires_in).toBeGreaterThan(0);
    const denied = await fetch(`${bearer.url.replace('127.0.0.1', 'localhost')}/v2/team/app/manifests/v1`, { headers: { authorization: `Bearer ${anon.token}` } });
    expect(denied.status).toBe(401);
  });

  it('get-login-password | podman login, and a wrong password is refused', async () => {
    if (!which('podman')) return expect(which('podman'), 'podman is not installed').toBeDefined();
    const podman = await Podman.create(tmp);
    try {
      const authfile = join(tmp, 'podman-auth.json');
      const ok = await podman.run(['login', '--tls-verify=false', '--authfile', authfile, '-u', 'AWS', '--password-stdin', basic.host], { input: await password(basic) });
      expect(ok.code, describeResult(ok)).toBe(0);
      expect(ok.stdout).toContain('Login Succeeded');
      const bad = await podman.run(['login', '--tls-verify=false', '--authfile', join(tmp, 'podman-bad.json'), '-u', 'AWS', '--password-stdin', basic.host], { input: 'not-a-password' });
      expect(bad.code).not.toBe(0);
    } finally {
      await podman.dispose();
    }
  });

  it('get-login-password | docker login (the docker CLI, no engine needed for login)', async () => {
    if (!which('docker')) return expect(which('docker'), 'docker is not installed').toBeDefined();
    const env = { ...process.env, DOCKER_CONFIG: join(tmp, 'docker') };
    const ok = await run('docker', ['login', '-u', 'AWS', '--password-stdin', basic.host], { env, input: await password(basic), timeoutMs: 60_000 });
    expect(ok.code, describeResult(ok)).toBe(0);
    expect(ok.stdout).toContain('Login Succeeded');
    const bad = await run('docker', ['login', '-u', 'AWS', '--password-stdin', basic.host], { env, input: 'not-a-password', timeoutMs: 60_000 });
    expect(bad.code).not.toBe(0);
  });
});
