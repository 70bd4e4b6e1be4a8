/**
 * `berth sbom IMAGE [--format cyclonedx|spdx] [--attach]`: the image's package inventory as
 * CycloneDX 1.5 or SPDX 2.3 JSON, from the server's `/berth/sbom` extension with the registry
 * login (GetAuthorizationToken, as docker logs in). A never-scanned image is scanned first.
 *
 * `--attach` pushes the SBOM back as an OCI referrer of the image, through /v2/ with the same
 * login, the way oras or cosign attach artifacts: the SBOM as one blob, the empty config, and
 * a manifest with `artifactType` (application/vnd.cyclonedx+json or application/spdx+json)
 * and `subject` = the image. It is then listed by the referrers API (and ListImageReferrers).
 * The client does this rather than the server so that the push is the user's own, authorized
 * and audited as a PutImage like any other.
 */
import { createHash } from 'node:crypto';
import { Command, Option } from 'commander';
import { USAGE_EXIT_CODE, runWith, withGlobalOptions, type Session } from './client.js';
import { printJson } from './format.js';
import { parseImage, scanAndWait } from './scan.js';

const MEDIA_TYPES = { cyclonedx: 'application/vnd.cyclonedx+json', spdx: 'application/spdx+json' } as const;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
const MANIFEST_ACCEPT = [
  OCI_MANIFEST,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function login(session: Session): Promise<string> {
  const out = await session.ecr.send(new session.sdk.GetAuthorizationTokenCommand({}));
  const token = out.authorizationData?.[0]?.authorizationToken;
  if (!token) throw new Error('GetAuthorizationToken returned no token');
  return `Basic ${token}`;
}

/** An error answer of the server as `<Name>: <message>`, with the name as the error's name. */
async function failure(res: Response, what: string): Promise<Error> {
  const text = await res.text();
  let name = `HTTP${res.status}`;
  let message = text.slice(0, 500);
  try {
    const body = JSON.parse(text) as { __type?: string; message?: string; errors?: { code: string; message: string }[] };
    name = body.__type ?? body.errors?.[0]?.code ?? name;
    message = body.message ?? body.errors?.[0]?.message ?? message;
  } catch {
    // not JSON: keep the text
  }
  const err = new Error(`${what}: ${message}`);
  err.name = name;
  return err;
}

async function fetchSbom(session: Session, auth: string, repositoryName: string, imageId: { imageDigest?: string | undefined; imageTag?: string | undefined }, format: string): Promise<Response> {
  const q = new URLSearchParams({ repositoryName, format, ...(imageId.imageDigest ? { imageDigest: imageId.imageDigest } : {}), ...(imageId.imageTag ? { imageTag: imageId.imageTag } : {}) });
  return fetch(`${session.endpoint}/berth/sbom?${q.toString()}`, { headers: { authorization: auth } });
}

/** Pushes the SBOM as a referrer artifact of `subject`; returns the artifact manifest's digest. */
async function attach(session: Session, auth: string, repository: string, subjectDigest: string, artifactType: string, body: Buffer, title: string): Promise<string> {
  const v2 = `${session.endpoint}/v2/${repository}`;
  const head = await fetch(`${v2}/manifests/${subjectDigest}`, { method: 'HEAD', headers: { authorization: auth, accept: MANIFEST_ACCEPT } });
  if (!head.ok) throw await failure(head, `HEAD ${repository}@${subjectDigest}`);
  const subject = { mediaType: (head.headers.get('content-type') ?? OCI_MANIFEST).split(';')[0]!.trim(), digest: subjectDigest, size: Number(head.headers.get('content-length') ?? 0) };
  for (const blob of [Buffer.from('{}'), body]) {
    const put = await fetch(`${v2}/blobs/uploads/?digest=${encodeURIComponent(sha256(blob))}`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/octet-stream', 'content-length': String(blob.length) },
      body: new Uint8Array(blob),
    });
    if (put.status !== 201) throw await failure(put, `upload of ${sha256(blob)}`);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: EMPTY,
      layers: [{ mediaType: artifactType, digest: sha256(body), size: body.length, annotations: { 'org.opencontainers.image.title': title } }],
      subject,
      annotations: { 'org.opencontainers.image.created': new Date().toISOString() },
    }),
  );
  const digest = sha256(manifest);
  const res = await fetch(`${v2}/manifests/${digest}`, { method: 'PUT', headers: { authorization: auth, 'content-type': OCI_MANIFEST }, body: new Uint8Array(manifest) });
  if (res.status !== 201) throw await failure(res, 'manifest PUT');
  return digest;
}

export function sbomCommand(): Command {
  const cmd = new Command('sbom')
    .description('print the SBOM of an image (CycloneDX 1.5 or SPDX 2.3 JSON), or attach it to the image as an OCI referrer')
    .argument('<image>', 'REPOSITORY[:TAG] or REPOSITORY@DIGEST')
    .addOption(new Option('-f, --format <format>', 'SBOM format').choices(['cyclonedx', 'spdx']).default('cyclonedx'))
    .option('--attach', 'push the SBOM to the registry as a referrer of the image instead of printing it')
    .option('--timeout <seconds>', 'how long to wait when the image has to be scanned first', '600');
  withGlobalOptions(cmd);
  // A top-level command: usage errors exit 2 like those of the command groups.
  cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : USAGE_EXIT_CODE));
  return cmd.action(
    runWith(async (session, c) => {
      const opts = c.opts<{ format: 'cyclonedx' | 'spdx'; attach?: boolean; timeout: string }>();
      const target = parseImage(c, c.args[0] as string);
      const auth = await login(session);
      let res = await fetchSbom(session, auth, target.repositoryName, target.imageId, opts.format);
      if (res.status === 404 && res.headers.get('x-amzn-errortype') === 'ScanNotFoundException') {
        await res.body?.cancel();
        await scanAndWait(session, target, { timeoutMs: Number(opts.timeout) * 1000 });
        res = await fetchSbom(session, auth, target.repositoryName, target.imageId, opts.format);
      }
      if (!res.ok) throw await failure(res, `SBOM of ${c.args[0] as string}`);
      const body = Buffer.from(await res.arrayBuffer());
      const subjectDigest = res.headers.get('docker-content-digest') ?? '';
      if (!opts.attach) {
        process.stdout.write(`${JSON.stringify(JSON.parse(body.toString('utf8')), null, 2)}\n`);
        return 0;
      }
      const artifactType = MEDIA_TYPES[opts.format];
      const digest = await attach(session, auth, target.repositoryName, subjectDigest, artifactType, body, `sbom.${opts.format}.json`);
      const result = { repositoryName: target.repositoryName, subjectDigest, artifactType, digest, size: body.length };
      if (session.output === 'json') printJson(result);
      else process.stdout.write(`Attached ${artifactType} (${body.length} bytes) to ${target.repositoryName}@${subjectDigest} as ${digest}\n`);
      return 0;
    }),
  );
}
