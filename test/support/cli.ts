import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `stepgate …` (the current sources) as a real subprocess. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, input?: string, cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = startCli(args, env, cwd);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin!.end(input ?? '');
  });
}

/**
 * What every process the suite starts gets unless the test says otherwise. PGlite is the
 * embedded database of these processes: the embedded PostgreSQL server would add an initdb
 * (~1.5 s of CPU) to each of the suite's ~150 server starts. Its own tests, and the
 * README's, ask for the default (`STEPGATE_EMBEDDED: 'auto'`) and check what served.
 */
export const PROCESS_DEFAULTS: Record<string, string | undefined> = { LOG_LEVEL: 'info', LOG_FORMAT: undefined, DATABASE_URL: undefined, STEPGATE_EMBEDDED: 'pglite' };

/**
 * `stepgate …` from the sources the global setup transpiled (STEPGATE_TEST_SOURCES), else
 * src/main.ts through tsx (scripts outside the test run).
 */
export function startCli(args: string[], env: Record<string, string | undefined> = {}, cwd = ROOT): ChildProcess {
  const sources = process.env.STEPGATE_TEST_SOURCES;
  return spawn(process.execPath, [...(sources ? [join(sources, 'main.js')] : ['--import', 'tsx', join(ROOT, 'src/main.ts')]), ...args], {
    cwd,
    env: { ...process.env, ...PROCESS_DEFAULTS, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Resolves with the first stderr/stdout line matching `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${seen}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const line = seen.split('\n').find((l) => pattern.test(l));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before printing ${pattern}:\n${seen}`));
    });
  });
}
