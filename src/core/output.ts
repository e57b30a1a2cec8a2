import type { OutputSpec } from './manifest/schema.js';

/**
 * Turns an LLM reply into a step's canonical output. Text: the reply as is. JSON: the value in
 * the reply (a ```json fence is allowed, as is prose around one object or array), checked
 * against the step's JSON Schema.
 */
export type ParsedReply = { ok: true; value: unknown } | { ok: false; error: { message: string; details?: unknown } };

/** Problems of a value against the step's schema, or none. */
export type SchemaCheck = (value: unknown) => readonly { path: string; message: string }[];

export function parseReply(text: string, spec: OutputSpec, check?: SchemaCheck): ParsedReply {
  if (spec.format === 'text') return { ok: true, value: text };
  const candidate = extractJson(text);
  if (candidate === undefined) {
    return { ok: false, error: { message: 'the reply holds no JSON value (expected JSON, optionally in a ```json fence)' } };
  }
  let value: unknown;
  try {
    value = JSON.parse(candidate);
  } catch (err) {
    return { ok: false, error: { message: `the reply is not valid JSON: ${(err as Error).message}` } };
  }
  const problems = check?.(value) ?? [];
  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.path || '(root)'} ${p.message}`).join('; ');
    return { ok: false, error: { message: `the reply does not match the step's output schema: ${summary}`, details: problems } };
  }
  return { ok: true, value };
}

function extractJson(text: string): string | undefined {
  const fenced = /```(?:json|JSON)?[ \t]*\r?\n([\s\S]*?)```/.exec(text);
  if (fenced) return fenced[1]!.trim();
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  try {
    JSON.parse(trimmed);
    return trimmed;
  } catch {
    // fall through: look for one object or array inside prose
  }
  const starts = [trimmed.indexOf('{'), trimmed.indexOf('[')].filter((i) => i >= 0);
  if (starts.length === 0) return trimmed;
  const start = Math.min(...starts);
  const end = Math.max(trimmed.lastIndexOf('}'), trimmed.lastIndexOf(']'));
  return end > start ? trimmed.slice(start, end + 1) : trimmed;
}
