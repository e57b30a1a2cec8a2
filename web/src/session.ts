import { ApiClient } from './api/client.js';
import { readFeatures, type Features } from './features.js';

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
  readonly features: Features;
}

const KEY = 'stepgate.session';

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    const session = raw ? (JSON.parse(raw) as Partial<Session>) : undefined;
    return session?.features && session.role ? (session as Session) : undefined;
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
 * Asks the server who the token stands for (`GET /api/me` → { name, role }; a wrong token is a
 * 401 with its message). A server without that route runs without tokens: the operator is
 * signed in with every action, and the UI says authentication is off.
 */
export async function signIn(token: string, nameWhenAuthOff: string): Promise<Session> {
  const client = new ApiClient(token || undefined);
  const features = await readFeatures(client);
  if (!features.me) return { token, name: nameWhenAuthOff.trim(), role: 'admin', authOff: true, features };
  const me = await client.get<{ name: string | null; role: string; authentication?: 'on' | 'off' }>('/api/me');
  const role = (ROLES as readonly string[]).includes(me.role) ? (me.role as Role) : 'viewer';
  // With authentication off the server knows no name: the one typed at sign-in is sent as attested_by.
  const authOff = me.authentication === 'off';
  return { token, name: authOff ? nameWhenAuthOff.trim() : (me.name ?? ''), role, authOff, features };
}
