import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { PROCESS_DEFAULTS, ROOT, waitForLine } from './cli.js';

/**
 * The current sources compiled the way the build compiles them (src/ → one .js file per .ts
 * file, the migrations copied next to storage/), but type-stripped only: a few seconds, and
 * never stale like a dist/ built earlier. A process started from them starts in a fraction of
 * the time one through tsx takes, which matters to tests that start dozens of processes.
 * The global setup transpiles once for the whole run (STEPGATE_TEST_SOURCES names the folder);
 * `src/http/console.ts` finds the built console through a `dist` link next to the folder.
 */
export interface TranspiledSources {
  readonly dir: string;
  remove(): void;
}

/** Compiles src/ into a new folder under .tmp/. */
export function transpileSourcesNow(): TranspiledSources {
  const src = join(ROOT, 'src');
  const base = join(ROOT, '.tmp', `sources-${process.pid}-${Date.now().toString(36)}`);
  const dir = join(base, 'src');
  const walk = (folder: string): string[] => readdirSync(folder).flatMap((name) => (statSync(join(folder, name)).isDirectory() ? walk(join(folder, name)) : [join(folder, name)]));
  const migrations = join(src, 'storage', 'migrations');
  for (const file of walk(src)) {
    if (!file.endsWith('.ts') || file.startsWith(migrations)) continue;
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { target: ts.ScriptTarget.ES2023, module: ts.ModuleKind.ES2022, verbatimModuleSyntax: true, esModuleInterop: true },
    });
    const target = join(dir, relative(src, file).replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  cpSync(migrations, join(dir, 'storage', 'migrations'), { recursive: true });
  symlinkSync(join(ROOT, 'dist'), join(base, 'dist'), 'dir');
  return { dir, remove: () => rmSync(base, { recursive: true, force: true }) };
}

/** The run's transpiled sources (made once by the global setup), else a folder of this test's own. */
export function transpileSources(): TranspiledSources {
  const shared = process.env.STEPGATE_TEST_SOURCES;
  return shared ? { dir: shared, remove: () => {} } : transpileSourcesNow();
}

export interface KillableServer {
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /** Settles when the process has exited, with the signal that ended it (SIGKILL for a crash). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it printed (its JSON log lines), for a failing test to show. */
  output(): string;
  /** SIGKILL: a crash, nothing cleaned up. */
  kill(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM: a clean stop; answers the exit code. */
  stop(): Promise<number | null>;
}

/** `stepgate serve` from the transpiled sources, as a real process on a free port. */
export async function startTranspiledServer(sources: TranspiledSources, env: Record<string, string | undefined>): Promise<KillableServer> {
  const child = spawn(process.execPath, [join(sources.dir, 'main.js'), 'serve'], {
    cwd: ROOT,
    // Authentication off (loopback only): these tests are about runs, not tokens.
    env: { ...process.env, ...PROCESS_DEFAULTS, STEPGATE_AUTH: 'off', PORT: '0', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let printed = '';
  child.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const line = await waitForLine(child, /is serving http:\/\//, 120_000);
  const baseUrl = /(http:\/\/[^\s]+?)\s/.exec(line)![1]!;
  return {
    baseUrl,
    child,
    exited,
    output: () => printed,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return (await exited).code;
    },
  };
}
