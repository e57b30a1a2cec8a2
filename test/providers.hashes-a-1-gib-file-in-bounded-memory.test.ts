import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { createFileRootVerifier } from '../src/providers/artifacts/file-roots.js';

const GIB = 1024 ** 3;

it('verifies a 1 GiB file under a root by streaming it: the process grows by far less than the file', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-gib-'));
  try {
    // Sparse: 1 GiB of size on disk at almost no cost, with a few real bytes so the digest is not trivial.
    const path = join(dir, 'big.bin');
    const fd = openSync(path, 'w');
    writeSync(fd, 'start', 0);
    writeSync(fd, 'middle', GIB / 2);
    writeSync(fd, 'end!!', GIB - 5);
    closeSync(fd);
    const expected = spawnSync('sha256sum', [path], { encoding: 'utf8' }).stdout.split(' ')[0]!;
    expect(expected).toMatch(/^[0-9a-f]{64}$/);

    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const verifier = createFileRootVerifier([dir]);
    const uri = pathToFileURL(path).href;
    try {
      expect(await verifier.check({ name: 'big', uri, sha256: expected, bytes: GIB })).toEqual({ kind: 'checked', verified: true, verification: 'digest_matched' });
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(peak - baseline, `RSS grew by ${Math.round((peak - baseline) / 1024 ** 2)} MiB while hashing 1 GiB`).toBeLessThan(100 * 1024 ** 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
