import type { LlmRequest } from '../../core/llm.js';

/**
 * The chat-completions `response_format` for a step's output (SPEC §12): `json_schema` with
 * the step's schema, named after the step, strict when the schema fits OpenAI's strict
 * subset; `json_object` for `format: json` without a schema; nothing for text. A
 * `response_format` in the step's `params` wins (the caller sends params over this).
 */
export function responseFormatFor(request: Pick<LlmRequest, 'stepKey' | 'output'>): Record<string, unknown> | undefined {
  if (request.output.format !== 'json') return undefined;
  const schema = request.output.schema;
  if (!schema) return { type: 'json_object' };
  return { type: 'json_schema', json_schema: { name: schemaName(request.stepKey), schema, strict: allowsStrict(schema) } };
}

/** OpenAI wants `^[a-zA-Z0-9_-]{1,64}$`; step keys already are, this keeps it so. */
function schemaName(stepKey: string): string {
  const name = stepKey.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
  return name === '' ? 'output' : name;
}

/** Keywords strict structured outputs refuse. */
const UNSUPPORTED = new Set([
  'allOf',
  'not',
  'if',
  'then',
  'else',
  'dependentRequired',
  'dependentSchemas',
  'patternProperties',
  'unevaluatedProperties',
  'unevaluatedItems',
  'propertyNames',
  'minProperties',
  'maxProperties',
  'contains',
  'uniqueItems',
  'oneOf',
]);

/**
 * Strict mode needs an object at the root, and every object in it closed
 * (`additionalProperties: false`) with every property required. A schema that is looser
 * than that is sent with `strict: false`, so that the server does not refuse it.
 */
export function allowsStrict(schema: Readonly<Record<string, unknown>>): boolean {
  return schema.type === 'object' && fitsStrict(schema, 0);
}

function fitsStrict(node: unknown, depth: number): boolean {
  if (Array.isArray(node)) return node.every((item) => fitsStrict(item, depth + 1));
  if (typeof node !== 'object' || node === null) return true;
  if (depth > 32) return false;
  const schema = node as Record<string, unknown>;
  if (Object.keys(schema).some((key) => UNSUPPORTED.has(key))) return false;
  const isObject = schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object')) || 'properties' in schema;
  if (isObject) {
    if (schema.additionalProperties !== false) return false;
    const properties = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {});
    const required = Array.isArray(schema.required) ? schema.required : [];
    if (!properties.every((key) => required.includes(key))) return false;
  }
  for (const key of ['properties', '$defs', 'definitions'] as const) {
    const children = schema[key];
    if (children && typeof children === 'object' && !Object.values(children).every((child) => fitsStrict(child, depth + 1))) return false;
  }
  for (const key of ['items', 'prefixItems', 'anyOf'] as const) {
    if (key in schema && !fitsStrict(schema[key], depth + 1)) return false;
  }
  return true;
}
