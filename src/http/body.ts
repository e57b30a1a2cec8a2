import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MalformedBodyError, RequestInvalidError, type Issue } from '../core/errors.js';
import { duplicateKey } from '../core/json-duplicates.js';
import { abbreviated, inputIssues, type InputLimits } from '../core/limits.js';
import { formatPath } from '../core/manifest/parse.js';

/**
 * The request boundary: bodies are read as bytes, decoded as strict UTF-8, parsed, and held to
 * the input limits (no duplicate key, no NUL, no lone surrogate, no prototype key, lengths of
 * strings and keys, nesting) before any route sees them. Query strings and path parameters
 * get the same check.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8: invalid bytes are a 400, never silently replaced by U+FFFD and stored. */
export function decodeUtf8(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new MalformedBodyError('The body is not valid UTF-8: send text encoded as UTF-8.');
  }
}

export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new MalformedBodyError(`The body is not valid JSON: ${(err as Error).message}`);
  }
}

export function refused(part: string, issues: Issue[]): RequestInvalidError {
  return new RequestInvalidError(issues, `The request ${part} is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
}

/** A key twice in one object: JSON.parse would keep the last value without a word. */
function duplicateKeyIssues(text: string): Issue[] {
  const duplicate = duplicateKey(text);
  if (!duplicate) return [];
  const path = [...duplicate.path.slice(0, -1), abbreviated(duplicate.key)];
  return [{ path: formatPath(path), message: `the key "${abbreviated(duplicate.key)}" appears more than once in one object: send each key once` }];
}

/** JSON bodies for every route (manifest routes parse their own, YAML included). */
export function registerJsonBody(app: FastifyInstance, limits: InputLimits): void {
  // The API reads JSON (and YAML, for manifests) only: Fastify's own text/plain parser would
  // hand a route that takes no body a string it never looks at, and the request would succeed.
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      // An empty body under a JSON content type (curl -X POST -H 'content-type: application/json'
      // …/resume) means "no body", not a syntax error; routes that need a body say so with a 422.
      if ((body as Buffer).length === 0) return done(null, undefined);
      const text = decodeUtf8(body as Buffer);
      const value = parseJsonText(text);
      const issues = [...duplicateKeyIssues(text), ...inputIssues(value, limits)];
      if (issues.length > 0) return done(refused('body', issues));
      done(null, value);
    } catch (err) {
      done(err as Error);
    }
  });
}

/** Query strings and path parameters: the same limits, before validation and handlers. */
export function checkUrlParts(limits: InputLimits) {
  return async (request: FastifyRequest) => {
    const query = request.url.indexOf('?') >= 0 ? request.url.slice(request.url.indexOf('?') + 1) : '';
    // The query parser keeps what it cannot decode as is; a query that is not percent-encoded
    // UTF-8 is refused instead.
    for (const part of query.split(/[&=]/)) {
      try {
        decodeURIComponent(part);
      } catch {
        throw new MalformedBodyError(`The query string is not valid percent-encoded UTF-8 near "${part.slice(0, 40)}".`);
      }
    }
    for (const [part, value] of [['query string', request.query], ['path', request.params]] as const) {
      const issues = inputIssues(value ?? {}, { maxStringLength: limits.maxStringLength, maxDepth: 4 });
      if (issues.length > 0) throw refused(part, issues);
    }
  };
}
