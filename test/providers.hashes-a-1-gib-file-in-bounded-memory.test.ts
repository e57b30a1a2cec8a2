import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { transpileSources } from './support/transpiled-server.js';

const GIB = 1024 ** 3;
const sources = transpileSources();
afterAll(() => sources.remove());

/**
 * The verifier runs in a process of its own, so that its memory is its own: measured in the
 * test's worker, the figure also held whatever the files before it left for the collector.
 */
const hashInAProcess = `
const { createFileRootVerifier } = await import(process.env.VERIFIER);
const [dir, uri, sha256, bytes] = process.argv.slice(1);
globalThis.gc();
const baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const result = await createFileRootVerifier([dir]).check({ name: 'big', uri, sha256, bytes: Number(bytes) });
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
console.log(JSON.stringify({ result, grewBy: peak - baseline }));
`;

it('verifies a 1 GiB file under a root by streaming it: the process grows by far less than the file', { timeout: 180_000 }, () => {
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

    const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', hashInAProcess, dir, pathToFileURL(path).href, expected, String(GIB)], {
      encoding: 'utf8',
      env: { ...process.env, VERIFIER: pathToFileURL(join(sources.dir, 'providers', 'artifacts', 'file-roots.js')).href },
    });
    expect(child.status, child.stderr).toBe(0);
    const { result, grewBy } = JSON.parse(child.stdout) as { result: unknown; grewBy: number };
    expect(result).toEqual({ kind: 'checked', verified: true, verification: 'digest_matched' });
    expect(grewBy, `RSS grew by ${Math.round(grewBy / 1024 ** 2)} MiB while hashing 1 GiB`).toBeLessThan(100 * 1024 ** 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
