import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';
import { ROOT, runCli, startCli, waitForLine } from './support/cli.js';
import { startServer, type ServerProcess } from './support/server-process.js';
import { migratedDataDir } from './support/data-dir.js';

/**
 * `stepgate run`, `resume`, `retry` and `watch` as a progress display (SPEC §12): a spinner
 * on a terminal (a real pseudo-terminal, through util-linux `script`), plain lines when piped,
 * and the exit codes scripts rely on: 0 success or waiting, 9 error, 10 cancelled. One server
 * process for the file; its openai provider talks to a local chat-completions server whose
 * answers each test scripts (STEPGATE_LLM_MAX_TRIES=1: a 400 fails the step at once).
 */
describe('the CLI shows a run as it works and exits by how it ended', { timeout: 120_000 }, () => {
  let server: ServerProcess;
  let llm: ChatCompletionsServer;
  let work: string;
  let manifest: string;
  const env = () => ({ STEPGATE_URL: server.baseUrl, STEPGATE_DATA_DIR: join(work, 'data'), STEPGATE_TOKEN: undefined, NO_COLOR: undefined, FORCE_COLOR: undefined });
  const cli = (...args: string[]) => runCli(args, env());
  /** Lets the test hold a scripted LLM answer until it opens the gate. */
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { opened, open };
  };
  const theRunningRun = async () => {
    const listed = await cli('--json', 'runs', '--status', 'running');
    const items = JSON.parse(listed.stdout).items as Array<{ id: string }>;
    expect(items).toHaveLength(1);
    return items[0]!.id;
  };
  const llmCallArrived = (count: number) => vi.waitFor(() => expect(llm.requests.length).toBeGreaterThanOrEqual(count), { timeout: 30_000, interval: 20 });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'stepgate-cli-progress-'));
    llm = await startChatCompletionsServer({ reply: 'ok' });
    server = await startServer({ STEPGATE_DATA_DIR: migratedDataDir(join(work, 'data')), OPENAI_BASE_URL: llm.baseUrl, OPENAI_API_KEY: 'k', STEPGATE_LLM_MAX_TRIES: '1' });
    // A (an LLM call) → B (compute: parks the run) → C.
    manifest = join(work, 'a-b-c.yaml');
    writeFileSync(
      manifest,
      [
        'name: progress-a-b-c',
        'steps:',
        '  - key: A',
        '    prompt: draft',
        '    model: openai:m',
        '  - key: B',
        '    step_type: compute',
        '    depends_on: [A]',
        '    compute_contract:',
        '      executor: excel',
        '      inputs: []',
        '      outputs: [sheet]',
        '      verification: operator_attest',
        '  - key: C',
        '    depends_on: [B]',
        '    prompt: memo',
        '    model: openai:m',
        '',
      ].join('\n'),
    );
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await llm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('piped: one plain line per event as it happens, then the summary; exit 0 for a run that waits', async () => {
    const held = gate();
    llm.script({ reply: 'the draft', after: held.opened });
    const requestsBefore = llm.requests.length;
    const child = startCli(['run', manifest], env());
    const output = collect(child);
    // The step's start is on stdout while its LLM call is still held: progress, not a report.
    try {
      await waitForLine(child, /^A {2}task {2}started$/);
      await llmCallArrived(requestsBefore + 1);
      expect(output.stdout()).not.toMatch(/SUCCESS/);
    } finally {
      held.open();
    }
    const code = await exited(child);
    expect(code, output.stderr()).toBe(0);
    const lines = output.stdout().split('\n');
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
    expect(lines).toContainEqual(expect.stringMatching(/^A {2}task {2}SUCCESS {2}\d+(?:\.\d)? m?s$/));
    expect(lines).toContain('B  compute  WAITING_FOR_ATTESTATION');
    expect(lines).toContain('run  waiting');
    expect(at(/^A {2}task {2}started$/)).toBeLessThan(at(/^A {2}task {2}SUCCESS/));
    expect(at(/^A {2}task {2}SUCCESS/)).toBeLessThan(at(/^B {2}compute {2}WAITING/));
    expect(at(/^run {2}waiting$/)).toBeLessThan(at(/^Run [0-9a-f-]{36} started: waiting/));
    expect(output.stdout()).toMatch(/stepgate attest [0-9a-f-]{36} B --outcome SUCCESS --artifact sheet=PATH/);
    expect(output.stdout()).not.toMatch(/\u001b\[/); // no escape codes when piped
  });

  it('on a terminal: a spinner with the running step, replaced by a ✓ line with its duration', async () => {
    const held = gate();
    llm.script({ reply: 'the draft', after: held.opened });
    const child = onTerminal(['run', manifest], env());
    const output = collect(child);
    // While A's LLM call is held, the spinner shows A with its elapsed time.
    try {
      await vi.waitFor(() => expect(output.stdout()).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\S* A {2}task {2}\S*\d+(?:\.\d)? m?s/), { timeout: 30_000, interval: 50 });
    } finally {
      held.open();
    }
    expect(await exited(child), output.stdout()).toBe(0);
    const screen = output.stdout();
    expect(screen).toMatch(/✓\S* \S*A\S* {2}task {2}\S*SUCCESS\S* {2}\d+(?:\.\d)? m?s/);
    expect(screen).toMatch(/⏸\S* \S*B\S* {2}compute {2}\S*WAITING_FOR_ATTESTATION/);
    expect(screen).toMatch(/Run [0-9a-f-]{36} started: \S*waiting/);
    expect(screen).toContain('\u001b[?25l'); // ora hides the cursor while it spins …
    expect(screen).toContain('\u001b[?25h'); // … and shows it again
  });

  it('on a terminal: every step that runs concurrently has its own spinner line', async () => {
    const twins = join(work, 'twins.yaml');
    writeFileSync(twins, ['name: progress-twins', 'steps:', '  - key: left', '    prompt: left', '    model: openai:m', '  - key: right', '    prompt: right', '    model: openai:m', ''].join('\n'));
    const held = gate();
    llm.script({ reply: 'one', after: held.opened }, { reply: 'two', after: held.opened });
    const before = llm.requests.length;
    const child = onTerminal(['run', twins], env());
    const output = collect(child);
    try {
      await llmCallArrived(before + 2);
      // Both in flight: both on the screen at once, each on its own line with its elapsed time.
      await vi.waitFor(
        () => {
          const frames = output.stdout().split(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
          expect(frames.at(-1)).toMatch(/left {2}task {2}\S*\d+(?:\.\d)? m?s\S*\r?\n {2}right {2}task {2}\S*\d+(?:\.\d)? m?s|right {2}task {2}\S*\d+(?:\.\d)? m?s\S*\r?\n {2}left {2}task {2}\S*\d+(?:\.\d)? m?s/);
        },
        { timeout: 30_000, interval: 50 },
      );
    } finally {
      held.open();
    }
    expect(await exited(child), output.stdout()).toBe(0);
    expect(output.stdout()).toMatch(/✓\S* \S*left\S* {2}task {2}\S*SUCCESS/);
    expect(output.stdout()).toMatch(/✓\S* \S*right\S* {2}task {2}\S*SUCCESS/);
  });

  it('with NO_COLOR on a terminal, and with --json: plain lines, and only the final run', async () => {
    llm.script({ reply: 'the draft' });
    const child = onTerminal(['run', manifest], { ...env(), NO_COLOR: '1' });
    const output = collect(child);
    expect(await exited(child)).toBe(0);
    expect(output.stdout()).toMatch(/^A {2}task {2}SUCCESS {2}\d+(?:\.\d)? m?s\r?$/m);
    expect(output.stdout()).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);

    const json = await cli('--json', 'run', manifest);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'waiting', step_runs: [{ step_key: 'A', status: 'SUCCESS' }, { step_key: 'B' }] });
  });

  it('exits 9 when the run ends in error (run, retry) and 0 once a retry succeeds; --no-progress too', async () => {
    llm.script({ status: 400, body: { error: { message: 'bad request: no such parameter', type: 'invalid_request_error' } } });
    const failed = await cli('run', manifest);
    expect(failed.code, failed.stderr).toBe(9);
    // The step_failed event carries the step's error message, and the progress line shows it.
    expect(failed.stdout).toMatch(/^A {2}task {2}FAIL {2}\d+(?:\.\d)? m?s {2}the LLM call failed: the provider answered HTTP 400: .*no such parameter$/m);
    expect(failed.stdout).toContain('run  error');
    const runId = /Run ([0-9a-f-]{36}) started: error/.exec(failed.stdout)![1]!;
    expect(failed.stdout).toContain(`stepgate retry ${runId}`);

    const again = await cli('--json', 'retry', runId);
    expect(again.code).toBe(9);
    expect(JSON.parse(again.stdout).status).toBe('error');
    expect((await cli('run', '--no-progress', manifest)).code).toBe(9);

    llm.script({ reply: 'now it works' });
    const retried = await cli('retry', runId);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toContain('run  retried');
    // Attempt 1 failed on `run`, attempt 2 on the first retry.
    expect(retried.stdout).toMatch(/^A {2}task {2}started {2}attempt 3$/m);
    expect(retried.stdout).toMatch(/^A {2}task {2}SUCCESS {2}\d+(?:\.\d)? m?s {2}attempt 3$/m);
    expect(retried.stdout).toMatch(/Run [0-9a-f-]{36} retried: waiting/);
  });

  it('exits 0 when resume ends the run in success, and 10 when the run is cancelled while it works', async () => {
    llm.script({ reply: 'ok' });
    const started = await cli('--json', 'run', manifest);
    const run = JSON.parse(started.stdout);
    const sheet = join(work, 'sheet.csv');
    writeFileSync(sheet, 'a,b\n1,2\n');
    expect((await cli('attest', run.id, 'B', '--outcome', 'SUCCESS', '--artifact', `sheet=${sheet}`)).code).toBe(0);
    const resumed = await cli('resume', run.id);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('run  resumed');
    expect(resumed.stdout).toMatch(/^C {2}task {2}SUCCESS {2}\d+(?:\.\d)? m?s$/m);
    expect(resumed.stdout).toContain('run  success');

    // A run cancelled while its first LLM call is in flight: the runner records the call and stops.
    const held = gate();
    llm.script({ reply: 'too late', after: held.opened });
    const requestsBefore = llm.requests.length;
    const child = startCli(['run', manifest], env());
    const output = collect(child);
    try {
      await waitForLine(child, /^A {2}task {2}started$/);
      await llmCallArrived(requestsBefore + 1);
      expect((await cli('cancel', await theRunningRun(), '--reason', 'superseded')).code).toBe(0);
    } finally {
      held.open();
    }
    expect(await exited(child), output.stdout() + output.stderr()).toBe(10);
    expect(output.stdout()).toContain('run  cancelled');
    expect(output.stdout()).toContain('The run was cancelled: superseded');
  });

  it('watch RUN: prints the run as it is, follows it, and exits once it parks (0) or at once if it already ended (10)', async () => {
    const held = gate();
    llm.script({ reply: 'the draft', after: held.opened });
    const requestsBefore = llm.requests.length;
    const runner = startCli(['run', '--no-progress', manifest], env());
    let runId = '';
    let watcher: ChildProcess | undefined;
    let watched: ReturnType<typeof collect> | undefined;
    try {
      await llmCallArrived(requestsBefore + 1);
      runId = await theRunningRun();
      watcher = startCli(['watch', runId], env());
      watched = collect(watcher);
      await waitForLine(watcher, new RegExp(`^Run ${runId} is running`));
    } finally {
      held.open();
    }
    expect(await exited(watcher!), watched!.stderr()).toBe(0);
    expect(watched!.stdout()).toMatch(/ {2}A {2}task {2}SUCCESS {2}\d+(?:\.\d)? m?s$/m);
    expect(watched!.stdout()).toMatch(/ {2}B {2}compute {2}WAITING_FOR_ATTESTATION$/m);
    expect(watched!.stdout()).toMatch(/ {2}run {2}waiting$/m);
    expect(await exited(runner)).toBe(0);

    const parked = await cli('watch', runId);
    expect(parked.code).toBe(0);
    expect(parked.stdout).toBe(`Run ${runId} is waiting, waiting on B\n`);
    expect((await cli('cancel', runId)).code).toBe(0);
    const cancelled = await cli('--json', 'watch', runId);
    expect(cancelled.code).toBe(10);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id: runId, status: 'cancelled' });
  });

  it('watch without RUN follows every run until interrupted; --json prints each event as one JSON line', async () => {
    llm.script({ reply: 'ok' });
    const human = startCli(['watch'], env());
    const machine = startCli(['--json', 'watch'], env());
    const [humanOut, machineOut] = [collect(human), collect(machine)];
    try {
      // The watchers say on stderr once the server has answered with the stream.
      await Promise.all([waitForLine(human, /following the events of every run/, 30_000), waitForLine(machine, /following the events of every run/, 30_000)]);
      const started = await cli('--json', 'run', manifest);
      const runId = JSON.parse(started.stdout).id as string;
      // (The run is over by now: look at what the watchers printed, not for output still to come.)
      await vi.waitFor(() => expect(humanOut.stdout()).toMatch(new RegExp(`  ${runId}  run  waiting$`, 'm')), { timeout: 30_000, interval: 50 });
      await vi.waitFor(() => expect(machineOut.stdout()).toContain(`"kind":"run_waiting","run_id":"${runId}"`), { timeout: 30_000, interval: 50 });
      const events = machineOut
        .stdout()
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { kind: string; run_id: string; step_key: string | null });
      expect(events.filter((e) => e.run_id === runId).map((e) => `${e.kind}:${e.step_key ?? ''}`)).toEqual([
        'run_started:',
        'step_started:A',
        'step_succeeded:A',
        'step_waiting:B',
        'run_waiting:',
      ]);
      // Without a run to look up, the step's type is not known: key, what happened, how long.
      expect(humanOut.stdout()).toMatch(new RegExp(`  ${runId}  A  SUCCESS  \\d+(?:\\.\\d)? m?s$`, 'm'));
    } finally {
      human.kill('SIGINT');
      machine.kill('SIGINT');
    }
    expect(await exited(human)).not.toBe(0); // it never ends by itself
  });

  it('watch RUN: when the event stream drops, reconnects with Last-Event-ID and shows every event once', async () => {
    const proxy = await startCuttingProxy(server.baseUrl);
    const held = gate();
    llm.script({ reply: 'the draft', after: held.opened });
    const requestsBefore = llm.requests.length;
    const runner = startCli(['run', '--no-progress', manifest], env());
    let watcher: ChildProcess | undefined;
    let watched: ReturnType<typeof collect> | undefined;
    try {
      await llmCallArrived(requestsBefore + 1);
      const runId = await theRunningRun();
      watcher = startCli(['watch', runId], { ...env(), STEPGATE_URL: proxy.baseUrl });
      watched = collect(watcher);
      await waitForLine(watcher, new RegExp(`^Run ${runId} is running`));
    } finally {
      held.open();
    }
    try {
      expect(await exited(watcher!), watched!.stderr()).toBe(0);
      expect(await exited(runner)).toBe(0);
      // The proxy cut the first connection right after one whole event; the second asked for what followed it.
      expect(proxy.eventRequests).toHaveLength(2);
      expect(proxy.eventRequests[0]!.lastEventId).toBeUndefined();
      expect(proxy.eventRequests[1]!.lastEventId).toBe(proxy.firstEventId());
      expect(watched!.stderr()).toContain(`reconnecting after event ${proxy.firstEventId()}`);
      const lines = watched!.stdout().trimEnd().split('\n').slice(1);
      expect(lines.map((line) => line.replace(/^\S+ {2}/, '').replace(/ {2}\d+(?:\.\d)? m?s$/, ''))).toEqual([
        'A  task  SUCCESS',
        'B  compute  WAITING_FOR_ATTESTATION',
        'run  waiting',
      ]);
    } finally {
      await proxy.close();
    }
  });
});

