/**
 * One configuration of PGlite as the embedded default, alone in this process (so that its
 * memory is its own): `node --import tsx bench/pglite-candidate.ts SECONDS [name=value…]`
 * opens a data directory with those PostgreSQL settings, runs 20 clients doing A→B→C in
 * process for SECONDS, and prints `{ "runs_per_s": …, "peak_rss_mb": … }`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPglite } from '../src/storage/pglite/connect.js';
import { abcThroughput, benchDeps } from './engine.js';
import { peakRssMb } from './stats.js';

const [seconds, ...pairs] = process.argv.slice(2);
const settings = Object.fromEntries(pairs.map((pair) => pair.split('=') as [string, string]));
const dir = mkdtempSync(join(tmpdir(), 'stepgate-bench-pglite-'));
try {
  const database = await openPglite({ dataDir: dir, settings });
  await database.migrate();
  const rate = await abcThroughput(benchDeps({ database }), Number(seconds));
  await database.close();
  console.log(JSON.stringify({ runs_per_s: rate, peak_rss_mb: peakRssMb('self') }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
