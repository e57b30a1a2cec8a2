import swagger, { type SwaggerOptions, type SwaggerTransform } from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { isStepgateError } from '../core/errors.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { countStalledRuns } from '../storage/stalled-runs.js';
import { sqlState, violatedConstraint } from '../storage/sqlstate.js';
import type { EngineDeps } from '../engine/deps.js';
import { swaggerOptions } from './openapi.js';
import { PROBLEM_CONTENT_TYPE, problem, problemOf, type Problem } from './problem.js';
import { healthRoutes } from './routes/health.js';
import { manifestRoutes } from './routes/manifests.js';
import { runRoutes } from './routes/runs.js';
import { attestationRoutes } from './routes/attestations.js';
import { lifecycleRoutes } from './routes/lifecycle.js';
import { eventRoutes } from './routes/events.js';
import { keyRoutes } from './routes/keys.js';
import { provenanceRoutes } from './routes/provenance.js';
import { providerRoutes } from './routes/providers.js';
import { validatorCompiler } from './validator.js';
import { accessOf } from './auth/access.js';
import { installGuard } from './auth/guard.js';
import { authOptions, type AuthOptions } from './auth/options.js';
import { tokenRoutes } from './routes/tokens.js';
import { auditRoutes } from './routes/audit.js';
import { retentionRoutes } from './routes/retention.js';
import { checkUrlParts, registerJsonBody } from './body.js';
import { answerClientError } from './client-error.js';
import { createPrometheusMetrics, type PrometheusMetrics } from './metrics.js';
import { requestIdOf, REQUEST_ID_HEADER } from './request-id.js';
import { metricsRoutes } from './routes/metrics.js';
import { isConsoleRoute, registerConsole, sendConsoleIndex } from './console.js';

export interface AppOptions {
  /** Largest request body in bytes; larger bodies get a 413. */
  readonly bodyLimit?: number;
  readonly logger?: FastifyServerOptions['logger'];
  /** Tokens, roles, Host/Origin checks, rate limits (SPEC §10). Default: authentication on, defaults of src/config.ts. */
  readonly auth?: AuthOptions;
  /** A pino logger made by the caller (main.ts: JSON lines, secrets redacted). */
  readonly loggerInstance?: FastifyBaseLogger;
  /** What `GET /metrics` serves; the engine's and providers' metrics should point at the same one. */
  readonly metrics?: PrometheusMetrics;
  /** Serve the operator console built into this directory at `/` (stepgate serve: dist/console). */
  readonly consoleDir?: string;
}

/** Never in a log line: a token, a cookie. */
const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'request.headers.authorization', 'authorization'];

export type App = FastifyInstance;

