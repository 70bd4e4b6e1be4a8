// Row definitions, the stdout table and docs/benchmarks.md.

import { fmtInt, fmtNum, fmtSize, WRK_LEVELS } from './util.mjs';
import { IMAGE_BATCHES, IMAGE_WARMUP_BATCHES } from './workloads.mjs';

const METHOD_LABEL = {
  mono: 'monolithic POST+PUT',
  single: 'single-request POST ?digest=',
  chunked: null, // filled with the chunk size
  streamed: 'streamed PATCH (chunked encoding)',
};

/** Every reported figure, in order. better: 'higher' | 'lower'. */
export function rowsFor(cfg) {
  const rows = [];
  const largest = Math.max(...cfg.sizes);
  for (const size of cfg.sizes) {
    for (const m of ['mono', 'single', 'chunked', 'streamed']) {
      const label = m === 'chunked' ? `chunked PATCH ${fmtSize(cfg.chunk)}` : METHOD_LABEL[m];
      rows.push({
        key: `up.${m}.${size}`,
        label: `Blob upload, ${label}, ${fmtSize(size)}`,
        unit: 'MB/s',
        better: 'higher',
        // The streamed row is not among the issue's rows: it shows what podman, buildah and docker get for a layer they compress on the way.
        ...(m === 'streamed' ? {} : { target: { ratio: 3 } }),
        desc:
          m === 'mono'
            ? `POST /v2/<name>/blobs/uploads/ then one PUT ?digest= streaming the whole ${fmtSize(size)} body; digest computed beforehand (untimed).`
            : m === 'single'
              ? `One POST /v2/<name>/blobs/uploads/?digest= carrying the whole ${fmtSize(size)} body. A registry that answers 202 (session opened, body ignored; optional in the spec) is measured with POST+PUT instead and the cell is marked *.`
              : m === 'chunked'
                ? `POST, then PATCH ${fmtSize(cfg.chunk)} chunks with Content-Range, then PUT ?digest= (digest computed beforehand, untimed, as for the other rows); ${fmtSize(size)} in total.`
                : `POST, then one PATCH streaming the whole ${fmtSize(size)} body with Transfer-Encoding: chunked (no Content-Length), then PUT ?digest=: how podman, buildah and docker push a layer they compress on the way (skopeo too when it cannot know the size). No target (not one of the issue's rows); Berth decodes such bodies from the socket natively (src/http/chunked-reads.ts), as it reads a body with a Content-Length.`,
      });
    }
  }
  rows.push(
    { key: 'down.full', label: `Blob download, GET ${fmtSize(largest)}`, unit: 'MB/s', better: 'higher', target: { ratio: 1 }, desc: `One GET of the ${fmtSize(largest)} blob by this Node.js client, body consumed and discarded; checks Content-Length and Docker-Content-Digest. The note gives the client's CPU time as a share of each GET's: near 100% the client is the bottleneck (on these VMs its receive copies into fresh pages cost 0.5-5 s of CPU per GiB, varying minute to minute, and the same client measured 216-1,642 MB/s from one Berth within a minute).` },
    {
      key: 'down.full.curl',
      label: `Blob download, GET ${fmtSize(largest)} (curl)`,
      unit: 'MB/s',
      better: 'higher',
      target: { ratio: 1 },
      desc: `The same GET by curl into /dev/null, three times (median): the same C client for both registries, so the figure is the server's rather than the Node.js client's. Distribution reads the file in 4 MiB pieces and writes them to the socket 32 KiB at a time (seen with strace); Berth's native helper copies ranges above 256 KiB through a 256 KiB buffer on a pool thread (read, then write) and sends smaller ones with sendfile(2). Only when curl is installed.`,
    },
    {
      key: 'down.cpu',
      label: `Blob download, registry CPU per GiB sent (curl GETs)`,
      unit: 's',
      better: 'lower',
      desc: `CPU time (user + system, all threads, from /proc/<pid>/stat) the registry used during each curl GET above, per GiB sent; median of three. The server's own cost of a download, whichever client is the bottleneck. /proc counts in 10 ms ticks: about 2% of the figure for 1 GiB, too coarse for BENCH_QUICK's small blob.`,
    },
    {
      key: 'down.range',
      label: `Blob download, ${fmtInt(cfg.ranges)} ranged GETs of ${fmtSize(cfg.rangeSize)} (c${cfg.rangeConc})`,
      unit: 'req/s',
      better: 'higher',
      target: { ratio: 1 },
      desc: `GET with Range: bytes=a-b at ${fmtInt(cfg.ranges)} pseudo-random offsets of the ${fmtSize(largest)} blob, ${cfg.rangeConc} in flight; expects 206 + Content-Range; the bytes of every 50th range (the first included) are compared with the generated data.`,
    },
  );
  for (const c of cfg.levels)
    rows.push({ key: `man.put.c${c}`, label: `Manifest PUT by tag, c${c}`, unit: 'req/s', better: 'higher', target: { ratio: 2 }, desc: `${fmtInt(cfg.manPuts)} PUT /v2/<name>/manifests/<tag> with ${c} in flight; each a distinct tag and a distinct OCI image manifest (an annotation differs) over one config + layer uploaded once; after an untimed warm-up (tags and manifests of their own) of ${c === cfg.levels[0] ? 'four times' : 'a tenth'} as many${c === cfg.levels[0] ? ' (the server takes thousands of requests to reach its pace)' : ''}.` });
  for (const c of cfg.levels)
    rows.push({ key: `man.get.c${c}`, label: `Manifest GET by tag, c${c}`, unit: 'req/s', better: 'higher', target: { ratio: 5 }, desc: `${fmtInt(cfg.manGets)} GET /v2/<name>/manifests/<tag> with ${c} in flight, cycling over the pushed tags; each body is hashed and checked against Docker-Content-Digest; after an untimed warm-up of twice as many at the same concurrency (the client takes thousands of GETs to reach its pace).` });
  for (const c of WRK_LEVELS)
    rows.push({ key: `man.get.wrk.c${c}`, label: `Manifest GET by tag, c${c} (wrk)`, unit: 'req/s', better: 'higher', target: { ratio: 5 }, desc: `wrk (one thread, ${c} connections, 5 s) GETs one tag's manifest; the same C client for both registries, so the figure is the server's rather than the Node.js client's. Only when wrk is installed (Debian package wrk).` });
  rows.push(
    { key: 'img.push.cold', label: `Push ${cfg.images} small images, first batch (${cfg.imgWorkers} workers)`, unit: 'images/s', better: 'higher', target: null, desc: `The workload's first ${cfg.images} images, as the rows below, into repositories of their own: what the registry does before it has warmed up (the first of ${IMAGE_WARMUP_BATCHES} untimed batches). Reported, not a target.` },
    { key: 'img.push', label: `Push ${cfg.images} small images (${cfg.imgWorkers} workers)`, unit: 'images/s', better: 'higher', target: { ratio: 2 }, desc: `${cfg.images} images, each in its own repository: a 1-100 KiB random layer + config (HEAD, then POST+PUT each) + manifest PUT; ${cfg.imgWorkers} images in flight. After ${IMAGE_WARMUP_BATCHES} untimed batches (the first is the row above), ${IMAGE_BATCHES} timed batches of ${cfg.images}, each into repositories of its own; the median batch (the registry takes some hundreds of pushes to reach its pace).` },
    { key: 'img.pull', label: `Pull ${cfg.images} small images (${cfg.imgWorkers} workers)`, unit: 'images/s', better: 'higher', target: { ratio: 2 }, desc: `Manifest GET then GET of config and layer, every digest verified; ${cfg.imgWorkers} images in flight. The ${IMAGE_WARMUP_BATCHES} untimed batches pulled first, then the ${IMAGE_BATCHES} timed ones; the median batch.` },
    { key: 'tags.push', label: `Push ${fmtInt(cfg.tags)} tags (c${cfg.tagConc})`, unit: 's', better: 'lower', target: { ratio: 2 }, desc: `${fmtInt(cfg.tags)} manifest PUTs by tag (tag-0 … tag-${cfg.tags - 1}, distinct manifests) into one repository, ${cfg.tagConc} in flight; wall time.` },
    { key: 'tags.list', label: `List ${fmtInt(cfg.tags)} tags (n=${cfg.tagPage})`, unit: 's', better: 'lower', target: { checks: true }, desc: `GET /tags/list?n=${cfg.tagPage} following Link rel="next"; wall time. "fail" when the listing is incomplete, not sorted lexically, or ignores n (see checks).` },
    { key: 'cat.push', label: `Create ${fmtInt(cfg.repos)} repositories (c${cfg.repoConc})`, unit: 's', better: 'lower', target: null, desc: `${fmtInt(cfg.repos)} repositories bench/cat/r-<i>: cross-repository mount of layer and config (POST ?mount=&from=, falling back to an upload) + one manifest PUT each; ${cfg.repoConc} in flight.` },
    { key: 'cat.list', label: `List catalog (n=${cfg.catPage})`, unit: 's', better: 'lower', target: { checks: true }, desc: `GET /v2/_catalog?n=${cfg.catPage} following Link; "fail" when a created repository is missing, the list is not sorted, or n is ignored.` },
    { key: 'rss.idle', label: 'Registry RSS before the blob transfers', unit: 'MB', better: 'lower', target: null, desc: 'VmRSS of the registry process (and its process group) before the upload workload, after the protocol checks.' },
    { key: 'rss.up', label: `Registry RSS peak, ${fmtSize(largest)} uploads`, unit: 'MB', better: 'lower', target: { maxBerth: 150 }, desc: `Peak VmRSS (from /proc/<pid>/status, every 100 ms) over the three ${fmtSize(largest)} uploads.` },
    { key: 'rss.down', label: `Registry RSS peak, ${fmtSize(largest)} download`, unit: 'MB', better: 'lower', target: { maxBerth: 150 }, desc: `Peak VmRSS during the ${fmtSize(largest)} GET.` },
  );
  return rows;
}

