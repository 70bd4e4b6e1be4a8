/**
 * What every registry command shares: the global options, an ECR client for the running
 * Berth (credentials from the usual AWS sources, else a placeholder `berth`/`berth` pair),
 * the raw JSON of each response (for `--output json`), pagination, and error reporting
 * (`berth: <ErrorName>: <message>`, exit 1; usage errors exit 2).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
// Types only: the SDK is loaded when a registry command runs, so `berth serve` does not pay for it.
import type { ECRClient, ECRClientConfig } from '@aws-sdk/client-ecr';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:5000';
export const DEFAULT_REGION = 'us-east-1';
/**
 * Signs the requests when no AWS credentials are configured at all, so the server answers with
 * its own error (UnrecognizedClientException) rather than the SDK failing before sending anything.
 */
export const DEFAULT_CREDENTIALS = { accessKeyId: 'berth', secretAccessKey: 'berth' } as const;
/** Exit code of a usage error (bad option or argument). */
export const USAGE_EXIT_CODE = 2;

export type OutputFormat = 'table' | 'json';

export interface GlobalOptions {
  endpoint: string;
  output: OutputFormat;
  region?: string;
}

/** Adds --endpoint, --output and --region to a command. */
export function withGlobalOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--endpoint <url>', 'Berth endpoint').env('BERTH_ENDPOINT').default(DEFAULT_ENDPOINT))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .addOption(new Option('--region <region>', `region the requests are signed for (default: AWS_REGION or ${DEFAULT_REGION})`));
}

/** --page-size for the listing commands: maxResults of each request (ECR allows 1 to 1000). */
export function pageSizeOption(): Option {
  return new Option('--page-size <n>', 'results per request; all pages are fetched either way').argParser((value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('expected a whole number from 1 to 1000');
    return n;
  });
}

/**
 * A group of subcommands (`repos`, `images`): usage errors anywhere below it exit with
 * code 2 instead of commander's 1; help exits 0.
 */
export function commandGroup(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : USAGE_EXIT_CODE);
    });
}

/** A usage error found by a command itself (after commander's own checks). */
export function usageError(cmd: Command, message: string): never {
  cmd.error(`error: ${message}`, { exitCode: USAGE_EXIT_CODE, code: 'berth.usage' });
  throw new Error(message); // not reached: cmd.error exits
}

export function normalizeEndpoint(cmd: Command, value: string): string {
  const raw = value.trim() === '' ? DEFAULT_ENDPOINT : value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return usageError(cmd, `--endpoint ${value} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return usageError(cmd, `--endpoint ${value}: use http:// or https://`);
  return url.origin;
}

type CredentialProvider = Extract<NonNullable<ECRClientConfig['credentials']>, (...args: never[]) => unknown>;

const EXPLICIT_CREDENTIAL_VARS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
];

/**
 * The SDK's default chain (environment, shared config and credentials files, credential_process,
 * ...), falling back to the `berth`/`berth` pair when it finds nothing and nothing was asked for
 * explicitly. A profile or variable that is set but broken still fails, with the SDK's message.
 */
function credentialProvider(Client: typeof ECRClient, region: string, onFallback: () => void): CredentialProvider {
  const chain = new Client({ region }).config.credentials;
  const explicit = EXPLICIT_CREDENTIAL_VARS.some((v) => (process.env[v] ?? '') !== '');
  return async (options) => {
    try {
      return await chain(options);
    } catch (err) {
      if (explicit) throw err;
      onFallback();
      return { ...DEFAULT_CREDENTIALS };
    }
  };
}

async function readBody(body: unknown): Promise<Uint8Array | undefined> {
  if (body instanceof Uint8Array) return body;
  if (body !== null && typeof body === 'object' && Symbol.asyncIterator in body) {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks);
  }
  return undefined;
}

export type EcrSdk = typeof import('@aws-sdk/client-ecr');

export interface Session {
  /** the SDK module, loaded on first use */
  readonly sdk: EcrSdk;
  readonly ecr: ECRClient;
  readonly endpoint: string;
  readonly output: OutputFormat;
  /** true once a request was signed with DEFAULT_CREDENTIALS because none were configured */
  readonly usedDefaultCredentials: boolean;
  /** The JSON body of the last successful response (as the server sent it), then forgets it. */
  takeRaw(): Record<string, unknown>;
}

