/**
 * SQLSTATE codes stepgate acts on. Drizzle wraps driver errors (`DrizzleQueryError`) and keeps
 * the driver's error, with its `code`, as `cause`; the PGlite error class is minified, so the
 * code is what we test, never the class. Never show such an error's message to a client: it
 * contains the query parameters.
 */
export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  invalidTextRepresentation: '22P02',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

export function sqlState(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The name of the constraint an integrity error is about, where the driver reports it. */
export function violatedConstraint(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current && depth < 5; depth++) {
    const constraint = (current as { constraint?: unknown }).constraint;
    if (typeof constraint === 'string') return constraint;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (sqlState(err) !== SQLSTATE.uniqueViolation) return false;
  return constraint === undefined || violatedConstraint(err) === constraint;
}
