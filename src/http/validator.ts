import type { FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { RequestInvalidError } from '../core/errors.js';
import { formatZodError } from '../core/issues.js';

/**
 * Request validation with the route's Zod schemas, reporting every problem as
 * `{ path, message }` (422, through the one error handler) like manifest validation does.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const result = schema.safeParse(data, { reportInput: true });
    if (result.success) return { value: result.data };
    const part = httpPart === 'body' ? 'body' : httpPart === 'querystring' ? 'query string' : (httpPart ?? 'request');
    const issues = formatZodError(result.error);
    return {
      error: new RequestInvalidError(issues, `The request ${part} is invalid: ${issues.map((i) => `${i.path || part}: ${i.message}`).join('; ')}`),
    };
  };
