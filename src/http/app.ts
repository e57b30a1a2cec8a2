import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { isStepgateError } from '../core/errors.js';
import { sqlState, violatedConstraint } from '../storage/sqlstate.js';
import type { EngineDeps } from '../engine/deps.js';
import { PROBLEM_CONTENT_TYPE, problem, problemOf, type Problem } from './problem.js';
import { healthRoutes } from './routes/health.js';
import { manifestRoutes } from './routes/manifests.js';
import { runRoutes } from './routes/runs.js';
import { attestationRoutes } from './routes/attestations.js';
import { validatorCompiler } from './validator.js';
import { isConsoleRoute, registerConsole, sendConsoleIndex } from './console.js';

export interface AppOptions {
  /** Largest request body in bytes; larger bodies get a 413. */
  readonly bodyLimit?: number;
  readonly logger?: FastifyServerOptions['logger'];
  /** Serve the operator console built into this directory at `/` (stepgate serve: dist/console). */
  readonly consoleDir?: string;
}

export type App = FastifyInstance;

/** Builds the HTTP API around the use cases. Never listens: main.ts or a test decides that. */
export async function buildApp(deps: EngineDeps, options: AppOptions = {}): Promise<App> {
  const bodyLimit = options.bodyLimit ?? 1_048_576;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    // A run advances within its request; give it time, but not forever.
    requestTimeout: 0,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // An empty body under a JSON content type (curl -X POST -H 'content-type: application/json'
  // …/resume) means "no body", not a syntax error; routes that need a body say so with a 422.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else void parseJson(request, body as string, done);
  });
  app.setSerializerCompiler(serializerCompiler);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'stepgate',
        version: '0.1.0',
        description:
          'Runs LLM pipelines that stop at work no LLM can do, wait for an operator to attest it, and resume where they stopped.',
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const body = toProblem(err, { bodyLimit, contentType: request.headers['content-type'] });
    if (body.status >= 500) request.log.error({ err: loggable(err) }, 'request failed');
    body.instance = request.url;
    return reply.status(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
  });
  app.setNotFoundHandler((request, reply) => {
    if (isConsoleRoute(request)) {
      const sent = sendConsoleIndex(reply, options.consoleDir);
      if (sent) return sent;
    }
    const body = problem(404, 'ROUTE_NOT_FOUND', `There is no route ${request.method} ${request.url.split('?')[0]}. GET /api/openapi.json lists them.`, {
      instance: request.url,
    });
    return reply.status(404).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
  });

  await app.register(healthRoutes, { deps });
  await app.register(manifestRoutes, { deps });
  await app.register(runRoutes, { deps });
  await app.register(attestationRoutes, { deps });
  app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());
  if (options.consoleDir !== undefined) await registerConsole(app, options.consoleDir);
  return app;
}

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
