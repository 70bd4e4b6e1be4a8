/**
 * The common shape of an extractor that reads a whole (small) file: the file is refused unread when its size
 * exceeds the cap, otherwise it is buffered and parsed at its end.
 */
import type { EntryInfo, ExtractResult, Extractor, ExtractorLimits, FileSink } from '../walker/types.js';

export interface BufferedExtractorSpec {
  name: string;
  wants(entry: EntryInfo): boolean;
  /** The cap for this extractor's files (default: `limits.maxFileBytes`). */
  cap?(limits: ExtractorLimits): number;
  parse(content: Buffer, entry: EntryInfo, limits: ExtractorLimits): ExtractResult | Promise<ExtractResult>;
}

export class FileTooLargeError extends Error {
  override name = 'FileTooLargeError';
}

export function bufferedExtractor(spec: BufferedExtractorSpec): Extractor {
  return {
    name: spec.name,
    wants: spec.wants,
    open(entry: EntryInfo, limits: ExtractorLimits): FileSink {
      const cap = spec.cap ? spec.cap(limits) : limits.maxFileBytes;
      if (entry.size > cap) throw new FileTooLargeError(`${entry.size} bytes exceeds the ${cap}-byte cap; not read`);
      const chunks: Buffer[] = [];
      let length = 0;
      return {
        write(chunk) {
          chunks.push(chunk);
          length += chunk.length;
          return length <= cap;
        },
        finish(complete) {
          if (!complete || length > cap) throw new FileTooLargeError(`file exceeds the ${cap}-byte cap; not read`);
          return spec.parse(Buffer.concat(chunks, length), entry, limits);
        },
      };
    },
  };
}

export const basename = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
export const dirname = (path: string): string => {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
};
