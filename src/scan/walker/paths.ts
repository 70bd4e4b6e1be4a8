/**
 * Tar entry names as paths inside the image. Names are resolved the way a container runtime unpacks them:
 * a leading `/` and `./` are dropped (the layer's root is the image's root), `.` parts vanish and `..` removes the
 * previous part. A name whose `..` would climb above the root is refused rather than clamped: no honest layer
 * writes one, so it is reported.
 */

/** `/a/b` for a safe name, or undefined when the name escapes the root, is empty or holds a NUL byte. */
export function normalizeEntryPath(name: string): string | undefined {
  if (name.includes('\0')) return undefined;
  const parts: string[] = [];
  for (const part of name.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.length === 0 ? '/' : `/${parts.join('/')}`;
}

/** Whether a symlink at `linkPath` pointing to `target` resolves outside the image root (relative `..` climbing out). */
export function symlinkEscapes(linkPath: string, target: string): boolean {
  if (target.startsWith('/')) return false; // absolute targets resolve inside the image's root
  const dir = linkPath.split('/').slice(0, -1).join('/');
  return normalizeEntryPath(`${dir}/${target}`) === undefined;
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

export type Whiteout = { kind: 'opaque'; dir: string } | { kind: 'delete'; path: string };

/** The OCI whiteout an entry path stands for, if any (`/a/.wh.b` deletes `/a/b`; `/a/.wh..wh..opq` makes `/a` opaque). */
export function whiteoutOf(path: string): Whiteout | undefined {
  const slash = path.lastIndexOf('/');
  const base = path.slice(slash + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  const dir = slash <= 0 ? '/' : path.slice(0, slash);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') return undefined;
  return { kind: 'delete', path: dir === '/' ? `/${name}` : `${dir}/${name}` };
}
