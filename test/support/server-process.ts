import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { PROCESS_DEFAULTS, ROOT, startCli, waitForLine } from './cli.js';

export interface ServerProcess {
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * `stepgate serve` as a real process on a free port: the TypeScript sources (through tsx), or
 * with `built` the compiled build in dist/, as `npm start` runs it.
 */
export async function startServer(env: Record<string, string | undefined>, options: { built?: boolean; timeoutMs?: number; startTimeoutMs?: number } = {}): Promise<ServerProcess> {
  const child = options.built
    ? spawn(process.execPath, ['dist/main.js', 'serve'], { cwd: ROOT, env: { ...process.env, ...PROCESS_DEFAULTS, PORT: '0', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    : startCli(['serve'], { PORT: '0', ...env });
  let output = '';
  const record = (chunk: Buffer) => (output += chunk.toString());
  child.stdout!.on('data', record);
  child.stderr!.on('data', record);
  // A first start creates the database (PGlite: initdb): slow on a loaded machine.
  const line = await waitForLine(child, /is serving http:\/\//, options.startTimeoutMs ?? options.timeoutMs ?? 120_000);
  const baseUrl = /(http:\/\/[^\s]+?)\s/.exec(line)![1]!;
  return {
    baseUrl,
    child,
    output: () => output,
    stop() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      });
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the JSON of any route
export async function api(baseUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