/** Builds the HTTP API around the use cases. Never listens: main.ts or a test decides that. */
export async function buildApp(deps: EngineDeps, options: AppOptions = {}): Promise<App> {
  const bodyLimit = options.bodyLimit ?? 1_048_576;
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const metrics = options.metrics ?? createPrometheusMetrics();
  metrics.countStalledRunsWith(() => countStalledRuns(deps.db));
  const logger = options.logger ?? false;
  const app = Fastify({
    ...(options.loggerInstance
      ? { loggerInstance: options.loggerInstance }
      : { logger: typeof logger === 'object' ? { ...logger, redact: { paths: REDACT, censor: '[redacted]' } } : logger }),
    bodyLimit,
    // A run advances within its request; give it time, but not forever.
    requestTimeout: 0,
    requestIdHeader: false,
    genReqId: requestIdOf,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    // Requests Node's parser refuses (headers over its limit: 431, …) are answered as problems too.
    clientErrorHandler: answerClientError,
    // Errors Fastify meets before routing (a malformed URL, …) are problems too.
    frameworkErrors: (err, request, reply) => {
      const body = problem(400, 'MALFORMED_REQUEST', `The request is malformed: ${err.message}`, { instance: request.url, request_id: request.id });
      void (reply as unknown as FastifyReply).status(400).header(REQUEST_ID_HEADER, request.id).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  registerJsonBody(app, limits);
  drainKeptConnections(app);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  app.addHook('preValidation', checkUrlParts(limits));
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  await app.register(swagger, { ...swaggerOptions, transform: withSecurity } as SwaggerOptions);

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const body = toProblem(err, { bodyLimit, contentType: request.headers['content-type'] });
    if (body.status >= 500) request.log.error({ err: loggable(err) }, 'request failed');
    body.instance = request.url;
    body.request_id = request.id;
    return reply.status(body.status).header(REQUEST_ID_HEADER, request.id).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
  });
  app.setNotFoundHandler((request, reply) => {
    if (isConsoleRoute(request)) {
      const sent = sendConsoleIndex(reply, options.consoleDir);
      if (sent) return sent;
    }
    const body = problem(404, 'ROUTE_NOT_FOUND', `There is no route ${request.method} ${request.url.split('?')[0]}. GET /api/openapi.json lists them.`, {
      instance: request.url,
      request_id: request.id,
    });
    return reply.status(404).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
  });

  await installGuard(app, deps, options.auth ?? authOptions({ mode: 'on' }));
  await app.register(healthRoutes, { deps });
  await app.register(manifestRoutes, { deps });
  await app.register(runRoutes, { deps });
  await app.register(attestationRoutes, { deps });
  await app.register(lifecycleRoutes, { deps });
  await app.register(eventRoutes, { deps });
  await app.register(tokenRoutes, { deps });
  await app.register(auditRoutes, { deps });
  await app.register(retentionRoutes, { deps });
  await app.register(metricsRoutes, { metrics });
  await app.register(provenanceRoutes, { deps });
  await app.register(keyRoutes, { deps });
  await app.register(providerRoutes, { deps });
  app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());
  if (options.consoleDir !== undefined) await registerConsole(app, options.consoleDir);
  return app;
}

/** Each operation's security and required role, from the one access table (src/http/auth/access.ts). */
const withSecurity: SwaggerTransform = (input) => {
  const out = jsonSchemaTransform(input as Parameters<typeof jsonSchemaTransform>[0]);
  const method = [input.route.method].flat()[0]!;
  const access = accessOf(method, input.url);
  if (access === undefined) return out;
  const schema = out.schema as { description?: string; security?: unknown };
  const note = access === 'public' ? 'No token needed.' : `Needs a token with the role ${access} or above (401 without a valid token, 403 with a lower role).`;
  return { ...out, schema: { ...schema, security: access === 'public' ? [] : [{ bearer: [] }], description: schema.description ? `${schema.description}\n\n${note}` : note } };
};

/**
 * Drizzle's query errors carry the statement's parameters (inputs, prompts, replies) in their
 * message: the log gets the SQLSTATE and the constraint, never the parameters.
 */
export function loggable(err: Error): unknown {
  const code = sqlState(err);
  if (code === undefined) return err;
  return { type: err.name, sqlstate: code, constraint: violatedConstraint(err), stack: err.stack?.split('\n').filter((line) => line.trimStart().startsWith('at ')).join('\n') };
}

/** Every error becomes problem details; nothing a client sent ever becomes a 500. */
function toProblem(err: FastifyError, context: { bodyLimit: number; contentType: string | undefined }): Problem {
  if (isStepgateError(err)) return problemOf(err);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem(413, 'BODY_TOO_LARGE', `The request body is larger than the limit of ${context.bodyLimit} bytes; send a smaller body or raise STEPGATE_BODY_LIMIT.`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        `The content type ${context.contentType ? `"${context.contentType}"` : '(none)'} is not supported here: send application/json (or, for manifests, application/yaml).`,
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem(400, 'MALFORMED_BODY', 'The body is empty but the content type says JSON: send a JSON object.');
  }
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return problem(400, 'MALFORMED_BODY', `The body is not valid JSON: ${err.message}`);
  }
  const status = err.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return problem(status, err.code ?? 'BAD_REQUEST', err.message);
  }
  return problem(500, 'INTERNAL', 'stepgate failed to handle this request; the server log has the details.');
}

/**
 * Fastify closes idle keep-alive connections once, when close() starts. A connection whose
 * request was still under way goes idle afterwards and would hold close() — and a SIGTERM's
 * drain — for the whole keep-alive timeout (72 s): keep closing idle ones until close() ends.
 */
function drainKeptConnections(app: App): void {
  let sweep: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    sweep.unref();
  });
  app.addHook('onClose', async () => clearInterval(sweep));
}
