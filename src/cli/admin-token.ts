import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT } from './exit-codes.js';
import { CliError } from './client.js';

/** Where `stepgate serve` writes the first admin token, and where the CLI looks for one (SPEC §10). */
export function adminTokenPath(dataDir: string): string {
  return resolve(dataDir, 'admin-token');
}

/** Writes the token readable by its owner only (0600), atomically: a reader never sees half a token. */
export function writeAdminToken(dataDir: string, token: string): string {
  const path = adminTokenPath(dataDir);
  mkdirSync(resolve(dataDir), { recursive: true, mode: 0o700 });
  const temporary = join(resolve(dataDir), `.admin-token.${process.pid}.tmp`);
  writeFileSync(temporary, `${token}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
  return path;
}

export type TokenSource = { token: string; from: 'STEPGATE_TOKEN' | string } | undefined;

/** The CLI's token: STEPGATE_TOKEN, else <STEPGATE_DATA_DIR>/admin-token (default ./.stepgate), else none. */
export function cliToken(env: NodeJS.ProcessEnv = process.env): TokenSource {
  const fromEnv = env.STEPGATE_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, from: 'STEPGATE_TOKEN' };
  const path = adminTokenPath(env.STEPGATE_DATA_DIR || './.stepgate');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read the token file ${path} (${(err as NodeJS.ErrnoException).code}); set STEPGATE_TOKEN instead.`, EXIT.notAuthorized);
  }
  const token = text.trim();
  return token ? { token, from: path } : undefined;
}
