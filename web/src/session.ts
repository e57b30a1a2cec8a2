import { ApiClient, ApiError } from './api/client.js';

/** Roles of SPEC §10, each including the ones before it. */
export const ROLES = ['viewer', 'operator', 'author', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Session {
  /** Kept for this tab only (sessionStorage), never in a URL or localStorage. */
  readonly token: string;
  readonly name: string;
  readonly role: Role;
  /** The server has no tokens (STEPGATE_AUTH=off, or a server without GET /api/me). */
  readonly authOff: boolean;
}

const KEY = 'stepgate.session';

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

export function atLeast(session: Session | undefined, role: Role): boolean {
  if (!session) return false;
  return ROLES.indexOf(session.role) >= ROLES.indexOf(role);
}

/**
 * Asks the server who the token stands for (`GET /api/me` → { name, role }). A server without
 * that route (404) runs without tokens: the operator is signed in with every action, and the UI
 * says authentication is off.
 */
export async function signIn(token: string, nameWhenAuthOff: string): Promise<Session> {
  const client = new ApiClient(token || undefined);
  try {
    const me = await client.get<{ name: string; role: string }>('/api/me');
    const role = (ROLES as readonly string[]).includes(me.role) ? (me.role as Role) : 'viewer';
    return { token, name: me.name, role, authOff: false };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      return { token, name: nameWhenAuthOff.trim(), role: 'admin', authOff: true };
    }
    throw err;
  }
}
