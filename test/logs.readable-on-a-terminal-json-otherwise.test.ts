import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverLogger, type LogFormat } from '../src/cli/server-logger.js';
import { PROCESS_DEFAULTS, ROOT } from './support/cli.js';
import { withDatabase } from './support/global-setup.js';
import { adminQuery, TEST_DB_PREFIX } from './support/postgres-admin.js';
import { startServer } from './support/server-process.js';
import { testPostgresUrl } from './support/test-postgres.js';

/**
 * The server's log: readable lines for a person at a terminal, JSON lines for everything else
 * (and always with LOG_FORMAT=json); secrets redacted either way.
 */
const ANSI = /\x1b\[[0-9;]*m/g;

function capture(format: LogFormat, terminal: boolean): { text: () => string; log: ReturnType<typeof serverLogger> } {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { text: () => text.replace(ANSI, ''), log: serverLogger({ level: 'info', format, terminal, destination }) };
}

const secrets = { req: { headers: { authorization: 'Bearer sg_SECRET1', cookie: 'session=SECRET2' } }, provider: { apiKey: 'sk-SECRET3' }, created: { token: 'sg_SECRET4' } };

describe('the server log', () => {
  it('is pretty on a terminal and JSON lines otherwise, unless LOG_FORMAT insists; secrets are redacted in both', () => {
    for (const [format, terminal, pretty] of [
      ['auto', true, true],
      ['auto', false, false],
      ['json', true, false],
      ['pretty', false, true],
    ] as const) {
      const { text, log } = capture(format, terminal);
      log.info(secrets, 'stepgate is serving http://127.0.0.1:8080');
      const out = text();
      const label = `LOG_FORMAT=${format}, terminal: ${terminal}`;
      expect(out, label).not.toMatch(/SECRET/);
      expect(out.match(/\[redacted\]/g), label).toHaveLength(4);
      if (pretty) {
        expect(out, label).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: stepgate is serving http:\/\/127\.0\.0\.1:8080\n/);
        expect(() => JSON.parse(out.split('\n')[0]!), label).toThrow();
      } else {
        expect(JSON.parse(out.trim()), label).toMatchObject({ level: 30, msg: 'stepgate is serving http://127.0.0.1:8080', req: { headers: { authorization: '[redacted]' } } });
      }
    }
  });

  describe('of a real `stepgate serve`', () => {
    const url = testPostgresUrl();
    let database: string;
    let work: string;
    beforeAll(async () => {
      database = `${TEST_DB_PREFIX}logs_${randomBytes(4).toString('hex')}`;
      await adminQuery(url, `CREATE DATABASE ${database}`);
      work = mkdtempSync(join(tmpdir(), 'stepgate-logs-'));
    });
    afterAll(async () => {
      await adminQuery(url, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      rmSync(work, { recursive: true, force: true });
    });
    const env = () => ({ ...process.env, ...PROCESS_DEFAULTS, DATABASE_URL: withDatabase(url, database), STEPGATE_DATA_DIR: work, PORT: '0', STEPGATE_AUTH: 'off', FORCE_COLOR: undefined, NO_COLOR: undefined });

    /** `stepgate serve` on a terminal (util-linux `script` gives it a pseudo-terminal), stopped with Ctrl+C typed into it. */
    async function onTerminal(extra: Record<string, string>): Promise<string> {
      const sources = process.env.STEPGATE_TEST_SOURCES!;
      const child = spawn('script', ['-qfec', `exec '${process.execPath}' '${join(sources, 'main.js')}' serve`, '/dev/null'], { cwd: ROOT, env: { ...env(), ...extra }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      // 'close', not 'exit': the last output may still be on its way when the process has exited.
      const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
      for (const deadline = Date.now() + 60_000; !/is serving http/.test(out) && Date.now() < deadline && child.exitCode === null; ) await new Promise((r) => setTimeout(r, 50));
      expect(out).toMatch(/is serving http/);
      child.stdin.write('\x03'); // Ctrl+C: the terminal sends SIGINT to the server
      expect(await exited).toBe(0);
      return out.replace(ANSI, '').replaceAll('\r\n', '\n');
    }

    it('writes readable lines to a terminal, to the last one before it exits', { timeout: 120_000 }, async () => {
      const out = await onTerminal({});
      expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: stepgate is serving http:\/\/127\.0\.0\.1:\d+ on PostgreSQL/m);
      expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: stopped\n\s+drained: true$/m);
      expect(out).not.toMatch(/^\{"level"/m);
    });

    it('writes JSON lines to a terminal with LOG_FORMAT=json, and to a pipe', { timeout: 120_000 }, async () => {
      const out = await onTerminal({ LOG_FORMAT: 'json' });
      const lines = out.split('\n').filter((line) => line.startsWith('{'));
      expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(expect.arrayContaining([expect.stringMatching(/^stepgate is serving/), 'stopped']));
      const piped = await startServer({ DATABASE_URL: withDatabase(url, database), STEPGATE_DATA_DIR: work, STEPGATE_AUTH: 'off' });
      await piped.stop();
      const pipedLines = piped.output().split('\n').filter(Boolean);
      expect(pipedLines.length).toBeGreaterThanOrEqual(3);
      for (const line of pipedLines) expect(() => JSON.parse(line), line).not.toThrow();
    });
  });
});
