import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** sha256 and size of a stream, chunk by chunk: a file of any size takes constant memory. */
export async function hashStream(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    hash.update(chunk);
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** sha256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const result = await hashStream(createReadStream(path));
  if (result.bytes !== statSync(path).size) throw new Error(`${path} changed while it was being hashed`);
  return result;
}

/** sha256 and size of an open file, streamed from its start; the handle stays open. */
export function hashHandle(handle: FileHandle): Promise<{ sha256: string; bytes: number }> {
  return hashStream(handle.createReadStream({ start: 0, autoClose: false, highWaterMark: 1024 * 1024 }));
}
