import type { z } from 'zod';
import type { Issue } from './errors.js';
import { formatPath } from './manifest/parse.js';

/** Zod issues → `{ path, message }` that say what was expected and what was found. */

type ZodIssue = z.core.$ZodIssue & { input?: unknown };

export function formatZodError(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): Issue[] {
  return error.issues.flatMap((issue) => formatZodIssue(issue, prefix));
}

export function formatZodIssue(issue: ZodIssue, prefix: ReadonlyArray<PropertyKey> = []): Issue[] {
  const path = formatPath([...prefix, ...issue.path]);
  const found = describe(issue.input);
  const required = issue.input === undefined && issue.code !== 'unrecognized_keys' ? 'required: ' : '';
  return formatIssue(issue, path, found, prefix).map((i) => ({ ...i, message: required + i.message }));
}

/** Zod's own messages ("Too small: …") are replaced; messages a schema wrote are kept. */
const ZOD_DEFAULT_MESSAGE = /^(Invalid|Too small|Too big|Unrecognized)/;

function formatIssue(issue: ZodIssue, path: string, found: string, prefix: ReadonlyArray<PropertyKey>): Issue[] {
  if (issue.code !== 'unrecognized_keys' && !ZOD_DEFAULT_MESSAGE.test(issue.message)) {
    return [{ path, message: `${issue.message}, found ${found}` }];
  }
  switch (issue.code) {
    case 'invalid_type':
      return [{ path, message: `expected ${article(issue.expected)}, found ${found}` }];
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const expected = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
      return [{ path, message: `expected ${expected}, found ${found}` }];
    }
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        path: formatPath([...prefix, ...issue.path, key]),
        message: `unknown key "${key}": remove it${path === '' ? '' : ` from ${path}`} (keys are snake_case)`,
      }));
    case 'too_small':
      if (issue.origin === 'array') return [{ path, message: `expected at least ${issue.minimum} item(s), found ${found}` }];
      if (issue.origin === 'string') {
        return [{ path, message: `expected ${Number(issue.minimum) <= 1 ? 'a non-empty string' : `at least ${issue.minimum} characters`}, found ${found}` }];
      }
      return [{ path, message: `expected a number ≥ ${String(issue.minimum)}, found ${found}` }];
    case 'too_big':
      if (issue.origin === 'array') return [{ path, message: `expected at most ${issue.maximum} item(s), found ${found}` }];
      if (issue.origin === 'string') return [{ path, message: `expected at most ${issue.maximum} characters, found a longer string` }];
      return [{ path, message: `expected a number ≤ ${String(issue.maximum)}, found ${found}` }];
    default:
      return [{ path, message: `${issue.message}, found ${found}` }];
  }
}

function article(type: string): string {
  if (type === 'int') return 'an integer';
  if (type === 'record') return 'an object';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** A short, readable rendering of the value a user wrote. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

