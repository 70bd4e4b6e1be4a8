/**
 * Manifests, tags and referrers. A manifest PUT is one transaction that checks every
 * referenced blob is linked to the repository and every child manifest is stored
 * there, inserts the manifest with its references and moves the tag; so a manifest
 * is never visible with missing content, and a failed PUT leaves nothing behind.
 */
import { BerthError } from '../../core/errors.js';
import { digestOf, isDigestString, parseDigest } from '../../core/digest.js';
import { parseManifest, type Descriptor } from '../../core/manifest.js';
import { MediaType } from '../../core/media-types.js';
import { validateRepositoryName, validateTag } from '../../core/names.js';
import { isTagImmutable } from '../../core/tag-mutability.js';
import type { RepositoryRow } from '../../metadata/types.js';
import type { RegistryContext } from './context.js';
import { pushTarget } from './push-target.js';
import type { PullRecorder } from './pull-recorder.js';

export interface PutManifestResult {
  digest: string;
  subject?: string;
}

/**
 * Called after a manifest PUT committed (scan on push uses it). `inserted` is false when the
 * repository already held the manifest (only a tag moved). Must not throw: the push succeeded.
 */
export type ManifestPutHook = (e: { repository: RepositoryRow; digest: string; inserted: boolean; kind: 'image' | 'index'; artifactType: string | null }) => Promise<void>;

export interface StoredManifest {
  digest: string;
  mediaType: string;
  size: number;
  content: Buffer;
}

type Reference = { tag: string; digest?: never } | { digest: string; tag?: never };

function parseReference(reference: string): Reference {
  if (isDigestString(reference)) return { digest: parseDigest(reference).value };
  return { tag: validateTag(reference) };
}

export class ManifestService {
  get maxBytes(): number {
    return this.ctx.settings.maxManifestBytes;
  }

  constructor(
    private readonly ctx: RegistryContext,
    private readonly pulls: PullRecorder,
    private readonly afterPut?: ManifestPutHook,
  ) {}

  /**
   * Stores a manifest and moves the tag. The tag-immutability rule lives here, so /v2/
   * and ECR's PutImage both obey it. `reference` is a tag or a digest; null stores the
   * manifest under its own sha256 digest. With `expectedDigest` (PutImage's imageDigest) the
   * body must have that digest whatever the reference. With `refuseUnchanged` (PutImage),
   * pushing the digest a tag already has is IMAGE_EXISTS, as in ECR.
   */
  async put(
    repository: string,
    reference: string | null,
    body: Buffer,
    contentType: string,
    o: { refuseUnchanged?: boolean; expectedDigest?: string } = {},
  ): Promise<PutManifestResult> {
    validateRepositoryName(repository);
    const ref = parseReference(reference ?? o.expectedDigest ?? digestOf(body));
    if (body.length > this.ctx.settings.maxManifestBytes) {
      throw new BerthError('TOO_LARGE', `manifest is larger than ${this.ctx.settings.maxManifestBytes} bytes`);
    }
    const parsed = parseManifest(body, contentType);
    const algorithm = ref.digest ? parseDigest(ref.digest).algorithm : 'sha256';
    const digest = digestOf(body, algorithm);
    if (ref.digest && ref.digest !== digest) {
      throw new BerthError('DIGEST_MISMATCH', `manifest digest ${digest} does not match ${ref.digest}`);
    }
    if (o.expectedDigest !== undefined) {
      const expected = parseDigest(o.expectedDigest);
      const actual = digestOf(body, expected.algorithm);
      if (actual !== expected.value) throw new BerthError('DIGEST_MISMATCH', `The digest of the manifest (${actual}) does not match the image digest ${expected.value}`);
    }
    const now = this.ctx.now();
    let pushed: { repository: RepositoryRow; inserted: boolean; kind: 'image' | 'index'; artifactType: string | null } | undefined;
    await this.ctx.meta.tx(async (tx) => {
      const repo = await pushTarget(tx, repository, now, this.ctx.settings.createOnPush);
      const linked = await tx.blobs.linkedAmong(repo.id, parsed.blobs.map((b) => b.digest));
      const missingBlobs = parsed.blobs.filter((b) => !linked.has(b.digest));
      if (missingBlobs.length > 0) {
        throw new BerthError('MANIFEST_BLOB_MISSING', `manifest references blobs unknown to ${repository}: ${list(missingBlobs)}`, {
          detail: { digests: missingBlobs.map((b) => b.digest) },
        });
      }
      const present = await tx.manifests.presentAmong(repo.id, parsed.manifests.map((m) => m.digest));
      const missingManifests = parsed.manifests.filter((m) => !present.has(m.digest));
      if (missingManifests.length > 0) {
        throw new BerthError('MANIFEST_CHILD_MISSING', `index references manifests unknown to ${repository}: ${list(missingManifests)}`, {
          detail: { digests: missingManifests.map((m) => m.digest) },
        });
      }
      const inserted = await tx.manifests.put(
        {
          repositoryId: repo.id,
          digest,
          mediaType: parsed.mediaType,
          size: body.length,
          artifactType: parsed.artifactType ?? null,
          subjectDigest: parsed.subject?.digest ?? null,
          annotations: parsed.annotations ?? null,
          pushedAt: now,
          lastPulledAt: null,
        },
        body,
        [
          ...parsed.blobs.map((b) => ({ digest: b.digest, kind: 'blob' as const })),
          ...parsed.manifests.map((m) => ({ digest: m.digest, kind: 'manifest' as const })),
        ],
      );
      pushed = { repository: repo, inserted, kind: parsed.kind, artifactType: parsed.artifactType ?? null };
      if (ref.tag !== undefined) {
        const current = await tx.tags.digestOf(repo.id, ref.tag);
        if (current === digest && o.refuseUnchanged) {
          throw new BerthError('IMAGE_EXISTS', `image with digest '${digest}' and tag '${ref.tag}' already exists in the repository with name '${repository}'`);
        }
        if (current !== null && current !== digest && isTagImmutable(repo.settings, ref.tag)) {
          throw new BerthError(
            'TAG_IMMUTABLE',
            `The image tag '${ref.tag}' already exists in the '${repository}' repository and cannot be overwritten because the tag is immutable.`,
          );
        }
        await tx.tags.set(repo.id, ref.tag, digest, now);
      } else if (o.refuseUnchanged && !inserted) {
        throw new BerthError('IMAGE_EXISTS', `image with digest '${digest}' already exists in the repository with name '${repository}'`);
      }
    });
    // After the commit, outside the transaction: one enqueue at most (scan on push).
    if (this.afterPut && pushed) await this.afterPut({ ...pushed, digest }).catch((err: unknown) => this.ctx.log.error({ err, digest }, 'manifest put hook failed'));
    return parsed.subject ? { digest, subject: parsed.subject.digest } : { digest };
  }

