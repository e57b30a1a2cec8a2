import { createSHA256 } from 'hash-wasm';

/** 8 MiB: large enough to keep hashing fast, small enough that a multi-GB file never sits in memory. */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

export interface Digest {
  readonly sha256: string;
  readonly bytes: number;
}

export interface HashOptions {
  readonly chunkBytes?: number;
  /** Called after each chunk with the bytes hashed so far. */
  readonly onProgress?: (hashedBytes: number, totalBytes: number) => void;
  readonly signal?: AbortSignal;
}

/**
 * The sha256 and size of a file (or any Blob), read a chunk at a time with `Blob.slice` and fed
 * to hash-wasm's incremental SHA-256: only one chunk is in memory at once, whatever the file's
 * size. Nothing is uploaded; the digest is all the server gets.
 */
export async function hashBlob(blob: Blob, options: HashOptions = {}): Promise<Digest> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes <= 0) throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);
  const hasher = await createSHA256();
  hasher.init();
  let offset = 0;
  options.onProgress?.(0, blob.size);
  while (offset < blob.size) {
    options.signal?.throwIfAborted();
    const end = Math.min(offset + chunkBytes, blob.size);
    const chunk = new Uint8Array(await blob.slice(offset, end).arrayBuffer());
    hasher.update(chunk);
    offset = end;
    options.onProgress?.(offset, blob.size);
  }
  return { sha256: hasher.digest('hex'), bytes: blob.size };
}
