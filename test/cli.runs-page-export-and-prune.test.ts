import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { migratedDataDir } from './support/data-dir.js';
import { startServer, type ServerProcess } from './support/server-process.js';

describe('stepgate runs pages by cursor, exports and prunes, against a real server', { timeout: 300_000 }, () => {
  let server: ServerProcess;
  let work: string;
  /** As the admin: the bootstrap token in the data directory. */
  const cli = (args: string[]) => runCli(args, { STEPGATE_URL: server.baseUrl, STEPGATE_DATA_DIR: join(work, 'data') });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'stepgate-cli-runs-'));
    server = await startServer({ STEPGATE_DATA_DIR: migratedDataDir(join(work, 'data')) });
  }, 180_000);
  afterAll(async () => {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('prints the command for the next page, exports runs to a file, and prunes the final ones', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const started = await cli(['--json', 'run', 'examples/quarterly-forecast.yaml', '--input', `region=R${i}`, '--no-progress']);
      expect(started.code, started.stderr).toBe(0);
      ids.unshift(JSON.parse(started.stdout).id);
    }

    const first = await cli(['runs', '--limit', '2']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(ids[0]);
    expect(first.stdout).toContain(ids[1]);
    const hint = /more: (stepgate runs --limit 2 --cursor \S+)/.exec(first.stdout)?.[1];
    expect(hint, first.stdout).toBeDefined();
    const second = await cli(hint!.split(' ').slice(1));
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(ids[2]);
    expect(second.stdout).not.toContain(ids[0]);
    expect(second.stdout).not.toContain('more:');
    const asJson = JSON.parse((await cli(['--json', 'runs', '--limit', '2', '--count'])).stdout);
    expect(asJson).toMatchObject({ total: 3, next_cursor: expect.any(String) });
    const forged = await cli(['runs', '--cursor', 'not-a-cursor']);
    expect(forged.code).toBe(2);
    expect(forged.stderr).toContain('cursor');

    for (const id of ids.slice(0, 2)) expect((await cli(['cancel', id, '--reason', 'superseded'])).code).toBe(0);
    const file = join(work, 'cancelled.ndjson');
    const exported = await cli(['runs', 'export', '--status', 'cancelled', '--out', file]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain(`Exported 2 runs to ${file}.`);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => [line.kind, line.run.id, line.run.status])).toEqual([
      ['run', ids[0], 'cancelled'],
      ['run', ids[1], 'cancelled'],
    ]);
    expect(lines[0].events.at(-1).kind).toBe('run_cancelled');
    // Never over a file that exists.
    expect((await cli(['runs', 'export', '--out', file])).code).not.toBe(0);

    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const notFinal = await cli(['runs', 'prune', '--ended-before', tomorrow, '--status', 'waiting']);
    expect(notFinal.code).toBe(2);
    expect(notFinal.stderr).toContain('waiting is not final');
    expect((await cli(['runs', 'prune', '--ended-before', 'soon'])).code).toBe(2);
    const dry = await cli(['runs', 'prune', '--ended-before', tomorrow, '--dry-run']);
    expect(dry.stdout).toContain('Would remove 2 runs (success, error, cancelled)');
    const pruned = await cli(['runs', 'prune', '--ended-before', tomorrow]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain('Removed 2 runs');
    const left = JSON.parse((await cli(['--json', 'runs'])).stdout);
    expect(left.items.map((run: { id: string }) => run.id)).toEqual([ids[2]]);
    const audit = JSON.parse((await cli(['--json', 'audit', '--action', 'POST /api/runs/prune', '--outcome', '200', '--limit', '1'])).stdout);
    expect(audit.items[0].target).toMatch(/&removed=2$/);
  });
});
