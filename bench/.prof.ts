import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ABC } from './engine.js';
const ATTEST = JSON.stringify({ outcome: 'SUCCESS', artifacts: [{ name: 'out', uri: 'file:///bench/out', sha256: 'e'.repeat(64), bytes: 1 }] });
const dir = mkdtempSync('/tmp/sg-prof-'); chmodSync(dir, 0o755);
const prof = process.env.PROF === '1';
const child = spawn(process.execPath, [...(prof ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), 'dist/main.js', 'serve'], { env: { ...process.env, STEPGATE_DATA_DIR: dir, PORT: '18099', LOG_LEVEL: 'warn', STEPGATE_RATE_LIMIT_PER_TOKEN: '1000000000', ...(process.env.EMB ? { STEPGATE_EMBEDDED: process.env.EMB } : {}) }, stdio: ['ignore', 'inherit', 'inherit'] });
const base = 'http://127.0.0.1:18099';
for (;;) { try { await fetch(`${base}/healthz`); break; } catch { await new Promise((r) => setTimeout(r, 100)); } }
const headers = { 'content-type': 'application/json', authorization: `Bearer ${readFileSync(join(dir, 'admin-token'), 'utf8').trim()}` };
const post = async (path: string, body: string) => { const r = await fetch(base + path, { method: 'POST', headers, body }); const t = await r.text(); if (!r.ok) throw new Error(t); return JSON.parse(t); };
const manifest = await post('/api/manifests', JSON.stringify(ABC));
const times: number[] = []; const starts: number[] = [];
for (let i = 0; i < 400; i++) {
  let t = performance.now();
  const run = await post('/api/runs', JSON.stringify({ manifest_id: manifest.id, inputs: { tag: `x${i}` } }));
  starts.push(performance.now() - t);
  await post(`/api/runs/${run.id}/steps/${run.waiting_on[0].step_run_id}/attest`, ATTEST);
  t = performance.now();
  await post(`/api/runs/${run.id}/resume`, '');
  times.push(performance.now() - t);
}
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!.toFixed(2);
console.log('start median', med(starts.slice(50)), 'resume median', med(times.slice(50)));
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