const LIST_CHECKS = { 'tags.list': 'tags/list', 'cat.list': '_catalog' };

/** Compute cells for every row. results: { berth?: Ctx, distribution?: Ctx } */
export function tabulate(rows, runs) {
  return rows.map((row) => {
    const cell = (side) => {
      const ctx = runs[side];
      if (!ctx) return { text: '—', value: null };
      const r = ctx.results.get(row.key);
      if (!r) return { text: 'not run', value: null };
      if (r.value == null) return { text: r.error === 'fail' ? 'fail' : 'error', value: null, note: r.note, error: r.error };
      return { text: fmtNum(r.value) + (r.note?.startsWith('fallback') ? '*' : ''), value: r.value, note: r.note };
    };
    const b = cell('berth');
    const d = cell('distribution');
    let ratio = null;
    if (b.value != null && d.value != null && b.value > 0 && d.value > 0) ratio = row.better === 'higher' ? b.value / d.value : d.value / b.value;
    let target = '';
    let met = 'n/a';
    const t = row.target;
    const berthRan = runs.berth && b.text !== 'not run';
    if (t?.ratio != null) {
      target = `>= ${t.ratio}x`;
      if (ratio != null) met = ratio >= t.ratio ? 'met' : 'not met';
      else if (berthRan && b.value == null) met = 'not met';
    } else if (t?.maxBerth != null) {
      target = `Berth < ${t.maxBerth} MB`;
      if (b.value != null) met = b.value < t.maxBerth ? 'met' : 'not met';
      else if (berthRan) met = 'not met';
    } else if (t?.checks) {
      target = 'complete, sorted, n honoured';
      if (berthRan) {
        const name = LIST_CHECKS[row.key];
        const cs = runs.berth.reg.checks.all().filter((c) => c.name.startsWith(name + ' '));
        met = b.value != null && cs.length && cs.every((c) => c.pass) ? 'met' : 'not met';
      }
    }
    return { row, b, d, ratio: ratio == null ? '—' : ratio.toFixed(2) + 'x', target, met };
  });
}

