/**
 * The composition root: it builds the stores from the configuration (stores.ts, the only
 * module that knows the drivers), the services over them, and the HTTP server over the services.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { directWriteStats } from '../blobstore/fs/direct-write.js';
import type { Config } from '../config/schema.js';
import { buildHttpServer } from '../http/server.js';
import { BlobService } from '../services/registry/blob-service.js';
import type { RegistryContext } from '../services/registry/context.js';
import { ManifestService } from '../services/registry/manifest-service.js';
import { PullRecorder } from '../services/registry/pull-recorder.js';
import { UploadService } from '../services/registry/upload-service.js';
import { randomInt } from 'node:crypto';
import { AccessService } from '../services/access/access-service.js';
import { ImageService } from '../services/registry/image-service.js';
import { RepositoryService } from '../services/repositories/repository-service.js';
import { TokenService } from '../services/tokens.js';
import { LifecycleService } from '../services/lifecycle/lifecycle-service.js';
import { CredentialStore } from '../services/access/credentials.js';
import { SecretBox } from '../services/access/secret-box.js';
import { loadMasterKey } from './master-key.js';
import { openBlobStore, openMetadataStore } from './stores.js';
import { GcService, type GcReport } from '../services/gc/gc-service.js';
import { Scheduler } from '../services/jobs/scheduler.js';
import type { MetadataStore } from '../metadata/types.js';
import { CreationTemplates } from '../services/registry-config/creation-templates.js';
import { RegistryConfig } from '../services/registry-config/registry-config.js';
import { Authenticator } from '../services/identity/authenticator.js';
import { AuditTrail } from '../services/audit/audit-trail.js';
import { AuthThrottle } from '../http/auth-throttle.js';
import { OidcVerifier } from '../services/identity/oidc.js';
import { IdentityService } from '../services/identity/identity-service.js';
import { StsService } from '../services/identity/sts-service.js';
import { JobRunner } from '../services/jobs/queue/job-runner.js';
import { REMATCH_JOB, SCAN_JOB, ScanService } from '../services/scanning/scan-service.js';
import { VulnDbImporter } from '../services/vulndb/importer.js';

export interface App {
  http: FastifyInstance;
  auth: Authenticator;
  uploads: UploadService;
  gc: GcService;
  lifecycle: LifecycleService;
  scheduler: Scheduler;
  meta: MetadataStore;
  close(): Promise<void>;
}

export async function buildApp(config: Config, logger: Logger, o: { now?: () => number } = {}): Promise<App> {
  const meta = await openMetadataStore(config);
  const blobs = await openBlobStore(config);
  const clock = o.now ?? (() => Date.now());
  const tokens = new TokenService(meta.registry, clock);
  const ctx: RegistryContext = {
    meta,
    blobs,
    tokens,
    now: clock,
    log: logger,
    settings: {
      uploadPurgeAfterMs: config.uploads.purgeAfterSeconds * 1000,
      pullRecordIntervalMs: config.registry.pullRecordIntervalSeconds * 1000,
      maxManifestBytes: config.registry.maxManifestBytes,
      maxPageSize: config.registry.maxPageSize,
      createOnPush: config.registry.createOnPush,
    },
  };
  const now = ctx.now;
  const accountId = config.registry.accountId ?? (await meta.registry.putIfAbsent('account-id', generateAccountId()));
  mkdirSync(resolve(config.dataDir), { recursive: true });
  const box = new SecretBox(loadMasterKey(config));
  const credentials = new CredentialStore(meta.registry, box, accountId);
  const generated = await credentials.init(
    { ...(config.rootAccessKeyId ? { accessKeyId: config.rootAccessKeyId } : {}), ...(config.rootSecretAccessKey ? { secretAccessKey: config.rootSecretAccessKey } : {}) },
    resolve(config.dataDir, 'root-credentials'),
  );
  if (generated) {
    // Shown once, on the terminal only (never through the JSON log).
    process.stderr.write(
      `\nBerth generated the root access key of account ${accountId}:\n  AWS_ACCESS_KEY_ID=${generated.accessKeyId}\n  AWS_SECRET_ACCESS_KEY=${generated.secretAccessKey}\n` +
        `It is also in ${generated.file ?? '(not written)'} (readable only by you). It is not shown again.\n\n`,
    );
  }
  const uploads = new UploadService(ctx);
  const blobService = new BlobService(ctx);
  // Scan on push: the hook runs after the push committed (scanning is built below).
  const pulls = new PullRecorder(meta, ctx.now, ctx.settings.pullRecordIntervalMs, logger);
  const manifests = new ManifestService(ctx, pulls, (e) => scanning.afterPush(e));
  const access = new AccessService(accountId, config.registry.region, { identity: meta.identity, repositories: meta.repositories, registry: meta.registry, now });
  const auth = new Authenticator(meta.identity, credentials, box, tokens, accountId, now);
  const audit = new AuditTrail(meta, { id: accountId, region: config.registry.region }, now, logger);
  const throttle = new AuthThrottle(now, config.auth.failedAuthFreePerMinute, config.auth.failedAuthMaxDelayMs);
  const oidc = new OidcVerifier(
    config.auth.oidcProviders.map((p) => ({ issuer: p.issuer, ...(p.jwksUrl ? { jwksUrl: p.jwksUrl } : {}), ...(p.jwksFile ? { jwksFile: p.jwksFile } : {}), ...(p.audiences ? { audiences: p.audiences } : {}) })),
    accountId,
    now,
  );
  const repositories = new RepositoryService(meta, now, config.storage.pricePerGbMonthUsd);
  const images = new ImageService(meta, pulls);
  const lifecycle = new LifecycleService(meta, repositories, images, now);
  const gc = new GcService(meta, blobs, now, logger);
  const registryConfig = new RegistryConfig(meta.registry, accountId);
  const scanning = new ScanService(meta, registryConfig, blobs, {
    now,
    log: logger,
    rescanIntervalMs: config.scanning.rescanIntervalSeconds * 1000,
    tool: { name: 'berth', version: BERTH_VERSION },
  });
  const jobs = new JobRunner(meta.jobs, {
    pollMs: config.jobs.pollIntervalSeconds * 1000,
    concurrency: config.jobs.concurrency,
    leaseMs: config.jobs.leaseSeconds * 1000,
    backoff: { baseMs: config.jobs.retryBaseSeconds * 1000, maxMs: config.jobs.retryMaxSeconds * 1000 },
    retentionMs: config.jobs.retentionSeconds * 1000,
    now,
    log: logger,
  })
    .register(SCAN_JOB, (job, { signal }) => scanning.runScanJob(job, signal))
    .register(REMATCH_JOB, (job, { signal }) => scanning.runRematchJob(job, signal));
  const vulndbUpdate = config.vulndb.sources.length > 0
    ? [{
        name: 'vulndb-update',
        intervalMs: config.vulndb.updateIntervalSeconds * 1000,
        run: async () => {
          const results = await new VulnDbImporter(meta, { now }).update(config.vulndb.sources);
          await scanning.enqueueRematch();
          return results.map((r) => ('error' in r ? r : { source: r.source, generation: r.summary.generation, imported: r.summary.imported, updated: r.summary.updated }));
        },
      }]
    : [];
  const scheduler = new Scheduler(
    meta.schedules,
    [
      { name: 'gc', intervalMs: config.gc.intervalSeconds * 1000, run: async () => summarize(await gc.run({ graceMs: config.gc.graceSeconds * 1000 })) },
      { name: 'lifecycle', intervalMs: config.lifecycle.intervalSeconds * 1000, run: () => lifecycle.applyAll() },
      { name: 'upload-purge', intervalMs: config.uploads.purgeIntervalSeconds * 1000, run: async () => ({ purged: await uploads.purgeStale() }) },
      { name: 'audit-purge', intervalMs: 86_400_000, run: async () => ({ purged: await purgeAudit(meta, now() - config.audit.retentionDays * 86_400_000) }) },
      ...vulndbUpdate,
    ],
    now,
    logger,
  );
  const http = buildHttpServer({
    logger,
    directWrittenBytes: () => directWriteStats.bytes,
    holdChunkedUploads: config.storage.driver === 'fs' && config.storage.fs.directWrites,
    services: { uploads, blobs: blobService, manifests, access, auth, throttle, audit, challenge: config.auth.challenge },
    query: {
      auth,
      access,
      iam: new IdentityService(meta.identity, box, now),
      sts: new StsService(meta.identity, auth, access, oidc, accountId, now),
      audit,
      throttle,
      accountId,
      now,
    },
    ecr: {
      repositories,
      images,
      lifecycle,
      manifests,
      uploads,
      blobs: blobService,
      tokens,
      access,
      auth,
      audit,
      throttle,
      templates: new CreationTemplates(meta.registry, now),
      registryConfig,
      scanning,
      account: { id: accountId, region: config.registry.region },
      now,
    },
    health: () => meta.ping(),
    usage: async () => {
      // The 1,000 first repositories by name: enough for a dashboard, bounded for a scrape.
      const rows = await meta.repositories.listRows({ limit: 1000 });
      const usage = await repositories.usage(rows);
      return rows.map((r) => ({ name: r.name, ...usage.get(r.name)! }));
    },
  });
  // Background jobs (scans, re-matches) and the re-match check start with the listener, so an
  // app built only to serve injected requests (tests) runs none.
  let rematchCheck: NodeJS.Timeout | undefined;
  http.addHook('onListen', async () => {
    jobs.start();
    rematchCheck = setInterval(() => {
      scanning.checkRematch().catch((err: unknown) => logger.warn({ err }, 'the re-match check failed'));
    }, config.scanning.rematchCheckSeconds * 1000);
    rematchCheck.unref();
  });
  return {
    http,
    auth,
    uploads,
    gc,
    lifecycle,
    scheduler,
    meta,
    async close() {
      await scheduler.stop();
      clearInterval(rematchCheck);
      await http.close();
      await jobs.stop(config.shutdownTimeoutSeconds * 1000);
      await pulls.flush();
      await audit.flush();
      await blobs.close();
      await meta.close();
    },
  };
}

/** The version of this build, as package.json says. */
const BERTH_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Deletes audit events older than `before`, 10,000 at a time. */
async function purgeAudit(meta: MetadataStore, before: number): Promise<number> {
  let total = 0;
  for (let n = await meta.audit.purgeBefore(before, 10_000); n > 0; n = await meta.audit.purgeBefore(before, 10_000)) total += n;
  return total;
}

/** A 12-digit account id for a registry that was not given one. */
function generateAccountId(): string {
  return String(randomInt(1, 10)) + Array.from({ length: 11 }, () => String(randomInt(0, 10))).join('');
}

function summarize(r: GcReport): Omit<GcReport, 'digests'> {
  const { digests: _omit, ...rest } = r;
  return rest;
}
