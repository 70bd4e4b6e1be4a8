/**
 * `berth serve --workers 2` (src/cli/serve.ts): the supervisor forks two workers sharing the port;
 * skopeo pushes and pulls an image through them, requests on new connections reach both workers,
 * a worker that dies is replaced while the registry keeps answering, and SIGTERM stops the
 * supervisor and every worker.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir, which } from '../support/clients.js';
import { writeImageLayout, type WrittenImage } from '../support/oci-layout.js';
import { dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
import { Skopeo } from '../support/tools.js';

const reason = !which('skopeo') ? 'skopeo is not on PATH' : undefined;

/** The live children of `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out.sort((a, b) => a - b);
}

/** Pids that logged a request for `url` (each request's log line carries the pid of the process that served it). */
function pidsServing(logs: string, url: string): Set<number> {
  const pids = new Set<number>();
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; url?: string; pid?: number };
      if (entry.msg === 'request' && entry.url === url && entry.pid !== undefined) pids.add(entry.pid);
    } catch {
      /* not a log line */
    }
  }
  return pids;
}

describe.skipIf(reason !== undefined)(`berth serve --workers 2${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let server: RunningServer;
  let tmp: string;
  let skopeo: Skopeo;
  let image: WrittenImage;

  beforeAll(async () => {
    server = await startBerth({ target: 'berth', extraArgs: ['--workers', '2'] });
    tmp = await makeTempDir('berth-workers-');
    skopeo = await Skopeo.create(tmp);
    image = await writeImageLayout(join(tmp, 'layout'), { tag: 'v1', layers: [{ files: { 'a.txt': 'served by workers' } }] });
  });

  afterAll(async () => {
    await server?.stop();
    await removeDir(tmp);
  });

  dumpServerLogsOnFailure(() => server);

  it('runs two workers under the supervisor, and both serve requests', async () => {
    const workers = childrenOf(server.pid);
    expect(workers).toHaveLength(2);
    // The server counts as ready once one worker answers; the other may still be starting. New
    // connections each (`connection: close`): the supervisor hands them out round-robin.
    const both = (): boolean => workers.every((p) => pidsServing(server.logs(), '/v2/').has(p));
    for (let i = 0; i < 200 && !both(); i++) {
      const r = await fetch(`${server.url}/v2/`, { headers: { connection: 'close' } });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
      await delay(50); // the workers' log lines pass through the supervisor's stdout
    }
    expect([...pidsServing(server.logs(), '/v2/')].sort((a, b) => a - b)).toEqual(workers);
  });

  it('pushes and pulls an image with skopeo through the workers (digests identical)', async () => {
    await skopeo.copy(`oci:${join(tmp, 'layout')}:v1`, `docker://${server.host}/workers/app:v1`);
    const seen = await skopeo.inspect(`docker://${server.host}/workers/app:v1`);
    expect(seen.Digest).toBe(image.manifestDigest);
    await skopeo.copy(`docker://${server.host}/workers/app:v1`, `oci:${join(tmp, 'out')}:v1`, ['--preserve-digests']);
    const back = await skopeo.inspect(`oci:${join(tmp, 'out')}:v1`);
    expect(back.Layers).toEqual(image.layers.map((l) => l.digest));
  });

  it('replaces a worker that dies, and the registry keeps answering', async () => {
    const [victim, survivor] = childrenOf(server.pid);
    process.kill(victim!, 'SIGKILL');
    let now: number[] = [];
    for (let i = 0; i < 100; i++) {
      now = childrenOf(server.pid);
      if (now.length === 2 && !now.includes(victim!)) break;
      await delay(100);
    }
    expect(now).toHaveLength(2);
    expect(now).toContain(survivor);
    expect(now).not.toContain(victim);
    // Every request is answered meanwhile (the survivor serves them), and the new worker takes its
    // share once it listens (it starts in about a second).
    const replacement = now.find((p) => p !== survivor)!;
    const url = '/v2/workers/app/tags/list?n=50'; // a URL no earlier request used
    for (let i = 0; i < 200 && !pidsServing(server.logs(), url).has(replacement); i++) {
      const r = await fetch(`${server.url}${url}`, { headers: { connection: 'close' } });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { tags: string[] }).tags).toEqual(['v1']);
      await delay(50);
    }
    const serving = [...pidsServing(server.logs(), url)];
    expect(serving).toContain(replacement);
    expect(serving.filter((p) => !now.includes(p))).toEqual([]); // nothing else answered
    expect(server.logs()).toContain('worker died; starting another');
  });

  it('stops the supervisor and every worker on SIGTERM', async () => {
    const workers = childrenOf(server.pid);
    expect(workers).toHaveLength(2);
    const exit = await server.kill('SIGTERM');
    expect(exit.code).toBe(0);
    for (let i = 0; i < 50 && workers.some((p) => alive(p)); i++) await delay(100);
    expect(workers.filter((p) => alive(p))).toEqual([]);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
