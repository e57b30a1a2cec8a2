import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { runCli, startCli, waitForLine } from './support/cli.js';
import { migratedDataDir } from './support/data-dir.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-lock-'));
  dirs.push(dir);
  return migratedDataDir(dir);
};

it('refuses a second process on a data directory in use, naming the holder, and frees it on SIGTERM', async () => {
  const dir = dataDir();
  const server = startCli(['serve'], { STEPGATE_DATA_DIR: dir, PORT: '0' });
  try {
    await waitForLine(server, /is serving http/);
    const second = await runCli(['migrate'], { STEPGATE_DATA_DIR: dir });
    expect(second.code).toBe(3);
    expect(second.stderr).toContain(`is in use by process ${server.pid}`);
  } finally {
    const exited = new Promise((resolve) => server.on('exit', resolve));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
  expect(existsSync(join(dir, 'stepgate.lock'))).toBe(false);
  const after = await runCli(['migrate'], { STEPGATE_DATA_DIR: dir });
  expect(after.code, after.stderr).toBe(0);
});

it('takes over a lock left behind by a process that is gone', async () => {
  const dir = dataDir();
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(join(dir, 'stepgate.lock'), `${gone}\n`);
  const result = await runCli(['migrate'], { STEPGATE_DATA_DIR: dir });
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toMatch(/Nothing to apply: the schema of embedded PostgreSQL \(PGlite\) in .* is current\./);
});

it('exits 3 when the port is taken, releasing its data directory', async () => {
  const server = startCli(['serve'], { STEPGATE_DATA_DIR: dataDir(), PORT: '0' });
  try {
    const port = /:(\d+)/.exec(/http:\/\/\S+/.exec(await waitForLine(server, /is serving http/))![0])![1]!;
    const dir = dataDir();
    const second = await runCli(['serve'], { STEPGATE_DATA_DIR: dir, PORT: port });
    expect(second.code).toBe(3);
    expect(second.stderr).toContain('the port is taken');
    expect(existsSync(join(dir, 'stepgate.lock'))).toBe(false);
  } finally {
    const exited = new Promise((resolve) => server.on('exit', resolve));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
});
