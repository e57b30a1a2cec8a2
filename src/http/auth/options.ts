/** How the server guards itself (SPEC §10); read from the configuration in main, chosen by tests. */
export interface AuthOptions {
  /** `off` (STEPGATE_AUTH=off): no tokens; only for a server on a loopback address. */
  readonly mode: 'on' | 'off';
  /** The HOST the server listens on: a name it answers to (unless a wildcard address). */
  readonly host: string;
  /** STEPGATE_ALLOWED_HOSTS: more names the server answers to (421 for any other Host). */
  readonly allowedHosts: readonly string[];
  /** STEPGATE_ALLOWED_ORIGINS: origins, besides the server's own, allowed to send state-changing requests. */
  readonly allowedOrigins: readonly string[];
  readonly rateLimit: {
    /** Requests per window for one token (and for one address with authentication off). */
    readonly perToken: number;
    /** Requests per window for one address without a valid token. */
    readonly perAddress: number;
    readonly windowMs: number;
  };
}

export const DEFAULT_RATE_LIMIT = { perToken: 1200, perAddress: 120, windowMs: 60_000 } as const;

export function authOptions(partial: Partial<AuthOptions> & Pick<AuthOptions, 'mode'>): AuthOptions {
  return { host: '127.0.0.1', allowedHosts: [], allowedOrigins: [], rateLimit: DEFAULT_RATE_LIMIT, ...partial };
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\]|::ffff:127(\.\d{1,3}){3})$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}
