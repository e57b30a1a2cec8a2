import type { OutputSpec } from './manifest/schema.js';
import { findJson } from './json-in-text.js';

/**
 * Turns an LLM reply into a step's canonical output. Text: the reply as is. JSON: the one
 * JSON value in the reply (README "Step outputs"), checked against the step's JSON Schema.
 */
export type ParsedReply = { ok: true; value: unknown } | { ok: false; error: { message: string; details?: unknown } };

/** Problems of a value against the step's schema, or none. */
export type SchemaCheck = (value: unknown) => readonly { path: string; message: string }[];

export function parseReply(text: string, spec: OutputSpec, check?: SchemaCheck): ParsedReply {
  if (spec.format === 'text') return { ok: true, value: text };
  const found = findJson(text);
  if (!found.ok) return { ok: false, error: { message: found.message } };
  const problems = check?.(found.value) ?? [];
  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.path || '(root)'} ${p.message}`).join('; ');
    return { ok: false, error: { message: `the reply does not match the step's output schema: ${summary}`, details: problems } };
  }
  return { ok: true, value: found.value };
}
