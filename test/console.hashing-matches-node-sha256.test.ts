import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHUNK_BYTES, hashBlob } from '../web/src/hash/sha256-file.js';

const nodeSha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A Blob that records every slice read from it, to prove the file is read a chunk at a time. */
class CountingBlob extends Blob {
  readonly reads: number[] = [];
  override slice(start?: number, end?: number, type?: string): Blob {
    const piece = super.slice(start, end, type);
    this.reads.push(piece.size);
    return piece;
  }
}

describe("the console's in-browser hashing", () => {
  it('equals node:crypto sha256 on the same bytes, for the empty file too', async () => {
    for (const bytes of [new Uint8Array(0), new TextEncoder().encode('quarter,revenue\nQ3,1200\n'), randomBytes(1000)]) {
      expect(await hashBlob(new Blob([bytes]))).toEqual({ sha256: nodeSha256(bytes), bytes: bytes.length });
    }
  });

  it('hashes a file larger than the chunk size chunk by chunk, never reading more than a chunk at once', async () => {
    const bytes = randomBytes(DEFAULT_CHUNK_BYTES * 2 + 12_345);
    const blob = new CountingBlob([bytes]);
    const progress: number[] = [];
    const digest = await hashBlob(blob, { onProgress: (done) => progress.push(done) });
    expect(digest).toEqual({ sha256: nodeSha256(bytes), bytes: bytes.length });
    expect(blob.reads).toEqual([DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_BYTES, 12_345]);
    expect(progress).toEqual([0, DEFAULT_CHUNK_BYTES, 2 * DEFAULT_CHUNK_BYTES, bytes.length]);
  });

  it('gives the same digest whatever the chunk size, including chunks that split nothing evenly', async () => {
    const bytes = randomBytes(100_003);
    const expected = nodeSha256(bytes);
    for (const chunkBytes of [1_000, 4_096, 99_999, 100_003, 1_000_000]) {
      expect((await hashBlob(new Blob([bytes]), { chunkBytes })).sha256).toBe(expected);
    }
  });

  it('stops when aborted, and refuses a chunk size that is not a positive integer', async () => {
    const controller = new AbortController();
    const reading = hashBlob(new Blob([randomBytes(50_000)]), {
      chunkBytes: 1_000,
      signal: controller.signal,
      onProgress: (done) => done >= 5_000 && controller.abort(),
    });
    await expect(reading).rejects.toThrow(/abort/i);
    await expect(hashBlob(new Blob(['x']), { chunkBytes: 0 })).rejects.toThrow(RangeError);
  });
});
