import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem } from './problem.js';

/**
 * The operator console (web/, built by `npm run build` into dist/console) served at `/`, same
 * origin as the API. The same path from src/http (tsx) and dist/http (compiled).
 */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/**
 * The console's Content-Security-Policy: everything from this origin only, no inline script or
 * style, no framing. `'wasm-unsafe-eval'` lets the browser compile the WebAssembly SHA-256 that
 * hashes artifacts locally (it allows WebAssembly only, not JavaScript eval).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** Hashed build assets never change under their name; everything else is revalidated. */
function cacheControl(path: string): string {
  if (/[/\\]assets[/\\]/.test(path)) return 'public, max-age=31536000, immutable';
  if (path.endsWith('.html')) return 'no-cache';
  return 'public, max-age=3600';
}

/** A path the console's router owns: not the API, no file extension (`/runs/…`, `/inbox`). */
export function isConsoleRoute(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = request.url.split('?')[0] ?? '';
  if (path === '/api' || path.startsWith('/api/')) return false;
  const last = path.split('/').at(-1) ?? '';
  return !last.includes('.');
}

export async function registerConsole(app: FastifyInstance, root: string): Promise<void> {
  if (!existsSync(`${root}/index.html`)) {
    app.log.warn({ root }, 'the console is not built: run `npm run build` to serve it at /');
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: ['index.html'],
    // Files, not API operations: kept out of the OpenAPI document.
    schemaHide: true,
    cacheControl: false,
    setHeaders(res, path) {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
      res.setHeader('cache-control', cacheControl(path));
    },
  });
}

/** The not-found handler's answer for a console route: the app's index.html (history routing). */
export function sendConsoleIndex(reply: FastifyReply, root: string | undefined): FastifyReply | undefined {
  if (root === undefined) return undefined;
  if (!existsSync(`${root}/index.html`)) {
    const body = problem(503, 'CONSOLE_NOT_BUILT', 'The operator console is not built: run `npm run build` (npm ci and npm start do it), then restart the server.');
    return reply.status(503).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
  }
  return reply.headers({ ...SECURITY_HEADERS, 'cache-control': 'no-cache' }).sendFile('index.html', root);
}
