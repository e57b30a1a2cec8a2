/**
 * `npm run bench [-- --quick] [-- --db pglite|postgres]`: manifest validation time per step
 * count (250, 500, 1000, and over the limit), engine overhead against the database's own floor, pause/resume latency, throughput, statements per step, and HTTP
 * figures, on PGlite and (with DATABASE_URL) PostgreSQL. Prints a table, writes
 * bench/results/latest.json. It reports goals as met or not met and never fails on them.
 */
import { openBenchDatabase, type BenchDbName } from './databases.js';
import { engineBenchmarks } from './engine.js';
import { httpBenchmarks } from './http.js';
import { printTable, writeResults, type Figure } from './report.js';
import { validationBenchmarks } from './validation.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--db') ? (args[args.indexOf('--db') + 1] as BenchDbName) : undefined;
const serverUrl = process.env.DATABASE_URL;
const names: BenchDbName[] = only ? [only] : serverUrl ? ['pglite', 'postgres'] : ['pglite'];
if (!serverUrl && !only) console.log('DATABASE_URL is not set: PostgreSQL figures are skipped (set it to a server to measure both).');

const figures: Figure[] = [];
console.log(`\nmanifest validation: ${quick ? 'quick run' : 'full run'}…`);
figures.push(...validationBenchmarks(quick));
for (const name of names) {
  console.log(`\n${name}: ${quick ? 'quick run' : 'full run'}…`);
  const db = await openBenchDatabase(name, serverUrl);
  try {
    figures.push(...(await engineBenchmarks(db, quick)));
    figures.push(...(await httpBenchmarks(db, quick)));
  } finally {
    await db.close();
  }
}
console.log();
printTable(figures);
const out = new URL('./results/latest.json', import.meta.url);
writeResults(out, figures, { quick });
console.log(`\nwrote bench/results/latest.json`);