/** An ECR client for the command's --endpoint/--region, recording each response's raw JSON. */
export async function connect(cmd: Command): Promise<Session> {
  const opts = cmd.opts<GlobalOptions>();
  const endpoint = normalizeEndpoint(cmd, opts.endpoint);
  const region = opts.region || process.env['AWS_REGION'] || DEFAULT_REGION;
  // A CLI pointed at a Berth has no use for EC2 instance-role credentials (Berth cannot verify
  // them), and probing the metadata service costs a timeout off EC2. Set the variable to opt in.
  process.env['AWS_EC2_METADATA_DISABLED'] ??= 'true';
  // The SDK warns about Node 20 on every run; that is noise on a CLI's stderr.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

  const sdk: EcrSdk = await import('@aws-sdk/client-ecr');
  let usedDefaultCredentials = false;
  const credentials = credentialProvider(sdk.ECRClient, region, () => {
    usedDefaultCredentials = true;
  });
  const ecr = new sdk.ECRClient({ endpoint, region, credentials });
  let raw: Uint8Array | undefined;
  // Innermost deserialize middleware: sees the HTTP response before the SDK parses it, keeps
  // the bytes and hands them on (the deserializer accepts a Uint8Array body).
  ecr.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as { statusCode?: number; body?: unknown } | undefined;
      if (response && typeof response.statusCode === 'number' && response.statusCode >= 200 && response.statusCode < 300) {
        const bytes = await readBody(response.body);
        if (bytes !== undefined) {
          response.body = bytes;
          raw = bytes;
        }
      }
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'berthRawResponseBody' },
  );

  return {
    sdk,
    ecr,
    endpoint,
    output: opts.output,
    get usedDefaultCredentials() {
      return usedDefaultCredentials;
    },
    takeRaw() {
      const bytes = raw;
      raw = undefined;
      if (bytes === undefined || bytes.length === 0) return {};
      const parsed: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
      return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    },
  };
}

/**
 * Follows nextToken until the last page. Returns the SDK's pages and the raw responses merged
 * into one object: the first page's fields, `listKey` concatenated across pages, no nextToken.
 */
export async function paginate<P extends { nextToken?: string | undefined }>(
  session: Session,
  listKey: string,
  fetchPage: (nextToken: string | undefined) => Promise<P>,
): Promise<{ pages: P[]; raw: Record<string, unknown> }> {
  const pages: P[] = [];
  let merged: Record<string, unknown> | undefined;
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await fetchPage(token);
    const raw = session.takeRaw();
    pages.push(page);
    if (merged === undefined) {
      merged = { ...raw };
    } else {
      const before = Array.isArray(merged[listKey]) ? (merged[listKey] as unknown[]) : [];
      const more = Array.isArray(raw[listKey]) ? (raw[listKey] as unknown[]) : [];
      merged[listKey] = [...before, ...more];
    }
    token = page.nextToken;
    if (token !== undefined) {
      if (seen.has(token)) throw new Error(`the server returned the same nextToken twice (page ${pages.length})`);
      seen.add(token);
    }
  } while (token !== undefined && token !== '');
  const result = merged ?? {};
  delete result['nextToken'];
  return { pages, raw: result };
}

/** An error the service answered with (the SDK's ServiceException: `$fault` client or server). */
function isServiceError(err: unknown): err is Error {
  return err instanceof Error && '$fault' in err && '$metadata' in err;
}

/** `<ErrorName>: <message>` for an API error, a network failure or anything else. */
export function describeError(err: unknown, endpoint?: string): string {
  if (isServiceError(err)) return `${err.name}: ${err.message || '(no message)'}`;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    let message = err.message;
    if (!message && err instanceof AggregateError) message = err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ');
    const network = typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/.test(code);
    const hint = network && endpoint ? ` (is Berth running at ${endpoint}?)` : '';
    return `${err.name}: ${message || (typeof code === 'string' ? code : 'unknown error')}${hint}`;
  }
  return `Error: ${String(err)}`;
}

/**
 * Wraps a command's work: it gets its Session and returns the exit code. Every error is
 * printed as one line on stderr (never a stack trace) and exits 1.
 */
export function runWith(work: (session: Session, cmd: Command) => Promise<number>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const session = await connect(cmd);
    try {
      process.exitCode = await work(session, cmd);
    } catch (err) {
      process.stderr.write(`berth: ${describeError(err, session.endpoint)}\n`);
      if (session.usedDefaultCredentials && isServiceError(err) && err.name === 'UnrecognizedClientException') {
        process.stderr.write(
          'berth: no AWS credentials were found, so the request was signed with the placeholder key "berth"; ' +
            'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the root key is in <dataDir>/root-credentials) or AWS_PROFILE\n',
        );
      }
      process.exitCode = 1;
    } finally {
      session.ecr.destroy();
    }
  };
}
