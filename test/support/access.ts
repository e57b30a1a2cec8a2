import { CONSOLE_DIR } from '../../src/http/console.js';
import type { Role } from '../../src/core/access.js';
import type { Database } from '../../src/storage/database.js';
import { authOptions, type AuthOptions } from '../../src/http/auth/options.js';
import { createToken } from '../../src/engine/tokens.js';
import type { App } from '../../src/http/app.js';
import { testApp, testDeps, type TestDepsOptions } from './app.js';

/** Authentication on, as `npm start` runs it, with the given changes. */
export function authOn(changes: Partial<AuthOptions> = {}): AuthOptions {
  return authOptions({ mode: 'on', ...changes });
}

/** Creates a token straight through the engine (as an admin would) and returns its secret. */
export async function mintToken(database: Database, name: string, role: Role, expiresAt: Date | null = null): Promise<string> {
  return (await createToken(testDeps(database), { name, role, expiresAt })).token;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** An app with authentication on and a token per role, named after it (`viewer`, …, `admin`). */
export async function securedApp(database: Database, options: { auth?: Partial<AuthOptions> } & TestDepsOptions = {}): Promise<{ app: App; tokens: Record<Role, string> }> {
  // With the console (built by npm ci / npm run build), so that its public route is checked too.
  const app = await testApp(database, { ...options, auth: authOn(options.auth), consoleDir: CONSOLE_DIR });
  const tokens = {} as Record<Role, string>;
  for (const role of ['viewer', 'operator', 'author', 'admin'] as const) tokens[role] = await mintToken(database, role, role);
  return { app, tokens };
}
