import { Type, type Static } from '@sinclair/typebox';

const Strict = { additionalProperties: false } as const;

/**
 * The whole configuration. Defaults live here; unknown keys are refused everywhere.
 * `berth config schema` prints it as JSON Schema.
 */
export const ConfigSchema = Type.Object(
  {
    listen: Type.String({
      default: '127.0.0.1:5000',
      pattern: '^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]*):[0-9]{1,5}$',
      description: 'HOST:PORT to listen on',
    }),
    dataDir: Type.String({ default: './berth-data', minLength: 1, description: 'directory for the SQLite database and blobs' }),
    workers: Type.Integer({ default: 1, minimum: 1, maximum: 64, description: 'HTTP worker processes sharing the port' }),
    shutdownTimeoutSeconds: Type.Number({ default: 30, minimum: 0, description: 'how long in-flight requests may finish on SIGTERM' }),
    rootAccessKeyId: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{16,128}$', description: 'root access key id (BERTH_ROOT_ACCESS_KEY_ID); generated on first start when unset' })),
    rootSecretAccessKey: Type.Optional(Type.String({ minLength: 16, description: 'root secret access key (BERTH_ROOT_SECRET_ACCESS_KEY)' })),
    auth: Type.Object(
      {
        masterKey: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: 'base64 of 32 random bytes; encrypts stored secrets (all nodes need the same)' })),
        masterKeyFile: Type.Optional(Type.String({ minLength: 1, description: 'default: <dataDir>/master.key, created on first start' })),
        challenge: Type.Union([Type.Literal('basic'), Type.Literal('bearer')], {
          default: 'basic',
          description: 'the WWW-Authenticate scheme of a /v2/ 401 (basic, as ECR; bearer: the Docker token flow); both are always accepted',
        }),
        failedAuthFreePerMinute: Type.Integer({ default: 10, minimum: 0, description: 'authentication failures from one address per minute answered without delay' }),
        failedAuthMaxDelayMs: Type.Integer({ default: 5000, minimum: 0, description: 'the longest delay before answering a failure past that (it doubles from 100 ms)' }),
        oidcProviders: Type.Array(
          Type.Object(
            {
              issuer: Type.String({ pattern: '^https?://', description: 'the iss claim, e.g. https://token.actions.githubusercontent.com' }),
              jwksUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
              jwksFile: Type.Optional(Type.String({ minLength: 1 })),
              audiences: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'client ids the aud claim must name one of' })),
            },
            Strict,
          ),
          { default: [], description: 'OpenID Connect issuers trusted by AssumeRoleWithWebIdentity' },
        ),
      },
      { ...Strict, default: {} },
    ),
    log: Type.Object({ level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }) }, { ...Strict, default: {} }),
    storage: Type.Object(
      {
        driver: Type.Union([Type.Literal('fs'), Type.Literal('s3')], { default: 'fs' }),
        pricePerGbMonthUsd: Type.Number({ default: 0.1, minimum: 0, description: 'price of a GB-month (2^30 bytes) for cost estimates; ECR charges 0.10 USD' }),
        fs: Type.Object(
          {
            path: Type.Optional(Type.String({ minLength: 1, description: 'default: <dataDir>/blobs' })),
            directWrites: Type.Boolean({ default: true, description: 'write large upload bodies with O_DIRECT (past the page cache) where the filesystem allows it' }),
          },
          { ...Strict, default: {} },
        ),
        s3: Type.Optional(
          Type.Object(
            {
              bucket: Type.String({ minLength: 3 }),
              region: Type.String({ default: 'us-east-1' }),
              endpoint: Type.Optional(Type.String({ description: 'for S3-compatible servers; implies path-style addressing' })),
              accessKeyId: Type.Optional(Type.String()),
              secretAccessKey: Type.Optional(Type.String()),
              forcePathStyle: Type.Boolean({ default: false }),
              prefix: Type.String({ default: '', pattern: '^([A-Za-z0-9._-]+/)*$' }),
              partSizeMiB: Type.Integer({ default: 16, minimum: 5, maximum: 512 }),
            },
            Strict,
          ),
        ),
      },
      { ...Strict, default: {} },
    ),
    metadata: Type.Object(
      {
        driver: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], { default: 'sqlite' }),
        sqlite: Type.Object(
          {
            path: Type.Optional(Type.String({ minLength: 1, description: 'default: <dataDir>/berth.db' })),
            synchronous: Type.Union([Type.Literal('full'), Type.Literal('normal')], {
              default: 'full',
              description: 'full: every commit is on disk before it is acknowledged; normal: survives a crash of Berth, may lose the last commits on power loss',
            }),
          },
          { ...Strict, default: {} },
        ),
        postgres: Type.Optional(
          Type.Object(
            {
              url: Type.String({ minLength: 1 }),
              schema: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_]*$' })),
              poolSize: Type.Integer({ default: 10, minimum: 1, maximum: 200 }),
            },
            Strict,
          ),
        ),
      },
      { ...Strict, default: {} },
    ),
    uploads: Type.Object(
      {
        purgeAfterSeconds: Type.Integer({ default: 86_400, minimum: 60, description: 'idle upload sessions older than this are removed' }),
        purgeIntervalSeconds: Type.Integer({ default: 600, minimum: 1 }),
      },
      { ...Strict, default: {} },
    ),
    gc: Type.Object(
      {
        graceSeconds: Type.Integer({ default: 3600, minimum: 0, description: 'a blob unused for less than this is never reclaimed' }),
        intervalSeconds: Type.Integer({ default: 86_400, minimum: 1, description: 'how often garbage collection runs' }),
      },
      { ...Strict, default: {} },
    ),
    lifecycle: Type.Object(
      { intervalSeconds: Type.Integer({ default: 86_400, minimum: 1, description: 'how often lifecycle policies are applied' }) },
      { ...Strict, default: {} },
    ),
    audit: Type.Object(
      { retentionDays: Type.Integer({ default: 90, minimum: 1, description: 'audit events older than this are deleted (daily)' }) },
      { ...Strict, default: {} },
    ),
    scheduler: Type.Object(
      { tickSeconds: Type.Number({ default: 30, minimum: 0.1, description: 'how often a node checks for due scheduled work' }) },
      { ...Strict, default: {} },
    ),
    jobs: Type.Object(
      {
        pollIntervalSeconds: Type.Number({ default: 1, minimum: 0.01, description: 'how often a node looks for queued jobs (and at once when a job finishes)' }),
        concurrency: Type.Integer({ default: 2, minimum: 1, maximum: 256, description: 'jobs one node runs at the same time' }),
        leaseSeconds: Type.Number({ default: 60, minimum: 1, description: 'a job whose node stops renewing its lease for this long runs again elsewhere' }),
        retryBaseSeconds: Type.Number({ default: 10, minimum: 0, description: 'delay before the second attempt of a failed job; doubles with each attempt' }),
        retryMaxSeconds: Type.Number({ default: 3600, minimum: 0, description: 'longest delay between attempts' }),
        retentionSeconds: Type.Integer({ default: 7 * 86_400, minimum: 60, description: 'finished and failed jobs are deleted this long after they settle' }),
      },
      { ...Strict, default: {} },
    ),
    vulndb: Type.Object(
      {
        sources: Type.Array(Type.String({ pattern: '^(https?://|/)' }), {
          default: [],
          description: 'OSV exports imported on every scheduled update: http(s) URLs of zips (an ecosystem\'s all.zip), or absolute paths of zips or directories of OSV JSON',
        }),
        updateIntervalSeconds: Type.Integer({ default: 86_400, minimum: 60, description: 'how often the sources are imported again' }),
      },
      { ...Strict, default: {} },
    ),
    scanning: Type.Object(
      {
        rescanIntervalSeconds: Type.Integer({
          default: 86_400,
          minimum: 0,
          description: 'StartImageScan on an image whose scan completed less than this long ago answers LimitExceededException (ECR: one basic scan per image per 24 h)',
        }),
        rematchCheckSeconds: Type.Number({
          default: 60,
          minimum: 0.1,
          description: 'how often a node checks whether the vulnerability database changed since the indexed images were matched (then re-matches them)',
        }),
      },
      { ...Strict, default: {} },
    ),
    registry: Type.Object(
      {
        maxManifestBytes: Type.Integer({ default: 4 * 1024 * 1024, minimum: 1024, maximum: 64 * 1024 * 1024 }),
        maxPageSize: Type.Integer({ default: 10_000, minimum: 1, maximum: 100_000 }),
        pullRecordIntervalSeconds: Type.Integer({ default: 60, minimum: 0 }),
        createOnPush: Type.Boolean({ default: true, description: 'a push to a missing repository creates it' }),
        accountId: Type.Optional(Type.String({ pattern: '^[0-9]{12}$', description: 'the account id of this registry (default: generated once and stored)' })),
        region: Type.String({ default: 'us-east-1', pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]+$' }),
      },
      { ...Strict, default: {} },
    ),
  },
  Strict,
);

export type Config = Static<typeof ConfigSchema>;
