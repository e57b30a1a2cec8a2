import type { FastifyRequest } from 'fastify';
import { HostNotAllowedError, OriginNotAllowedError } from '../../core/errors.js';
import { isStateChanging } from './access.js';
import type { AuthOptions } from './options.js';

/**
 * Browser protections (SPEC §10). The Host allow-list defeats DNS rebinding (a page on
 * evil.example whose name resolves to 127.0.0.1 sends `Host: evil.example`); the Origin check
 * refuses state-changing requests a page of another origin makes the browser send.
 */
export function browserChecks(options: AuthOptions) {
  const wildcard = options.host === '0.0.0.0' || options.host === '::';
  const hosts = new Set(['localhost', '127.0.0.1', '::1', ...(wildcard ? [] : [options.host]), ...options.allowedHosts].map((h) => h.toLowerCase()));
  const origins = new Set(options.allowedOrigins.map((o) => originOf(o) ?? o.toLowerCase().replace(/\/+$/, '')));

  return function check(request: FastifyRequest): void {
    const host = request.headers.host;
    if (!host || !hosts.has(hostnameOf(host))) throw new HostNotAllowedError(host);
    if (!isStateChanging(request.method)) return;
    const origin = request.headers.origin;
    if (origin === undefined) return; // not a browser, or a same-origin GET-like navigation
    const given = originOf(origin);
    if (given !== undefined && (origins.has(given) || given === originOf(`${request.protocol}://${host}`))) return;
    throw new OriginNotAllowedError(origin);
  };
}

/** `example.com:8080` → `example.com`; `[::1]:8080` → `::1`. */
function hostnameOf(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) return lower.slice(1, lower.indexOf(']') > 0 ? lower.indexOf(']') : undefined);
  const colon = lower.indexOf(':');
  return colon >= 0 ? lower.slice(0, colon) : lower;
}

/**
 * An origin is scheme, host and port (RFC 6454), compared in their serialized form: lower
 * case, the scheme's default port left out (`https://a.example:443` is `https://a.example`).
 * The server's own is the scheme the request came in by (http: stepgate serves no TLS itself)
 * with its Host: a page served over https by a proxy in front is another origin, to be listed
 * in STEPGATE_ALLOWED_ORIGINS. Undefined for what is not an http(s) origin (`null`, …).
 */
function originOf(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}
