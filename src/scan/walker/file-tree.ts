/**
 * The merged view of the layers walked so far, holding only what matters to the scan: the files that produced
 * extractor results. It applies the OCI layer rules (image-spec "Applying Changesets"):
 * - a later entry at a path replaces what lower layers had there (a non-directory replaces the whole subtree);
 * - `.wh.<name>` deletes `<name>` and everything under it from lower layers;
 * - `.wh..wh..opq` hides everything lower layers put in its directory, while entries of the same layer stay,
 *   whichever order they come in within the tar.
 * Whiteouts only touch records of *lower* layers, so where they sit inside their layer's tar never matters.
 */

export interface FileRecord<T> {
  path: string;
  layerIndex: number;
  value: T;
}

interface Node<T> {
  children: Map<string, Node<T>>;
  record?: FileRecord<T>;
}

const newNode = <T>(): Node<T> => ({ children: new Map() });
const partsOf = (path: string): string[] => path.split('/').filter((p) => p !== '');

export class FileTree<T> {
  private readonly root: Node<T> = newNode();

  private find(path: string): Node<T> | undefined {
    let n: Node<T> | undefined = this.root;
    for (const p of partsOf(path)) {
      n = n.children.get(p);
      if (!n) return undefined;
    }
    return n;
  }

  /** Removes records below layer `layerIndex` in the subtree of `n` (and `n` itself unless `childrenOnly`); prunes empty nodes. */
  private prune(n: Node<T>, layerIndex: number, childrenOnly: boolean): void {
    if (!childrenOnly && n.record && n.record.layerIndex < layerIndex) delete n.record;
    for (const [k, c] of n.children) {
      this.prune(c, layerIndex, false);
      if (!c.record && c.children.size === 0) n.children.delete(k);
    }
  }

  /** Records a file's result, replacing any record at that path. */
  set(path: string, layerIndex: number, value: T): void {
    let n = this.root;
    for (const p of partsOf(path)) {
      let c = n.children.get(p);
      if (!c) n.children.set(p, (c = newNode()));
      n = c;
    }
    n.record = { path, layerIndex, value };
  }

  get(path: string): FileRecord<T> | undefined {
    return this.find(path)?.record;
  }

  /**
   * An entry of layer `layerIndex` at `path` replaces what is there, as unpacking it would, including an earlier
   * entry of the same layer (a tar may hold a path twice; the last one wins). A directory keeps the content below
   * it; anything else replaces the subtree.
   */
  overwrite(path: string, layerIndex: number, isDirectory: boolean): void {
    const n = this.find(path);
    if (!n) return;
    delete n.record;
    if (!isDirectory) this.prune(n, layerIndex + 1, true);
  }

  /** `.wh.<name>`: deletes `path` and its subtree as lower layers left them. */
  whiteout(path: string, layerIndex: number): void {
    const n = this.find(path);
    if (n) this.prune(n, layerIndex, false);
  }

  /** `.wh..wh..opq`: hides what lower layers put below `dir`. */
  opaque(dir: string, layerIndex: number): void {
    const n = this.find(dir);
    if (n) this.prune(n, layerIndex, true);
  }

  /** Every record, in path order. */
  records(): FileRecord<T>[] {
    const out: FileRecord<T>[] = [];
    const visit = (n: Node<T>): void => {
      if (n.record) out.push(n.record);
      for (const k of [...n.children.keys()].sort()) visit(n.children.get(k) as Node<T>);
    };
    visit(this.root);
    return out;
  }
}
