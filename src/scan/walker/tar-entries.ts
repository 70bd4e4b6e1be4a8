/**
 * Iterates the entries of a tar stream with tar-stream, one at a time, with backpressure both ways.
 *
 * tar-stream already refuses PAX and GNU long-name headers over 4 MiB ("Header exceeds max size") and reports a
 * stream that ends inside an entry ("Unexpected end of data"). A stream that ends cleanly between entries but
 * without the end-of-archive marker (two zero blocks) is not an error for tar-stream; it is reported here through
 * `sawEndMarker`, since a layer cut at a 512-byte boundary looks exactly like that.
 */
import { once } from 'node:events';
import * as tar from 'tar-stream';

export interface TarEntry {
  header: tar.Header;
  /** The entry's content; must be fully read (or drained) before the next entry is produced. */
  body: AsyncIterable<Buffer>;
}

export interface TarReadState {
  /** Whether the stream's last 1024 bytes were zero (the end-of-archive marker). */
  sawEndMarker: boolean;
}

const END_MARKER = 1024;

export async function* tarEntries(source: AsyncIterable<Buffer>, state: TarReadState): AsyncGenerator<TarEntry> {
  const extract = tar.extract();
  let tail: Buffer = Buffer.alloc(0);
  let stop = false;
  // Waits for whichever comes first and removes the other listener (a layer can need thousands of waits).
  const drainOrClose = async (): Promise<void> => {
    const ac = new AbortController();
    const wait = (event: string): Promise<unknown> => once(extract, event, { signal: ac.signal }).catch(() => undefined);
    try {
      await Promise.race([wait('drain'), wait('close')]);
    } finally {
      ac.abort();
    }
  };
  const pump = (async (): Promise<void> => {
    try {
      for await (const chunk of source) {
        if (stop || extract.destroyed) return;
        tail = chunk.length >= END_MARKER ? chunk.subarray(chunk.length - END_MARKER) : Buffer.concat([tail, chunk]).subarray(-END_MARKER);
        if (!extract.write(chunk)) await drainOrClose();
      }
      state.sawEndMarker = tail.length === END_MARKER && tail.every((b) => b === 0);
      extract.end(undefined);
    } catch (err) {
      extract.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  try {
    for await (const entry of extract) {
      yield { header: entry.header, body: entry as AsyncIterable<Buffer> };
    }
  } finally {
    // Not awaiting the pump: it may be waiting on a source that only ends when the caller destroys it.
    stop = true;
    if (!extract.destroyed) extract.destroy();
    void pump;
  }
}

/** Reads and discards the rest of an entry. */
export async function drain(body: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of body) {
    // discard
  }
}
