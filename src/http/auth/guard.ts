import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { roleIncludes, type Principal } from '../../core/access.js';
import { isStepgateError, RateLimitedError, RoleTooLowError, type UnauthenticatedError } from '../../core/errors.js';
import type { PendingAudit } from '../../engine/audit.js';
import type { EngineDeps } from '../../engine/deps.js';
import { authenticate } from '../../engine/tokens.js';
import { accessOf, routeKey, type Access } from './access.js';
import { auditHooks } from './audit-hook.js';
import { browserChecks } from './browser.js';
import type { AuthOptions } from './options.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request; null until authenticated (and on public routes). */
    principal: Principal | null;
    /** Why the request has no principal, held until the rate limit has counted it. */
    authError: UnauthenticatedError | null;
    /** What the audit row names as the target, when the path alone does not say it (a prune's criteria). */
    auditTarget: string | null;
    /** The request's audit row while the engine's last write may still carry it (audit-hook.ts). */
    pendingAudit: PendingAudit | null;
  }
  interface FastifyInstance {
    /** Every route registered, with its line of the access table (tests read it). */
    readonly accessRoutes: ReadonlyArray<{ method: string; url: string; access: Access }>;
  }
}

/**
 * Identity and access for the whole API, installed before any route (SPEC §10). Per request:
 * security headers (helmet) → Host allow-list (421) → Origin check on state-changing requests
 * (403) → the token, if the route needs one → rate limit per token, or per address without a
 * valid token (429) → 401 / 403 by the route's line in ACCESS → the handler, its audit row
 * pending for the engine's last write to carry → one audit row for every state-changing
 * request, whatever its outcome (audit-hook.ts).
 */
export async function installGuard(app: FastifyInstance, deps: EngineDeps, options: AuthOptions): Promise<void> {
  const routes: Array<{ method: string; url: string; access: Access }> = [];
  app.decorate('accessRoutes', routes);
  app.decorateRequest('principal', null);
  app.decorateRequest('authError', null);
  app.decorateRequest('auditTarget', null);
  app.decorateRequest('pendingAudit', null);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const access = accessOf(method, route.url);
      if (access === undefined) {
        throw new Error(`The route ${routeKey(method, route.url)} has no line in ACCESS (src/http/auth/access.ts): add one saying who may call it.`);
      }
      routes.push({ method, url: route.url, access });
    }
  });

  await app.register(helmet, {
    // Ready for the console, served from this origin: nothing inline, nothing from elsewhere.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        workerSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });

  const checkBrowser = browserChecks(options);
  app.addHook('onRequest', async (request) => {
    checkBrowser(request);
    if (options.mode === 'off') {
      request.principal = { kind: 'auth-off' };
      return;
    }
    if (required(request) === 'public') return;
    try {
      request.principal = await authenticate(deps, request.headers.authorization);
    } catch (err) {
      if (!isStepgateError(err) || err.code !== 'UNAUTHENTICATED') throw err;
      request.authError = err;
    }
  });

  await app.register(rateLimit, {
    timeWindow: options.rateLimit.windowMs,
    keyGenerator: (request) => (request.principal?.kind === 'token' ? `token:${request.principal.tokenId}` : `address:${request.ip}`),
    max: (request) => (request.principal !== null ? options.rateLimit.perToken : options.rateLimit.perAddress),
    // Health checks are polled by machines and reveal nothing.
    allowList: (request) => request.routeOptions.url === '/healthz',
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.max, Math.ceil(context.ttl / 1000)),
  });

  // After every onRequest hook (the rate limit's included), before the body is even parsed.
  app.addHook('preParsing', async (request, reply) => {
    if (request.authError) {
      // RFC 6750: say how to authenticate, and whether the token sent was the problem.
      reply.header('www-authenticate', request.authError.reason === 'missing' ? 'Bearer realm="stepgate"' : 'Bearer realm="stepgate", error="invalid_token"');
      throw request.authError;
    }
    const access = required(request);
    const principal = request.principal;
    if (access === 'public' || principal === null || principal.kind === 'auth-off') return;
    if (!roleIncludes(principal.role, access)) throw new RoleTooLowError(principal.name, principal.role, access);
  });

  const audit = auditHooks(deps);
  app.addHook('preHandler', audit.preHandler);
  app.addHook('onSend', audit.onSend);
}

/** The route's line in ACCESS; a request that matches no route still needs a valid token (its 404 tells nothing to strangers). */
function required(request: FastifyRequest): Access {
  const url = request.routeOptions.url;
  return (url !== undefined && accessOf(request.method, url)) || 'viewer';
}