export function textTable(cells) {
  const head = ['Figure', 'Unit', 'Berth', 'Distribution', 'Berth/Dist', 'Target', 'Met'];
  const body = cells.map((c) => [c.row.label, c.row.unit, c.b.text, c.d.text, c.ratio, c.target, c.met]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r) => r.map((x, i) => (i >= 2 && i <= 4 ? x.padStart(w[i]) : x.padEnd(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)].join('\n');
}

function mdEscape(s) {
  return String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdown({ cells, runs, cfg, machine, command, startedAt, durationS, notes }) {
  const out = [];
  const sides = ['berth', 'distribution'].filter((s) => runs[s]);
  out.push('# Benchmarks: Berth vs CNCF Distribution');
  out.push('');
  out.push(`Generated by \`bench/run.mjs\` on ${startedAt.toISOString()} (run took ${Math.round(durationS)} s).`);
  out.push('');
  out.push(`Command: \`${command}\``);
  out.push('');
  if (cfg.quick) out.push('> **BENCH_QUICK=1 smoke run: sizes and counts are shrunk; the figures are not representative.**\n');
  if (sides.length < 2) out.push(`> Only ${sides.join(', ')} was run (BENCH_ONLY): no ratios and no met/not met for ratio targets.\n`);
  out.push('## Machine');
  out.push('');
  out.push(`- CPUs (nproc): ${machine.nproc} × ${machine.cpu}`);
  out.push(`- Memory: ${machine.memGiB} GiB`);
  out.push(`- Node.js: ${machine.node} (${machine.platform})`);
  out.push(`- Berth: commit ${machine.berthCommit}`);
  out.push(`- Distribution: ${machine.distribution}`);
  out.push(`- Load average (1/5/15 min): ${machine.loadStart} at start, ${machine.loadEnd} at end (the machine is shared; a high load makes every figure lower and noisier)`);
  const disk = machine.diskSyncedWrites ?? [];
  if (disk.length) {
    const lo = Math.min(...disk).toFixed(0);
    const hi = Math.max(...disk).toFixed(0);
    out.push(`- Disk, synced writes through the page cache: ${lo === hi ? lo : `${lo}-${hi}`} MB/s (${fmtSize(Math.max(...cfg.sizes))} written in 1 MiB writes and fdatasync'ed by the benchmark itself, before each of the ${disk.length} upload turns): the most an upload written that way can reach when it is synced before it is acknowledged, as Distribution does (it fsyncs the upload's data file before renaming it into place).`);
  }
  const direct = machine.diskDirectWrites ?? [];
  if (direct.length) {
    const lo = Math.min(...direct).toFixed(0);
    const hi = Math.max(...direct).toFixed(0);
    out.push(`- Disk, O_DIRECT writes: ${lo === hi ? lo : `${lo}-${hi}`} MB/s (the same size in 4 MiB writes, one at a time, from a page-aligned buffer, then fdatasync; measured right after the other): how Berth writes upload bodies of 4 MiB or more (then it syncs the file and its directory around the rename). On these VMs a buffered write's cost is mostly the kernel's copy into fresh page-cache pages, slow in some minutes (likely when the host has taken the guest's free memory back).`);
  }
  out.push('');
  out.push('## Results');
  out.push('');
  out.push('Both registries run on 127.0.0.1 in the same run, started side by side; each workload runs against one registry and then the other (alternating which goes first), never both at once, and the machine\'s dirty pages are written back (`sync`, untimed) before each turn. Both use filesystem storage in a temporary directory; the client is this Node.js process (raw `node:http`, one keep-alive Agent), sharing the machine\'s cores with the registry under test. Blob uploads run once in each order (each turn after an untimed 64 MiB POST+PUT), downloads twice in each (A B B A B A A B; means reported); in each turn the 1 GiB download is fetched once untimed (into the page cache), then three times (median reported). The manifest PUTs and GETs also run once in each order (A B B A; means reported, each turn with its own warm-up, tags and manifests). MB = 10^6 bytes.');
  out.push('');
  out.push('**Berth/Dist > 1 always means Berth is better**: for rates (MB/s, req/s, images/s) it is Berth ÷ Distribution; for times (s) and memory (MB) it is inverted, Distribution ÷ Berth.');
  out.push('');
  out.push('| Figure | Unit | Berth | Distribution | Berth/Dist | Target | Met |');
  out.push('| --- | --- | ---: | ---: | ---: | --- | --- |');
  for (const c of cells) out.push(`| ${mdEscape(c.row.label)} | ${c.row.unit} | ${mdEscape(c.b.text)} | ${mdEscape(c.d.text)} | ${c.ratio} | ${mdEscape(c.target)} | ${c.met} |`);
  out.push('');
  out.push('`*` = the registry does not support single-request `POST ?digest=` (it answered 202 and ignored the body, which the spec allows), so POST+PUT was measured instead. `fail` = the operation completed but its result was wrong (see the checks below); `error` = the operation failed (see Failures).');
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(`- Blob upload (all rows): Berth ≥ 3× Distribution.${(machine.diskDirectWrites ?? []).length ? ' Berth\'s rate is bounded by the disk\'s O_DIRECT write rate and by the CPU the two share (Machine, above).' : ''}`);
  out.push('- Blob download (full and ranged): Berth ≥ 1× Distribution.');
  out.push('- Manifest GET: ≥ 5×. Manifest PUT, small-image push, small-image pull, 10,000-tag push: ≥ 2×.');
  out.push(`- Berth resident memory < 150 MB during the ${fmtSize(Math.max(...cfg.sizes))} transfers.`);
  out.push('- Tag and catalog listings: complete, sorted lexically, `n` honoured (no ratio target).');
  out.push('');
  out.push('## What each row measures');
  out.push('');
  for (const c of cells) out.push(`- **${mdEscape(c.row.label)}** (${c.row.unit}): ${c.row.desc}`);
  out.push('');
  out.push('## Protocol checks');
  out.push('');
  const names = [];
  for (const s of sides) for (const c of runs[s].reg.checks.all()) if (!names.includes(c.name)) names.push(c.name);
  out.push(`| Check | ${sides.map((s) => (s === 'berth' ? 'Berth' : 'Distribution')).join(' | ')} |`);
  out.push(`| --- | ${sides.map(() => '---').join(' | ')} |`);
  for (const n of names) {
    const cols = sides.map((s) => {
      const c = runs[s].reg.checks.get(n);
      return c ? (c.pass ? 'pass' : 'FAIL') : '—';
    });
    out.push(`| ${mdEscape(n)} | ${cols.join(' | ')} |`);
  }
  out.push('');
  const labels = new Map(cells.map((c) => [c.row.key, c.row.label]));
  const failures = [];
  for (const s of sides) {
    for (const c of runs[s].reg.checks.all()) if (!c.pass) failures.push(`- ${s}: check "${c.name}" failed ${c.failures}/${c.evaluations}: \`${mdEscape(c.detail)}\``);
    for (const [k, r] of runs[s].results) if (r.value == null) failures.push(`- ${s}: ${mdEscape(labels.get(k) ?? k)}: ${mdEscape(r.error)}${r.note ? ' (' + mdEscape(r.note) + ')' : ''}`);
  }
  for (const s of sides)
    for (const [k, r] of runs[s].results) if (r.value != null && r.note && !r.note.startsWith('fallback')) failures.push(`- ${s}: ${mdEscape(labels.get(k) ?? k)}: ${mdEscape(r.note)}`);
  for (const n of notes) failures.push(`- ${n}`);
  if (failures.length) {
    out.push('## Failures and notes');
    out.push('');
    out.push(...failures);
    out.push('');
  }
  out.push('## Setup');
  out.push('');
  out.push('- Berth: `node bin/berth.js serve --listen 127.0.0.1:<port> --data-dir <tmp>` (after `npm run build`), ready when `GET /healthz` answers 200.');
  out.push('- Distribution: `/usr/bin/docker-registry serve <config.yml>`, ready when `GET /v2/` answers 200, with:');
  out.push('');
  out.push('```yaml');
  out.push('version: 0.1');
  out.push('log: {level: warn, accesslog: {disabled: true}}');
  out.push('storage: {filesystem: {rootdirectory: <tmp>}, delete: {enabled: true}}');
  out.push('http: {addr: 127.0.0.1:<port>}');
  out.push('```');
  out.push('');
  out.push('- Blob content is pseudo-random and generated while streaming (a 4 MiB AES-CTR buffer repeated with a per-chunk 32-byte prefix derived from a seed), so no blob is ever held in memory by the client.');
  out.push('- `BENCH_QUICK=1` shrinks every size and count for a smoke run; `BENCH_ONLY=berth|distribution` runs one side; `BENCH_WORKLOADS=uploads,downloads,…` runs a subset (protocol, uploads, downloads, manifests, images, tags, catalog); `BENCH_BERTH_ARGS` passes extra flags to `berth serve`; `BENCH_DIR` sets where the temporary data directories go; `BENCH_TIMEOUT` (seconds, default 300) bounds each measured step.');
  out.push('');
  return out.join('\n');
}
