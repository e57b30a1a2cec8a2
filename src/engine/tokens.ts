import { createHash, randomBytes } from 'node:crypto';
import { isRole, TOKEN_NAME_PATTERN, type Principal, type Role } from '../core/access.js';
import { RequestInvalidError, TokenNameTakenError, TokenNotFoundError, TokenRevokedError, UnauthenticatedError } from '../core/errors.js';
import * as store from '../storage/tokens.js';
import type { EngineDeps } from './deps.js';
import { isUuid } from './manifests.js';

/**
 * API tokens (SPEC §10): `sg_` and 43 base64url characters (32 random bytes). Only the sha256
 * of a token is stored: a token has 256 bits of entropy, so a plain hash cannot be reversed or
 * guessed, and looking a token up by its hash compares no secret in application code.
 */
export const TOKEN_PREFIX = 'sg_';
const TOKEN_PATTERN = /^sg_[A-Za-z0-9_-]{43}$/;

export function newTokenSecret(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface TokenView {
  id: string;
  name: string;
  role: Role;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const view = (row: store.TokenRow): TokenView => ({
  id: row.id,
  name: row.name,
  role: row.role as Role,
  createdAt: row.createdAt,
  expiresAt: row.expiresAt,
  revokedAt: row.revokedAt,
  lastUsedAt: row.lastUsedAt,
});

/** Creates a token; the secret is in the answer and nowhere else, ever. */
export async function createToken(deps: EngineDeps, input: { name: string; role: string; expiresAt: Date | null }): Promise<TokenView & { token: string }> {
  const issues = [];
  if (!TOKEN_NAME_PATTERN.test(input.name)) issues.push({ path: 'name', message: 'expected 1–100 characters: letters, digits and . _ @ + - (starting with a letter or digit)' });
  if (!isRole(input.role)) issues.push({ path: 'role', message: `expected one of viewer, operator, author, admin; found "${input.role}"` });
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) issues.push({ path: 'expires_at', message: 'expected a time in the future' });
  if (issues.length > 0) throw new RequestInvalidError(issues, `The token cannot be created: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  const token = newTokenSecret();
  const row = await store.insertToken(deps.db, { name: input.name, role: input.role as Role, tokenHash: hashToken(token), expiresAt: input.expiresAt });
  if (!row) throw new TokenNameTakenError(input.name);
  return { ...view(row), token };
}

export async function listTokens(deps: EngineDeps): Promise<TokenView[]> {
  return (await store.listTokens(deps.db)).map(view);
}

/** Revokes a token by id or name; effective on the token's next request. */
export async function revokeToken(deps: EngineDeps, idOrName: string): Promise<TokenView> {
  const found = await store.findToken(deps.db, idOrName, isUuid(idOrName));
  if (!found) throw new TokenNotFoundError(idOrName);
  const revoked = await store.revokeToken(deps.db, found.id);
  // This process's next request with it must read it again (others hear it on TOKENS_CHANNEL).
  deps.tokens.forget();
  if (!revoked) throw new TokenRevokedError(found.name);
  return view(revoked);
}

const lastTouched = new Map<string, number>();

/**
 * Who a request's `Authorization` header stands for. Throws 401 (UnauthenticatedError, with
 * the reason) for a missing, malformed, unknown, expired or revoked token. Lookups are kept
 * in memory while every revocation is heard (token-cache.ts): a revocation takes effect on
 * the next request in this process, and as its announcement arrives in every other one.
 */
export async function authenticate(deps: EngineDeps, authorization: string | undefined): Promise<Principal> {
  if (authorization === undefined || authorization === '') throw new UnauthenticatedError('missing');
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  if (!match) throw new UnauthenticatedError('malformed');
  const token = match[1]!;
  if (!TOKEN_PATTERN.test(token)) throw new UnauthenticatedError('unknown');
  const tokenHash = hashToken(token);
  const row = await deps.tokens.lookup(tokenHash, () => store.tokenByHash(deps.db, tokenHash, deps.prepared));
  if (!row) throw new UnauthenticatedError('unknown');
  if (row.revoked_at !== null) throw new UnauthenticatedError('revoked');
  // Checked here, not only by the read: a kept lookup may outlive the token's expiry.
  if (row.expired || (row.expires_at !== null && new Date(row.expires_at).getTime() <= Date.now())) throw new UnauthenticatedError('expired');
  const now = Date.now();
  if ((lastTouched.get(row.id) ?? 0) < now - 60_000) {
    lastTouched.set(row.id, now);
    // Bookkeeping only: a failure to record it must not fail the request.
    store.touchToken(deps.db, row.id).catch(() => lastTouched.delete(row.id));
  }
  return { kind: 'token', tokenId: row.id, name: row.name, role: row.role, expiresAt: row.expires_at === null ? null : new Date(row.expires_at) };
}

/**
 * First start (SPEC §10): when no usable admin token exists, create one and hand its secret to
 * the caller (who writes it to <STEPGATE_DATA_DIR>/admin-token). Race-safe across processes.
 */
export async function bootstrapAdminToken(deps: Pick<EngineDeps, 'db'>): Promise<{ name: string; token: string } | undefined> {
  const token = newTokenSecret();
  const row = await store.bootstrapAdmin(deps.db, hashToken(token));
  return row ? { name: row.name, token } : undefined;
}
