import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';
import { PROCESS_DEFAULTS, ROOT, waitForLine } from './support/cli.js';
import { embeddedDataDir, migratedDataDir } from './support/data-dir.js';
import { api, startServer, type ServerProcess } from './support/server-process.js';

/**
 * The embedded default (STEPGATE_EMBEDDED unset): PostgreSQL's own server in
 * `<data dir>/postgres`, started by `stepgate serve` and never outliving it.
 */
const servers: ServerProcess[] = [];
const dirs: string[] = [];
let llm: ChatCompletionsServer | undefined;
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  await llm?.close();
  llm = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const defaults = { STEPGATE_EMBEDDED: undefined, STEPGATE_AUTH: 'off' } as const;

async function serve(dir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer({ ...defaults, STEPGATE_DATA_DIR: dir, ...env });
  servers.push(server);
  return server;
}

function newDataDir(): string {
  const dir = embeddedDataDir('postgres', 'stepgate-embedded-');
  dirs.push(dir);
  return dir;
}

/** postmaster.pid: pid, data directory, start time, port, socket directory, TCP addresses, … */
function postmaster(dir: string): { pid: number; tcp: string } {
  const lines = readFileSync(join(dir, 'postgres', 'postmaster.pid'), 'utf8').split('\n');
  return { pid: Number(lines[0]), tcp: lines[5]! };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  for (const deadline = Date.now() + withinMs; Date.now() < deadline; ) {
    if (!alive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !alive(pid);
}

/** PostgreSQL refuses root: run as root, stepgate runs it as the `postgres` user. */
function expectedUid(): number {
  if (process.getuid!() !== 0) return process.getuid!();
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((entry) => entry.startsWith('postgres:'))!;
  return Number(line.split(':')[2]);
}

async function waitingRun(baseUrl: string): Promise<string> {
  const manifest = await api(baseUrl, 'POST', '/api/manifests', parse(readFileSync(join(ROOT, 'examples', 'quarterly-forecast.yaml'), 'utf8')));
  expect(manifest.status, JSON.stringify(manifest.body)).toBe(201);
  const run = await api(baseUrl, 'POST', '/api/runs', { manifest_id: manifest.body.id, inputs: { region: 'EMEA' } });
  expect(run.status, JSON.stringify(run.body)).toBe(201);
  expect(run.body.status).toBe('waiting');
  return run.body.id as string;
}

it('serves a first start on embedded PostgreSQL (socket only, not as root), keeps the data across a restart, and leaves nothing running after SIGTERM', { timeout: 180_000 }, async () => {
  const dir = newDataDir();
  const first = await serve(dir);
  expect(first.output()).toMatch(/is serving http:\/\/\S+ on embedded PostgreSQL in /);
  const server = postmaster(dir);
  expect(server.tcp).toBe(''); // listens on no TCP address
  expect(readFileSync(`/proc/${server.pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${expectedUid()}\\s`, 'm'));
  const runId = await waitingRun(first.baseUrl);

  expect(await first.stop()).toBe(0);
  expect(alive(server.pid)).toBe(false);
  expect(existsSync(join(dir, 'postgres', 'postmaster.pid'))).toBe(false);
  expect(existsSync(join(dir, 'stepgate.lock'))).toBe(false);

  const second = await serve(dir);
  const run = await api(second.baseUrl, 'GET', `/api/runs/${runId}`);
  expect(run.body).toMatchObject({ id: runId, status: 'waiting' });
});

it('shuts its PostgreSQL down when stepgate is killed outright, and the next start serves the same data', { timeout: 180_000 }, async () => {
  const dir = newDataDir();
  const first = await serve(dir);
  const runId = await waitingRun(first.baseUrl);
  const server = postmaster(dir);
  const killed = new Promise((resolve) => first.child.once('exit', resolve));
  first.child.kill('SIGKILL');
  await killed;
  expect(await gone(server.pid, 30_000)).toBe(true);

  const second = await serve(dir);
  expect(postmaster(dir).pid).not.toBe(server.pid);
  const run = await api(second.baseUrl, 'GET', `/api/runs/${runId}`);
  expect(run.body).toMatchObject({ id: runId, status: 'waiting' });
});

it('lets a request under way finish when Ctrl+C reaches the whole process group, then stops its PostgreSQL', { timeout: 180_000 }, async () => {
  llm = await startChatCompletionsServer({ reply: 'done', delayMs: 1_500 });
  const dir = newDataDir();
  // A terminal's Ctrl+C signals every process of the foreground group: the server leads one here.
  const child = spawn(process.execPath, [join(process.env.STEPGATE_TEST_SOURCES!, 'main.js'), 'serve'], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, ...PROCESS_DEFAULTS, ...defaults, STEPGATE_DATA_DIR: dir, PORT: '0', OPENAI_BASE_URL: llm.baseUrl, OPENAI_API_KEY: 'sk-test', STEPGATE_DEFAULT_MODEL: 'openai:slow' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const baseUrl = /(http:\/\/[^\s]+?)\s/.exec(await waitForLine(child, /is serving http:\/\//))![1]!;
  const server = postmaster(dir);
  const manifest = await api(baseUrl, 'POST', '/api/manifests', { name: 'slow', steps: [{ key: 'A', prompt: 'take your time' }] });
  const inFlight = api(baseUrl, 'POST', '/api/runs', { manifest_id: manifest.body.id });
  while (llm.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));

  process.kill(-child.pid!, 'SIGINT');
  const run = await inFlight;
  expect(run.status, JSON.stringify(run.body)).toBe(201);
  expect(run.body).toMatchObject({ status: 'success', step_runs: [{ step_key: 'A', status: 'SUCCESS', output: 'done' }] });
  let printed = '';
  child.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  expect(await exited, printed).toBe(0);
  expect(alive(server.pid)).toBe(false);
});

it('stops, saying why, when its PostgreSQL is killed under it, and the next start recovers the data', { timeout: 180_000 }, async () => {
  const dir = newDataDir();
  const first = await serve(dir);
  const runId = await waitingRun(first.baseUrl);
  const exited = new Promise<number | null>((resolve) => first.child.once('exit', resolve));
  process.kill(postmaster(dir).pid, 'SIGKILL');
  expect(await exited).toBe(1);
  expect(first.output()).toContain('The embedded PostgreSQL server stopped under stepgate: PostgreSQL exited');
  expect(existsSync(join(dir, 'stepgate.lock'))).toBe(false);

  const second = await serve(dir);
  const run = await api(second.baseUrl, 'GET', `/api/runs/${runId}`);
  expect(run.body).toMatchObject({ id: runId, status: 'waiting' });
});

it("puts its socket under /tmp when the data directory's path is too long for a socket address, and removes it at stop", { timeout: 180_000 }, async () => {
  const dir = join(newDataDir(), 'a-data-directory-whose-path-is-longer-than-a-unix-socket-address-allows-in-all');
  const socketDirs = () => readdirSync('/tmp').filter((entry) => entry.startsWith('stepgate-pg-'));
  const before = socketDirs();
  const server = await serve(dir);
  const made = socketDirs().filter((entry) => !before.includes(entry));
  expect(made).toEqual([`stepgate-pg-${server.child.pid}`]);
  expect(readFileSync(join(dir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[4]).toBe(`/tmp/${made[0]}`);
  expect(await server.stop()).toBe(0);
  expect(existsSync(`/tmp/${made[0]}`)).toBe(false);
});

it('starts over a postmaster.pid left behind whose pid now belongs to another program', { timeout: 180_000 }, async () => {
  const dir = newDataDir();
  const first = await serve(dir);
  const runId = await waitingRun(first.baseUrl);
  const left = readFileSync(join(dir, 'postgres', 'postmaster.pid'), 'utf8');
  expect(await first.stop()).toBe(0);
  // After a reboot, the pid in a stale postmaster.pid can be any program's.
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    writeFileSync(join(dir, 'postgres', 'postmaster.pid'), left.replace(/^\d+/, String(other.pid)));
    const second = await serve(dir);
    const run = await api(second.baseUrl, 'GET', `/api/runs/${runId}`);
    expect(run.body).toMatchObject({ id: runId, status: 'waiting' });
    expect(alive(other.pid!)).toBe(true);
  } finally {
    other.kill();
  }
});

it('keeps serving a data directory that holds PGlite data with PGlite, and says why', { timeout: 180_000 }, async () => {
  const dir = newDataDir();
  migratedDataDir(dir);
  const server = await serve(dir);
  expect(server.output()).toMatch(/is serving http:\/\/\S+ on PGlite in /);
  expect(server.output()).toContain('holds a PGlite database (an earlier stepgate\'s, or made where the embedded PostgreSQL server could not run), so PGlite serves it');
  expect(existsSync(join(dir, 'postgres'))).toBe(false);
});