  /** A manifest by tag or digest. `pull` records the pull time (GET, not HEAD). */
  async get(repository: string, reference: string, o: { pull?: boolean } = {}): Promise<StoredManifest> {
    validateRepositoryName(repository);
    const ref = parseReference(reference);
    // One query on the hot path; the repository is looked up only to tell which error applies.
    const m = ref.tag !== undefined ? await this.ctx.meta.tags.resolveByName(repository, ref.tag) : await this.ctx.meta.manifests.getByName(repository, ref.digest);
    if (!m) {
      await this.repository(repository);
      throw new BerthError('MANIFEST_NOT_FOUND', `manifest ${reference} is unknown to repository ${repository}`);
    }
    if (o.pull) this.pulls.record(m);
    return { digest: m.digest, mediaType: m.mediaType, size: m.size, content: m.content };
  }

  /** Deletes a manifest by digest (with its tags), or only a tag. */
  async delete(repository: string, reference: string): Promise<void> {
    const repo = await this.repository(repository);
    const ref = parseReference(reference);
    if (ref.tag !== undefined) {
      if (!(await this.ctx.meta.tags.delete(repo.id, ref.tag))) {
        throw new BerthError('MANIFEST_NOT_FOUND', `tag ${ref.tag} is unknown to repository ${repository}`);
      }
      return;
    }
    const digest = ref.digest;
    await this.ctx.meta.tx(async (tx) => {
      const parents = await tx.manifests.parentsOf(repo.id, digest);
      if (parents.length > 0) {
        throw new BerthError('MANIFEST_REFERENCED', `manifest ${digest} is referenced by index ${parents.join(', ')}; delete the index first`, {
          detail: { parents },
        });
      }
      if (!(await tx.manifests.delete(repo.id, digest))) {
        throw new BerthError('MANIFEST_NOT_FOUND', `manifest ${digest} is unknown to repository ${repository}`);
      }
    });
  }

  async tags(repository: string, page: { n?: number; last?: string }): Promise<{ tags: string[]; more: boolean }> {
    const repo = await this.repository(repository);
    const limit = Math.min(page.n ?? this.ctx.settings.maxPageSize, this.ctx.settings.maxPageSize);
    if (limit <= 0) return { tags: [], more: false };
    const rows = await this.ctx.meta.tags.list(repo.id, { limit: limit + 1, ...(page.last !== undefined ? { last: page.last } : {}) });
    return { tags: rows.slice(0, limit), more: rows.length > limit };
  }

  /** The referrers index of `digest`, optionally filtered by artifact type. */
  async referrers(repository: string, digest: string, artifactType?: string): Promise<{ index: object; filtered: boolean }> {
    const repo = await this.repository(repository);
    parseDigest(digest);
    const rows = await this.ctx.meta.manifests.referrers(repo.id, digest, artifactType);
    const manifests: Descriptor[] = rows.map((r) => ({
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.size,
      ...(r.artifactType ? { artifactType: r.artifactType } : {}),
      ...(r.annotations ? { annotations: r.annotations } : {}),
    }));
    return { index: { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }, filtered: artifactType !== undefined };
  }

  async catalog(page: { n?: number; last?: string }): Promise<{ repositories: string[]; more: boolean }> {
    const limit = Math.min(page.n ?? this.ctx.settings.maxPageSize, this.ctx.settings.maxPageSize);
    if (limit <= 0) return { repositories: [], more: false };
    const rows = await this.ctx.meta.repositories.list({ limit: limit + 1, ...(page.last !== undefined ? { last: page.last } : {}) });
    return { repositories: rows.slice(0, limit), more: rows.length > limit };
  }

  private async repository(name: string): Promise<RepositoryRow> {
    validateRepositoryName(name);
    const repo = await this.ctx.meta.repositories.get(name);
    if (!repo) throw new BerthError('REPOSITORY_NOT_FOUND', `repository ${name} is not known`);
    return repo;
  }
}

function list(ds: Descriptor[]): string {
  const shown = ds.slice(0, 5).map((d) => d.digest).join(', ');
  return ds.length > 5 ? `${shown} and ${ds.length - 5} more` : shown;
}
