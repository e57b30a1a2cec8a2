import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli as run, startCli as start, waitForLine } from './support/cli.js';
import { embeddedDataDir, type EmbeddedEngine } from './support/data-dir.js';

/** Both embedded databases: PGlite, and the embedded PostgreSQL server (the default). */
describe.each<{ engine: EmbeddedEngine; serves: RegExp }>([
  { engine: 'pglite', serves: /PGlite in / },
  { engine: 'postgres', serves: /embedded PostgreSQL in / },
])('one process per data directory, on $engine', { timeout: 120_000 }, ({ engine, serves }) => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = () => {
    const dir = embeddedDataDir(engine, 'stepgate-lock-');
    dirs.push(dir);
    return dir;
  };
  const env = { STEPGATE_EMBEDDED: engine };
  const runCli = (args: string[], more: Record<string, string>) => run(args, { ...env, ...more });
  const startCli = (args: string[], more: Record<string, string>) => start(args, { ...env, ...more });

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
    expect(result.stderr).toMatch(/[Tt]he schema (of .* )?is current\./);
    expect(result.stderr).toMatch(serves);
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
});