/**
 * An HTTP proxy in front of the server that cuts the first `GET /api/events` connection right
 * after the first whole event it forwards (as a restarting server or an impatient proxy
 * would), and records what each events request asked for.
 */
async function startCuttingProxy(upstream: string): Promise<{ baseUrl: string; eventRequests: Array<{ lastEventId?: string }>; firstEventId(): string | undefined; close(): Promise<void> }> {
  const eventRequests: Array<{ lastEventId?: string }> = [];
  let firstEventId: string | undefined;
  const server = createServer((req, res) => {
    const isEvents = req.url?.startsWith('/api/events') ?? false;
    const cut = isEvents && eventRequests.length === 0;
    if (isEvents) eventRequests.push({ lastEventId: req.headers['last-event-id'] as string | undefined });
    const forward = httpRequest(new URL(req.url!, upstream), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      if (!cut) {
        answer.pipe(res);
        return;
      }
      let buffered = '';
      answer.setEncoding('utf8');
      answer.on('data', (chunk: string) => {
        buffered += chunk;
        // Whole events end with a blank line; forward up to the end of the first that has data.
        for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
          const block = buffered.slice(0, end + 2);
          buffered = buffered.slice(end + 2);
          if (/^data:/m.test(block)) {
            firstEventId = /^id: ?(.*)$/m.exec(block)?.[1];
            answer.destroy();
            // Once the event is on its way, drop the connection (no end of the chunked body).
            res.write(block, () => res.destroy());
            return;
          }
          res.write(block);
        }
      });
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    eventRequests,
    firstEventId: () => firstEventId,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The command on a pseudo-terminal: util-linux `script` (its exit code is the command's). */
function onTerminal(args: string[], env: Record<string, string | undefined>): ChildProcess {
  const sources = process.env.STEPGATE_TEST_SOURCES;
  const argv = [process.execPath, ...(sources ? [join(sources, 'main.js')] : ['--import', 'tsx', 'src/main.ts']), ...args];
  // A pseudo-terminal nobody sized is 0 columns wide: the CLI would fall back to plain lines.
  const command = `stty cols 120 rows 40; ${argv.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ')}`;
  return spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: undefined, TERM: 'xterm-256color', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
}

function collect(child: ChildProcess): { stdout(): string; stderr(): string } {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { stdout: () => stdout, stderr: () => stderr };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}
